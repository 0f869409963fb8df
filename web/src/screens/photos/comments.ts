// Merging comments from the API, the poster's own POST answer and the WebSocket's `comment` frames, which can
// arrive in any order and twice for the same comment: each comment counts once. The same logic (and
// Comments.svelte) serves a photo's and an event's comments: a `CommentTarget` says which.

/** What the comments are on: the routes are `/photos/{id}/comments` or `/events/{id}/comments`. */
export interface CommentTarget {
  kind: "photo" | "event";
  id: string;
  /** The photo's or event's owner (who may delete any comment on it). */
  ownerId: string;
}

/** Whether a live `comment` frame belongs to this target: photo frames name `photo_id`, event ones `event_id`
 *  and no photo (a comment on a photo inside an event is not a comment on the event). */
export function frameIsFor(target: CommentTarget, frame: { [key: string]: unknown }): boolean {
  if (target.kind === "photo") return frame.photo_id === target.id;
  return frame.event_id === target.id && !frame.photo_id;
}
export interface CommentLike {
  id: string;
  parent_id: string | null;
  created_at: string;
  reply_count: number;
}

export interface Thread<C = any> {
  items: C[];
  cursor: string | null;
  /** false: there may be replies not loaded yet (the "show replies" button loads them). */
  done: boolean;
  loading: boolean;
  error: unknown;
}

export interface CommentState<C extends CommentLike> {
  top: C[];
  replies: Record<string, Thread<C>>;
}

/** Top-level comments newest first (as the API lists them), replies oldest first. */
export function addComment<C extends CommentLike>(state: CommentState<C>, c: C): CommentState<C> {
  if (!c.parent_id) {
    if (state.top.some((t) => t.id === c.id)) return state;
    return { ...state, top: [c, ...state.top] };
  }
  const parentId = c.parent_id;
  const thread = state.replies[parentId];
  if (thread?.items.some((r) => r.id === c.id)) return state;
  const parent = state.top.find((t) => t.id === parentId);
  // Replies loaded already: the count is the list; not loaded: one more than the parent said.
  const items = [...(thread?.items ?? []), c].sort((a, b) => a.created_at.localeCompare(b.created_at));
  const next: Thread<C> = thread
    ? { ...thread, items }
    : { items, cursor: null, done: parent ? parent.reply_count === 0 : false, loading: false, error: null };
  return {
    top: state.top.map((t) => (t.id === parentId ? { ...t, reply_count: t.reply_count + 1 } : t)),
    replies: { ...state.replies, [parentId]: next },
  };
}
