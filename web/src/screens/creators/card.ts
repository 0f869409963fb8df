// Stripe.js for the creator screens: loaded once from `config().stripe.js_url` with a script element made in code
// (the CSP allows scripts from the site and Stripe's origin only), one card element, a card saved through a
// SetupIntent (`POST /payment-methods/setup` -> `confirmCardSetup`), and the 3-D Secure step (`confirmCardPayment`).
// Locally the script is localstripe's fake Stripe.js, which implements exactly these calls.
import { api, idem, ok } from "../../lib/api/client";
import { config } from "../../lib/config";

interface StripeError {
  message?: string;
}
interface CardElement {
  mount(el: HTMLElement): void;
  destroy(): void;
}
interface StripeJs {
  elements(): { create(type: "card", options?: unknown): CardElement };
  confirmCardSetup(
    secret: string,
    data: { payment_method: { card: CardElement } },
  ): Promise<{ error?: StripeError | null; setupIntent?: { payment_method?: string | { id: string } } }>;
  confirmCardPayment(secret: string): Promise<{ error?: StripeError | null; paymentIntent?: { status?: string } }>;
}

let loading: Promise<StripeJs> | null = null;

export function stripe(): Promise<StripeJs> {
  loading ??= new Promise<StripeJs>((resolve, reject) => {
    const w = window as unknown as { Stripe?: (key: string) => StripeJs };
    const make = () => (w.Stripe ? resolve(w.Stripe(config().stripe.publishable_key)) : reject(new Error("Stripe.js did not load.")));
    if (w.Stripe) return make();
    const s = document.createElement("script");
    s.src = config().stripe.js_url;
    s.async = true;
    s.onload = make;
    s.onerror = () => {
      loading = null;
      reject(new Error("Could not load the card form. Check your connection and try again."));
    };
    document.head.appendChild(s);
  });
  return loading;
}

export interface Card {
  /** Save the card typed into the element as a PaymentMethod of the caller's customer: its `pm_...` id. */
  save(): Promise<string>;
  destroy(): void;
}

/** Mount a card element into `host`. */
export async function mountCard(host: HTMLElement): Promise<Card> {
  const js = await stripe();
  const element = js.elements().create("card");
  element.mount(host);
  // localstripe's fake element is plain inputs with placeholders only: give them accessible names
  // (real Stripe mounts an iframe that labels its own fields).
  for (const input of host.querySelectorAll("input")) {
    if (!input.getAttribute("aria-label")) input.setAttribute("aria-label", `Card ${input.placeholder.replace("_", " ")}`);
  }
  let saved: string | null = null;
  return {
    async save() {
      if (saved) return saved;
      const setup = ok(await api.POST("/payment-methods/setup", { params: { header: idem() } }));
      const out = await js.confirmCardSetup(setup.client_secret, { payment_method: { card: element } });
      if (out.error) throw new Error(out.error.message || "The card was not accepted.");
      const pm = out.setupIntent?.payment_method;
      const id = typeof pm === "string" ? pm : pm?.id;
      if (!id) throw new Error("The card was not accepted.");
      saved = id;
      return id;
    },
    destroy() {
      element.destroy();
    },
  };
}

/** The 3-D Secure step of a PaymentIntent the server answered `requires_action` for. */
export async function authenticate(clientSecret: string): Promise<void> {
  const js = await stripe();
  const out = await js.confirmCardPayment(clientSecret);
  if (out.error) throw new Error(out.error.message || "The card authentication failed.");
}
