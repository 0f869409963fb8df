"""Likes, comments and bookmarks. Who may do what follows the photo's read permission: nobody likes, comments
on or bookmarks a photo they cannot see (404, as if it did not exist).

- A like is one row per (photo, user); the row and ``Photo.like_count`` change in one transaction, so the
  count is exact under concurrency, and liking twice (or unliking twice) changes nothing.
- Comments have one level of replies. ``Photo.comment_count`` counts every comment, replies included; a
  top-level comment's ``reply_count`` counts its replies. Deleting a top-level comment deletes its replies.
- After every change the photo's live subscribers get the new counts (:mod:`chalicelib.services.livestats`),
  and the photo owner (or the parent comment's author) is notified: ``liked`` (once per liker and photo, however
  often they like and unlike), ``commented``, ``replied``.

Events take likes and comments through the same code (``kind="event"``, the store's ``EVENT`` target): whoever
may read the event may like it and comment; the event row holds ``like_count`` and ``comment_count``. The event's
owner and the parent comment's author are notified as for photos, the target naming the event (``{"kind":
"event", "id"}`` for a like, ``{"kind": "comment", "id", "event_id"}`` for a comment); there are no live stats
for events (those are per photo).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from typing import Any

from chalicelib.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from chalicelib.models import engagement as store
from chalicelib.models.base import iso
from chalicelib.models.engagement import EVENT, PHOTO, Target
from chalicelib.models.photos import READY, Photo
from chalicelib.services import livestats, notifications, photos, photos_access

REPLIES_PER_TRANSACTION = store.MAX_TRANSACTION_ITEMS - 2  # + the parent's and the photo's counters
THREAD_DELETE_ROUNDS = 5


# ---- access ------------------------------------------------------------------------------------------------


def readable(principal: Any, photo_id: str) -> Photo:
    if not store.plausible_id(photo_id):
        raise NotFoundError("No such photo.")
    return photos.readable_photo(principal, photo_id)[0]


def _ready(principal: Any, photo_id: str) -> Photo:
    photo = readable(principal, photo_id)
    if photo.status != READY:
        raise ConflictError("The photo is not processed yet.", code="photo_not_ready")
    return photo


def _open(principal: Any, kind: str, target_id: str, *, ready: bool = False) -> tuple[Target, str]:
    """The target the caller may see and its owner's id (404 if they may not; a photo not processed yet 409
    when ``ready``)."""
    if kind == "event":
        from chalicelib.services import events

        if not store.plausible_id(target_id):
            raise NotFoundError("No such event.")
        return EVENT, events.require_readable(principal, target_id).owner_id
    photo = _ready(principal, target_id) if ready else readable(principal, target_id)
    return PHOTO, photo.owner_id


def _visible(principal: Any, found: list[Photo]) -> list[Photo]:
    """The photos the caller may see (the same decision as ``photos.readable_photo``), for a whole page."""
    decisions = photos_access.decide(principal, found)
    return [p for p in found if decisions[p.photo_id].visible]


# ---- likes -------------------------------------------------------------------------------------------------


def like(principal: Any, photo_id: str, kind: str = "photo") -> bool:
    """Like a photo (or an event); False if the caller already liked it (nothing changes)."""
    from chalicelib.services.blocks import require_not_blocked

    target, owner_id = _open(principal, kind, photo_id, ready=True)
    require_not_blocked(principal.user_id, owner_id)
    if not store.add_like(photo_id, principal.user_id, target):
        return False
    notifications.notify(
        owner_id,
        "liked",
        actor_id=principal.user_id,
        target={"kind": target.kind, "id": photo_id},
        dedupe=f"{principal.user_id}:{photo_id}",  # photo and event ids differ by prefix
    )
    if target is PHOTO:
        livestats.publish_stats(photo_id)
    return True


def unlike(principal: Any, photo_id: str, kind: str = "photo") -> bool:
    """Withdraw a like; False if there was none (nothing changes)."""
    target, _ = _open(principal, kind, photo_id)
    if not store.remove_like(photo_id, principal.user_id, target):
        return False
    if target is PHOTO:
        livestats.publish_stats(photo_id)
    return True


def toggle(principal: Any, photo_id: str) -> bool:
    """Like if not liked, else unlike. Returns whether the caller likes the photo now."""
    if like(principal, photo_id):
        return True
    if store.remove_like(photo_id, principal.user_id):
        livestats.publish_stats(photo_id)
    return False  # unliked now (or a concurrent unlike got there first)


def like_stats(principal: Any, photo_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Like count and the caller's like for each photo the caller may see, in the order asked. Unknown ids
    and photos the caller may not see are left out. Two batch reads: photos, then the caller's likes."""
    ids = [p for p in dict.fromkeys(photo_ids) if store.plausible_id(p)]
    visible = _visible(principal, photos.photos_by_ids(ids))
    liked = store.liked_among(principal.user_id, [p.photo_id for p in visible]) if principal else set()
    return {p.photo_id: {"count": int(p.like_count or 0), "liked": p.photo_id in liked} for p in visible}


def likers_query(principal: Any, photo_id: str, limit: int, last_key: dict | None):
    """Who liked a photo, newest first (a keys-only page; see :func:`public_users`)."""
    readable(principal, photo_id)
    return store.likes_of_photo(photo_id, limit, last_key)


def public_users(user_ids: list[str]) -> dict[str, tuple[Any, str | None]]:
    """Users by id with their avatar URL: one batch read of users, one of avatar photos (if any)."""
    from chalicelib.services.accounts import users_by_ids

    users = users_by_ids(user_ids)
    avatars = photos_access.avatar_urls({u.user_id: u.avatar_photo_id for u in users.values() if u.avatar_photo_id})
    return {user_id: (user, avatars.get(user_id)) for user_id, user in users.items()}


# ---- comments ----------------------------------------------------------------------------------------------


def comment_view(comment: Any, authors: dict[str, Any]) -> dict[str, Any]:
    author = authors.get(comment.author_id)
    on = {"event_id": comment.event_id} if hasattr(comment, "event_id") else {"photo_id": comment.photo_id}
    return {
        "id": comment.comment_id,
        **on,
        "parent_id": comment.parent_id,
        "author": {
            "id": comment.author_id,
            "username": getattr(author, "username", None),
            "display_name": getattr(author, "display_name", None),
        },
        "body": comment.body,
        "reply_count": int(comment.reply_count or 0),
        "created_at": iso(comment.created_at),
    }


def comment_views(comments: Iterable[Any]) -> list[dict[str, Any]]:
    from chalicelib.services.accounts import users_by_ids

    comments = list(comments)
    authors = users_by_ids([c.author_id for c in comments])
    return [comment_view(c, authors) for c in comments]


def add_comment(
    principal: Any, photo_id: str, body: str, parent_id: str | None = None, kind: str = "photo"
) -> dict[str, Any]:
    """Comment on a photo (or an event), or reply to one of its top-level comments. 403 ``blocked`` if the
    photo's owner (or the author replied to) and the caller have blocked each other."""
    from chalicelib.services.blocks import blocked_among

    target, owner_id = _open(principal, kind, photo_id, ready=True)
    parent = None
    if parent_id is not None:
        parent = store.get_comment(photo_id, parent_id, target)
        if parent is None:
            raise NotFoundError("The comment you reply to does not exist.", code="comment_not_found")
        if parent.parent_id:
            raise ValidationError(
                "Replies are one level deep: reply to the top-level comment.",
                details={"parent_id": "is a reply; reply to its parent instead"},
            )
    others = [owner_id] + ([parent.author_id] if parent is not None else [])
    if blocked_among(principal.user_id, others):
        raise ForbiddenError("You cannot comment here.", code="blocked")
    comment = target.new_comment(
        photo_id,
        comment_id=store.new_comment_id(photo_id),
        author_id=principal.user_id,
        body=body,
        parent_id=parent_id,
    )
    store.add_comment(comment, target)
    view = comment_view(comment, {principal.user_id: principal.user})
    about = {"kind": "comment", "id": comment.comment_id, target.key: photo_id}  # photo_id or event_id
    if parent is not None:
        notifications.notify(
            parent.author_id,
            "replied",
            actor_id=principal.user_id,
            target={**about, "parent_id": parent.comment_id},
            dedupe=comment.comment_id,
        )
    if parent is None or parent.author_id != owner_id:
        notifications.notify(owner_id, "commented", actor_id=principal.user_id, target=about, dedupe=comment.comment_id)
    if target is PHOTO:
        livestats.publish_comment(photo_id, view)
    return view


def comments_query(principal: Any, photo_id: str, limit: int, last_key: dict | None, kind: str = "photo"):
    """Top-level comments of a photo (or an event), newest first."""
    target, _ = _open(principal, kind, photo_id)
    return store.top_level_comments(photo_id, limit, last_key, target)


def replies_query(principal: Any, comment_id: str, limit: int, last_key: dict | None):
    """Replies to a comment (of a photo or an event: the id says which), oldest first (a reply has none)."""
    found = store.target_of_comment(comment_id)
    missing = NotFoundError("No such comment.", code="comment_not_found")
    if found is None:
        raise missing
    target, target_id = found
    try:
        _open(principal, target.kind, target_id)
    except NotFoundError:
        raise missing from None
    if store.get_comment(target_id, comment_id, target) is None:
        raise missing
    return store.replies_to(comment_id, limit, last_key, target)


def delete_comment(
    principal: Any, photo_id: str, comment_id: str, kind: str = "photo", *, audited: bool = True
) -> None:
    """Delete a comment (its author, the photo's (event's) owner or staff); a top-level comment takes its
    replies along. Staff deleting someone else's comment on someone else's photo (event) is audited, unless the
    caller records its own entry (``audited=False``, a report's resolution)."""
    target, owner_id = _open(principal, kind, photo_id)
    comment = store.get_comment(photo_id, comment_id, target)
    if comment is None:
        raise NotFoundError("No such comment.", code="comment_not_found")
    if principal.user_id not in (comment.author_id, owner_id) and not principal.is_staff:
        raise ForbiddenError(f"Only the comment's author, the {target.kind}'s owner or staff can delete it.")
    if comment.parent_id:
        store.remove_comments(photo_id, [comment_id], comment.parent_id, target)
    else:
        _delete_thread(comment, target)
    if target is PHOTO:
        livestats.publish_stats(photo_id)
    if audited and principal.user_id != owner_id:
        from chalicelib.services import audit

        audit.staff_action(
            principal, comment.author_id, "content.remove", "comment", comment_id, {f"{target.kind}_id": photo_id},
            audit_id=audit.removal_id("comment", comment_id),
        )  # fmt: skip


def _delete_thread(comment: Any, target: Target = PHOTO) -> None:
    """Close the comment to new replies, delete its replies (counting each down), then the comment itself once
    its reply count is zero. The replies index is eventually consistent, hence the rounds."""
    if store.remove_top_level_if_childless(comment, target) or not store.close_comment(comment, target):
        return
    target_id = target.id_of(comment)
    for attempt in range(THREAD_DELETE_ROUNDS):
        replies = [r.comment_id for r in store.replies_to(comment.comment_id, target=target)]
        for start in range(0, len(replies), REPLIES_PER_TRANSACTION):
            store.remove_comments(
                target_id, replies[start : start + REPLIES_PER_TRANSACTION], comment.comment_id, target
            )
        if store.remove_top_level_if_childless(comment, target):
            return
        if store.get_comment(target_id, comment.comment_id, target) is None:
            return  # deleted concurrently
        time.sleep(0.1 * (attempt + 1))
    raise ConflictError("The comment is still being deleted; retry.", code="retry")


# ---- bookmarks ---------------------------------------------------------------------------------------------


def bookmark(principal: Any, photo_id: str) -> None:
    _ready(principal, photo_id)
    store.add_bookmark(principal.user_id, photo_id)


def unbookmark(principal: Any, photo_id: str) -> None:
    """Always allowed: a photo that became unreadable can still be removed from one's bookmarks."""
    store.remove_bookmark(principal.user_id, photo_id)


def bookmarks_query(user_id: str, limit: int, last_key: dict | None):
    return store.bookmarks_of(user_id, limit, last_key)


# ---- cascades (for the app's wiring) -----------------------------------------------------------------------


def on_user_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``user.deleted`` consumer (chalicelib/jobs): withdraw the user's likes (counts included, and the photos'
    live subscribers get the new counts) and drop their bookmarks, a chunk at a time; their comments stay,
    anonymised (the author resolves to "deleted user")."""
    user_id = payload["user_id"]
    rows = list(store.likes_of_user(user_id, limit=limit))
    for row in rows:
        with contextlib.suppress(NotFoundError):  # the photo is gone
            if store.remove_like(row.photo_id, user_id):
                livestats.publish_stats(row.photo_id)
    event_likes = list(store.likes_of_user(user_id, limit=limit, target=EVENT))
    for row in event_likes:
        with contextlib.suppress(NotFoundError):  # the event is gone
            store.remove_like(row.event_id, user_id, EVENT)
    bookmarks = store.delete_bookmarks_of(user_id, limit)
    return {} if max(len(rows), len(event_likes), bookmarks) >= limit else None


def on_event_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``event.deleted`` consumer: the deleted event's likes and comments, ``limit`` of each kind per run."""
    return {} if store.delete_target_rows(EVENT, payload["event_id"], limit) >= limit else None


def on_photos_purged(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``photos.purged`` consumer: the likes and comments of deleted photos (``photos``: [id, likes, comments]
    for each photo that had any). The cursor is the index of the photo being cleared; each run clears up to
    ``limit`` rows of each kind."""
    rows: list[list[Any]] = list(payload.get("photos") or [])
    index = int((cursor or {}).get("i", 0))
    budget = limit
    while index < len(rows) and budget > 0:
        photo_id, likes, comments = rows[index][0], int(rows[index][1]), int(rows[index][2])
        found = store.delete_photo_rows(photo_id, budget, likes=bool(likes), comments=bool(comments))
        if found >= budget:
            return {"i": index}  # this photo may have more rows
        budget -= max(found, 1)
        index += 1
    return {"i": index} if index < len(rows) else None
