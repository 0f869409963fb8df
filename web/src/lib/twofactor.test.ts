import { describe, expect, it } from "vitest";
import { ApiError } from "./api/errors";
import { challengeOver, groupSecret, loginAnswer, readCode, recoveryFile } from "./twofactor";

describe("readCode", () => {
  it("takes a 6-digit code, with the spaces or dash people copy along", () => {
    expect(readCode(" 123456 ")).toEqual({ ok: true, code: "123456", recovery: false });
    expect(readCode("123 456")).toEqual({ ok: true, code: "123456", recovery: false });
    expect(readCode("123-456")).toEqual({ ok: true, code: "123456", recovery: false });
  });

  it("refuses digits of the wrong length instead of sending them", () => {
    expect(readCode("12345")).toMatchObject({ ok: false });
    expect(readCode("1234567")).toMatchObject({ ok: false });
    expect(readCode("12345-67890")).toEqual({ ok: true, code: "12345-67890", recovery: true });
    expect(readCode("")).toMatchObject({ ok: false });
    expect(readCode("   ")).toMatchObject({ ok: false });
  });

  it("anything else of letters, digits and dashes is a recovery code, sent as typed", () => {
    expect(readCode("AB2CD-EF3GH")).toEqual({ ok: true, code: "AB2CD-EF3GH", recovery: true });
    expect(readCode("ab12-cd34-ef")).toEqual({ ok: true, code: "ab12-cd34-ef", recovery: true });
    expect(readCode(" K7QF2MZP9A ")).toEqual({ ok: true, code: "K7QF2MZP9A", recovery: true });
    expect(readCode("<script>")).toMatchObject({ ok: false });
  });
});

describe("loginAnswer", () => {
  it("tokens, or the two-factor challenge", () => {
    expect(loginAnswer({ access_token: "a", token_type: "Bearer", user: {} })).toEqual({ kind: "tokens", access_token: "a" });
    expect(loginAnswer({ two_factor_required: true, challenge_token: "c" })).toEqual({ kind: "two_factor", challenge_token: "c" });
  });

  it("a malformed answer is an error, never a half-logged-in state", () => {
    expect(() => loginAnswer({ two_factor_required: true })).toThrow();
    expect(() => loginAnswer({})).toThrow();
    expect(() => loginAnswer(null)).toThrow();
  });
});

describe("challengeOver", () => {
  it("a wrong code or a rate limit keeps the code step", () => {
    expect(challengeOver(new ApiError(400, "invalid_code", "Wrong code"))).toBe(false);
    expect(challengeOver(new ApiError(401, "invalid_code", "Wrong code"))).toBe(false);
    expect(challengeOver(new ApiError(429, "rate_limited", "Slow down"))).toBe(false);
    expect(challengeOver(new TypeError("Failed to fetch"))).toBe(false);
  });

  it("an expired or spent challenge starts the login over", () => {
    expect(challengeOver(new ApiError(401, "challenge_expired", "Expired"))).toBe(true);
    expect(challengeOver(new ApiError(401, "invalid_token", "Expired"))).toBe(true);
    expect(challengeOver(new ApiError(400, "validation_error", "Bad", { challenge_token: "bad" }))).toBe(true);
  });
});

describe("setup display", () => {
  it("groups the secret by four", () => {
    expect(groupSecret("JBSWY3DPEHPK3PXP")).toBe("JBSW Y3DP EHPK 3PXP");
    expect(groupSecret("ABCDEF")).toBe("ABCD EF");
  });

  it("writes the recovery codes one per line", () => {
    const text = recoveryFile(["a1", "b2"], "ann", new Date("2026-05-01T10:00:00Z"));
    expect(text.split("\n")).toEqual([
      "Lightbox recovery codes for ann",
      "Made 2026-05-01. Each code works once, instead of an authenticator code.",
      "",
      "a1",
      "b2",
      "",
    ]);
  });
});
