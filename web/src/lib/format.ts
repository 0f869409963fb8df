// Money is integer minor units with a lowercase ISO 4217 currency, as the API has it; never floats in state.
const ZERO_DECIMAL = new Set(["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"]);

export function money(cents: number, currency: string): string {
  const code = currency.toUpperCase();
  const exp = ZERO_DECIMAL.has(currency.toLowerCase()) ? 0 : 2;
  return new Intl.NumberFormat(undefined, { style: "currency", currency: code }).format(cents / 10 ** exp);
}

/** "12.50" -> 1250 (for price inputs); null when it is not a non-negative amount with at most 2 decimals. */
export function toCents(text: string, currency = "eur"): number | null {
  const exp = ZERO_DECIMAL.has(currency.toLowerCase()) ? 0 : 2;
  const m = /^\s*(\d{1,9})(?:[.,](\d{1,2}))?\s*$/.exec(text);
  if (!m || (exp === 0 && m[2])) return null;
  return Number(m[1]) * 10 ** exp + Number((m[2] ?? "").padEnd(exp, "0") || 0);
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleString();
}

export function ago(iso: string, now: number = Date.now()): string {
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}
