// Where the API is and what it tells a client at start (`GET /config`). The API's base URL comes from
// `/app-config.json`, served next to index.html (the local web host writes it from the stack's ports; the deploy
// writes it for CloudFront), so one build runs against any stack.
export interface ClientConfig {
  api_url: string;
  /** Sign in with Google / Apple, from `/app-config.json` (absent: no such buttons). Locally
   *  `{"local_issuer": "http://127.0.0.1:8440", "providers": ["google", "apple"]}`: the stack's stand-in issuer. */
  oidc: OidcConfig | null;
  ws_url: string;
  stripe: { publishable_key: string; js_url: string };
  upload: { max_photo_bytes: number; max_video_bytes: number; content_types: string[] };
}

export interface OidcConfig {
  providers: ("google" | "apple")[];
  local_issuer: string;
}

/** The `oidc` entry of `/app-config.json`, or null when it names no provider the app knows. */
export function parseOidc(raw: unknown): OidcConfig | null {
  if (!raw || typeof raw !== "object") return null;
  const r = raw as { providers?: unknown; local_issuer?: unknown };
  const providers = (Array.isArray(r.providers) ? r.providers : []).filter(
    (p): p is "google" | "apple" => p === "google" || p === "apple",
  );
  const issuer = typeof r.local_issuer === "string" && /^https?:\/\//.test(r.local_issuer) ? r.local_issuer.replace(/\/+$/, "") : null;
  // Without the providers' own SDKs (not loaded yet) a button works only against the local issuer.
  if (!providers.length || !issuer) return null;
  return { providers: [...new Set(providers)], local_issuer: issuer };
}

let loaded: Promise<ClientConfig> | null = null;
let current: ClientConfig | null = null;

export function apiBase(): string {
  if (!current) throw new Error("config not loaded");
  return current.api_url;
}

export function config(): ClientConfig {
  if (!current) throw new Error("config not loaded");
  return current;
}

export function loadConfig(fetcher: typeof fetch = fetch): Promise<ClientConfig> {
  loaded ??= (async () => {
    const site = await fetcher("/app-config.json", { cache: "no-store" });
    if (!site.ok) throw new Error(`app-config.json: ${site.status}`);
    const { api_url, oidc } = (await site.json()) as { api_url: string; oidc?: unknown };
    const base = api_url.replace(/\/+$/, "");
    const res = await fetcher(`${base}/config`);
    if (!res.ok) throw new Error(`GET /config: ${res.status}`);
    current = { ...(await res.json()), api_url: base, oidc: parseOidc(oidc) } as ClientConfig;
    return current;
  })();
  return loaded;
}
