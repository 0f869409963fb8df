// Stripe.js, loaded on demand from `GET /config`'s `stripe.js_url` (a script element made in code: the CSP allows
// that origin and no inline script), and the card flow that works against both real Stripe and the fake Stripe.js
// localstripe serves: SetupIntent (`POST /payment-methods/setup`) -> `confirmCardSetup` saves the card -> the server
// confirms the order's PaymentIntent with it -> `confirmCardPayment` only when the answer `requires_action` (3DS).
import { api, idem, ok } from "./api/client";
import { config } from "./config";

export interface CardElement {
  mount(el: HTMLElement): void;
  destroy(): void;
  on(event: string, handler: () => void): void;
}

interface StripeError {
  message?: string;
  code?: string;
}

export interface StripeLike {
  elements(): { create(type: "card", options?: unknown): CardElement };
  confirmCardSetup(
    clientSecret: string,
    data: { payment_method: { card: CardElement } },
  ): Promise<{ error?: StripeError | null; setupIntent?: { payment_method?: string | { id: string } } }>;
  confirmCardPayment(clientSecret: string): Promise<{ error?: StripeError | null; paymentIntent?: { status?: string } }>;
}

/** A Stripe.js answer's error as a sentence (Stripe's own message when it has one). */
export class CardError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CardError";
  }
}

function cardError(e: unknown, fallback: string): CardError {
  const m = (e as StripeError | null)?.message;
  return new CardError(typeof m === "string" && m ? m : fallback);
}

let script: Promise<(key: string) => StripeLike> | null = null;

function loadScript(): Promise<(key: string) => StripeLike> {
  script ??= new Promise((resolve, reject) => {
    const w = window as unknown as { Stripe?: (key: string) => StripeLike };
    if (w.Stripe) return resolve(w.Stripe);
    const el = document.createElement("script");
    el.src = config().stripe.js_url;
    el.async = true;
    el.onload = () => (w.Stripe ? resolve(w.Stripe) : reject(new Error("The payment form could not start.")));
    el.onerror = () => {
      script = null;
      el.remove();
      reject(new Error("The payment form could not load. Check your connection and try again."));
    };
    document.head.appendChild(el);
  });
  return script;
}

let instance: { key: string; stripe: StripeLike } | null = null;

export async function stripe(): Promise<StripeLike> {
  const key = config().stripe.publishable_key;
  if (instance?.key === key) return instance.stripe;
  const factory = await loadScript();
  instance = { key, stripe: factory(key) };
  return instance.stripe;
}

// The fake Stripe.js mounts bare inputs named only by their placeholder (real Stripe mounts a titled iframe):
// give them accessible names so the page stays labelled.
const FIELD_NAMES: Record<string, string> = {
  number: "Card number",
  exp_month: "Expiry month (MM)",
  exp_year: "Expiry year (YY)",
  cvc: "CVC",
  postal_code: "Card postal code",
};

/** A card element mounted in `el`; call `destroy()` when the screen closes. */
export async function mountCard(el: HTMLElement): Promise<CardElement> {
  const s = await stripe();
  const card = s.elements().create("card");
  card.mount(el);
  for (const input of el.querySelectorAll("input")) {
    const name = FIELD_NAMES[input.getAttribute("placeholder") ?? ""];
    if (name && !input.hasAttribute("aria-label")) input.setAttribute("aria-label", name);
  }
  return card;
}

/** Save the card typed into `card` for the caller (SetupIntent); its PaymentMethod id. 3DS may be asked here. */
export async function saveCard(card: CardElement): Promise<string> {
  const setup = ok(await api.POST("/payment-methods/setup", { params: { header: idem() } }));
  const s = await stripe();
  let out: Awaited<ReturnType<StripeLike["confirmCardSetup"]>>;
  try {
    out = await s.confirmCardSetup(setup.client_secret, { payment_method: { card } });
  } catch (e) {
    throw cardError(e, "Check the card details and try again.");
  }
  if (out.error) throw cardError(out.error, "Check the card details and try again.");
  const pm = out.setupIntent?.payment_method;
  const id = typeof pm === "string" ? pm : pm?.id;
  if (!id) throw new CardError("The card could not be saved. Please try again.");
  return id;
}

/** The 3-D Secure step for a PaymentIntent that `requires_action`. */
export async function authenticate(clientSecret: string): Promise<void> {
  const s = await stripe();
  let out: Awaited<ReturnType<StripeLike["confirmCardPayment"]>>;
  try {
    out = await s.confirmCardPayment(clientSecret);
  } catch (e) {
    throw cardError(e, "The card could not be authenticated.");
  }
  if (out.error) throw cardError(out.error, "The card could not be authenticated.");
  if (out.paymentIntent?.status && !["succeeded", "processing", "requires_capture"].includes(out.paymentIntent.status))
    throw new CardError("Authentication failed. Try again or use another card.");
}
