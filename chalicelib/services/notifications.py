"""Notifications: a stored row per event, never to yourself, pushed live to the user's connections."""
from __future__ import annotations

from typing import Any

from chalicelib.logs import get_logger
from chalicelib.models.base import PutError, condition_failed, iso
from chalicelib.models.notifications import Notification

log = get_logger(__name__)


def to_dict(n: Notification, actors: dict[str, Any] | None = None) -> dict[str, Any]:
    actor = None
    if n.actor_id:
        user = (actors or {}).get(n.actor_id)
        actor = {"id": n.actor_id, "username": getattr(user, "username", None),
                 "display_name": getattr(user, "display_name", None)}
    return {"id": n.notification_id, "type": n.type, "actor": actor,
            "target": n.target.as_dict() if n.target else {}, "created_at": iso(n.created_at), "read": n.read}


def notify(user_id: str, type_: str, *, actor_id: str | None, target: dict[str, Any], dedupe: str) -> bool:
    """Write the notification once (keyed by ``dedupe``) and push it. False if it already existed."""
    if actor_id is not None and actor_id == user_id:
        return False
    row = Notification(user_id=user_id, notification_id=f"{type_}#{dedupe}", type=type_, actor_id=actor_id,
                       target=target, unread_user_id=user_id)
    try:
        row.save(condition=Notification.notification_id.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    from chalicelib.realtime import push
    from chalicelib.services.accounts import users_by_ids

    actors = users_by_ids([actor_id]) if actor_id else {}
    push.send_to_user(user_id, {"type": "notification", "notification": to_dict(row, actors)})
    return True
