// One WebSocket per tab, to `GET /config`'s `ws_url` with the in-memory access token. It reconnects with
// exponential backoff and jitter (0.5 s doubling to 30 s), refreshing the token before each attempt (a refused
// refresh ends the session), and re-sends the photo subscriptions the open screens hold. Screens listen by frame
// type: `const off = realtime.on("photo.stats", (f) => ...)`, and call `off()` when they close.

export type Frame = { type: string; [key: string]: any };
type Handler = (frame: Frame) => void;

export interface RealtimeDeps {
  url: () => string;
  /** `stale`: the last socket closed before it opened (a refused token): get a fresh one. */
  token: (stale: boolean) => Promise<string | null>;
  socket?: (url: string) => WebSocket;
  random?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
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

  send(frame: Record<string, unknown>): boolean {
    if (this.ws?.readyState !== 1) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  start(): void {
    this.wanted = true;
    if (!this.ws && !this.timer) void this.open();
  }

  stop(): void {
    this.wanted = false;
    if (this.timer) (this.deps.clearTimer ?? clearTimeout)(this.timer as number);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
    this.setConnected(false);
  }

  private async open(): Promise<void> {
    this.timer = null;
    const token = await this.deps.token(!this.opened);
    this.opened = false;
    if (!this.wanted) return;
    if (!token) return this.stop();
    const url = `${this.deps.url()}${this.deps.url().includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
    const ws = (this.deps.socket ?? ((u) => new WebSocket(u)))(url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.opened = true;
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
      for (const h of this.handlers.get(frame.type) ?? []) h(frame);
      for (const h of this.handlers.get("*") ?? []) h(frame);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.setConnected(false);
      if (!this.wanted) return;
      const delay = backoff(this.attempt++, this.deps.random);
      this.timer = (this.deps.setTimer ?? setTimeout)(() => void this.open(), delay);
    };
  }

  private setConnected(v: boolean): void {
    if (this.connected === v) return;
    this.connected = v;
    this.onStatus(v);
  }
}
