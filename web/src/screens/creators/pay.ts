// One money action (subscribe, tip, unlock, top up) and its retries. The creating POST's Idempotency-Key follows
// lib/idempotency's ActionKey: kept for a retry of the same body after no answer, a 5xx, a 429 or a transient 409
// (`idempotency_key_in_progress`), so a retry after a lost answer cannot pay twice; a new one after a success, a
// stored 4xx or a changed body (`body(method, pm)`, compared as canonical JSON). Card payments follow the
// SetupIntent flow: the card is saved first (`card()`), the server confirms with it, and a `requires_action`
// answer is the 3-D Secure step (`authenticate`) followed by one more confirm.
import { ActionKey } from "../../lib/idempotency";
import { CardError } from "../../lib/stripe";

export type Method = "card" | "wallet";

export interface PaymentState {
  status?: string | null;
  client_secret?: string | null;
}

export interface MoneyAction<C, B = unknown> {
  /** The creating POST's body for this attempt (read once per attempt; what the key stands for). */
  body(method: Method, pm: string | null): B;
  /** The money POST with that body, sent with `key`. */
  create(key: string, body: B): Promise<{ created: C; payment?: PaymentState | null }>;
  /** `POST /<kind>/{id}/confirm` for card payments that have one (tips, purchases, top-ups). */
  confirm?(created: C, pm: string | null): Promise<PaymentState>;
}

export interface Deps {
  authenticate(clientSecret: string): Promise<void>;
  newKey?: () => string;
}

export class Payment<C, B = unknown> {
  readonly key: ActionKey;
  private created: C | null = null;
  private method: Method | null = null;

  constructor(
    private readonly action: MoneyAction<C, B>,
    private readonly deps: Deps,
  ) {
    this.key = new ActionKey(deps.newKey);
  }

  /** Pay; resolves with what the creating POST made once the money has moved (or is confirming, for 3DS). */
  async pay(method: Method, card?: () => Promise<string>): Promise<C> {
    if (this.created && this.method !== method) this.reset();
    const pm = method === "card" && card ? await card() : null;
    let state: PaymentState | null | undefined;
    if (!this.created) {
      const body = this.action.body(method, pm);
      const out = await this.key.send(body, (key) => this.action.create(key, body));
      this.created = out.created;
      this.method = method;
      state = out.payment;
    }
    if (method === "card") {
      if (this.action.confirm) state = await this.action.confirm(this.created, pm);
      if (state?.status === "requires_action" && state.client_secret) {
        await this.deps.authenticate(state.client_secret);
        if (this.action.confirm) state = await this.action.confirm(this.created, null);
      }
      if (this.action.confirm && state?.status && state.status !== "succeeded") {
        throw new CardError(state.status === "requires_payment_method" ? "The card was declined." : `Payment ${state.status.replaceAll("_", " ")}.`);
      }
    }
    const done = this.created;
    this.reset();
    return done;
  }

  /** A new action: forget what was created and the key. */
  reset(): void {
    this.created = null;
    this.method = null;
    this.key.reset();
  }
}
