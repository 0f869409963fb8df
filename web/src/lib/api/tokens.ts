// The access token lives here, in memory only; the refresh token is the API's HttpOnly cookie (never readable by
// script, never in localStorage). `authorizedFetch` adds the bearer token, and on a 401 refreshes once (one refresh
// in flight per tab, serialised across tabs by a Web Lock so two tabs never spend the same refresh token, which the
// API would treat as a replay and revoke the whole login) and retries the request once.

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

export class TokenKeeper {
  private access: string | null = null;
  private inflight: Promise<string | null> | null = null;
  /** Called once when a refresh is refused: the login is over (revoked, expired, logged out elsewhere). */
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

  /** Spend the session cookie for a new access token; null when there is no (longer a) session. */
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
      if (!res.ok) {
        this.access = null;
        return null;
      }
      const body = (await res.json()) as RefreshResult;
      this.access = body.access_token;
      return this.access;
    }).finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  /** Send with the bearer token; on 401 refresh once and retry once. A refused refresh ends the session. */
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
