import { describe, expect, it } from "vitest";
import { ApiError } from "../../lib/api/errors";
import { hasEnded, inviteResults, isFull, optimistic, parseUsernames, ratingError, refused, seatsLabel } from "./community";

describe("RSVP state", () => {
  const s = (mine: "going" | "interested" | null, going: number, capacity: number | null = null) => ({ mine, going, capacity });

  it("labels the seats with and without a capacity", () => {
    expect(seatsLabel(s(null, 1, 1))).toBe("1/1 going");
    expect(seatsLabel(s(null, 3))).toBe("3 going");
  });

  it("is full only for someone not already going", () => {
    expect(isFull(s(null, 1, 1))).toBe(true);
    expect(isFull(s("interested", 1, 1))).toBe(true);
    expect(isFull(s("going", 1, 1))).toBe(false);
    expect(isFull(s(null, 5))).toBe(false);
  });

  it("moves the caller's own seat at once: going, interested, cancel", () => {
    let st = s(null, 0, 2);
    st = optimistic(st, "going");
    expect(st).toEqual(s("going", 1, 2));
    expect(optimistic(st, "going")).toBe(st); // the same answer twice changes nothing
    st = optimistic(st, "interested");
    expect(st).toEqual(s("interested", 0, 2));
    st = optimistic(st, "going");
    st = optimistic(st, null);
    expect(st).toEqual(s(null, 0, 2));
    expect(optimistic(s("interested", 0), null)).toEqual(s(null, 0, null));
  });

  it("a 409 event_full puts the state back and shows the event full", () => {
    const before = s(null, 0, 1); // the page had not seen the last seat go
    const out = refused(before, new ApiError(409, "event_full", "This event is full"));
    expect(out.full).toBe(true);
    expect(out.state).toEqual(s(null, 1, 1));
    expect(isFull(out.state)).toBe(true);
  });

  it("another error puts the state back as it was", () => {
    const before = s("interested", 2, 10);
    const out = refused(before, new ApiError(403, "forbidden", "Not invited"));
    expect(out).toEqual({ state: before, full: false });
    expect(refused(before, new TypeError("offline")).full).toBe(false);
  });
});

describe("invitations", () => {
  it("splits, strips @ and dedupes usernames", () => {
    expect(parseUsernames(" @ann, bob\nAnn;  carol bob ").names).toEqual(["ann", "bob", "carol"]);
    expect(parseUsernames("").names).toEqual([]);
  });

  it("flags more than 100 names", () => {
    const many = Array.from({ length: 101 }, (_, i) => `u${i}`).join(" ");
    expect(parseUsernames(many).tooMany).toBe(true);
    expect(parseUsernames(many.split(" ").slice(0, 100).join(" ")).tooMany).toBe(false);
  });

  it("reads per-name results in either shape, with reasons in words", () => {
    expect(
      inviteResults({ results: [{ username: "ann", status: "invited" }, { username: "bob", status: "skipped", reason: "already_member" }] }),
    ).toEqual([
      { username: "ann", invited: true, reason: null },
      { username: "bob", invited: false, reason: "already a member" },
    ]);
    expect(inviteResults({ invited: ["ann"], skipped: [{ username: "zed", reason: "not_found" }, { username: "q", reason: "odd_case" }] })).toEqual([
      { username: "ann", invited: true, reason: null },
      { username: "zed", invited: false, reason: "no such user" },
      { username: "q", invited: false, reason: "odd case" },
    ]);
    expect(inviteResults(null)).toEqual([]);
  });
});

describe("ratings", () => {
  it("opens once the event is over", () => {
    const now = Date.parse("2026-06-02T00:00:00Z");
    expect(hasEnded({ starts_at: "2026-06-01T10:00:00Z", ends_at: "2026-06-01T12:00:00Z" }, now)).toBe(true);
    expect(hasEnded({ starts_at: "2026-06-01T10:00:00Z", ends_at: "2026-06-03T12:00:00Z" }, now)).toBe(false);
    expect(hasEnded({ starts_at: "2026-06-01T10:00:00Z", ends_at: null }, now)).toBe(true);
    expect(hasEnded({ starts_at: null, ends_at: null }, now)).toBe(false);
  });

  it("says kindly why a rating was refused", () => {
    expect(ratingError(new ApiError(409, "already_rated", "x"), "ann")).toBe("You have already rated ann for this event.");
    expect(ratingError(new ApiError(403, "not_attended", "x"), "ann")).toMatch(/went to this event with you/);
    expect(ratingError(new ApiError(400, "validation_error", "x"), "ann")).toBeNull();
  });
});
