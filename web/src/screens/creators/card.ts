// The creator screens' card: lib/stripe.ts (one Stripe.js loader and card flow for the whole app) with the saved
// PaymentMethod remembered, so retrying a declined confirm with the same card does not save it twice.
import { authenticate, mountCard as mountElement, saveCard } from "../../lib/stripe";

export { authenticate };

export interface Card {
  /** Save the card typed into the element as a PaymentMethod of the caller's customer: its `pm_...` id. */
  save(): Promise<string>;
  destroy(): void;
}

/** Mount a card element into `host`. */
export async function mountCard(host: HTMLElement): Promise<Card> {
  const element = await mountElement(host);
  let saved: string | null = null;
  return {
    async save() {
      saved ??= await saveCard(element);
      return saved;
    },
    destroy() {
      element.destroy();
    },
  };
}
