"""Notifications: a stored row per event, never to yourself, pushed live to the user's WebSocket connections,
and by email and mobile push for the types the user opted into.

Idempotent: the row id is a hash of (type, cause), written with attribute_not_exists, so a redelivered event
(an S3 event, a retried request) neither stores nor sends anything twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.logs import get_logger
from chalicelib.models.base import PutError, condition_failed, iso, now, update_existing
from chalicelib.models.notifications import TYPES, Notification
from chalicelib.models.users import User

log = get_logger(__name__)

# Defaults when a user has not said: email is opt-in, push is on for what needs a reply or concerns you.
DEFAULT_EMAIL = {t: False for t in TYPES}
DEFAULT_PUSH = {
    t: t in ("tagged", "commented", "replied", "friend_request", "message", "rejected", "event_invite") for t in TYPES
}
UNREAD_COUNT_CAP = 100

SUBJECTS = {
    "tagged": "{actor} tagged you in a photo",
    "liked": "{actor} liked your photo",
    "commented": "{actor} commented on your photo",
    "replied": "{actor} replied to your comment",
    "event_photo_added": "{actor} added a photo to an event",
    "followed": "{actor} started following you",
    "friend_request": "{actor} sent you a friend request",
    "message": "New message from {actor}",
    "rejected": "A photo you uploaded could not be processed",
    "order_paid": "{actor} bought your photos",
    "event_invite": "{actor} invited you to an event",
}
# Likes and comments on an event (the target names the event: ``{"kind": "event"}``, or a comment with ``event_id``)
EVENT_SUBJECTS = {
    "liked": "{actor} liked your event",
    "commented": "{actor} commented on your event",
}


def subject(type_: str, target: Mapping[str, Any]) -> str:
    """The email subject and push title of a notification, an ``{actor}`` template."""
    on_event = target.get("kind") == "event" or (target.get("kind") == "comment" and "event_id" in target)
    return (on_event and EVENT_SUBJECTS.get(type_)) or SUBJECTS.get(type_, "Lightbox")


def notification_id(type_: str, dedupe: str) -> str:
    return "n_" + hashlib.sha256(f"{type_}#{dedupe}".encode()).hexdigest()[:24]


def to_dict(n: Notification, actors: dict[str, Any] | None = None) -> dict[str, Any]:
    actor = None
    if n.actor_id:
        user = (actors or {}).get(n.actor_id)
        actor = {
            "id": n.actor_id,
            "username": getattr(user, "username", None),
            "display_name": getattr(user, "display_name", None),
        }
    return {
        "id": n.notification_id,
        "type": n.type,
        "actor": actor,
        "target": n.target.as_dict() if n.target else {},
        "created_at": iso(n.created_at),
        "read": n.read,
    }


def preferences(user: User) -> dict[str, dict[str, bool]]:
    stored = user.notification_prefs.as_dict() if user.notification_prefs else {}
    return {
        "email": {**DEFAULT_EMAIL, **(stored.get("email") or {})},
        "push": {**DEFAULT_PUSH, **(stored.get("push") or {})},
    }


def set_preferences(user: User, email: Mapping[Any, bool] | None, push: Mapping[Any, bool] | None) -> dict:
    """``email``/``push``: type name (one of TYPES, a Literal in the API schema) -> on or off."""
    current = preferences(user)
    merged = {"email": {**current["email"], **(email or {})}, "push": {**current["push"], **(push or {})}}
    user.update(actions=[User.notification_prefs.set(merged)])
    return merged


def notify(user_id: str, type_: str, *, actor_id: str | None, target: dict[str, Any], dedupe: str) -> bool:
    """Write the notification once (keyed by ``dedupe``) and deliver it. False if it already existed."""
    if actor_id is not None and actor_id == user_id:
        return False
    row = Notification(
        user_id=user_id,
        notification_id=notification_id(type_, dedupe),
        type=type_,
        actor_id=actor_id,
        target=target,
        unread_user_id=user_id,
    )
    try:
        row.save(condition=Notification.notification_id.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    _deliver(row)
    return True


def _deliver(row: Notification) -> None:
    """Live frames, email and push, each best effort: the stored row is the notification, so a channel that
    fails (throttled SES, an SNS hiccup) is logged and never fails the action that caused it, nor the others."""
    from chalicelib.realtime import push as live
    from chalicelib.services.accounts import users_by_ids

    users = users_by_ids([u for u in (row.user_id, row.actor_id) if u])
    payload = to_dict(row, users)
    _attempt("live", row, lambda: live.send_to_user(row.user_id, {"type": "notification", "notification": payload}))
    recipient = users.get(row.user_id)
    if recipient is None:
        return
    prefs = preferences(recipient)
    actor = users.get(row.actor_id) if row.actor_id else None
    title = subject(row.type, payload["target"]).format(actor=getattr(actor, "display_name", None) or "Someone")
    if prefs["email"].get(row.type):
        from chalicelib.services import mailer

        _attempt("email", row, lambda: mailer.send(recipient.email, title, f"{title}.\n\nOpen Lightbox to see it."))
    if prefs["push"].get(row.type):
        from chalicelib.services import devices

        _attempt("push", row, lambda: devices.push_to_user(recipient.user_id, title, payload))


def _attempt(channel: str, row: Notification, send) -> None:
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException

    try:
        send()
    except (BotoCoreError, ClientError, PynamoDBException):
        log.exception(
            "notification delivery failed",
            extra={"fields": {"channel": channel, "notification_id": row.notification_id}},
        )


# ---- reading and marking -----------------------------------------------------------------------------------


def list_query(user_id: str, unread_only: bool, limit: int, last_key: dict | None):
    index = Notification.unread if unread_only else Notification.by_time
    return index.query(user_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def unread_count(user_id: str) -> int:
    """Counted on the sparse unread index (a Query, capped at 100: clients show "99+")."""
    return Notification.unread.count(user_id, limit=UNREAD_COUNT_CAP)


def mark(user_id: str, notification_id_: str, read: bool) -> Notification:
    from chalicelib.errors import NotFoundError

    row = Notification(user_id=user_id, notification_id=notification_id_)
    actions = [
        Notification.read.set(read),
        Notification.unread_user_id.remove() if read else Notification.unread_user_id.set(user_id),
    ]
    if not update_existing(row, actions):
        raise NotFoundError("No such notification.")
    return row


def _mark_read(user_id: str, limit: int, until: datetime | None = None) -> int:
    """Marks up to ``limit`` unread notifications, only those created at or before ``until`` if given (what the
    user saw when they asked: notifications that arrived afterwards stay unread)."""
    condition = Notification.created_at <= until if until is not None else None
    rows = list(Notification.unread.query(user_id, range_key_condition=condition, limit=limit))
    for row in rows:
        update_existing(row, [Notification.read.set(True), Notification.unread_user_id.remove()])
    return len(rows)


def mark_all_read(user_id: str) -> int:
    """Marks up to ``fanout_inline_max`` notifications at once; if more are unread, the rest are marked by a
    background job (``notifications.read_all``). Returns how many were marked now."""
    from chalicelib import jobs
    from chalicelib.config import get_settings
    from chalicelib.models.base import new_id

    limit = max(1, get_settings().fanout_inline_max)
    t0 = now()
    done = _mark_read(user_id, limit, t0)
    if done >= limit:
        payload = {"user_id": user_id, "until": t0.isoformat()}
        jobs.publish("notifications.read_all", f"notifications.read_all:{user_id}:{new_id('')}", payload)
    return done


def on_read_all(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``notifications.read_all`` consumer: the rest of a big inbox, a chunk at a time."""
    until = datetime.fromisoformat(payload["until"]) if payload.get("until") else None
    return {} if _mark_read(payload["user_id"], limit, until) >= limit else None


def on_user_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``user.deleted`` consumer (chalicelib/jobs): the user's inbox goes (what others were notified of stays
    theirs), a chunk at a time."""
    rows = list(Notification.query(payload["user_id"], limit=limit))
    with Notification.batch_write() as batch:
        for row in rows:
            batch.delete(row)
    return {} if len(rows) >= limit else None
