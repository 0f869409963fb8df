import { describe, expect, it } from "vitest";
import { ApiError } from "./api/errors";
import { parseOidc } from "./config";
import { localSubject, mintLocal, newNonce } from "./oidc";

describe("parseOidc (the app-config entry)", () => {
  it("the local issuer with its providers", () => {
    expect(parseOidc({ local_issuer: "http://127.0.0.1:8440/", providers: ["google", "apple"] })).toEqual({
      local_issuer: "http://127.0.0.1:8440",
      providers: ["google", "apple"],
    });
  });

  it("no entry, no known provider or no issuer: no buttons", () => {
    expect(parseOidc(undefined)).toBeNull();
    expect(parseOidc({ local_issuer: "http://127.0.0.1:8440", providers: ["facebook"] })).toBeNull();
    expect(parseOidc({ providers: ["google"] })).toBeNull();
    expect(parseOidc({ local_issuer: "javascript:alert(1)", providers: ["google"] })).toBeNull();
  });
});

describe("local sign-in", () => {
  it("a nonce is fresh and URL-safe", () => {
    const a = newNonce();
    expect(a).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(newNonce()).not.toBe(a);
  });

  it("the same address is the same subject", () => {
    expect(localSubject(" Ann@Example.com ")).toBe(localSubject("ann@example.com"));
  });

  it("mints from {issuer}/{provider}/id-token with email, sub and nonce", async () => {
    const seen: { url: string; body: unknown }[] = [];
    const fetcher = (async (url: string, init: RequestInit) => {
      seen.push({ url, body: JSON.parse(String(init.body)) });
      return new Response(JSON.stringify({ id_token: "tok" }), { status: 200 });
    }) as unknown as typeof fetch;
    await expect(mintLocal("http://iss", "apple", "ann@example.com", "n1", fetcher)).resolves.toBe("tok");
    expect(seen).toEqual([
      { url: "http://iss/apple/id-token", body: { email: "ann@example.com", sub: "local-ann@example.com", nonce: "n1" } },
    ]);
  });

  it("the issuer refusing is an error with its message", async () => {
    const fetcher = (async () =>
      new Response(JSON.stringify({ error: "invalid_request", error_description: 'Send {"email", "sub"}' }), {
        status: 400,
      })) as unknown as typeof fetch;
    const err = await mintLocal("http://iss", "google", "", "n", fetcher).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.message).toBe('Send {"email", "sub"}');
  });
});
