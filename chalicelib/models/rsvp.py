"""RSVPs: who is ``going`` to an event or ``interested`` in it, and the counts on the event that follow them.

Access patterns (every listing is a Query on a key or an index):
- a user's RSVP to an event ......... Rsvps GetItem(event_id, user_id)
- an event's attendees, going first . Rsvps GSI by_status (event_id, status_order =
                                      "<0 going | 1 interested>#<responded_at>#<user_id>"); ``?status=`` is
                                      ``begins_with("0#")`` or ``("1#")`` on the same index
- every RSVP of an event (cleanup) .. Rsvps Query(event_id), keys only
- a (deleted) user's RSVPs .......... Rsvps GSI by_user (user_id, responded_at), keys only

Counters live on the rows they count and change in the same TransactWrite as the RSVP row:
``events.going_count`` and ``events.interested_count`` (a change to ``going`` is conditioned on
``going_count < capacity``, so the last seat is taken exactly once however many ask at once) and the attendee's
``users.events_attended`` (+1 when they become ``going``, -1 when they stop). The RSVP row's own condition is
the state it was read in, so two changes of one user's RSVP cannot both count.
"""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.models.base import commit, iso, now, register, table_meta
from chalicelib.models.events import EventCounters
from chalicelib.models.users import User

STATUSES = ("going", "interested")
_ORDER = {"going": "0", "interested": "1"}
FAILED = "ConditionalCheckFailed"
MAX_ID = 64


def plausible_id(value: str | None) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID


class RsvpsByStatus(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    event_id = UnicodeAttribute(hash_key=True)
    status_order = UnicodeAttribute(range_key=True)


class RsvpsByUser(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_user"
        projection = KeysOnlyProjection()

    user_id = UnicodeAttribute(hash_key=True)
    responded_at = UTCDateTimeAttribute(range_key=True)


@register
class Rsvp(Model):
    """``user_id``'s answer to ``event_id``: at most one row per pair."""

    Meta = table_meta("rsvps")

    event_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute()  # STATUSES
    status_order = UnicodeAttribute()  # the by_status index's sort key (going first)
    responded_at = UTCDateTimeAttribute(default=now)

    by_status = RsvpsByStatus()
    by_user = RsvpsByUser()


EventCounts = EventCounters  # the event row's counters, changed without its version


def status_order(status: str, at: datetime, user_id: str) -> str:
    return f"{_ORDER[status]}#{iso(at)}#{user_id}"


def rsvp_of(event_id: str, user_id: str) -> Rsvp | None:
    if not (plausible_id(event_id) and plausible_id(user_id)):
        return None
    try:
        return Rsvp.get(event_id, user_id, consistent_read=True)
    except Rsvp.DoesNotExist:
        return None


def change(event_id: str, user_id: str, previous: str | None, status: str | None) -> tuple[list[str | None], Rsvp]:
    """Move ``user_id``'s RSVP from ``previous`` to ``status`` (None: no RSVP) and the counts with it, in one
    transaction. Returns the cancellation codes (``[]``: done) in the order [rsvp row, event, user] and the row.

    Cancelled with the first code ``ConditionalCheckFailed`` when the RSVP is no longer ``previous`` (re-read
    and retry), the second when the event is gone or, for ``going``, full."""
    at = now()
    row = Rsvp(event_id=event_id, user_id=user_id, responded_at=at)
    if status is not None:
        row.status, row.status_order = status, status_order(status, at, user_id)
    going = (status == "going") - (previous == "going")
    interested = (status == "interested") - (previous == "interested")

    def build(tx: TransactWrite) -> None:
        was = Rsvp.user_id.does_not_exist() if previous is None else Rsvp.status == previous
        if status is None:
            tx.delete(row, condition=was)
        else:
            tx.save(row, condition=was)
        actions: list[Action] = []
        if going:
            actions.append(EventCounts.going_count.add(going))
        if interested:
            actions.append(EventCounts.interested_count.add(interested))
        condition = EventCounts.event_id.exists()
        if going > 0:
            condition &= (
                EventCounts.capacity.does_not_exist()
                | EventCounts.going_count.does_not_exist()
                | (EventCounts.going_count < EventCounts.capacity)
            )
        tx.update(EventCounts(event_id=event_id), actions=actions, condition=condition)
        if going:
            tx.update(User(user_id=user_id), actions=[User.events_attended.add(going)], condition=User.user_id.exists())

    return commit(build, "The event is busy; retry."), row


def attendees(event_id: str, status: str | None, limit: int | None = None, last_key: dict | None = None):
    condition = Rsvp.status_order.startswith(f"{_ORDER[status]}#") if status else None
    return Rsvp.by_status.query(event_id, range_key_condition=condition, limit=limit, last_evaluated_key=last_key)


def rsvps_of_user(user_id: str, limit: int | None = None) -> list[Rsvp]:
    """Up to ``limit`` of the user's RSVPs (keys from the index, then the rows, for their status)."""
    keys = [(r.event_id, r.user_id) for r in Rsvp.by_user.query(user_id, limit=limit)]
    return list(Rsvp.batch_get(keys)) if keys else []


def delete_rsvps(event_id: str, limit: int | None = None) -> int:
    """Delete up to ``limit`` of a (deleted) event's RSVP rows; returns how many there were. The users'
    ``events_attended`` stay: they count the events the user said they would go to."""
    rows = list(Rsvp.query(event_id, attributes_to_get=["event_id", "user_id"], limit=limit))
    with Rsvp.batch_write() as batch:
        for row in rows:
            batch.delete(row)
    return len(rows)
