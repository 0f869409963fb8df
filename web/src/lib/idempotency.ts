// One rule for the `Idempotency-Key` of every user action (chalicelib/services/idempotency.py stores the first
// answer of a key and replays it for 24 h). An `ActionKey` holds the key of one action:
// - it is KEPT for a retry of the same request after an answer that was not stored: no answer at all (network
//   error, lost response), a 5xx, a 429, or a 409 that asks for a retry (`idempotency_key_in_progress`: the first
//   attempt is still running and may succeed; and the server's TRANSIENT_CONFLICT_CODES). The retry then gets the
//   first attempt's answer instead of doing the work a second time (no double payment);
// - a NEW key is taken after a success and after any other 4xx (the server replays that answer for the key, so a
//   corrected retry would be stuck), and whenever the request changes (compared as canonical JSON): the same key
//   with another body is `409 idempotency_key_reused`.
import { ApiError } from "./api/errors";

/** 409 codes that mean "retry shortly" (not stored for the key); mirrors chalicelib/errors + idempotency. */
export const TRANSIENT_CONFLICT_CODES: ReadonlySet<string> = new Set([
  "idempotency_key_in_progress",
  "refund_in_progress",
  "order_busy",
  "retry",
  "concurrent_change",
  "invoice_busy",
  "cart_changed",
  "ledger_busy",
]);

/** Whether a failed attempt may be retried with the same key (the server stored no answer for it). */
export function keepsKey(err: unknown): boolean {
  if (!(err instanceof ApiError)) return true; // no answer: the request may have run
  if (err.status >= 500 || err.status === 429) return true;
  return err.status === 409 && TRANSIENT_CONFLICT_CODES.has(err.code);
}

/** JSON with object keys sorted at every level (undefined members dropped, as JSON.stringify does). */
export function canonical(value: unknown): string {
  return (
    JSON.stringify(value, (_k, v: unknown) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v,
    ) ?? "null"
  );
}

export class ActionKey {
  private key: string | null = null;
  private request: string | null = null;

  constructor(private readonly newKey: () => string = () => crypto.randomUUID()) {}

  /** The key to send `request` with: the pending key when it is the same request, else a new one. */
  for(request: unknown): string {
    const c = canonical(request);
    if (this.key === null || c !== this.request) {
      this.key = this.newKey();
      this.request = c;
    }
    return this.key;
  }

  /** The pending key (an attempt was made and may be retried), or null. */
  get pending(): string | null {
    return this.key;
  }

  /** Record how an attempt made with `key` ended: `err` undefined for a success. */
  settle(key: string, err?: unknown): void {
    if (key !== this.key) return; // an older attempt: a newer request already has its own key
    if (err === undefined || !keepsKey(err)) this.reset();
  }

  /** Forget the key: the next request is a new action. */
  reset(): void {
    this.key = null;
    this.request = null;
  }

  /** Send `request` with its key (`call(key)`), keeping or dropping the key by the outcome. */
  async send<T>(request: unknown, call: (key: string) => Promise<T>): Promise<T> {
    const key = this.for(request);
    try {
      const out = await call(key);
      this.settle(key);
      return out;
    } catch (e) {
      this.settle(key, e ?? new Error("failed"));
      throw e;
    }
  }
}
