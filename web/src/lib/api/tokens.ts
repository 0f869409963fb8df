// The access token lives here, in memory only; the refresh token is the API's HttpOnly cookie (never readable by
// script, never in localStorage). `authorizedFetch` adds the bearer token, and on a 401 refreshes once (one refresh
// in flight per tab, serialised across tabs by a Web Lock so two tabs never spend the same refresh token, which the
// API would treat as a replay and revoke the whole login) and retries the request once.
//
// Only the API refusing the refresh (400 no session cookie, 401 spent/revoked/expired, 403) ends the session. A
// refresh that fails for a passing reason (offline, 5xx, 429) keeps the access token and throws (a TypeError or an
// ApiError) so the caller shows an error and can try again: a blip never logs anyone out.
import { errorFrom } from "./errors";

export type Fetch = (input: Request) => Promise<Response>;
export type LockRunner = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

export interface RefreshResult {
  access_token: string;
  expires_in?: number;
}

const navigatorLocks: LockRunner = (name, fn) => {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  return locks ? (locks.request(name, fn) as ReturnType<typeof fn>) : fn();
};

/** The refresh's answers that mean "no session": no cookie (400), refused token (401), CSRF/forbidden (403). */
const REFUSED = new Set([400, 401, 403]);

export class TokenKeeper {
  private access: string | null = null;
  private inflight: Promise<string | null> | null = null;
  /** Called once when a refresh is refused: the login is over (revoked, expired, logged out elsewhere). Never for
   *  a passing failure (offline, 5xx, 429). */
  onExpired: () => void = () => {};

  constructor(
    private readonly refreshUrl: () => string,
    private readonly send: Fetch = (r) => fetch(r),
    private readonly lock: LockRunner = navigatorLocks,
  ) {}

  get token(): string | null {
    return this.access;
  }

  set(token: string | null): void {
    this.access = token;
  }

  /** Spend the session cookie for a new access token; null when there is no (longer a) session (the API refused
   *  it). Rejects, keeping the access token, when the refresh could not be done now (network error, 5xx, 429). */
  refresh(): Promise<string | null> {
    this.inflight ??= this.lock("lightbox-refresh", async () => {
      const res = await this.send(
        new Request(this.refreshUrl(), {
          method: "POST",
          credentials: "include",
          headers: { "Content-Type": "application/json", "X-Requested-With": "lightbox" },
          body: "{}",
        }),
      );
      if (REFUSED.has(res.status)) {
        this.access = null;
        return null;
      }
      if (!res.ok) throw await errorFrom(res);
      const body = (await res.json()) as RefreshResult;
      this.access = body.access_token;
      return this.access;
    }).finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  /** Send with the bearer token; on 401 refresh once and retry once. A refused refresh ends the session; a refresh
   *  that fails for a passing reason rejects with its error (the session stays). */
  async authorizedFetch(request: Request): Promise<Response> {
    // The body is read into bytes once: a retry needs it again, and Chromium sends a stream body only over
    // HTTP/2 (a Request re-wrapped around another's body is a stream), which a plain-HTTP API refuses.
    const body = request.method === "GET" || request.method === "HEAD" ? null : await request.arrayBuffer();
    const build = (token: string | null) => {
      const headers = new Headers(request.headers);
      if (token) headers.set("Authorization", `Bearer ${token}`);
      return new Request(request.url, {
        method: request.method,
        headers,
        body,
        credentials: request.credentials,
        signal: request.signal,
      });
    };
    const sentWith = this.access;
    const first = await this.send(build(sentWith));
    if (first.status !== 401) return first;
    // Another request may have refreshed while this one was in flight: retry with that token first.
    const token = this.access && this.access !== sentWith ? this.access : await this.refresh();
    if (!token) {
      this.onExpired();
      return first;
    }
    return this.send(build(token));
  }
}
