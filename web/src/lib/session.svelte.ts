// Who is logged in. The access token is in memory (`tokens`); a reload restores the session by spending the
// HttpOnly refresh cookie (`restore`). A refused refresh anywhere (revoked, logged out elsewhere) lands on /login.
import { api, ok, tokens, type components } from "./api/client";
import { ApiError } from "./api/errors";
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

export async function login(loginName: string, password: string): Promise<LoginOutcome> {
  const out = ok(await api.POST("/auth/login", { body: { login: loginName, password, session: "cookie" } })) as Record<
    string,
    unknown
  >;
  if (out.two_factor_required) return { kind: "two_factor", challenge_token: String(out.challenge_token) };
  tokens.set(String(out.access_token));
  return { kind: "in", user: await loadMe() };
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
