import { describe as suite, expect, it } from "vitest";
import { describe, targetHref } from "./notify";

const actor = { username: "ana", display_name: null };

suite("notifications", () => {
  it("says who did what", () => {
    expect(describe({ type: "liked", actor, target: { kind: "photo", id: "p1" } })).toBe("ana liked your photo");
    expect(describe({ type: "friend_request", actor, target: { kind: "friend_request", status: "accepted" } })).toBe(
      "ana accepted your friend request",
    );
    expect(describe({ type: "verification", actor: null, target: { kind: "verification", status: "approved" } })).toBe(
      "Your creator verification was approved",
    );
    expect(describe({ type: "tip", actor, target: { kind: "tip", amount_cents: 500, currency: "eur" } })).toMatch(/^ana sent you a tip of .*5/);
  });

  it("links to the target's screen", () => {
    expect(targetHref({ type: "commented", actor, target: { kind: "comment", id: "c1", photo_id: "p1" } })).toBe("/photos/p1");
    expect(targetHref({ type: "message", actor, target: { kind: "conversation", id: "k1" } })).toBe("/messages/k1");
    expect(targetHref({ type: "followed", actor, target: { kind: "user", id: "u1" } })).toBe("/u/ana");
    expect(targetHref({ type: "verification", actor: null, target: { kind: "verification" } })).toBeNull();
  });

  it("says and links event likes and comments to the event", () => {
    const liked = { type: "liked", actor, target: { kind: "event", id: "e1" } };
    expect(describe(liked)).toBe("ana liked your event");
    expect(targetHref(liked)).toBe("/events/e1");
    const commented = { type: "commented", actor, target: { kind: "comment", id: "c1", event_id: "e1" } };
    expect(describe(commented)).toBe("ana commented on your event");
    expect(targetHref(commented)).toBe("/events/e1");
    const replied = { type: "replied", actor, target: { kind: "comment", id: "c2", event_id: "e1", parent_id: "c1" } };
    expect(describe(replied)).toBe("ana replied to your comment");
    expect(targetHref(replied)).toBe("/events/e1");
    // photo ones are unchanged
    expect(describe({ type: "commented", actor, target: { kind: "comment", id: "c1", photo_id: "p1" } })).toBe("ana commented on your photo");
    expect(targetHref({ type: "replied", actor, target: { kind: "comment", id: "c1", photo_id: "p1", parent_id: "c0" } })).toBe("/photos/p1");
  });

  it("says who invited you to which event and links to the invitations", () => {
    const n = { type: "event_invite", actor, target: { kind: "event", id: "e1", name: "Harbour day" } };
    expect(describe(n)).toBe("ana invited you to “Harbour day”");
    expect(describe({ ...n, target: { kind: "event", id: "e1" } })).toBe("ana invited you to an event");
    expect(targetHref(n)).toBe("/invitations");
    expect(targetHref({ type: "other", actor, target: { kind: "event", id: "e1" } })).toBe("/events/e1");
  });
});
