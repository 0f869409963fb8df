// One WebSocket per tab, to `GET /config`'s `ws_url` with the in-memory access token. It reconnects with
// exponential backoff and jitter (0.5 s doubling to 30 s), refreshing the token before each attempt (no session:
// it stops; a refresh that fails for a passing reason, e.g. offline: it backs off and tries again), and re-sends the photo subscriptions the open screens hold. Screens listen by frame
// type: `const off = realtime.on("photo.stats", (f) => ...)`, and call `off()` when they close.

export type Frame = { type: string; [key: string]: any };
type Handler = (frame: Frame) => void;

export interface RealtimeDeps {
  url: () => string;
  /** `stale`: the last socket closed before it opened (a refused token): get a fresh one. Null: no session (stop);
   *  a rejection: a passing failure (back off and retry). */
  token: (stale: boolean) => Promise<string | null>;
  socket?: (url: string) => WebSocket;
  random?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
  /** How long a socket must stay open before the backoff starts again from the shortest delay (ms). */
  stableAfter?: number;
}

export function backoff(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(30_000, 500 * 2 ** attempt);
  return Math.round(base / 2 + (random() * base) / 2);
}

export class Realtime {
  private ws: WebSocket | null = null;
  private handlers = new Map<string, Set<Handler>>();
  private photos = new Map<string, number>();
  private attempt = 0;
  private timer: unknown = null;
  private wanted = false;
  private opened = true;
  private seq = 0; // one per open(): a stop() or a newer open() makes an older one's token useless
  private opening: number | null = null; // the open() awaiting its token
  private stableTimer: unknown = null;
  connected = false;
  onStatus: (connected: boolean) => void = () => {};

  constructor(private readonly deps: RealtimeDeps) {}

  on(type: string, handler: Handler): () => void {
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Live `photo.stats` and `comment` frames for this photo while the returned function is not called. */
  watchPhoto(photoId: string): () => void {
    const n = (this.photos.get(photoId) ?? 0) + 1;
    this.photos.set(photoId, n);
    if (n === 1) this.send({ action: "subscribe", photo_id: photoId });
    return () => {
      const left = (this.photos.get(photoId) ?? 1) - 1;
      if (left > 0) return void this.photos.set(photoId, left);
      this.photos.delete(photoId);
      this.send({ action: "unsubscribe", photo_id: photoId });
    };
  }

  /** Hand a frame to its listeners (what a socket message does). */
  dispatch(frame: Frame): void {
    for (const h of this.handlers.get(frame.type) ?? []) h(frame);
    for (const h of this.handlers.get("*") ?? []) h(frame);
  }

  send(frame: Record<string, unknown>): boolean {
    if (this.ws?.readyState !== 1) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  start(): void {
    this.wanted = true;
    if (!this.ws && !this.timer && this.opening === null) void this.open();
  }

  /** Try now instead of waiting out the backoff (the browser says it is back online). */
  retryNow(): void {
    if (!this.wanted || this.ws || !this.timer) return;
    this.clear("timer");
    void this.open();
  }

  stop(): void {
    this.wanted = false;
    this.seq += 1;
    this.opening = null;
    this.clear("timer");
    this.clear("stableTimer");
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
    this.setConnected(false);
  }

  private clear(which: "timer" | "stableTimer"): void {
    if (this[which]) (this.deps.clearTimer ?? clearTimeout)(this[which] as number);
    this[which] = null;
  }

  private retryLater(): void {
    const delay = backoff(this.attempt++, this.deps.random);
    this.timer = (this.deps.setTimer ?? setTimeout)(() => void this.open(), delay);
  }

  private async open(): Promise<void> {
    this.timer = null;
    const mine = ++this.seq;
    this.opening = mine;
    let token: string | null;
    try {
      token = await this.deps.token(!this.opened);
    } catch {
      // Offline or the API briefly down: not the end of the session.
      if (mine !== this.seq || !this.wanted) return;
      this.opening = null;
      return this.retryLater();
    }
    if (mine !== this.seq || !this.wanted) return; // stopped (and maybe started again) meanwhile
    this.opening = null;
    if (!token) return this.stop();
    this.opened = false; // until this socket opens: if it never does, the next attempt gets a fresh token
    const url = `${this.deps.url()}${this.deps.url().includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
    const ws = (this.deps.socket ?? ((u) => new WebSocket(u)))(url);
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.opened = true;
      // Only a socket that stays open earns the short delay again: one that the server closes at once would
      // otherwise reconnect every quarter second.
      this.clear("stableTimer");
      this.stableTimer = (this.deps.setTimer ?? setTimeout)(() => {
        this.stableTimer = null;
        if (this.ws === ws) this.attempt = 0;
      }, this.deps.stableAfter ?? 5000);
      this.setConnected(true);
      for (const id of this.photos.keys()) this.send({ action: "subscribe", photo_id: id });
    };
    ws.onmessage = (ev) => {
      let frame: Frame;
      try {
        frame = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      this.dispatch(frame);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clear("stableTimer");
      this.setConnected(false);
      if (!this.wanted) return;
      this.retryLater();
    };
  }

  private setConnected(v: boolean): void {
    if (this.connected === v) return;
    this.connected = v;
    this.onStatus(v);
  }
}
