"""The home feed: photos of the users the caller follows and of the events they joined or own, newest first.

Fan-out on read (see docs/feed.md for the cost comparison with fan-out on write). One page is:
1. the caller's sources: the ``MAX_FOLLOWEES`` most recently followed users (Follows GSI by_follower) and the
   ``MAX_EVENTS`` most recently joined or created events (EventMembers GSI by_user, Events GSI by_owner);
2. one Query per source, in parallel, on the keys-only photo indexes (Photos GSI by_owner / by_event), each
   for at most ``limit + 1`` photos older than the cursor;
3. a merge of those keys by (created_at, photo_id), newest first; the first ``limit`` are read with one
   BatchGetItem and filtered to what the caller may see (``photos.views``: ready, and readable by the caller)
   and to owners with no block between them and the caller. When some were filtered out, the next
   candidates fill the page, in at most ``MAX_ROUNDS`` rounds.
Past the caps, the oldest-followed users and events are left out and the page says so (``sources_capped``);
why that is not fixed by reading every source is in docs/feed.md.
No Scan, and a bounded number of calls: 3 + sources (<= MAX_FOLLOWEES + MAX_EVENTS) + a few batch reads per
round.

The cursor is the (created_at, photo_id) of the last photo considered, signed and bound to the caller
(``feed:<user_id>``), so it stays valid while people post, follow and unfollow.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from chalicelib.errors import ValidationError
from chalicelib.models import events as events_store
from chalicelib.models import social as social_store
from chalicelib.models.photos import READY, Photo
from chalicelib.pagination import decode, encode
from chalicelib.services import blocks, photos

MAX_FOLLOWEES = 50  # the most recently followed users feed the page
MAX_EVENTS = 50  # the most recently joined or created events feed the page
MAX_PARALLEL = 16
MAX_ROUNDS = 3  # batches of candidates read to fill one page when some are not visible to the caller


def _invalid() -> ValidationError:
    return ValidationError("The cursor is invalid.", code="invalid_cursor", details={"cursor": "invalid"})


def _boundary(scope: str, cursor: str | None) -> tuple[datetime, str] | None:
    state = decode(scope, cursor)
    if state is None:
        return None
    t, p = state.get("t"), state.get("p")
    if not isinstance(t, str) or not isinstance(p, str):
        raise _invalid()
    try:
        return datetime.fromisoformat(t), p
    except ValueError:
        raise _invalid() from None


def sources(user_id: str) -> tuple[list[str], list[str], bool]:
    """(followed user ids, event ids) that feed the caller's page, capped (see the module docstring), and
    whether the caps left some out (one more row is read from each source list to know it: same Queries)."""
    followees = social_store.recent_followees(user_id, MAX_FOLLOWEES + 1)
    joined = [(m.joined_at, m.event_id) for m in events_store.memberships_of_user(user_id, MAX_EVENTS + 1)]
    owned = [(e.created_at, e.event_id) for e in events_store.events_of_owner(user_id, MAX_EVENTS + 1)]
    events = list(dict.fromkeys(e for _, e in sorted(joined[: MAX_EVENTS + 1] + owned[: MAX_EVENTS + 1], reverse=True)))
    capped = len(followees) > MAX_FOLLOWEES or len(events) > MAX_EVENTS
    return followees[:MAX_FOLLOWEES], events[:MAX_EVENTS], capped


def _newest(index: Any, key: str, boundary: tuple[datetime, str] | None, limit: int) -> list[tuple[datetime, str]]:
    condition = Photo.created_at <= boundary[0] if boundary else None
    results = index.query(key, range_key_condition=condition, scan_index_forward=False, limit=limit)
    return [(p.created_at, p.photo_id) for p in results][:limit]


def page(principal: Any, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None, bool]:
    """One page of the caller's feed: photo views (as ``GET /photos/{id}``), the next cursor, and whether the
    source caps left some followed users or events out (the response says so: ``sources_capped``)."""
    me = principal.user_id
    scope = f"feed:{me}"
    boundary = _boundary(scope, cursor)
    followees, event_ids, capped = sources(me)
    queries = [(Photo.by_owner, u) for u in followees] + [(Photo.by_event, e) for e in event_ids]
    if not queries:
        return [], None, capped
    fetch = limit + 1  # the cursor's own photo comes back once (created_at <= boundary)
    # The first Query runs alone: it creates the table's client, which the parallel ones then share.
    per_source = [_newest(queries[0][0], queries[0][1], boundary, fetch)]
    if len(queries) > 1:
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(queries) - 1)) as pool:
            per_source += pool.map(lambda q: _newest(q[0], q[1], boundary, fetch), queries[1:])
    candidates = {photo_id: created for keys in per_source for created, photo_id in keys}
    ordered = sorted(((created, photo_id) for photo_id, created in candidates.items()), reverse=True)
    if boundary is not None:
        ordered = [c for c in ordered if c < boundary]
    # A source that filled its page may hold more photos older than its last one: the merge is only
    # certain down to the newest such "last one" (the horizon).
    truncated = [keys[-1] for keys in per_source if len(keys) >= fetch]
    safe = [c for c in ordered if c >= max(truncated)] if truncated else ordered
    items: list[dict[str, Any]] = []
    consumed = 0
    for _ in range(MAX_ROUNDS):  # candidates the caller may not see (private, unprocessed) are skipped
        chunk = safe[consumed : consumed + limit - len(items)]
        if not chunk:
            break
        consumed += len(chunk)
        items += _visible(principal, [photo_id for _, photo_id in chunk])
        if len(items) >= limit:
            break
    more = consumed < len(ordered) or bool(truncated)
    last = safe[consumed - 1] if consumed else None
    next_cursor = encode(scope, {"t": last[0].isoformat(), "p": last[1]}) if last and more else None
    return items, next_cursor, capped


def _visible(principal: Any, photo_ids: list[str]) -> list[dict[str, Any]]:
    """Views of the photos the caller may see, from owners with no block between them and the caller."""
    found = photos.photos_by_ids(photo_ids)
    blocked = blocks.blocked_among(principal.user_id, {p.owner_id for p in found})
    # not even your own unprocessed photos or drafts (others' drafts the decision leaves out anyway)
    shown = [p for p in found if p.owner_id not in blocked and p.status == READY and p.published is not False]
    return photos.views(principal, shown, discovery=True)
