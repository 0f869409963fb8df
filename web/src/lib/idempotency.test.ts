import { describe, expect, it } from "vitest";
import { ApiError } from "./api/errors";
import { ActionKey, canonical, keepsKey } from "./idempotency";

function keys() {
  let n = 0;
  return () => `k${++n}`;
}

const inProgress = () => new ApiError(409, "idempotency_key_in_progress", "A request with this key is still in progress.", {}, 1);
const stored400 = () => new ApiError(422, "address_invalid", "Check the postal code.");

/** A fake server with the API's idempotency store: first answer per key stored unless 5xx/429/transient 409. */
function server() {
  const store = new Map<string, { body: string; answer: unknown }>();
  const running = new Set<string>();
  let effects = 0;
  return {
    get effects() {
      return effects;
    },
    /** Start a request; `finish(answer)` completes it; `answer` an ApiError throws. */
    start(key: string, body: unknown) {
      const b = canonical(body);
      const hit = store.get(key);
      if (hit && hit.body !== b) throw new ApiError(409, "idempotency_key_reused", "reused");
      if (hit) return { replay: hit.answer };
      if (running.has(key)) throw inProgress();
      running.add(key);
      return {
        finish(answer: unknown) {
          running.delete(key);
          const transient = answer instanceof ApiError && (answer.status >= 500 || answer.status === 429 || answer.code === "ledger_busy");
          if (!transient) store.set(key, { body: b, answer });
          if (!(answer instanceof ApiError)) effects++;
        },
      };
    },
  };
}

describe("keepsKey", () => {
  it("keeps the key when no answer was stored", () => {
    expect(keepsKey(new TypeError("Failed to fetch"))).toBe(true);
    expect(keepsKey(new ApiError(503, "unavailable", "x"))).toBe(true);
    expect(keepsKey(new ApiError(500, "internal", "x"))).toBe(true);
    expect(keepsKey(new ApiError(429, "rate_limited", "x"))).toBe(true);
    expect(keepsKey(inProgress())).toBe(true);
    expect(keepsKey(new ApiError(409, "ledger_busy", "x"))).toBe(true);
  });
  it("drops it after an answer the server keeps for the key", () => {
    expect(keepsKey(stored400())).toBe(false);
    expect(keepsKey(new ApiError(402, "insufficient_funds", "x"))).toBe(false);
    expect(keepsKey(new ApiError(404, "not_found", "x"))).toBe(false);
    expect(keepsKey(new ApiError(409, "already_subscribed", "x"))).toBe(false);
    expect(keepsKey(new ApiError(409, "idempotency_key_reused", "x"))).toBe(false);
  });
});

describe("canonical", () => {
  it("ignores the order of keys but not values", () => {
    expect(canonical({ a: 1, b: { d: [1, 2], c: null } })).toBe(canonical({ b: { c: null, d: [1, 2] }, a: 1 }));
    expect(canonical({ a: 1 })).not.toBe(canonical({ a: 2 }));
    expect(canonical({ a: 1, b: undefined })).toBe(canonical({ a: 1 }));
  });
});

describe("ActionKey", () => {
  it("keeps one key for retries of the same request and takes a new one after a success", async () => {
    const k = new ActionKey(keys());
    const seen: string[] = [];
    await expect(
      k.send({ amount: 5 }, async (key) => {
        seen.push(key);
        throw new TypeError("network");
      }),
    ).rejects.toThrow("network");
    await k.send({ amount: 5 }, async (key) => void seen.push(key));
    await k.send({ amount: 5 }, async (key) => void seen.push(key)); // a second, deliberate action
    expect(seen).toEqual(["k1", "k1", "k2"]);
    expect(k.pending).toBeNull();
  });

  it("a changed body is another request: a new key", () => {
    const k = new ActionKey(keys());
    expect(k.for({ text: "helo" })).toBe("k1");
    expect(k.for({ text: "helo" })).toBe("k1");
    expect(k.for({ text: "hello" })).toBe("k2");
  });

  it("double pay: lost answer -> in_progress -> the same key, so the retry gets the first answer", async () => {
    const srv = server();
    const k = new ActionKey(keys());
    const body = { amount_cents: 500, currency: "eur" };
    // 1st click: the server runs the tip, but the answer is lost on the way back.
    let first: { finish(a: unknown): void } | undefined;
    await expect(
      k.send(body, async (key) => {
        first = srv.start(key, body) as { finish(a: unknown): void };
        throw new TypeError("Failed to fetch");
      }),
    ).rejects.toThrow();
    // 2nd click while the first is still running: 409 in progress; the key must survive it.
    await expect(k.send(body, async (key) => srv.start(key, body))).rejects.toMatchObject({ code: "idempotency_key_in_progress" });
    first!.finish({ tip: "tip_1" });
    // 3rd click: the same key replays the first answer; nothing is paid twice.
    const out = await k.send(body, async (key) => srv.start(key, body));
    expect(out).toEqual({ replay: { tip: "tip_1" } });
    expect(srv.effects).toBe(1);
  });

  it("stuck retry: a stored 4xx gives the corrected request a fresh key", async () => {
    const srv = server();
    const k = new ActionKey(keys());
    const wrong = { shipping_address: { postal_code: "x" } };
    const fixed = { shipping_address: { postal_code: "10115" } };
    await expect(
      k.send(wrong, async (key) => {
        srv.start(key, wrong) as { finish(a: unknown): void };
        throw stored400();
      }),
    ).rejects.toThrow("postal");
    // The server would answer the same 4xx (or idempotency_key_reused) for that key: the retry must not use it,
    // even when the body is unchanged (the same request, tried again after the user fixed something elsewhere).
    const seen: string[] = [];
    await k.send(wrong, async (key) => void seen.push(key)).catch(() => {});
    await k.send(fixed, async (key) => {
      seen.push(key);
      const r = srv.start(key, fixed) as { finish(a: unknown): void };
      r.finish({ order: "o1" });
    });
    expect(seen).toEqual(["k2", "k3"]);
    expect(srv.effects).toBe(1);
  });

  it("transient conflicts and 5xx keep the key, other 409s drop it", async () => {
    const k = new ActionKey(keys());
    const fail = (err: unknown) => k.send({ a: 1 }, async () => Promise.reject(err)).catch(() => {});
    await fail(new ApiError(409, "ledger_busy", "busy"));
    await fail(new ApiError(502, "bad_gateway", "x"));
    await fail(new ApiError(429, "rate_limited", "x"));
    expect(k.pending).toBe("k1");
    await fail(new ApiError(409, "already_subscribed", "x"));
    expect(k.pending).toBeNull();
    expect(k.for({ a: 1 })).toBe("k2");
  });

  it("an older attempt settling late does not drop a newer request's key", () => {
    const k = new ActionKey(keys());
    const old = k.for({ a: 1 });
    const now = k.for({ a: 2 });
    k.settle(old);
    expect(k.pending).toBe(now);
  });
});
