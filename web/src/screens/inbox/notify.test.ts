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

  it("says who invited you to which event and links to the invitations", () => {
    const n = { type: "event_invite", actor, target: { kind: "event", id: "e1", name: "Harbour day" } };
    expect(describe(n)).toBe("ana invited you to “Harbour day”");
    expect(describe({ ...n, target: { kind: "event", id: "e1" } })).toBe("ana invited you to an event");
    expect(targetHref(n)).toBe("/invitations");
    expect(targetHref({ type: "other", actor, target: { kind: "event", id: "e1" } })).toBe("/events/e1");
  });
});
