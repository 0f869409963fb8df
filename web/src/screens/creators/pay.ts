// One money action (subscribe, tip, unlock, top up) and its retries. The action keeps ONE Idempotency-Key until
// it succeeds, so a retry after a lost answer or a 5xx cannot pay twice; a 4xx answer to the creating POST is
// stored by the API as the key's answer, so the next attempt takes a fresh key. Card payments follow the
// SetupIntent flow: the card is saved first (`card()`), the server confirms with it, and a `requires_action`
// answer is the 3-D Secure step (`authenticate`) followed by one more confirm.
import { ApiError } from "../../lib/api/errors";

export type Method = "card" | "wallet";

export interface PaymentState {
  status?: string | null;
  client_secret?: string | null;
}

export interface MoneyAction<C> {
  /** The money POST (`payment_method`, for a card maybe its `pm_...`), sent with `key`. */
  create(key: string, method: Method, pm: string | null): Promise<{ created: C; payment?: PaymentState | null }>;
  /** `POST /<kind>/{id}/confirm` for card payments that have one (tips, purchases, top-ups). */
  confirm?(created: C, pm: string | null): Promise<PaymentState>;
}

export interface Deps {
  authenticate(clientSecret: string): Promise<void>;
  newKey?: () => string;
}

export class Payment<C> {
  key: string;
  private created: C | null = null;
  private method: Method | null = null;
  private readonly newKey: () => string;

  constructor(
    private readonly action: MoneyAction<C>,
    private readonly deps: Deps,
  ) {
    this.newKey = deps.newKey ?? (() => crypto.randomUUID());
    this.key = this.newKey();
  }

  /** Pay; resolves with what the creating POST made once the money has moved (or is confirming, for 3DS). */
  async pay(method: Method, card?: () => Promise<string>): Promise<C> {
    if (this.created && this.method !== method) this.reset();
    let stage: "create" | "confirm" = "create";
    try {
      const pm = method === "card" && card ? await card() : null;
      let state: PaymentState | null | undefined;
      if (!this.created) {
        const out = await this.action.create(this.key, method, pm);
        this.created = out.created;
        this.method = method;
        state = out.payment;
      }
      stage = "confirm";
      if (method === "card") {
        if (this.action.confirm) state = await this.action.confirm(this.created, pm);
        if (state?.status === "requires_action" && state.client_secret) {
          await this.deps.authenticate(state.client_secret);
          if (this.action.confirm) state = await this.action.confirm(this.created, null);
        }
        if (this.action.confirm && state?.status && state.status !== "succeeded") {
          throw new Error(state.status === "requires_payment_method" ? "The card was declined." : `Payment ${state.status.replaceAll("_", " ")}.`);
        }
      }
      const done = this.created;
      this.reset();
      return done;
    } catch (e) {
      if (stage === "create" && e instanceof ApiError && e.status < 500) this.key = this.newKey();
      throw e;
    }
  }

  reset(): void {
    this.created = null;
    this.method = null;
    this.key = this.newKey();
  }
}
