// Who is logged in. The access token is in memory (`tokens`); a reload restores the session by spending the
// HttpOnly refresh cookie (`restore`). A refused refresh anywhere (revoked, logged out elsewhere) lands on /login.
import { api, ok, tokens, type components } from "./api/client";
import { ApiError } from "./api/errors";
import { loginAnswer } from "./twofactor";
import { apiBase } from "./config";
import { navigate, router } from "./router.svelte";

export type User = components["schemas"]["UserOut"];

export const session = $state<{ user: User | null; ready: boolean }>({ user: null, ready: false });

export function hasRole(...roles: string[]): boolean {
  return !!session.user && roles.includes(session.user.role);
}

tokens.onExpired = () => {
  const wasIn = !!session.user;
  session.user = null;
  if (wasIn) navigate(`/login?next=${encodeURIComponent(router.path)}&expired=1`);
};

export async function loadMe(): Promise<User> {
  const me = ok(await api.GET("/auth/me"));
  session.user = me;
  return me;
}

/** On start: a session cookie, if any, becomes an access token and the user. No session: the login screen. The
 *  API unreachable or failing (network error, 5xx, 429): this rejects, and the shell shows that error with a retry
 *  instead of pretending the user is logged out. */
export async function restore(): Promise<void> {
  try {
    if (await tokens.refresh()) await loadMe();
  } catch (e) {
    session.user = null;
    if (!(e instanceof ApiError && (e.status === 401 || e.status === 403))) throw e;
  } finally {
    session.ready = true;
  }
}

export type LoginOutcome = { kind: "in"; user: User } | { kind: "two_factor"; challenge_token: string };

/** A login-shaped answer (password login, OIDC sign-in, 2FA verify) with `session: "cookie"`: the refresh token is
 *  the HttpOnly cookie the API just set; the access token goes to memory. Or the account asks for a code first. */
async function settle(body: unknown): Promise<LoginOutcome> {
  const out = loginAnswer(body);
  if (out.kind === "two_factor") return out;
  return { kind: "in", user: await adopt(out.access_token) };
}

export async function login(loginName: string, password: string): Promise<LoginOutcome> {
  return settle(ok(await api.POST("/auth/login", { body: { login: loginName, password, session: "cookie" } })));
}

/** The second step of a login with two-factor auth on: the challenge and a TOTP or recovery code. */
export async function verifyTwoFactor(challenge_token: string, code: string): Promise<LoginOutcome> {
  return settle(ok(await api.POST("/auth/2fa/verify", { body: { challenge_token, code } })));
}

/** Sign in with a provider's ID token (Google, Apple; locally the stack's stand-in issuer). */
export async function oidcLogin(provider: "google" | "apple", id_token: string, nonce: string): Promise<LoginOutcome> {
  return settle(
    ok(await api.POST("/auth/oidc/{provider}", { params: { path: { provider } }, body: { id_token, nonce, session: "cookie" } })),
  );
}

// A two-factor challenge handed from another screen (a Google / Apple sign-in on the signup screen) to the login
// screen's code step: in memory only, never in the URL.
let handedChallenge: string | null = null;

export function handChallenge(token: string): void {
  handedChallenge = token;
}

export function takeChallenge(): string | null {
  const t = handedChallenge;
  handedChallenge = null;
  return t;
}

/** After any call that returned a fresh pair with `session: "cookie"` (2FA verify, OIDC sign-in). */
export async function adopt(accessToken: string): Promise<User> {
  tokens.set(accessToken);
  return loadMe();
}

export async function logout(): Promise<void> {
  try {
    await fetch(`${apiBase()}/auth/logout`, {
      method: "POST",
      credentials: "include",
      headers: { "Content-Type": "application/json", "X-Requested-With": "lightbox" },
      body: "{}",
    });
  } finally {
    tokens.set(null);
    session.user = null;
    navigate("/login");
  }
}
