// Sign in with Google / Apple. The API verifies the provider's ID token (`POST /auth/oidc/{provider}`); the
// client's part is getting one. In AWS that is the provider's own SDK (Google Identity Services, Sign in with Apple
// JS: not loaded yet, so `/app-config.json` names no provider there and no button shows). Locally the stack runs a
// stand-in issuer for both (`POST {issuer}/{provider}/id-token {"email", "sub", "nonce"}` mints a signed token),
// and the buttons ask for an email address instead of showing the provider's page.
import { ApiError, errorFrom } from "./api/errors";

export type Provider = "google" | "apple";

export const PROVIDER_NAMES: Record<Provider, string> = { google: "Google", apple: "Apple" };

/** A fresh nonce for one sign-in: the ID token must carry it back, so a token minted for another sign-in fails. */
export function newNonce(bytes: number = 16): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The local issuer's subject for an email: the same address is the same provider account every time. */
export function localSubject(email: string): string {
  return `local-${email.trim().toLowerCase()}`;
}

/** An ID token from the local stand-in issuer for `email` (the stack's client id as audience). */
export async function mintLocal(
  issuer: string,
  provider: Provider,
  email: string,
  nonce: string,
  fetcher: typeof fetch = fetch,
): Promise<string> {
  const address = email.trim();
  // A CORS "simple" request (text/plain: no preflight); the issuer reads the body as JSON whatever its type.
  const res = await fetcher(`${issuer}/${provider}/id-token`, {
    method: "POST",
    headers: { "Content-Type": "text/plain" },
    body: JSON.stringify({ email: address, sub: localSubject(address), nonce }),
  });
  if (!res.ok) {
    // The issuer answers errors OAuth-style: {"error": "invalid_request", "error_description": "..."}
    const body = (await res.clone().json().catch(() => null)) as { error_description?: unknown } | null;
    if (typeof body?.error_description === "string") throw new ApiError(res.status, "oidc_issuer", body.error_description);
    throw await errorFrom(res);
  }
  const body = (await res.json()) as { id_token?: unknown };
  if (typeof body.id_token !== "string" || !body.id_token) throw new Error("The local issuer answered without a token.");
  return body.id_token;
}
