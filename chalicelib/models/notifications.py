"""Notifications: stored rows, each also pushed to the user's open WebSocket connections.

Access patterns:
- a user's notifications, newest first ....... GSI by_time (user_id, created_at)
- a user's unread notifications, newest first  GSI unread (unread_user_id, created_at): sparse, the attribute
                                               is removed when the notification is read
- one notification ........................... GetItem(user_id, notification_id)
``notification_id`` is derived from what caused it (a hash of type and cause, e.g. ("event_photo_added",
<photo>)), and rows are written with attribute_not_exists, so a redelivered event never notifies twice.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import BooleanAttribute, MapAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import now, register, table_meta

TYPES = (
    "tagged",
    "liked",
    "commented",
    "replied",
    "event_photo_added",
    "followed",
    "friend_request",
    "message",
    "rejected",
    "order_paid",  # delivery: a seller's photos were bought (chalicelib/services/receipts.py)
    "order_disputed",  # refunds: a buyer disputed a payment of an order with the seller's items
    "tip",  # creators: a fan tipped (with their message)
    "subscribed",  # creators: a new subscriber
    "purchase",  # creators: an item was bought pay-per-view
    "verification",  # creators: staff approved or rejected the identity verification
    "event_invite",  # invitations: the owner (or auto-invite) invited you to an event
)


class ByTime(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_time"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class Unread(GlobalSecondaryIndex):
    class Meta:
        index_name = "unread"
        projection = AllProjection()

    unread_user_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


@register
class Notification(Model):
    Meta = table_meta("notifications")

    user_id = UnicodeAttribute(hash_key=True)
    notification_id = UnicodeAttribute(range_key=True)
    type = UnicodeAttribute()
    actor_id = UnicodeAttribute(null=True)
    # e.g. {"kind": "photo", "id": "...", "event_id": "..."}
    target: MapAttribute[str, Any] = MapAttribute(default=dict)
    read = BooleanAttribute(default=False)
    unread_user_id = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute(default=now)
    by_time = ByTime()
    unread = Unread()
