import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../../lib/api/errors";
import { Payment, type MoneyAction } from "./pay";

function keys() {
  let n = 0;
  return () => `k${++n}`;
}

describe("Payment", () => {
  it("keeps its Idempotency-Key across a failed attempt and takes a new one after success", async () => {
    const seen: string[] = [];
    let fail = true;
    const action: MoneyAction<string> = {
      body: (method) => ({ payment_method: method }),
      create: async (key) => {
        seen.push(key);
        if (fail) {
          fail = false;
          throw new TypeError("network");
        }
        return { created: "tip_1", payment: null };
      },
    };
    const p = new Payment(action, { authenticate: vi.fn(), newKey: keys() });
    await expect(p.pay("wallet")).rejects.toThrow();
    expect(await p.pay("wallet")).toBe("tip_1");
    expect(seen).toEqual(["k1", "k1"]);
    expect(p.key.pending).toBeNull();
  });

  it("takes a fresh key after a 4xx answer to the creating POST", async () => {
    const seen: string[] = [];
    const action: MoneyAction<string> = {
      body: () => ({}),
      create: async (key) => {
        seen.push(key);
        if (seen.length === 1) throw new ApiError(402, "insufficient_funds", "Not enough in your wallet.");
        return { created: "x" };
      },
    };
    const p = new Payment(action, { authenticate: vi.fn(), newKey: keys() });
    await expect(p.pay("wallet")).rejects.toThrow("Not enough");
    await p.pay("wallet");
    expect(seen).toEqual(["k1", "k2"]);
  });

  it("keeps the key after a lost answer and a 409 in progress: the retry is replayed, not paid twice", async () => {
    const seen: string[] = [];
    const answers: Array<() => Promise<{ created: string }>> = [
      async () => Promise.reject(new TypeError("Failed to fetch")),
      async () => Promise.reject(new ApiError(409, "idempotency_key_in_progress", "Still in progress.", {}, 1)),
      async () => Promise.reject(new ApiError(429, "rate_limited", "Slow down.", {}, 1)),
      async () => ({ created: "tip_1" }),
    ];
    const p = new Payment<string>(
      { body: () => ({ amount_cents: 500 }), create: async (key) => (seen.push(key), answers[seen.length - 1]()) },
      { authenticate: vi.fn(), newKey: keys() },
    );
    for (let i = 0; i < 3; i++) await expect(p.pay("wallet")).rejects.toThrow();
    expect(await p.pay("wallet")).toBe("tip_1");
    expect(seen).toEqual(["k1", "k1", "k1", "k1"]);
  });

  it("a changed body after a lost answer is another payment: a new key", async () => {
    const seen: string[] = [];
    let amount = 500;
    const p = new Payment<string>(
      {
        body: () => ({ amount_cents: amount }),
        create: async (key) => {
          seen.push(key);
          if (seen.length === 1) throw new TypeError("network");
          return { created: "t" };
        },
      },
      { authenticate: vi.fn(), newKey: keys() },
    );
    await expect(p.pay("wallet")).rejects.toThrow();
    amount = 700;
    await p.pay("wallet");
    expect(seen).toEqual(["k1", "k2"]);
  });

  it("passes 3-D Secure then confirms again, without creating a second payment", async () => {
    const create = vi.fn(async () => ({ created: "tip_1", payment: { status: "requires_payment_method" } }));
    const confirm = vi
      .fn()
      .mockResolvedValueOnce({ status: "requires_action", client_secret: "pi_1_secret_x" })
      .mockResolvedValueOnce({ status: "succeeded" });
    const authenticate = vi.fn(async () => {});
    const p = new Payment<string>({ body: () => ({}), create, confirm }, { authenticate, newKey: keys() });
    expect(await p.pay("card", async () => "pm_card_visa")).toBe("tip_1");
    expect(create).toHaveBeenCalledTimes(1);
    expect(authenticate).toHaveBeenCalledWith("pi_1_secret_x");
    expect(confirm.mock.calls).toEqual([
      ["tip_1", "pm_card_visa"],
      ["tip_1", null],
    ]);
  });

  it("a declined confirm keeps the created payment for the retry with another card", async () => {
    const create = vi.fn(async () => ({ created: "p1" }));
    const confirm = vi
      .fn()
      .mockRejectedValueOnce(new ApiError(402, "card_declined", "Your card was declined."))
      .mockResolvedValueOnce({ status: "succeeded" });
    const p = new Payment<string>({ body: () => ({}), create, confirm }, { authenticate: vi.fn(), newKey: keys() });
    await expect(p.pay("card", async () => "pm_bad")).rejects.toThrow("declined");
    expect(await p.pay("card", async () => "pm_good")).toBe("p1");
    expect(create).toHaveBeenCalledTimes(1);
  });

  it("subscriptions (no confirm route) authenticate the first invoice when asked", async () => {
    const authenticate = vi.fn(async () => {});
    const p = new Payment<string>(
      { body: () => ({}), create: async () => ({ created: "sub", payment: { status: "requires_action", client_secret: "s" } }) },
      { authenticate, newKey: keys() },
    );
    expect(await p.pay("card", async () => "pm_x")).toBe("sub");
    expect(authenticate).toHaveBeenCalledWith("s");
  });
});
