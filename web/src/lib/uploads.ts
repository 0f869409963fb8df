// The bulk-upload queue (pure logic, no DOM: the transport is injected, so Vitest drives it with fakes).
//
// A batch of up to 100 files is checked against `GET /config`'s upload limits first (a refused file is never
// sent); the accepted ones get their presigned S3 POSTs from ONE `POST /events/{id}/photos/bulk-upload` (with an
// Idempotency-Key kept for that batch's retries). Then each file goes straight to S3, a few at a time, with its
// own progress; a failed file can be retried (the same presigned POST while it is valid, else a fresh one for
// that file); after S3 has it, its photo is polled (with bounded backoff) until `ready` or `rejected`.
//
// States: refused (failed the client-side check, never sent) | reserving | queued | uploading | failed
//         | processing | ready | rejected | stalled (still processing after the polling budget).
import { keepsKey } from "./idempotency";

export const MAX_FILES = 100;

export interface FileLike {
  name: string;
  type: string;
  size: number;
}

export interface Limits {
  maxBytes: number;
  contentTypes: string[];
  maxFiles?: number;
}

export interface Slot {
  url: string;
  fields: Record<string, string>;
}

export interface Reserved {
  photo_id: string;
  upload: Slot;
}

export interface PhotoState {
  status: "pending_upload" | "processing" | "ready" | "rejected";
  rejection_reason?: string | null;
  urls?: Record<string, string>;
}

export interface UploadTransport<F extends FileLike = FileLike> {
  /** One bulk-upload request for these files (same order back). */
  reserve(files: F[], idempotencyKey: string): Promise<Reserved[]>;
  /** The S3 form POST (the slot's fields, then the file); rejects with an Error whose message is shown. */
  send(slot: Slot, file: F, onProgress: (loaded: number, total: number) => void): Promise<void>;
  /** `GET /photos/{id}`. */
  status(photoId: string): Promise<PhotoState>;
}

export type UploadStatus =
  | "refused"
  | "reserving"
  | "queued"
  | "uploading"
  | "failed"
  | "processing"
  | "ready"
  | "rejected"
  | "stalled";

export interface UploadItem<F extends FileLike = FileLike> {
  id: number;
  file: F;
  name: string;
  size: number;
  status: UploadStatus;
  /** Bytes sent to S3 so far (0..size). */
  loaded: number;
  /** Why it was refused, failed or rejected (shown as is). */
  error: string | null;
  photoId: string | null;
  thumb: string | null;
  slot: Slot | null;
  /** When the presigned POST stops working (ms since epoch). */
  expiresAt: number | null;
}

export interface QueueOptions {
  concurrency?: number;
  /** Delays between status polls (ms); the last one repeats until `maxPolls`. */
  pollDelays?: number[];
  maxPolls?: number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
  newKey?: () => string;
  /** A presigned POST closer than this to its expiry is not reused (ms). */
  expiryMargin?: number;
}

/** Why a file is refused before anything is sent, or null if it may go. Events take photos only. */
export function refusal(file: FileLike, limits: Limits): string | null {
  const type = (file.type || "").toLowerCase();
  if (!type) return "Unknown file type: use a JPEG, PNG, WebP, HEIC/HEIF or GIF photo.";
  if (type.startsWith("video/")) return "Events take photos only, not videos.";
  if (!limits.contentTypes.map((t) => t.toLowerCase()).includes(type))
    return `This type (${type}) cannot be uploaded: use a JPEG, PNG, WebP, HEIC/HEIF or GIF photo.`;
  if (file.size <= 0) return "This file is empty.";
  if (file.size > limits.maxBytes) return `Too large (${mb(file.size)}): the limit is ${mb(limits.maxBytes)}.`;
  return null;
}

/** A batch over the per-batch limit: the message to show (nothing is added), else null. */
export function tooMany(count: number, limits: Limits): string | null {
  const max = limits.maxFiles ?? MAX_FILES;
  return count > max ? `You picked ${count} files: at most ${max} can be uploaded at once. Pick fewer and try again.` : null;
}

export function mb(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MB`;
}

/** The expiry a presigned POST's policy states (base64 JSON with `expiration`), or null. */
export function slotExpiry(slot: Slot): number | null {
  const policy = slot.fields.policy ?? slot.fields.Policy;
  if (!policy) return null;
  try {
    const doc = JSON.parse(atob(policy)) as { expiration?: string };
    const t = doc.expiration ? Date.parse(doc.expiration) : NaN;
    return Number.isFinite(t) ? t : null;
  } catch {
    return null;
  }
}

const DEFAULT_TTL = 15 * 60 * 1000; // the API's presigned POSTs last 15 minutes

export class UploadQueue<F extends FileLike = FileLike> {
  items: UploadItem<F>[] = [];
  /** A batch whose bulk-upload request failed: retry it with the same key. */
  batchError: { message: string; retry: () => Promise<void> } | null = null;
  onChange: (items: UploadItem<F>[]) => void = () => {};

  private nextId = 1;
  private active = 0;
  private timers = new Map<number, unknown>();
  private polls = new Map<number, number>();
  private inflight = new Set<number>();
  private disposed = false;
  private readonly o: Required<QueueOptions>;

  constructor(
    private readonly transport: UploadTransport<F>,
    private readonly limits: Limits,
    options: QueueOptions = {},
  ) {
    this.o = {
      concurrency: 3,
      pollDelays: [1000, 1500, 2000, 3000, 5000],
      maxPolls: 40,
      now: Date.now,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
      newKey: () => crypto.randomUUID(),
      expiryMargin: 30_000,
      ...options,
    };
  }

  /** Check and queue a picked batch. Returns the message to show when the batch is refused as a whole. */
  async add(files: F[]): Promise<string | null> {
    const over = tooMany(files.length, this.limits);
    if (over) return over;
    const accepted: UploadItem<F>[] = [];
    for (const file of files) {
      const why = refusal(file, this.limits);
      const item: UploadItem<F> = {
        id: this.nextId++,
        file,
        name: file.name,
        size: file.size,
        status: why ? "refused" : "reserving",
        loaded: 0,
        error: why,
        photoId: null,
        thumb: null,
        slot: null,
        expiresAt: null,
      };
      this.items.push(item);
      if (!why) accepted.push(item);
    }
    this.changed();
    if (accepted.length) await this.reserve(accepted, this.o.newKey());
    return null;
  }

  /** Retry a failed file: the same presigned POST if it is still valid, else a new one for this file. */
  async retry(id: number): Promise<void> {
    const item = this.find(id);
    if (!item || item.status !== "failed") return;
    item.error = null;
    item.loaded = 0;
    if (item.slot && item.expiresAt !== null && item.expiresAt - this.o.expiryMargin > this.o.now()) {
      item.status = "queued";
      this.changed();
      this.pump();
      return;
    }
    item.status = "reserving";
    item.slot = null;
    item.photoId = null;
    this.changed();
    await this.reserve([item], this.o.newKey());
  }

  /** Poll this photo now (a realtime frame said something changed). */
  nudge(photoId: string): void {
    if (this.disposed) return;
    const item = this.items.find((i) => i.photoId === photoId);
    if (!item || (item.status !== "processing" && item.status !== "stalled")) return;
    const t = this.timers.get(item.id);
    if (t !== undefined) this.o.clearTimer(t);
    this.timers.delete(item.id);
    item.status = "processing";
    void this.poll(item);
  }

  /** The screen closed: stop every timer and poll; queued files never start; uploads under way may finish their
   *  S3 POST, but nothing polls after. */
  dispose(): void {
    this.disposed = true;
    for (const t of this.timers.values()) this.o.clearTimer(t);
    this.timers.clear();
    this.onChange = () => {};
  }

  get counts(): Record<UploadStatus, number> {
    const c = Object.fromEntries(
      ["refused", "reserving", "queued", "uploading", "failed", "processing", "ready", "rejected", "stalled"].map((s) => [s, 0]),
    ) as Record<UploadStatus, number>;
    for (const i of this.items) c[i.status] += 1;
    return c;
  }

  private find(id: number): UploadItem<F> | undefined {
    return this.items.find((i) => i.id === id);
  }

  private changed(): void {
    this.onChange(this.items);
  }

  private async reserve(items: UploadItem<F>[], key: string): Promise<void> {
    try {
      const slots = await this.transport.reserve(
        items.map((i) => i.file),
        key,
      );
      if (slots.length !== items.length) throw new Error("The server answered with the wrong number of uploads.");
      items.forEach((item, n) => {
        const s = slots[n];
        item.photoId = s.photo_id;
        item.slot = s.upload;
        item.expiresAt = slotExpiry(s.upload) ?? this.o.now() + DEFAULT_TTL;
        item.status = "queued";
        item.error = null;
      });
      this.batchError = null;
    } catch (e) {
      const message = e instanceof Error && e.message ? e.message : "Could not start the upload.";
      for (const item of items) {
        item.status = "failed";
        item.error = message;
      }
      // lib/idempotency's rule: no answer, 5xx, 429 or a transient 409 keep the key; a stored 4xx needs a new one.
      const retryKey = keepsKey(e) ? key : this.o.newKey();
      if (items.length > 1)
        this.batchError = {
          message,
          retry: async () => {
            this.batchError = null;
            for (const item of items) {
              item.status = "reserving";
              item.error = null;
            }
            this.changed();
            await this.reserve(items, retryKey); // same files, same key: the API answers the first success again
          },
        };
    }
    this.changed();
    this.pump();
  }

  private pump(): void {
    while (!this.disposed && this.active < this.o.concurrency) {
      const next = this.items.find((i) => i.status === "queued");
      if (!next) return;
      void this.upload(next);
    }
  }

  private async upload(item: UploadItem<F>): Promise<void> {
    this.active += 1;
    item.status = "uploading";
    item.loaded = 0;
    this.changed();
    try {
      await this.transport.send(item.slot as Slot, item.file, (loaded) => {
        item.loaded = Math.min(loaded, item.size);
        this.changed();
      });
      item.loaded = item.size;
      item.status = "processing";
      this.polls.set(item.id, 0);
      this.schedule(item);
    } catch (e) {
      item.status = "failed";
      item.error = e instanceof Error && e.message ? e.message : "The upload failed.";
    } finally {
      this.active -= 1;
      this.changed();
      this.pump();
    }
  }

  private schedule(item: UploadItem<F>): void {
    if (this.disposed) return;
    const n = this.polls.get(item.id) ?? 0;
    if (n >= this.o.maxPolls) {
      item.status = "stalled";
      this.changed();
      return;
    }
    const d = this.o.pollDelays;
    // Many files processing at once poll less often each, so a 100-file batch stays near 10 requests a step.
    const processing = this.items.filter((i) => i.status === "processing").length;
    const delay = d[Math.min(n, d.length - 1)] * Math.max(1, Math.ceil(processing / 10));
    this.timers.set(
      item.id,
      this.o.setTimer(() => {
        this.timers.delete(item.id);
        void this.poll(item);
      }, delay),
    );
  }

  private async poll(item: UploadItem<F>): Promise<void> {
    if (this.disposed || this.inflight.has(item.id)) return;
    this.inflight.add(item.id);
    try {
      await this.pollOnce(item);
    } finally {
      this.inflight.delete(item.id);
    }
    if (item.status === "processing" && !this.timers.has(item.id)) this.schedule(item);
  }

  private async pollOnce(item: UploadItem<F>): Promise<void> {
    this.polls.set(item.id, (this.polls.get(item.id) ?? 0) + 1);
    try {
      const p = await this.transport.status(item.photoId as string);
      if (item.status !== "processing") return;
      if (p.status === "ready") {
        item.status = "ready";
        item.thumb = p.urls?.thumb ?? null;
        this.changed();
        return;
      }
      if (p.status === "rejected") {
        item.status = "rejected";
        item.error = p.rejection_reason || "The photo was rejected.";
        this.changed();
        return;
      }
    } catch {
      /* a passing error: poll again */
    }
  }
}
