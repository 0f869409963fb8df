// What the moderation screens show of a report's target and an audit entry (pure).
export interface TargetLike {
  type: string;
  id: string;
  conversation_id?: string | null;
  /** A comment's photo or event (reports name it; audit entries do not). */
  photo_id?: string | null;
  event_id?: string | null;
}

const NOUN: Record<string, string> = {
  photo: "Photo",
  comment: "Comment",
  user: "Profile",
  message: "Message",
  event: "Event",
  share_link: "Share link",
};

/** Where staff can look at a reported thing, or null when the app has no page for it (a comment is shown on its
 *  photo's or event's page, when the target names it; a message is private to its conversation). */
export function targetHref(t: TargetLike): string | null {
  if (t.type === "photo") return `/photos/${encodeURIComponent(t.id)}`;
  if (t.type === "user") return `/u/${encodeURIComponent(t.id)}`;
  if (t.type === "event") return `/events/${encodeURIComponent(t.id)}`;
  if (t.type === "comment" && t.photo_id) return `/photos/${encodeURIComponent(t.photo_id)}`;
  if (t.type === "comment" && t.event_id) return `/events/${encodeURIComponent(t.event_id)}`;
  return null;
}

export function targetNoun(type: string): string {
  return NOUN[type] ?? type;
}

/** The label of a resolution button: what it will do to this target. */
export function actionLabel(action: "dismiss" | "remove" | "suspend_user", type: string): string {
  if (action === "dismiss") return "Dismiss";
  if (action === "suspend_user") return type === "user" ? "Suspend this user" : "Suspend the author";
  return type === "user" ? "Remove the profile's content" : `Remove the ${targetNoun(type).toLowerCase()}`;
}

export const AUDIT_ACTIONS: Record<string, string> = {
  "user.role_change": "Role changed",
  "verification.approve": "Verification approved",
  "verification.reject": "Verification rejected",
  "wallet.deposit": "Wallet deposit",
  "payment.refund": "Payment refunded",
  "order.refund": "Order refunded",
  "content.remove": "Content removed",
  "event.update": "Event edited",
  "event.delete": "Event deleted",
  "share_link.revoke": "Share link revoked",
  "user.suspend": "User suspended",
  "user.reinstate": "User reinstated",
  "report.resolve": "Report resolved",
};

/** An audit entry's details as "key: value" pairs, in a stable order, values flattened to short text. */
export function detailPairs(details: Record<string, unknown>): [string, string][] {
  return Object.keys(details)
    .sort()
    .filter((k) => details[k] !== null && details[k] !== undefined && details[k] !== "")
    .map((k) => {
      const v = details[k];
      const text = typeof v === "string" ? v : JSON.stringify(v);
      return [k.replace(/_/g, " "), text.length > 200 ? `${text.slice(0, 199)}…` : text];
    });
}
