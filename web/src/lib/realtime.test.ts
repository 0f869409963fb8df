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

/** Timers the test fires by hand. */
function clock() {
  const pending: { fn: () => void; ms: number }[] = [];
  return {
    pending,
    setTimer: (fn: () => void, ms: number) => {
      const t = { fn, ms };
      pending.push(t);
      return t;
    },
    clearTimer: (t: unknown) => {
      const i = pending.indexOf(t as { fn: () => void; ms: number });
      if (i >= 0) pending.splice(i, 1);
    },
    /** Fire the pending timer of this delay (the reconnect or the "stayed open" one). */
    fire: (pred: (ms: number) => boolean) => {
      const i = pending.findIndex((t) => pred(t.ms));
      if (i < 0) throw new Error(`no timer matches; pending: ${pending.map((t) => t.ms)}`);
      pending.splice(i, 1)[0].fn();
    },
  };
}
const STABLE = 5000;
const isReconnect = (ms: number) => ms !== STABLE;

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
    const c = clock();
    let n = 0;
    const rt = new Realtime({
      url: () => "ws://x",
      token: async () => `t${++n}`,
      socket: (u) => new FakeSocket(u) as unknown as WebSocket,
      setTimer: c.setTimer,
      clearTimer: c.clearTimer,
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
    expect(c.pending).toHaveLength(1); // the reconnect only (the "stayed open" timer went with the socket)
    c.fire(isReconnect);
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

describe("Realtime resilience", () => {
  const make = (token: (stale: boolean) => Promise<string | null>, random = () => 1) => {
    FakeSocket.all = [];
    const c = clock();
    const rt = new Realtime({
      url: () => "ws://x",
      token,
      socket: (u) => new FakeSocket(u) as unknown as WebSocket,
      setTimer: c.setTimer,
      clearTimer: c.clearTimer,
      random,
      stableAfter: STABLE,
    });
    return { rt, c };
  };

  it("backs off and retries when getting the token fails (offline), instead of dying", async () => {
    let fail = true;
    const { rt, c } = make(async () => {
      if (fail) throw new TypeError("Failed to fetch");
      return "t";
    });
    rt.start();
    await tick();
    expect(FakeSocket.all).toHaveLength(0);
    expect(c.pending.map((t) => t.ms)).toEqual([500]);
    c.fire(isReconnect);
    await tick();
    expect(c.pending.map((t) => t.ms)).toEqual([1000]); // still failing: a longer delay
    fail = false;
    c.fire(isReconnect);
    await tick();
    expect(FakeSocket.all).toHaveLength(1);
  });

  it("a stop() then start() while the token is awaited makes one socket, not two", async () => {
    const waiting: Array<(t: string) => void> = [];
    const { rt } = make(() => new Promise((ok) => waiting.push(ok)));
    rt.start();
    rt.start(); // already opening: no second token request
    expect(waiting).toHaveLength(1);
    rt.stop();
    rt.start();
    expect(waiting).toHaveLength(2);
    waiting[1]("new");
    await tick();
    waiting[0]("old");
    await tick();
    expect(FakeSocket.all.map((s) => s.url)).toEqual(["ws://x?token=new"]);
  });

  it("a stop() while the token is awaited opens nothing", async () => {
    let release: (t: string) => void = () => {};
    const { rt, c } = make(() => new Promise((ok) => (release = ok)));
    rt.start();
    rt.stop();
    release("t");
    await tick();
    expect(FakeSocket.all).toHaveLength(0);
    expect(c.pending).toHaveLength(0);
  });

  it("a socket the server closes at once keeps backing off; one that stays open resets the delay", async () => {
    const { rt, c } = make(async () => "t");
    rt.start();
    await tick();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const s = FakeSocket.all.at(-1)!;
      s.open();
      s.drop(); // accepted, then closed at once
      delays.push(c.pending.find((t) => isReconnect(t.ms))!.ms);
      c.fire(isReconnect);
      await tick();
    }
    expect(delays).toEqual([500, 1000, 2000, 4000]);
    const steady = FakeSocket.all.at(-1)!;
    steady.open();
    c.fire((ms) => ms === STABLE); // it stayed open for a while
    steady.drop();
    expect(c.pending.map((t) => t.ms)).toEqual([500]);
  });

  it("retryNow() skips the wait when the browser is back online", async () => {
    let fail = true;
    const { rt, c } = make(async () => {
      if (fail) throw new TypeError("Failed to fetch");
      return "t";
    });
    rt.start();
    await tick();
    expect(c.pending).toHaveLength(1);
    fail = false;
    rt.retryNow();
    await tick();
    expect(c.pending).toHaveLength(0);
    expect(FakeSocket.all).toHaveLength(1);
  });
});
