"""/notifications/*, /devices: the notification inbox, preferences, and mobile devices for push."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import Field

from chalicelib.api.routing import Ctx, route
from chalicelib.api.schema_base import Body, Out, PageQuery
from chalicelib.models.base import iso
from chalicelib.models.notifications import TYPES
from chalicelib.pagination import decode, encode
from chalicelib.services import devices, notifications
from chalicelib.services.accounts import users_by_ids

TAGS = ("notifications",)
NotificationType = Literal[
    "order_disputed",  # refunds
    "tagged",
    "liked",
    "commented",
    "replied",
    "event_photo_added",
    "followed",
    "friend_request",
    "message",
    "rejected",
    "order_paid",
    "tip",  # creators
    "subscribed",  # creators
    "purchase",  # creators
    "verification",  # creators
    "event_invite",  # invitations
]
assert set(get_args(NotificationType)) == set(TYPES)  # one list of types


class Actor(Out):
    id: str
    username: str | None
    display_name: str | None


class NotificationOut(Out):
    id: str
    type: NotificationType
    actor: Actor | None
    target: dict[str, Any]
    created_at: str
    read: bool


class NotificationPage(Out):
    items: list[NotificationOut]
    next_cursor: str | None


class InboxQuery(PageQuery):
    unread: bool = False


class MarkIn(Body):
    read: bool


class Preferences(Out):
    email: dict[str, bool]
    push: dict[str, bool]


class PreferencesIn(Body):
    email: dict[NotificationType, bool] | None = None
    push: dict[NotificationType, bool] | None = None


class DeviceIn(Body):
    platform: Literal["apns", "fcm"]
    token: Annotated[str, Field(min_length=8, max_length=4096, pattern=r"^[A-Za-z0-9_:\-.]+$")]


class DeviceOut(Out):
    id: str
    platform: str
    created_at: str


class DeviceList(Out):
    items: list[DeviceOut]


def _device(d) -> DeviceOut:
    return DeviceOut(id=d.device_id, platform=d.platform, created_at=iso(d.created_at))


@route("/notifications", "GET", query=InboxQuery, response=NotificationPage, tags=TAGS)
def inbox(ctx: Ctx[None, InboxQuery]) -> NotificationPage:
    """The caller's notifications, newest first (``unread=true`` for unread only)."""
    q = ctx.query
    scope = f"notifications:{ctx.user_id}:{q.unread}"
    results = notifications.list_query(ctx.user_id, q.unread, q.limit, decode(scope, q.cursor))
    rows = list(results)
    actors = users_by_ids([r.actor_id for r in rows if r.actor_id])
    cursor = encode(scope, results.last_evaluated_key) if len(rows) >= q.limit else None
    return NotificationPage(items=[notifications.to_dict(r, actors) for r in rows], next_cursor=cursor)


@route("/notifications/read-all", "POST", status=204, tags=TAGS)
def read_all(ctx: Ctx) -> None:
    """Mark every notification read."""
    notifications.mark_all_read(ctx.user_id)


@route("/notifications/preferences", "GET", response=Preferences, tags=TAGS)
def get_preferences(ctx: Ctx) -> Preferences:
    """Which notification types the caller receives by email and by mobile push."""
    return Preferences(**notifications.preferences(ctx.principal.user))


@route("/notifications/preferences", "PUT", body=PreferencesIn, response=Preferences, tags=TAGS)
def put_preferences(ctx: Ctx[PreferencesIn]) -> Preferences:
    """Opt in or out per type; types not mentioned keep their setting."""
    return Preferences(**notifications.set_preferences(ctx.principal.user, ctx.body.email, ctx.body.push))


@route("/notifications/{notification_id}", "PATCH", body=MarkIn, response=NotificationOut, tags=TAGS, responses=(404,))
def mark(ctx: Ctx[MarkIn], notification_id: str) -> dict[str, Any]:
    """Mark one notification read (or unread again)."""
    row = notifications.mark(ctx.user_id, notification_id, ctx.body.read)
    row.refresh()
    return notifications.to_dict(row, users_by_ids([row.actor_id] if row.actor_id else []))


@route("/devices", "POST", body=DeviceIn, response=DeviceOut, status=201, tags=TAGS, responses=(400,))
def register_device(ctx: Ctx[DeviceIn]) -> DeviceOut:
    """Register a phone for push (APNs or FCM token); registering the same token again is harmless."""
    return _device(devices.register(ctx.user_id, ctx.body.platform, ctx.body.token))


@route("/devices", "GET", response=DeviceList, tags=TAGS)
def list_devices(ctx: Ctx) -> DeviceList:
    """The caller's registered devices."""
    return DeviceList(items=[_device(d) for d in devices.devices_of(ctx.user_id)])


@route("/devices/{device_id}", "DELETE", status=204, tags=TAGS, responses=(404,))
def unregister_device(ctx: Ctx, device_id: str) -> None:
    """Stop pushing to a device."""
    devices.unregister(ctx.user_id, device_id)
