// Where the API is and what it tells a client at start (`GET /config`). The API's base URL comes from
// `/app-config.json`, served next to index.html (the local web host writes it from the stack's ports; the deploy
// writes it for CloudFront), so one build runs against any stack.
export interface ClientConfig {
  api_url: string;
  ws_url: string;
  stripe: { publishable_key: string; js_url: string };
  upload: { max_photo_bytes: number; max_video_bytes: number; content_types: string[] };
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
    const { api_url } = (await site.json()) as { api_url: string };
    const base = api_url.replace(/\/+$/, "");
    const res = await fetcher(`${base}/config`);
    if (!res.ok) throw new Error(`GET /config: ${res.status}`);
    current = { ...(await res.json()), api_url: base } as ClientConfig;
    return current;
  })();
  return loaded;
}
