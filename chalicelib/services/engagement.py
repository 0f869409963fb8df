"""Likes, comments and bookmarks. Who may do what follows the photo's read permission: nobody likes, comments
on or bookmarks a photo they cannot see (404, as if it did not exist).

- A like is one row per (photo, user); the row and ``Photo.like_count`` change in one transaction, so the
  count is exact under concurrency, and liking twice (or unliking twice) changes nothing.
- Comments have one level of replies. ``Photo.comment_count`` counts every comment, replies included; a
  top-level comment's ``reply_count`` counts its replies. Deleting a top-level comment deletes its replies.
- After every change the photo's live subscribers get the new counts (:mod:`chalicelib.services.livestats`),
  and the photo owner (or the parent comment's author) is notified: ``liked`` (once per liker and photo, however
  often they like and unlike), ``commented``, ``replied``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from typing import Any

from chalicelib.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from chalicelib.models import engagement as store
from chalicelib.models.base import iso
from chalicelib.models.engagement import Comment
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


def _visible(principal: Any, found: list[Photo]) -> list[Photo]:
    """The photos the caller may see (the same decision as ``photos.readable_photo``), for a whole page."""
    decisions = photos_access.decide(principal, found)
    return [p for p in found if decisions[p.photo_id].visible]


# ---- likes -------------------------------------------------------------------------------------------------


def like(principal: Any, photo_id: str) -> bool:
    """Like a photo; False if the caller already liked it (nothing changes)."""
    from chalicelib.services.blocks import require_not_blocked

    photo = _ready(principal, photo_id)
    require_not_blocked(principal.user_id, photo.owner_id)
    if not store.add_like(photo_id, principal.user_id):
        return False
    notifications.notify(
        photo.owner_id,
        "liked",
        actor_id=principal.user_id,
        target={"kind": "photo", "id": photo_id},
        dedupe=f"{principal.user_id}:{photo_id}",
    )
    livestats.publish_stats(photo_id)
    return True


def unlike(principal: Any, photo_id: str) -> bool:
    """Withdraw a like; False if there was none (nothing changes)."""
    readable(principal, photo_id)
    if not store.remove_like(photo_id, principal.user_id):
        return False
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


def comment_view(comment: Comment, authors: dict[str, Any]) -> dict[str, Any]:
    author = authors.get(comment.author_id)
    return {
        "id": comment.comment_id,
        "photo_id": comment.photo_id,
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


def comment_views(comments: Iterable[Comment]) -> list[dict[str, Any]]:
    from chalicelib.services.accounts import users_by_ids

    comments = list(comments)
    authors = users_by_ids([c.author_id for c in comments])
    return [comment_view(c, authors) for c in comments]


def add_comment(principal: Any, photo_id: str, body: str, parent_id: str | None = None) -> dict[str, Any]:
    """Comment on a photo, or reply to one of its top-level comments. 403 ``blocked`` if the photo's owner (or
    the author replied to) and the caller have blocked each other."""
    from chalicelib.services.blocks import blocked_among

    photo = _ready(principal, photo_id)
    parent = None
    if parent_id is not None:
        parent = store.get_comment(photo_id, parent_id)
        if parent is None:
            raise NotFoundError("The comment you reply to does not exist.", code="comment_not_found")
        if parent.parent_id:
            raise ValidationError(
                "Replies are one level deep: reply to the top-level comment.",
                details={"parent_id": "is a reply; reply to its parent instead"},
            )
    others = [photo.owner_id] + ([parent.author_id] if parent is not None else [])
    if blocked_among(principal.user_id, others):
        raise ForbiddenError("You cannot comment here.", code="blocked")
    comment = Comment(
        photo_id=photo_id,
        comment_id=store.new_comment_id(photo_id),
        author_id=principal.user_id,
        body=body,
        parent_id=parent_id,
        thread_photo_id=None if parent_id else photo_id,
    )
    store.add_comment(comment)
    view = comment_view(comment, {principal.user_id: principal.user})
    target = {"kind": "comment", "id": comment.comment_id, "photo_id": photo_id}
    if parent is not None:
        notifications.notify(
            parent.author_id,
            "replied",
            actor_id=principal.user_id,
            target={**target, "parent_id": parent.comment_id},
            dedupe=comment.comment_id,
        )
    if parent is None or parent.author_id != photo.owner_id:
        notifications.notify(
            photo.owner_id, "commented", actor_id=principal.user_id, target=target, dedupe=comment.comment_id
        )
    livestats.publish_comment(photo_id, view)
    return view


def comments_query(principal: Any, photo_id: str, limit: int, last_key: dict | None):
    """Top-level comments of a photo, newest first."""
    readable(principal, photo_id)
    return store.top_level_comments(photo_id, limit, last_key)


def replies_query(principal: Any, comment_id: str, limit: int, last_key: dict | None):
    """Replies to a comment, oldest first (a reply has none)."""
    photo_id = store.photo_of_comment(comment_id)
    missing = NotFoundError("No such comment.", code="comment_not_found")
    if photo_id is None:
        raise missing
    try:
        readable(principal, photo_id)
    except NotFoundError:
        raise missing from None
    if store.get_comment(photo_id, comment_id) is None:
        raise missing
    return store.replies_to(comment_id, limit, last_key)


def delete_comment(principal: Any, photo_id: str, comment_id: str) -> None:
    """Delete a comment (its author, the photo's owner or staff); a top-level comment takes its replies along."""
    photo = readable(principal, photo_id)
    comment = store.get_comment(photo_id, comment_id)
    if comment is None:
        raise NotFoundError("No such comment.", code="comment_not_found")
    if principal.user_id not in (comment.author_id, photo.owner_id) and not principal.is_staff:
        raise ForbiddenError("Only the comment's author, the photo's owner or staff can delete it.")
    if comment.parent_id:
        store.remove_comments(photo_id, [comment_id], comment.parent_id)
    else:
        _delete_thread(comment)
    livestats.publish_stats(photo_id)


def _delete_thread(comment: Comment) -> None:
    """Close the comment to new replies, delete its replies (counting each down), then the comment itself once
    its reply count is zero. The replies index is eventually consistent, hence the rounds."""
    if store.remove_top_level_if_childless(comment) or not store.close_comment(comment):
        return
    for attempt in range(THREAD_DELETE_ROUNDS):
        replies = [r.comment_id for r in store.replies_to(comment.comment_id)]
        for start in range(0, len(replies), REPLIES_PER_TRANSACTION):
            store.remove_comments(
                comment.photo_id, replies[start : start + REPLIES_PER_TRANSACTION], comment.comment_id
            )
        if store.remove_top_level_if_childless(comment):
            return
        if store.get_comment(comment.photo_id, comment.comment_id) is None:
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
    bookmarks = store.delete_bookmarks_of(user_id, limit)
    return {} if len(rows) >= limit or bookmarks >= limit else None


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
