import { describe, expect, it } from "vitest";
import { Realtime, backoff } from "./realtime";

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onclose: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(s: string) {
    this.sent.push(s);
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  drop() {
    this.readyState = 3;
    this.onclose?.();
  }
}

const tick = () => new Promise((ok) => setTimeout(ok, 0));

describe("backoff", () => {
  it("doubles from 0.5 s to a 30 s cap, with jitter in the upper half", () => {
    expect(backoff(0, () => 0)).toBe(250);
    expect(backoff(0, () => 1)).toBe(500);
    expect(backoff(3, () => 1)).toBe(4000);
    expect(backoff(20, () => 1)).toBe(30000);
    expect(backoff(20, () => 0)).toBe(15000);
  });
});

describe("Realtime", () => {
  it("reconnects with a fresh token and re-subscribes the watched photos", async () => {
    FakeSocket.all = [];
    const timers: Array<() => void> = [];
    let n = 0;
    const rt = new Realtime({
      url: () => "ws://x",
      token: async () => `t${++n}`,
      socket: (u) => new FakeSocket(u) as unknown as WebSocket,
      setTimer: (fn) => timers.push(fn),
    });
    const seen: string[] = [];
    rt.on("photo.stats", (f) => seen.push(f.photo_id));
    rt.start();
    await tick();
    const first = FakeSocket.all[0];
    expect(first.url).toBe("ws://x?token=t1");
    first.open();
    rt.watchPhoto("p1");
    expect(first.sent).toEqual(['{"action":"subscribe","photo_id":"p1"}']);
    first.onmessage?.({ data: '{"type":"photo.stats","photo_id":"p1"}' });
    first.onmessage?.({ data: "not json" });
    expect(seen).toEqual(["p1"]);
    first.drop();
    expect(timers).toHaveLength(1);
    timers[0]();
    await tick();
    const second = FakeSocket.all[1];
    expect(second.url).toBe("ws://x?token=t2");
    second.open();
    expect(second.sent).toEqual(['{"action":"subscribe","photo_id":"p1"}']);
  });

  it("stops when there is no session any more", async () => {
    FakeSocket.all = [];
    const rt = new Realtime({ url: () => "ws://x", token: async () => null, socket: (u) => new FakeSocket(u) as never });
    rt.start();
    await tick();
    expect(FakeSocket.all).toHaveLength(0);
  });
});
