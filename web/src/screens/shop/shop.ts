// The shop's small shared pieces: cart count events, status words, the API's download links.
import { apiBase } from "../../lib/config";

const WORDS: Record<string, string> = {
  awaiting_payment: "Awaiting payment",
  paid: "Paid",
  fulfilled: "Fulfilled",
  cancelled: "Cancelled",
  partially_refunded: "Partially refunded",
  refunded: "Refunded",
  disputed: "Disputed",
  pending: "Pending",
  available: "Ready to download",
  submitted: "Sent to the lab",
  accepted: "Accepted by the lab",
  in_production: "In production",
  shipped: "Shipped",
  delivered: "Delivered",
  failed: "Failed",
};

export function statusWord(s: string | null | undefined): string {
  if (!s) return "";
  return WORDS[s] ?? s.replace(/_/g, " ");
}

/** `download_url` may be relative to the API when the API does not know its public URL. */
export function apiUrl(u: string): string {
  return u.startsWith("/") ? apiBase() + u : u;
}

/** Print steps in order, for the tracking progress. */
export const PRINT_STEPS = ["pending", "submitted", "in_production", "shipped", "delivered"];
