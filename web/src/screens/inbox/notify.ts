// What a notification says and where it leads (the API gives `{type, actor, target: {kind, id, ...}}`).
import { money } from "../../lib/format";

export interface NotificationLike {
  type: string;
  actor: { username: string | null; display_name: string | null } | null;
  target: Record<string, unknown>;
}

const str = (v: unknown): string | null => (typeof v === "string" && v ? v : null);

/** Likes and comments name the event they are on: `{kind: "event", id}`, or a comment with `event_id` (a photo's has `photo_id`). */
const onEvent = (t: Record<string, unknown>): boolean => t.kind === "event" || (t.kind === "comment" && !!str(t.event_id));

export function describe(n: NotificationLike): string {
  const who = n.actor?.display_name || n.actor?.username || "Someone";
  const t = n.target;
  switch (n.type) {
    case "tagged":
      return `${who} tagged you in a photo`;
    case "liked":
      return `${who} liked your ${onEvent(t) ? "event" : "photo"}`;
    case "commented":
      return `${who} commented on your ${onEvent(t) ? "event" : "photo"}`;
    case "replied":
      return `${who} replied to your comment`;
    case "event_photo_added":
      return `${who} added a photo to your event`;
    case "event_invite":
      return `${who} invited you to ${str(t.name) ? `“${t.name}”` : "an event"}`;
    case "followed":
      return `${who} started following you`;
    case "friend_request":
      return t.status === "accepted" ? `${who} accepted your friend request` : `${who} sent you a friend request`;
    case "message":
      return `${who} sent you a message`;
    case "rejected":
      return "One of your uploads was rejected";
    case "order_paid":
      return `${who} paid an order`;
    case "order_disputed":
      return "A payment for one of your orders is disputed";
    case "tip": {
      const amount = typeof t.amount_cents === "number" && str(t.currency) ? ` of ${money(t.amount_cents, t.currency as string)}` : "";
      return `${who} sent you a tip${amount}`;
    }
    case "subscribed":
      return `${who} subscribed to you`;
    case "purchase":
      return `${who} bought one of your posts`;
    case "verification":
      return `Your creator verification was ${str(t.status) ?? "updated"}${str(t.reason) ? `: ${t.reason}` : ""}`;
    default:
      return `${who}: ${n.type.replace(/_/g, " ")}`;
  }
}

/** The screen a notification opens, or null when there is none to go to. */
export function targetHref(n: NotificationLike): string | null {
  const t = n.target;
  const id = str(t.id);
  const actor = n.actor?.username ? `/u/${encodeURIComponent(n.actor.username)}` : null;
  if (n.type === "event_invite") return "/invitations"; // accept or decline there
  switch (t.kind) {
    case "event":
      return id ? `/events/${id}` : null;
    case "photo":
      return id ? `/photos/${id}` : null;
    case "comment":
      if (str(t.photo_id)) return `/photos/${t.photo_id}`;
      return str(t.event_id) ? `/events/${t.event_id}` : null;
    case "conversation":
      return id ? `/messages/${id}` : null;
    case "order":
      return id ? `/orders/${id}` : null;
    case "user":
    case "friend_request":
    case "subscription":
    case "tip":
      return actor;
    default:
      return actor;
  }
}
