// The pure rules behind the event page's community parts (RSVP, invitations, ratings), kept out of the
// components so they are unit-tested: what the RSVP buttons offer and show, how an RSVP answer (or a refusal)
// changes what the page shows, the invite dialog's list of usernames and its per-name results.
import { ApiError } from "../../lib/api/errors";

export type RsvpStatus = "going" | "interested";
export const EVENT_TYPES = ["study", "party", "business", "other"] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export const EVENT_TYPE_LABELS: Record<EventType, string> = {
  study: "Study",
  party: "Party",
  business: "Business",
  other: "Other",
};

/** What the page knows of the caller's RSVP and the seats. */
export interface RsvpState {
  mine: RsvpStatus | null;
  going: number;
  capacity: number | null;
}

/** "1/1 going" with a capacity, "3 going" without. */
export function seatsLabel(s: Pick<RsvpState, "going" | "capacity">): string {
  return s.capacity != null ? `${s.going}/${s.capacity} going` : `${s.going} going`;
}

/** No seat left for someone not already going. */
export function isFull(s: RsvpState): boolean {
  return s.capacity != null && s.going >= s.capacity && s.mine !== "going";
}

/** The state shown while `next` (null: cancel) is being sent: the caller's own seat moves at once. */
export function optimistic(s: RsvpState, next: RsvpStatus | null): RsvpState {
  if (next === s.mine) return s;
  let going = s.going;
  if (s.mine === "going") going -= 1;
  if (next === "going") going += 1;
  return { ...s, mine: next, going: Math.max(0, going) };
}

/** What a failed RSVP means for the page: `full` (409 event_full: the seats are gone, refresh the count),
 *  or another error shown as it is; the state goes back to what it was before the click. */
export function refused(before: RsvpState, err: unknown): { state: RsvpState; full: boolean } {
  const full = err instanceof ApiError && err.status === 409 && err.code === "event_full";
  return { state: full && before.capacity != null ? { ...before, going: Math.max(before.going, before.capacity) } : before, full };
}

export const MAX_INVITES = 100;

/** The invite dialog's text: usernames split on commas, spaces or new lines, a leading @ dropped, each once
 *  (case-insensitively, first spelling kept). `tooMany` past the API's 100. */
export function parseUsernames(text: string): { names: string[]; tooMany: boolean } {
  const seen = new Set<string>();
  const names: string[] = [];
  for (const raw of text.split(/[\s,;]+/)) {
    const name = raw.trim().replace(/^@+/, "");
    if (!name || seen.has(name.toLowerCase())) continue;
    seen.add(name.toLowerCase());
    names.push(name);
  }
  return { names, tooMany: names.length > MAX_INVITES };
}

export interface InviteResult {
  username: string;
  invited: boolean;
  /** Why it was skipped, in words ("already a member", "can't be invited" ...). */
  reason: string | null;
}

const REASONS: Record<string, string> = {
  already_invited: "already invited",
  already_member: "already a member",
  member: "already a member",
  owner: "the event's owner",
  self: "that's you",
  unavailable: "can't be invited",
  blocked: "can't be invited",
  declined: "declined before",
  not_found: "no such user",
  unknown_user: "no such user",
  no_such_user: "no such user",
};

function reasonText(v: unknown): string | null {
  if (typeof v !== "string" || !v) return null;
  return REASONS[v] ?? v.replace(/_/g, " ");
}

/** The per-name results of `POST /events/{id}/invitations`, whichever of the usual shapes the answer takes:
 *  `{results: [{username, status|invited, reason}]}` or `{invited: [..], skipped: [{username, reason}]}`. */
export function inviteResults(out: unknown): InviteResult[] {
  const o = (out ?? {}) as Record<string, unknown>;
  const name = (x: unknown): string | null =>
    typeof x === "string" ? x : typeof (x as { username?: unknown })?.username === "string" ? (x as { username: string }).username : null;
  if (Array.isArray(o.results)) {
    return o.results.flatMap((r: Record<string, unknown>) => {
      const username = name(r);
      if (!username) return [];
      const invited = r.invited === true || r.status === "invited" || r.outcome === "invited";
      return [{ username, invited, reason: invited ? null : (reasonText(r.reason) ?? reasonText(r.status) ?? "skipped") }];
    });
  }
  const invited = Array.isArray(o.invited) ? o.invited : [];
  const skipped = Array.isArray(o.skipped) ? o.skipped : [];
  return [
    ...invited.flatMap((x) => (name(x) ? [{ username: name(x)!, invited: true, reason: null }] : [])),
    ...skipped.flatMap((x) =>
      name(x) ? [{ username: name(x)!, invited: false, reason: reasonText((x as { reason?: unknown }).reason) ?? "skipped" }] : [],
    ),
  ];
}

/** Attendees can rate each other once the event is over (its end, or its start when it has no end). */
export function hasEnded(e: { starts_at: string | null; ends_at: string | null }, now: number = Date.now()): boolean {
  const t = e.ends_at ?? e.starts_at;
  return !!t && new Date(t).getTime() < now;
}

/** A rating refusal in kind words (the API's message otherwise). */
export function ratingError(err: unknown, who: string): string | null {
  if (!(err instanceof ApiError)) return null;
  if (err.status === 409) return `You have already rated ${who} for this event.`;
  if (err.status === 403) return `You can only rate people who went to this event with you.`;
  return null;
}
