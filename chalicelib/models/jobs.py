"""The domain-event outbox: one row per published event, keyed by its id (see chalicelib/jobs).

Access patterns: one event .... GetItem / conditional PutItem / UpdateItem(event_id)
- events not sent yet, oldest first ... GSI by_undispatched (undispatched, created_at): sparse, keys only; the
  attribute is set while the row's jobs have not been sent and removed once they are (the relay's query)
The jobs queue carries the work, the row makes publishing happen once and tracks which consumers are busy.
Rows expire by TTL (``expires_at``) well after their cascade ends.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from chalicelib.models.base import keys_only_index, now, register, table_meta

UNDISPATCHED = "1"  # the one bucket of the sparse by_undispatched index


@register
class JobEvent(Model):
    Meta = table_meta("job_events")

    event_id = UnicodeAttribute(hash_key=True)  # the caller's idempotency key, e.g. "user.deleted:u_..."
    type = UnicodeAttribute()
    payload: MapAttribute[str, Any] = MapAttribute(default=dict)  # raw map: the consumers' input
    pending = UnicodeSetAttribute(null=True)  # consumers not finished yet; absent once every one has
    steps: MapAttribute[str, Any] = MapAttribute(default=dict)  # consumer -> the chunk number last taken
    step_messages: MapAttribute[str, Any] = MapAttribute(default=dict)  # consumer -> the message that took it
    dispatched = BooleanAttribute(default=False)  # every consumer's first job has been sent
    undispatched = UnicodeAttribute(null=True)  # UNDISPATCHED until then (sparse index by_undispatched)
    completed_at = UTCDateTimeAttribute(null=True)  # the event's completion step ran
    created_at = UTCDateTimeAttribute(default=now)
    expires_at = TTLAttribute(null=True)

    by_undispatched = keys_only_index("job_events", "by_undispatched", "undispatched", "created_at")
