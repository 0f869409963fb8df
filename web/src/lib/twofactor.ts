// Two-factor auth in the web client: what a typed code is (a 6-digit TOTP or a one-time recovery code), what a
// login answer asks for next, and how the setup's secret and recovery codes are shown. Pure: the screens call it.
import { ApiError } from "./api/errors";

export type CodeInput = { ok: true; code: string; recovery: boolean } | { ok: false; message: string };

/** A typed code, as sent: spaces and dashes people copy along are dropped from a TOTP code ("123 456");
 *  anything else of letters, digits and dashes is a recovery code (sent as typed, trimmed). */
export function readCode(input: string): CodeInput {
  const text = input.trim();
  if (!text) return { ok: false, message: "Enter the 6-digit code from your authenticator app, or a recovery code." };
  const digits = text.replace(/[\s-]/g, "");
  if (/^\d+$/.test(digits)) {
    if (digits.length === 6) return { ok: true, code: digits, recovery: false };
    // A recovery code (XXXXX-XXXXX) may happen to be all digits.
    if (digits.length < 8) return { ok: false, message: "An authenticator code has 6 digits." };
  }
  const recovery = text.replace(/\s+/g, "");
  if (/^[A-Za-z0-9-]{6,32}$/.test(recovery)) return { ok: true, code: recovery, recovery: true };
  return { ok: false, message: "That is neither a 6-digit code nor a recovery code." };
}

export type LoginAnswer = { kind: "tokens"; access_token: string } | { kind: "two_factor"; challenge_token: string };

/** The login (or OIDC sign-in) answer: the tokens, or `{"two_factor_required": true, "challenge_token"}`. */
export function loginAnswer(body: unknown): LoginAnswer {
  const b = (body ?? {}) as Record<string, unknown>;
  if (b.two_factor_required === true) {
    if (typeof b.challenge_token !== "string" || !b.challenge_token) throw new Error("The login answer has no challenge.");
    return { kind: "two_factor", challenge_token: b.challenge_token };
  }
  if (typeof b.access_token !== "string" || !b.access_token) throw new Error("The login answer has no access token.");
  return { kind: "tokens", access_token: b.access_token };
}

/** Whether a failed verify means the challenge itself is over (expired, spent, too many attempts: 401, or a
 *  400 naming the challenge), so the person must log in with the password again; a wrong code (400/401 about the
 *  code) or a 429 keeps the code step. */
export function challengeOver(err: unknown): boolean {
  if (!(err instanceof ApiError)) return false;
  if (err.status === 429) return false;
  if (/challenge/.test(err.code)) return true;
  if (err.status === 400 && "challenge_token" in err.details) return true;
  return err.status === 401 && !/code|totp|otp/.test(err.code);
}

/** "JBSWY3DPEHPK3PXP" -> "JBSW Y3DP EHPK 3PXP" (easier to type into an authenticator by hand). */
export function groupSecret(secret: string): string {
  return (secret.replace(/\s+/g, "").match(/.{1,4}/g) ?? []).join(" ");
}

/** The recovery codes as a text file a person keeps. */
export function recoveryFile(codes: string[], account: string, now: Date = new Date()): string {
  return [
    `Lightbox recovery codes for ${account}`,
    `Made ${now.toISOString().slice(0, 10)}. Each code works once, instead of an authenticator code.`,
    "",
    ...codes,
    "",
  ].join("\n");
}
