import { describe, expect, it } from "vitest";
import { ApiError } from "./api/errors";
import {
  UploadQueue,
  refusal,
  slotExpiry,
  tooMany,
  type FileLike,
  type PhotoState,
  type Reserved,
  type Slot,
  type UploadTransport,
} from "./uploads";

const limits = { maxBytes: 1000, contentTypes: ["image/jpeg", "image/png", "video/mp4"] };
const tick = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((ok) => setTimeout(ok, 0));
};
const jpeg = (name: string, size = 100): FileLike => ({ name, type: "image/jpeg", size });

function policy(expiresAt: number): string {
  return btoa(JSON.stringify({ expiration: new Date(expiresAt).toISOString(), conditions: [] }));
}

/** A controllable transport: every send and status call waits until the test settles it. */
class FakeTransport implements UploadTransport {
  reserves: { files: FileLike[]; key: string }[] = [];
  sends: { slot: Slot; file: FileLike; progress: (l: number, t: number) => void; ok: () => void; fail: (m: string) => void }[] = [];
  statuses: Record<string, PhotoState[]> = {};
  statusCalls: string[] = [];
  reserveError: Error | null = null;
  expiresAt = Date.now() + 15 * 60_000;
  private n = 0;

  async reserve(files: FileLike[], key: string): Promise<Reserved[]> {
    this.reserves.push({ files, key });
    if (this.reserveError) throw this.reserveError;
    return files.map(() => {
      const id = `p_${++this.n}`;
      return { photo_id: id, upload: { url: "http://s3/b", fields: { key: id, policy: policy(this.expiresAt) } } };
    });
  }

  send(slot: Slot, file: FileLike, progress: (l: number, t: number) => void): Promise<void> {
    return new Promise((ok, no) => this.sends.push({ slot, file, progress, ok, fail: (m) => no(new Error(m)) }));
  }

  async status(photoId: string): Promise<PhotoState> {
    this.statusCalls.push(photoId);
    const list = this.statuses[photoId] ?? [];
    return list.length > 1 ? list.shift()! : (list[0] ?? { status: "processing" });
  }
}

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
    fireAll: () => {
      for (const t of pending.splice(0)) t.fn();
    },
  };
}

describe("client-side checks", () => {
  it("refuses unknown types, videos in events, empty and oversized files", () => {
    expect(refusal(jpeg("a.jpg"), limits)).toBeNull();
    expect(refusal({ name: "a.txt", type: "text/plain", size: 5 }, limits)).toMatch(/text\/plain.*cannot be uploaded/);
    expect(refusal({ name: "a.bin", type: "", size: 5 }, limits)).toMatch(/Unknown file type/);
    expect(refusal({ name: "a.mp4", type: "video/mp4", size: 5 }, limits)).toMatch(/photos only/);
    expect(refusal(jpeg("a.jpg", 0), limits)).toMatch(/empty/);
    expect(refusal(jpeg("a.jpg", 1001), limits)).toMatch(/Too large/);
  });

  it("allows at most 100 files per batch", () => {
    expect(tooMany(100, limits)).toBeNull();
    expect(tooMany(101, limits)).toMatch(/at most 100/);
  });

  it("reads the presigned POST's expiry from its policy", () => {
    const at = Date.parse("2026-12-01T20:00:00Z");
    expect(slotExpiry({ url: "u", fields: { policy: policy(at) } })).toBe(at);
    expect(slotExpiry({ url: "u", fields: {} })).toBeNull();
    expect(slotExpiry({ url: "u", fields: { policy: "not base64 json" } })).toBeNull();
  });
});

describe("UploadQueue", () => {
  it("refuses a batch over 100 files as a whole, sending nothing", async () => {
    const t = new FakeTransport();
    const q = new UploadQueue(t, limits);
    const msg = await q.add(Array.from({ length: 101 }, (_, i) => jpeg(`${i}.jpg`)));
    expect(msg).toMatch(/101 files/);
    expect(q.items).toHaveLength(0);
    expect(t.reserves).toHaveLength(0);
  });

  it("reserves the accepted files in one request and never sends a refused one", async () => {
    const t = new FakeTransport();
    const q = new UploadQueue(t, limits, { newKey: () => "k1" });
    await q.add([jpeg("a.jpg"), { name: "n.txt", type: "text/plain", size: 3 }, jpeg("b.jpg")]);
    expect(t.reserves).toEqual([{ files: [q.items[0].file, q.items[2].file], key: "k1" }]);
    expect(q.items.map((i) => i.status)).toEqual(["uploading", "refused", "uploading"]);
    expect(q.items[1].error).toMatch(/cannot be uploaded/);
    expect(t.sends.map((s) => s.file.name)).toEqual(["a.jpg", "b.jpg"]);
  });

  it("sends at most `concurrency` files at a time, starting the next when one finishes", async () => {
    const t = new FakeTransport();
    const q = new UploadQueue(t, limits, { concurrency: 3, setTimer: clock().setTimer });
    await q.add(["1", "2", "3", "4", "5"].map((n) => jpeg(`${n}.jpg`)));
    expect(t.sends).toHaveLength(3);
    expect(q.counts.uploading).toBe(3);
    expect(q.counts.queued).toBe(2);
    t.sends[1].ok();
    await tick();
    expect(t.sends).toHaveLength(4);
    expect(t.sends[3].file.name).toBe("4.jpg");
    t.sends[0].fail("network");
    await tick();
    expect(t.sends).toHaveLength(5);
    expect(q.counts).toMatchObject({ uploading: 3, processing: 1, failed: 1, queued: 0 });
  });

  it("tracks each file's progress", async () => {
    const t = new FakeTransport();
    const q = new UploadQueue(t, limits);
    const seen: number[] = [];
    q.onChange = (items) => seen.push(items[0].loaded);
    await q.add([jpeg("a.jpg", 200)]);
    t.sends[0].progress(50, 200);
    t.sends[0].progress(150, 200);
    expect(q.items[0].loaded).toBe(150);
    expect(seen).toContain(50);
  });

  it("goes processing -> ready with the thumbnail, polling with growing delays", async () => {
    const t = new FakeTransport();
    const c = clock();
    const q = new UploadQueue(t, limits, { setTimer: c.setTimer, clearTimer: c.clearTimer, pollDelays: [100, 200, 400] });
    await q.add([jpeg("a.jpg")]);
    t.statuses.p_1 = [{ status: "processing" }, { status: "processing" }, { status: "ready", urls: { thumb: "T" } }];
    t.sends[0].ok();
    await tick();
    expect(q.items[0].status).toBe("processing");
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      delays.push(c.pending[0].ms);
      c.fireAll();
      await tick();
    }
    expect(delays).toEqual([100, 200, 400]);
    expect(q.items[0]).toMatchObject({ status: "ready", thumb: "T" });
    expect(c.pending).toHaveLength(0);
  });

  it("spaces the polls out when many files are processing at once", async () => {
    const t = new FakeTransport();
    const c = clock();
    const q = new UploadQueue(t, limits, { concurrency: 25, setTimer: c.setTimer, pollDelays: [1000] });
    await q.add(Array.from({ length: 25 }, (_, i) => jpeg(`${i}.jpg`)));
    t.sends.forEach((s) => s.ok());
    await tick();
    expect(q.counts.processing).toBe(25);
    expect(Math.max(...c.pending.map((p) => p.ms))).toBe(3000);
  });

  it("shows a rejection with its reason", async () => {
    const t = new FakeTransport();
    const c = clock();
    const q = new UploadQueue(t, limits, { setTimer: c.setTimer });
    await q.add([jpeg("a.jpg")]);
    t.statuses.p_1 = [{ status: "rejected", rejection_reason: "not an image" }];
    t.sends[0].ok();
    await tick();
    c.fireAll();
    await tick();
    expect(q.items[0]).toMatchObject({ status: "rejected", error: "not an image" });
  });

  it("stops polling after the budget (stalled); a nudge polls again", async () => {
    const t = new FakeTransport();
    const c = clock();
    const q = new UploadQueue(t, limits, { setTimer: c.setTimer, clearTimer: c.clearTimer, maxPolls: 3 });
    await q.add([jpeg("a.jpg")]);
    t.sends[0].ok();
    await tick();
    for (let i = 0; i < 5; i++) {
      c.fireAll();
      await tick();
    }
    expect(t.statusCalls).toHaveLength(3);
    expect(q.items[0].status).toBe("stalled");
    t.statuses.p_1 = [{ status: "ready", urls: { thumb: "T" } }];
    q.nudge("p_1");
    await tick();
    expect(q.items[0].status).toBe("ready");
  });

  it("retries a failed file with the same presigned POST while it is valid", async () => {
    const t = new FakeTransport();
    const q = new UploadQueue(t, limits);
    await q.add([jpeg("a.jpg")]);
    const first = t.sends[0].slot;
    t.sends[0].fail("S3 said no");
    await tick();
    expect(q.items[0]).toMatchObject({ status: "failed", error: "S3 said no" });
    await q.retry(q.items[0].id);
    expect(t.reserves).toHaveLength(1);
    expect(t.sends).toHaveLength(2);
    expect(t.sends[1].slot).toBe(first);
    expect(q.items[0].status).toBe("uploading");
  });

  it("asks for a new presigned POST (new key, that file only) when the old one expired", async () => {
    let now = 1_000_000;
    const t = new FakeTransport();
    t.expiresAt = now + 60_000;
    let k = 0;
    const q = new UploadQueue(t, limits, { now: () => now, newKey: () => `k${++k}` });
    await q.add([jpeg("a.jpg"), jpeg("b.jpg")]);
    t.sends[0].fail("timeout");
    await tick();
    now += 59_000; // within the safety margin of expiry
    await q.retry(q.items[0].id);
    expect(t.reserves.map((r) => [r.key, r.files.map((f) => f.name)])).toEqual([
      ["k1", ["a.jpg", "b.jpg"]],
      ["k2", ["a.jpg"]],
    ]);
    expect(q.items[0].photoId).toBe("p_3");
    expect(t.sends[2].slot.fields.key).toBe("p_3");
  });

  it("a failed bulk-upload request fails the batch; its retry reuses the same Idempotency-Key", async () => {
    const t = new FakeTransport();
    t.reserveError = new Error("Some files cannot be uploaded.");
    let k = 0;
    const q = new UploadQueue(t, limits, { newKey: () => `k${++k}` });
    await q.add([jpeg("a.jpg"), jpeg("b.jpg")]);
    expect(q.items.map((i) => [i.status, i.error])).toEqual([
      ["failed", "Some files cannot be uploaded."],
      ["failed", "Some files cannot be uploaded."],
    ]);
    expect(q.batchError?.message).toBe("Some files cannot be uploaded.");
    t.reserveError = null;
    await q.batchError!.retry();
    expect(t.reserves.map((r) => r.key)).toEqual(["k1", "k1"]);
    expect(q.batchError).toBeNull();
    expect(t.sends).toHaveLength(2);
  });

  it("a stored 4xx answer to the bulk-upload request: its retry takes a new Idempotency-Key", async () => {
    const t = new FakeTransport();
    t.reserveError = new ApiError(403, "quota_exceeded", "Your storage is full.");
    let k = 0;
    const q = new UploadQueue(t, limits, { newKey: () => `k${++k}` });
    await q.add([jpeg("a.jpg"), jpeg("b.jpg")]);
    t.reserveError = null;
    await q.batchError!.retry();
    expect(t.reserves.map((r) => r.key)).toEqual(["k1", "k2"]);
  });

  it("ignores retry on a file that has not failed", async () => {
    const t = new FakeTransport();
    const q = new UploadQueue(t, limits);
    await q.add([jpeg("a.jpg")]);
    await q.retry(q.items[0].id);
    expect(t.sends).toHaveLength(1);
  });
});

describe("UploadQueue.dispose", () => {
  it("a poll in flight does not re-arm after dispose; queued files never start", async () => {
    const t = new FakeTransport();
    const c = clock();
    let release: () => void = () => {};
    const gate = new Promise<void>((ok) => (release = ok));
    const status = t.status.bind(t);
    t.status = async (id) => {
      await gate; // this poll is still in flight when the screen closes
      return status(id);
    };
    const q = new UploadQueue(t, limits, { concurrency: 1, setTimer: c.setTimer, clearTimer: c.clearTimer });
    await q.add([jpeg("a.jpg"), jpeg("b.jpg"), jpeg("c.jpg")]);
    t.sends[0].ok();
    await tick();
    expect(t.sends).toHaveLength(2); // b.jpg started, c.jpg queued
    c.fireAll(); // a.jpg's first poll starts
    await tick();
    q.dispose();
    release();
    await tick();
    expect(c.pending).toHaveLength(0); // no new poll timer
    t.sends[1].ok(); // the S3 POST under way may finish...
    await tick();
    expect(c.pending).toHaveLength(0); // ...but nothing polls it
    expect(t.sends).toHaveLength(2); // and c.jpg never starts
    q.nudge("p_1");
    await tick();
    expect(t.statusCalls).toEqual(["p_1"]);
  });
});
