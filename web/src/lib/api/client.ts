// The typed API client. `schema.d.ts` is generated from the API's own `/openapi.json` by `make web`, so a route
// or field the app uses that changes breaks `make lint` (svelte-check) and the build, not the user.
//
//   const events = ok(await api.GET("/events", { params: { query: { limit: 20 } } }));
//   ok(await api.POST("/photos/{photo_id}/comments", { params: { path: { photo_id }, header: idem() }, body }));
import createClient from "openapi-fetch";
import { apiBase } from "../config";
import { ApiError, errorFrom } from "./errors";
import type { paths } from "./schema";
import { TokenKeeper } from "./tokens";

export type { components, paths } from "./schema";

export const tokens = new TokenKeeper(() => `${apiBase()}/auth/token/refresh`);

export const api = createClient<paths>({
  baseUrl: "",
  credentials: "include", // the refresh cookie is scoped to /auth; other routes carry no cookie
  fetch: async (request: Request) => {
    const url = new URL(request.url, location.origin);
    if (url.origin !== location.origin) return tokens.authorizedFetch(request);
    const body = request.method === "GET" || request.method === "HEAD" ? null : await request.arrayBuffer();
    const target = apiBase() + url.pathname + url.search;
    return tokens.authorizedFetch(
      new Request(target, { method: request.method, headers: request.headers, body, credentials: "include" }),
    );
  },
});

interface Outcome<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of a 2xx answer, or throw the API's error (code, message, details) as an `ApiError`. */
export function ok<T>(outcome: Outcome<T>): T {
  if (outcome.response.ok) return outcome.data as T;
  const e = (outcome.error as { error?: { code?: string; message?: string; details?: Record<string, unknown> } })
    ?.error;
  const retry = Number(outcome.response.headers.get("Retry-After"));
  throw new ApiError(
    outcome.response.status,
    e?.code ?? "http_error",
    e?.message ?? `Request failed (${outcome.response.status})`,
    e?.details ?? {},
    Number.isFinite(retry) && retry > 0 ? retry : null,
  );
}

/** A fresh `Idempotency-Key` header for one user action (keep it for that action's retries). */
export function idem(key: string = crypto.randomUUID()): { "Idempotency-Key": string } {
  return { "Idempotency-Key": key };
}

/** A plain authorized request outside the typed client (e.g. following a `next_cursor` link elsewhere). */
export async function raw(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await tokens.authorizedFetch(new Request(apiBase() + path, { credentials: "include", ...init }));
  if (!res.ok) throw await errorFrom(res);
  return res;
}
