import { describe, expect, it } from "vitest";
import { addComment, frameIsFor, type CommentLike } from "./comments";

const c = (id: string, parent_id: string | null = null, created_at = "2026-01-01T00:00:00Z", reply_count = 0): CommentLike => ({
  id,
  parent_id,
  created_at,
  reply_count,
});

describe("addComment", () => {
  it("puts a new top-level comment first, once, whether the POST answer or the live frame comes first", () => {
    let s = { top: [c("a")], replies: {} };
    s = addComment(s, c("b"));
    s = addComment(s, c("b"));
    expect(s.top.map((x) => x.id)).toEqual(["b", "a"]);
  });

  it("counts a reply once and keeps replies oldest first", () => {
    let s = { top: [c("p", null, "2026-01-01T00:00:00Z", 0)], replies: {} };
    s = addComment(s, c("r2", "p", "2026-01-01T00:02:00Z"));
    s = addComment(s, c("r1", "p", "2026-01-01T00:01:00Z"));
    s = addComment(s, c("r2", "p", "2026-01-01T00:02:00Z"));
    expect(s.top[0].reply_count).toBe(2);
    expect(s.replies["p" as keyof typeof s.replies]).toMatchObject({ done: true });
    expect((s.replies as Record<string, { items: CommentLike[] }>).p.items.map((x) => x.id)).toEqual(["r1", "r2"]);
  });

  it("leaves older replies to load when the parent had some before the live one", () => {
    const s = addComment({ top: [c("p", null, "2026-01-01T00:00:00Z", 3)], replies: {} }, c("r", "p"));
    expect(s.top[0].reply_count).toBe(4);
    expect((s.replies as Record<string, { done: boolean }>).p.done).toBe(false);
  });
});

describe("frameIsFor", () => {
  it("tells a photo's comment frames from an event's", () => {
    const photo = { kind: "photo" as const, id: "p1", ownerId: "u" };
    const event = { kind: "event" as const, id: "e1", ownerId: "u" };
    expect(frameIsFor(photo, { photo_id: "p1" })).toBe(true);
    expect(frameIsFor(photo, { photo_id: "p2" })).toBe(false);
    expect(frameIsFor(event, { event_id: "e1" })).toBe(true);
    // a comment on a photo inside the event is not a comment on the event
    expect(frameIsFor(event, { event_id: "e1", photo_id: "p1" })).toBe(false);
  });
});
