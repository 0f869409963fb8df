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
    expect(p.key).toBe("k2");
  });

  it("takes a fresh key after a 4xx answer to the creating POST", async () => {
    const seen: string[] = [];
    const action: MoneyAction<string> = {
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

  it("passes 3-D Secure then confirms again, without creating a second payment", async () => {
    const create = vi.fn(async () => ({ created: "tip_1", payment: { status: "requires_payment_method" } }));
    const confirm = vi
      .fn()
      .mockResolvedValueOnce({ status: "requires_action", client_secret: "pi_1_secret_x" })
      .mockResolvedValueOnce({ status: "succeeded" });
    const authenticate = vi.fn(async () => {});
    const p = new Payment<string>({ create, confirm }, { authenticate, newKey: keys() });
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
    const p = new Payment<string>({ create, confirm }, { authenticate: vi.fn(), newKey: keys() });
    await expect(p.pay("card", async () => "pm_bad")).rejects.toThrow("declined");
    expect(await p.pay("card", async () => "pm_good")).toBe("p1");
    expect(create).toHaveBeenCalledTimes(1);
  });

  it("subscriptions (no confirm route) authenticate the first invoice when asked", async () => {
    const authenticate = vi.fn(async () => {});
    const p = new Payment<string>(
      { create: async () => ({ created: "sub", payment: { status: "requires_action", client_secret: "s" } }) },
      { authenticate, newKey: keys() },
    );
    expect(await p.pay("card", async () => "pm_x")).toBe("sub");
    expect(authenticate).toHaveBeenCalledWith("s");
  });
});
