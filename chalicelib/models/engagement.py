"""Likes, comments, bookmarks and live photo subscriptions.

Access patterns (every listing is a Query on a key or an index):
- does U like P; U's likes of many photos ...... Likes GetItem / BatchGetItem(photo_id, user_id)
- who liked a photo, newest first .............. Likes GSI by_photo (photo_id, created_at), keys only
- what a user liked, newest first .............. Likes GSI by_user (user_id, created_at), keys only
- one comment ................................... Comments GetItem(photo_id, comment_id); a comment id carries its
                                                  photo id (``c_<time-sortable>.<photo_id>``), so a bare comment id
                                                  (GET /comments/{id}/children) is found without an index
- top-level comments of a photo, newest first .. Comments GSI top_level (thread_photo_id, comment_id): sparse, the
                                                  attribute is set on top-level comments only
- replies to a comment, oldest first ........... Comments GSI by_parent (parent_id, comment_id): sparse
- all comments of a photo (cleanup) ............ Comments Query(photo_id)
- a user's bookmarks, newest first ............. Bookmarks GSI by_time (user_id, created_at), keys only
- connections subscribed to a photo ............ PhotoSubscriptions Query(photo_id); rows expire by TTL and are
                                                  deleted when a push finds the connection gone

The same tables' shapes serve events (``event_likes``, ``event_comments``, keyed by ``event_id``): every function
takes a :class:`Target` (``PHOTO`` by default, or ``EVENT``), which names the like and comment models and the row
holding the counters (``Photo``, or the event's row through ``EventCounts``, which never touches its version).

Counters live on the rows they count and change in the same transaction as the row that is counted:
``Photo.like_count`` with the like, ``Photo.comment_count`` (every comment, replies included) and the parent's
``reply_count`` with the comment. Concurrent transactions on one photo (a popular one) are cancelled by
DynamoDB with ``TransactionConflict``; those are retried here with jittered backoff.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import BooleanAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.errors import NotFoundError
from chalicelib.models.base import (
    PutError,
    UpdateError,
    at_epoch,
    commit,
    condition_failed,
    epoch,
    new_id,
    now,
    register,
    table_meta,
)
from chalicelib.models.events import EventCounters
from chalicelib.models.photos import READY, Photo
from chalicelib.models.realtime import CONNECTION_TTL

MAX_ID = 64  # longer ids were never minted here; they must not reach DynamoDB (key size limits)
MAX_TRANSACTION_ITEMS = 100
_COMMENT_ID = re.compile(r"^c_[0-9a-f]{23}\.([A-Za-z0-9_-]{1,64})$")
FAILED = "ConditionalCheckFailed"


def plausible_id(value: str | None) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID


def _index(name: str, hash_attr: str, range_attr: str, range_type: type, projection) -> GlobalSecondaryIndex:
    attrs = {
        "Meta": type("Meta", (), {"index_name": name, "projection": projection}),
        hash_attr: UnicodeAttribute(hash_key=True),
        range_attr: range_type(range_key=True),
    }
    return type(f"Engagement_{name}", (GlobalSecondaryIndex,), attrs)()


def _commit(build: Callable[[TransactWrite], None]) -> list[str | None]:
    """Commit one engagement transaction (``models.base.commit``: contention retried, then ``409 contention``)."""
    return commit(build, "The photo is busy; retry.", via=Photo._get_connection().connection)


def _photo_ready():
    return Photo.photo_id.exists() & (Photo.status == READY)


# ---- likes -------------------------------------------------------------------------------------------------


@register
class Like(Model):
    """``user_id`` likes ``photo_id``: at most one row per pair."""

    Meta = table_meta("likes")

    photo_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)
    created_at = UTCDateTimeAttribute(default=now)
    by_photo = _index("by_photo", "photo_id", "created_at", UTCDateTimeAttribute, KeysOnlyProjection())
    by_user = _index("by_user", "user_id", "created_at", UTCDateTimeAttribute, KeysOnlyProjection())


def add_like(photo_id: str, user_id: str, target: Target | None = None) -> bool:
    """Like and count it, atomically. False (and nothing changed) if the like existed; 404 if the photo (the
    target) is gone or not ready."""
    t = target or PHOTO

    def build(tx: TransactWrite) -> None:
        tx.save(t.like(photo_id, user_id), condition=t.likes.user_id.does_not_exist())
        tx.update(t.row(photo_id), actions=[t.counted.like_count.add(1)], condition=t.ready())

    codes = _commit(build)
    if not codes:
        return True
    if codes[0] == FAILED:
        return False
    raise NotFoundError(t.missing)


def remove_like(photo_id: str, user_id: str, target: Target | None = None) -> bool:
    """Unlike and uncount, atomically. False (and nothing changed) if there was no like."""
    t = target or PHOTO

    def build(tx: TransactWrite) -> None:
        tx.delete(t.like(photo_id, user_id), condition=t.likes.user_id.exists())
        tx.update(t.row(photo_id), actions=[t.counted.like_count.add(-1)], condition=t.exists())

    codes = _commit(build)
    if not codes:
        return True
    if codes[0] == FAILED:
        return False
    # The photo is gone but its like row is not: delete the orphan, so a walk over the user's likes moves on.
    t.like(photo_id, user_id).delete()
    raise NotFoundError(t.missing)


def liked_among(user_id: str, photo_ids: Iterable[str], target: Target | None = None) -> set[str]:
    """Which of the photos (targets) ``user_id`` likes: one BatchGetItem per 100 ids."""
    t = target or PHOTO
    keys = [(p, user_id) for p in dict.fromkeys(photo_ids) if plausible_id(p)]
    if not keys or not plausible_id(user_id):
        return set()
    return {t.id_of(row) for row in t.likes.batch_get(keys, attributes_to_get=[t.key, "user_id"])}


def likes_of_photo(photo_id: str, limit: int | None = None, last_key: dict | None = None):
    return Like.by_photo.query(photo_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def likes_of_user(user_id: str, limit: int | None = None, last_key: dict | None = None, target: Target | None = None):
    likes = (target or PHOTO).likes
    return likes.by_user.query(user_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


# ---- comments ----------------------------------------------------------------------------------------------


@register
class Comment(Model):
    """A comment on a photo, or a reply to a top-level comment (one level only)."""

    Meta = table_meta("comments")

    photo_id = UnicodeAttribute(hash_key=True)
    comment_id = UnicodeAttribute(range_key=True)
    author_id = UnicodeAttribute()
    body = UnicodeAttribute()
    parent_id = UnicodeAttribute(null=True)  # replies only: the by_parent index
    thread_photo_id = UnicodeAttribute(null=True)  # top-level only: the top_level index
    reply_count = NumberAttribute(default=0)
    closing = BooleanAttribute(null=True)  # set while a deleted comment's replies are being removed
    created_at = UTCDateTimeAttribute(default=now)
    top_level = _index("top_level", "thread_photo_id", "comment_id", UnicodeAttribute, AllProjection())
    by_parent = _index("by_parent", "parent_id", "comment_id", UnicodeAttribute, AllProjection())


def new_comment_id(photo_id: str) -> str:
    return f"{new_id('c_')}.{photo_id}"


def photo_of_comment(comment_id: str) -> str | None:
    """The photo (or event) a comment id belongs to, or None if the id is not one we mint."""
    match = _COMMENT_ID.match(comment_id or "")
    return match.group(1) if match else None


def target_of_comment(comment_id: str) -> tuple[Target, str] | None:
    """What a comment id belongs to: (``EVENT`` or ``PHOTO``, its id), or None if it is not one we mint."""
    target_id = photo_of_comment(comment_id)
    if target_id is None:
        return None
    return (EVENT if target_id.startswith(EVENT_ID_PREFIX) else PHOTO), target_id


def get_comment(photo_id: str, comment_id: str, target: Target | None = None) -> Any:
    t = target or PHOTO
    if not (plausible_id(photo_id) and photo_of_comment(comment_id) == photo_id):
        return None
    try:
        return t.comments.get(photo_id, comment_id, consistent_read=True)
    except t.comments.DoesNotExist:
        return None


def add_comment(comment: Any, target: Target | None = None) -> None:
    """Store a comment and count it (and, for a reply, count it on its parent) in one transaction.

    404 if the photo (target) is gone or not ready; 404 ``comment_not_found`` if the parent was deleted meanwhile."""
    t = target or PHOTO
    photo_id = t.id_of(comment)
    model = t.comments

    def build(tx: TransactWrite) -> None:
        tx.save(comment, condition=model.comment_id.does_not_exist())
        if comment.parent_id:
            tx.update(
                t.comment(photo_id, comment.parent_id),
                actions=[model.reply_count.add(1)],
                condition=model.comment_id.exists() & model.closing.does_not_exist(),
            )
        tx.update(t.row(photo_id), actions=[t.counted.comment_count.add(1)], condition=t.ready())

    codes = _commit(build)
    if not codes:
        return
    if comment.parent_id and codes[1] == FAILED:
        raise NotFoundError("The comment you reply to was deleted.", code="comment_not_found")
    raise NotFoundError(t.missing)


def remove_comments(photo_id: str, comment_ids: list[str], parent_id: str | None, target: Target | None = None) -> int:
    """Delete comments that still exist (each by its own condition) and uncount exactly those, in one
    transaction per call (at most 98 ids). Returns how many were deleted."""
    t = target or PHOTO
    model = t.comments
    remaining = list(comment_ids)
    while remaining:

        def build(tx: TransactWrite, remaining: list[str] = remaining) -> None:
            for cid in remaining:
                tx.delete(t.comment(photo_id, cid), condition=model.comment_id.exists())
            if parent_id:
                tx.update(
                    t.comment(photo_id, parent_id),
                    actions=[model.reply_count.add(-len(remaining))],
                    condition=model.comment_id.exists(),
                )
            tx.update(
                t.row(photo_id),
                actions=[t.counted.comment_count.add(-len(remaining))],
                condition=t.exists(),
            )

        codes = _commit(build)
        if not codes:
            return len(remaining)
        gone = {cid for cid, code in zip(remaining, codes, strict=False) if code == FAILED}
        if not gone:  # the photo (or the parent) itself is gone: nothing left to keep counts for
            raise NotFoundError("No such comment.", code="comment_not_found")
        remaining = [cid for cid in remaining if cid not in gone]  # deleted concurrently: not ours to uncount
    return 0


def remove_top_level_if_childless(comment: Any, target: Target | None = None) -> bool:
    """Delete a top-level comment that has no replies, with its count. False if it has replies (or gained one)."""
    t = target or PHOTO
    model = t.comments

    def build(tx: TransactWrite) -> None:
        tx.delete(comment, condition=model.comment_id.exists() & (model.reply_count == 0))
        tx.update(t.row(t.id_of(comment)), actions=[t.counted.comment_count.add(-1)], condition=t.exists())

    codes = _commit(build)
    if not codes:
        return True
    if codes[0] == FAILED:
        return False
    raise NotFoundError(t.missing)


def close_comment(comment: Any, target: Target | None = None) -> bool:
    """Refuse further replies to ``comment`` (it is being deleted). False if it is already gone."""
    model = (target or PHOTO).comments
    try:
        comment.update(actions=[model.closing.set(True)], condition=model.comment_id.exists())
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def top_level_comments(
    photo_id: str, limit: int | None = None, last_key: dict | None = None, target: Target | None = None
):
    model = (target or PHOTO).comments
    return model.top_level.query(photo_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def replies_to(comment_id: str, limit: int | None = None, last_key: dict | None = None, target: Target | None = None):
    return (target or PHOTO).comments.by_parent.query(comment_id, limit=limit, last_evaluated_key=last_key)


def comments_of_photo(photo_id: str):
    return Comment.query(photo_id, attributes_to_get=["photo_id", "comment_id"])


# ---- events: the same shapes, keyed by event ----------------------------------------------------------------


@register
class EventLike(Model):
    """``user_id`` likes ``event_id``: at most one row per pair (as :class:`Like`)."""

    Meta = table_meta("event_likes")

    event_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)
    created_at = UTCDateTimeAttribute(default=now)
    by_user = _index("by_user", "user_id", "created_at", UTCDateTimeAttribute, KeysOnlyProjection())


@register
class EventComment(Model):
    """A comment on an event, or a reply to a top-level one (as :class:`Comment`; ids ``c_<time>.<event_id>``)."""

    Meta = table_meta("event_comments")

    event_id = UnicodeAttribute(hash_key=True)
    comment_id = UnicodeAttribute(range_key=True)
    author_id = UnicodeAttribute()
    body = UnicodeAttribute()
    parent_id = UnicodeAttribute(null=True)
    thread_event_id = UnicodeAttribute(null=True)  # top-level only: the top_level index
    reply_count = NumberAttribute(default=0)
    closing = BooleanAttribute(null=True)
    created_at = UTCDateTimeAttribute(default=now)
    top_level = _index("top_level", "thread_event_id", "comment_id", UnicodeAttribute, AllProjection())
    by_parent = _index("by_parent", "parent_id", "comment_id", UnicodeAttribute, AllProjection())


EventCounts = EventCounters  # the event row's counters: a like is not an edit, so no version bump


@dataclass(frozen=True)
class Target:
    """What likes and comments attach to: the models of its likes and comments, the row holding its counters
    and the hash key they share."""

    kind: str  # "photo" | "event"
    key: str  # the hash key attribute of the likes, comments and counted rows
    likes: Any
    comments: Any
    counted: Any
    exists: Callable[[], Any]  # condition: the counted row is there
    ready: Callable[[], Any]  # condition: it may take new likes and comments
    missing: str

    def id_of(self, row: Any) -> str:
        return getattr(row, self.key)

    def like(self, target_id: str, user_id: str) -> Any:
        return self.likes(**{self.key: target_id, "user_id": user_id})

    def comment(self, target_id: str, comment_id: str) -> Any:
        return self.comments(**{self.key: target_id, "comment_id": comment_id})

    def new_comment(self, target_id: str, **fields: Any) -> Any:
        thread = {f"thread_{self.key}": None if fields.get("parent_id") else target_id}
        return self.comments(**{self.key: target_id, **thread, **fields})

    def row(self, target_id: str) -> Any:
        return self.counted(**{self.key: target_id})


EVENT_ID_PREFIX = "e_"
PHOTO = Target(
    "photo", "photo_id", Like, Comment, Photo, lambda: Photo.photo_id.exists(), _photo_ready, "No such photo."
)
EVENT = Target(
    "event",
    "event_id",
    EventLike,
    EventComment,
    EventCounts,
    lambda: EventCounts.event_id.exists(),
    lambda: EventCounts.event_id.exists(),
    "No such event.",
)


def delete_target_rows(target: Target, target_id: str, limit: int | None = None) -> int:
    """Remove a deleted target's likes and comments, up to ``limit`` of each kind; returns the most found."""
    like_rows = list(target.likes.query(target_id, attributes_to_get=[target.key, "user_id"], limit=limit))
    comment_rows = list(target.comments.query(target_id, attributes_to_get=[target.key, "comment_id"], limit=limit))
    for model, rows in ((target.likes, like_rows), (target.comments, comment_rows)):
        with model.batch_write() as batch:
            for row in rows:
                batch.delete(row)
    return max(len(like_rows), len(comment_rows))


# ---- bookmarks ---------------------------------------------------------------------------------------------


@register
class Bookmark(Model):
    Meta = table_meta("bookmarks")

    user_id = UnicodeAttribute(hash_key=True)
    photo_id = UnicodeAttribute(range_key=True)
    created_at = UTCDateTimeAttribute(default=now)
    by_time = _index("by_time", "user_id", "created_at", UTCDateTimeAttribute, KeysOnlyProjection())


def add_bookmark(user_id: str, photo_id: str) -> bool:
    """Idempotent; a repeated bookmark keeps its original time. False if it existed."""
    try:
        Bookmark(user_id=user_id, photo_id=photo_id).save(condition=Bookmark.photo_id.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def remove_bookmark(user_id: str, photo_id: str) -> None:
    if plausible_id(photo_id):
        Bookmark(user_id=user_id, photo_id=photo_id).delete()


def bookmarks_of(user_id: str, limit: int | None = None, last_key: dict | None = None):
    return Bookmark.by_time.query(user_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


# ---- live subscriptions ------------------------------------------------------------------------------------


@register
class PhotoSubscription(Model):
    """A WebSocket connection that wants a photo's live stats and new comments."""

    Meta = table_meta("photo_subscriptions")

    photo_id = UnicodeAttribute(hash_key=True)
    connection_id = UnicodeAttribute(range_key=True)
    user_id = UnicodeAttribute()
    # the login the connection was opened with (Connection.family_id/session_gen): a push checks it first
    family_id = UnicodeAttribute(null=True)
    session_gen = NumberAttribute(null=True)
    expires_at = TTLAttribute()


def subscribe(
    photo_id: str, connection_id: str, user_id: str, family_id: str | None = None, session_gen: float | None = None
) -> None:
    row = PhotoSubscription(
        photo_id=photo_id, connection_id=connection_id, user_id=user_id, family_id=family_id, session_gen=session_gen
    )
    row.expires_at = at_epoch(epoch() + CONNECTION_TTL)
    row.save()


def unsubscribe(photo_id: str, connection_id: str) -> None:
    if plausible_id(photo_id):
        PhotoSubscription(photo_id=photo_id, connection_id=connection_id).delete()


def subscriber_rows(photo_id: str) -> list[PhotoSubscription]:
    """The subscriptions to the photo, with the login of each (rows past their TTL but not yet swept are
    skipped). One Query; a page holds thousands of these small rows."""
    cutoff = epoch()
    return [s for s in PhotoSubscription.query(photo_id) if s.expires_at is None or s.expires_at.timestamp() > cutoff]


def subscribers(photo_id: str) -> list[str]:
    """Connection ids subscribed to the photo."""
    return [s.connection_id for s in subscriber_rows(photo_id)]


def drop_subscriptions(photo_id: str, connection_ids: Iterable[str]) -> None:
    with PhotoSubscription.batch_write() as batch:
        for cid in connection_ids:
            batch.delete(PhotoSubscription(photo_id=photo_id, connection_id=cid))


# ---- cleanup -----------------------------------------------------------------------------------------------


def delete_photo_rows(photo_id: str, limit: int | None = None, *, likes: bool = True, comments: bool = True) -> int:
    """Remove a deleted photo's likes and comments (the photo row and its counters are gone), up to ``limit``
    of each kind; returns the most found of either (``limit`` of them: call again). ``likes``/``comments``
    False skips a kind the photo had none of. Live subscriptions expire by TTL (``photo_subscriptions``)."""
    like_rows = list(Like.query(photo_id, attributes_to_get=["photo_id", "user_id"], limit=limit)) if likes else []
    comment_rows = (
        list(Comment.query(photo_id, attributes_to_get=["photo_id", "comment_id"], limit=limit)) if comments else []
    )
    for model, rows in ((Like, like_rows), (Comment, comment_rows)):
        with model.batch_write() as batch:
            for row in rows:
                batch.delete(row)
    return max(len(like_rows), len(comment_rows))


def delete_bookmarks_of(user_id: str, limit: int | None = None) -> int:
    rows = list(Bookmark.query(user_id, attributes_to_get=["user_id", "photo_id"], limit=limit))
    with Bookmark.batch_write() as batch:
        for row in rows:
            batch.delete(row)
    return len(rows)
