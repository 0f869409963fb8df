import { describe, expect, it } from "vitest";
import { actionLabel, detailPairs, targetHref } from "./moderation";

describe("moderation display", () => {
  it("links photos, events, profiles and comments on their page, not private messages", () => {
    expect(targetHref({ type: "photo", id: "p_1" })).toBe("/photos/p_1");
    expect(targetHref({ type: "user", id: "u_1" })).toBe("/u/u_1");
    expect(targetHref({ type: "event", id: "e_1" })).toBe("/events/e_1");
    expect(targetHref({ type: "comment", id: "c_1", photo_id: "p_1", event_id: null })).toBe("/photos/p_1");
    expect(targetHref({ type: "comment", id: "c_2", photo_id: null, event_id: "e_1" })).toBe("/events/e_1");
    expect(targetHref({ type: "comment", id: "c_1" })).toBeNull(); // an audit entry names no photo
    expect(targetHref({ type: "message", id: "m_1", conversation_id: "c" })).toBeNull();
  });

  it("names what a resolution does", () => {
    expect(actionLabel("remove", "photo")).toBe("Remove the photo");
    expect(actionLabel("suspend_user", "comment")).toBe("Suspend the author");
    expect(actionLabel("suspend_user", "user")).toBe("Suspend this user");
    expect(actionLabel("dismiss", "message")).toBe("Dismiss");
  });

  it("audit details: sorted, empty ones dropped, long values cut", () => {
    expect(detailPairs({ to_role: "staff", from_role: "member", note: null, amount_cents: 500, long: "x".repeat(300) })).toEqual([
      ["amount cents", "500"],
      ["from role", "member"],
      ["long", `${"x".repeat(199)}…`],
      ["to role", "staff"],
    ]);
  });
});
