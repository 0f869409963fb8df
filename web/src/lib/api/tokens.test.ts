import { describe, expect, it } from "vitest";
import { TokenKeeper } from "./tokens";

const noLock = <T>(_n: string, fn: () => Promise<T>) => fn();

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

describe("TokenKeeper", () => {
  it("adds the bearer token", async () => {
    const seen: string[] = [];
    const k = new TokenKeeper(() => "http://api/auth/token/refresh", async (r) => {
      seen.push(r.headers.get("Authorization") ?? "");
      return json(200, {});
    }, noLock);
    k.set("a1");
    await k.authorizedFetch(new Request("http://api/x"));
    expect(seen).toEqual(["Bearer a1"]);
  });

  it("refreshes once on 401 and retries the request with its body", async () => {
    const calls: string[] = [];
    const k = new TokenKeeper(() => "http://api/auth/token/refresh", async (r) => {
      calls.push(`${r.method} ${new URL(r.url).pathname} ${r.headers.get("Authorization") ?? "-"}`);
      if (r.url.endsWith("/refresh")) {
        expect(r.headers.get("X-Requested-With")).toBe("lightbox");
        expect(r.credentials).toBe("include");
        return json(200, { access_token: "a2" });
      }
      if (r.headers.get("Authorization") === "Bearer a1") return json(401, { error: { code: "unauthorized" } });
      return json(201, { body: await r.text() });
    }, noLock);
    k.set("a1");
    const res = await k.authorizedFetch(new Request("http://api/c", { method: "POST", body: "hello" }));
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ body: "hello" });
    expect(calls).toEqual(["POST /c Bearer a1", "POST /auth/token/refresh -", "POST /c Bearer a2"]);
    expect(k.token).toBe("a2");
  });

  it("shares one refresh between concurrent 401s", async () => {
    let refreshes = 0;
    const k = new TokenKeeper(() => "http://api/auth/token/refresh", async (r) => {
      if (r.url.endsWith("/refresh")) {
        refreshes += 1;
        await new Promise((ok) => setTimeout(ok, 5));
        return json(200, { access_token: "fresh" });
      }
      return r.headers.get("Authorization") === "Bearer fresh" ? json(200, {}) : json(401, {});
    }, noLock);
    k.set("old");
    const all = await Promise.all([1, 2, 3].map(() => k.authorizedFetch(new Request("http://api/y"))));
    expect(all.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(refreshes).toBe(1);
  });

  it("ends the session when the refresh is refused, without a retry loop", async () => {
    let expired = 0;
    let sent = 0;
    const k = new TokenKeeper(() => "http://api/auth/token/refresh", async (r) => {
      sent += 1;
      return r.url.endsWith("/refresh") ? json(401, {}) : json(401, {});
    }, noLock);
    k.onExpired = () => (expired += 1);
    k.set("revoked");
    const res = await k.authorizedFetch(new Request("http://api/z"));
    expect(res.status).toBe(401);
    expect(sent).toBe(2);
    expect(expired).toBe(1);
    expect(k.token).toBeNull();
  });
});

describe("TokenKeeper: a passing refresh failure is not a logout", () => {
  for (const [what, answer] of [
    ["a 503", async () => json(503, { error: { code: "unavailable", message: "Try again soon." } })],
    ["a 429", async () => json(429, { error: { code: "rate_limited", message: "Slow down." } })],
    ["a network error", async () => Promise.reject(new TypeError("Failed to fetch"))],
  ] as const) {
    it(`keeps the session on ${what}, and the caller sees an error`, async () => {
      let expired = 0;
      const k = new TokenKeeper(() => "http://api/auth/token/refresh", async (r) =>
        r.url.endsWith("/refresh") ? answer() : json(401, {}), noLock);
      k.onExpired = () => (expired += 1);
      k.set("old");
      await expect(k.refresh()).rejects.toBeInstanceOf(Error);
      await expect(k.authorizedFetch(new Request("http://api/z"))).rejects.toBeInstanceOf(Error);
      expect(expired).toBe(0);
      expect(k.token).toBe("old");
    });
  }

  it("the error of a 5xx refresh carries the API's message", async () => {
    const k = new TokenKeeper(() => "http://api/auth/token/refresh", async () =>
      json(503, { error: { code: "unavailable", message: "Try again soon." } }), noLock);
    await expect(k.refresh()).rejects.toMatchObject({ name: "ApiError", status: 503, message: "Try again soon." });
  });

  it("no session cookie (400) or a refused one (403) means no session: null", async () => {
    for (const status of [400, 403]) {
      const k = new TokenKeeper(() => "http://api/auth/token/refresh", async () => json(status, {}), noLock);
      k.set("x");
      expect(await k.refresh()).toBeNull();
      expect(k.token).toBeNull();
    }
  });
});
