"""Events and their members.

Access patterns (every listing is a Query on a key or an index):
- event by id ............................ Events GetItem(event_id)
- events of an owner, newest first ....... Events GSI by_owner (owner_id, created_at)
- public events, newest first ............ Events GSI public_recent (public_bucket, created_at); sparse:
                                            public_bucket is set ("public") only on public events
- public events of one type, newest first  Events GSI public_by_type (public_type = "public#<event_type>",
                                            created_at); sparse: set only on public events
- public events in a geohash cell ........ Events GSI geo (geo_cell = geohash[:3], geohash) with
                                            begins_with(cell prefix); sparse: only public events with a location
- a member of an event ................... EventMembers GetItem(event_id, user_id)
- members of an event .................... EventMembers Query(event_id)
- events a user joined, newest first ..... EventMembers GSI by_user (user_id, joined_at)
- the caller's role in several events .... EventMembers BatchGet((event_id, user_id) ...)

The owner is not stored as a member: ownership is ``Event.owner_id``. RSVPs and their counters on the event
(``going_count``, ``interested_count``, bounded by ``capacity``) are in ``models/rsvp.py``. Creating an event
counts it on the owner's ``users.events_hosted`` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.errors import ConflictError
from chalicelib.models.base import (
    DeleteError,
    PutError,
    TransactWriteError,
    UpdateError,
    cancellation_codes,
    commit,
    condition_failed,
    now,
    register,
    table_meta,
    translate_conflicts,
)

VISIBILITIES = ("public", "unlisted", "private")
MEMBER_ROLES = ("viewer", "contributor")
VARIANTS = ("full", "watermarked")
PUBLIC_BUCKET = "public"
GEOHASH_PRECISION = 9  # ~5 m
GEO_CELL_PRECISION = 3  # the geo index's partition key: ~156 km cells
EVENT_TYPES = ("study", "party", "business", "other")
DEFAULT_EVENT_TYPE = "other"


class EventsByOwner(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_owner"
        projection = AllProjection()

    owner_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class PublicRecent(GlobalSecondaryIndex):
    class Meta:
        index_name = "public_recent"
        projection = AllProjection()

    public_bucket = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class PublicByType(GlobalSecondaryIndex):
    class Meta:
        index_name = "public_by_type"
        projection = AllProjection()

    public_type = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class EventsByGeo(GlobalSecondaryIndex):
    class Meta:
        index_name = "geo"
        projection = AllProjection()

    geo_cell = UnicodeAttribute(hash_key=True)
    geohash = UnicodeAttribute(range_key=True)


@register
class Event(Model):
    Meta = table_meta("events")

    event_id = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    visibility = UnicodeAttribute(default="private")
    starts_at = UTCDateTimeAttribute(null=True)
    ends_at = UTCDateTimeAttribute(null=True)
    location_lat = NumberAttribute(null=True)
    location_lon = NumberAttribute(null=True)
    location_name = UnicodeAttribute(null=True)
    geohash = UnicodeAttribute(null=True)  # only public events with a location (keeps the geo index sparse)
    geo_cell = UnicodeAttribute(null=True)  # geohash[:3]
    public_bucket = UnicodeAttribute(null=True)  # "public" only for public events
    watermark_text = UnicodeAttribute(null=True)  # None: the default "Lightbox"
    viewer_variants = UnicodeAttribute(default="full")  # "full" | "watermarked"
    public_variants = UnicodeAttribute(default="full")  # "full" | "watermarked"
    event_type = UnicodeAttribute(null=True)  # EVENT_TYPES; missing (events from before types) reads as "other"
    public_type = UnicodeAttribute(null=True)  # "public#<event_type>" only for public events (public_by_type)
    capacity = NumberAttribute(null=True)  # the most attendees going; missing: unlimited
    going_count = NumberAttribute(null=True)  # models/rsvp.py keeps these two; missing reads as 0
    interested_count = NumberAttribute(null=True)
    # engagement counters, changed only through models/engagement.py (EventCounts: no version bump)
    like_count = NumberAttribute(null=True)
    comment_count = NumberAttribute(null=True)
    # auto-invite (services/autoinvite.py); the job's count of invitations is ``auto_invited`` (AutoInvited)
    interest_tags = UnicodeSetAttribute(null=True)
    auto_invite = BooleanAttribute(null=True)
    created_at = UTCDateTimeAttribute(default=now)
    updated_at = UTCDateTimeAttribute(default=now)
    version = VersionAttribute()

    by_owner = EventsByOwner()
    public_recent = PublicRecent()
    public_by_type = PublicByType()
    geo = EventsByGeo()

    @property
    def has_location(self) -> bool:
        return self.location_lat is not None and self.location_lon is not None


class MembersByUser(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    joined_at = UTCDateTimeAttribute(range_key=True)


@register
class EventMember(Model):
    Meta = table_meta("event_members")

    event_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)
    role = UnicodeAttribute()  # "viewer" | "contributor"
    joined_at = UTCDateTimeAttribute(default=now)

    by_user = MembersByUser()


# ---- access patterns -------------------------------------------------------------------------------------


def _plausible_id(value: str | None) -> bool:
    """Ids from a URL: anything empty or longer than any id we mint cannot exist (and must not reach DynamoDB,
    which refuses keys over its size limits)."""
    return value is not None and 0 < len(value) <= 64


def event_by_id(event_id: str, *, consistent: bool = False) -> Event | None:
    if not _plausible_id(event_id):
        return None
    try:
        return Event.get(event_id, consistent_read=consistent)
    except Event.DoesNotExist:
        return None


def create_event(event: Event) -> None:
    """Store a new event and count it on its owner's ``events_hosted``, in one transaction (contention on the
    owner's row, e.g. their RSVPs or ratings at the same time, is retried, then a ``409 contention``)."""
    from pynamodb.transactions import TransactWrite

    from chalicelib.models.users import User

    def build(tx: TransactWrite) -> None:
        tx.save(event, condition=Event.event_id.does_not_exist())
        owner = User(user_id=event.owner_id)
        tx.update(owner, actions=[User.events_hosted.add(1)], condition=User.user_id.exists())

    codes = commit(build, "Your account is busy; retry.")
    if "ConditionalCheckFailed" in codes:
        raise ConflictError("An event with this id exists, or its owner is gone; retry.")
    if codes:
        raise ConflictError("The event could not be created; retry.", code="contention")


class EventCounters(Model):
    """The counters of an ``events`` row, without ``Event``'s version attribute: RSVPs (models/rsvp.py), likes
    and comments (models/engagement.py) and auto-invitations (services/autoinvite.py) change them without
    bumping the event's version, so a PATCH made from an earlier read still applies. Not registered: it is a
    view of ``events``."""

    Meta = table_meta("events")

    event_id = UnicodeAttribute(hash_key=True)
    capacity = NumberAttribute(null=True)
    going_count = NumberAttribute(null=True)
    interested_count = NumberAttribute(null=True)
    like_count = NumberAttribute(null=True)
    comment_count = NumberAttribute(null=True)
    auto_invited = NumberAttribute(null=True)


def update_event(event: Event, actions: list) -> None:
    """Apply ``actions`` only if nobody changed the event since it was read (its version)."""
    with translate_conflicts("The event changed concurrently; reload it and retry."):
        event.update(actions=actions)


def update_event_and_publish(
    event: Event, actions: list, event_type: str, job_event_id: str, payload: dict[str, Any], also: Iterable = ()
) -> Event:
    """``update_event`` and the domain event it causes, in one transaction (version-checked); the event's
    row as it is now. ``also``: more outbox rows to commit with it (their caller sends their jobs)."""
    from chalicelib import jobs
    from chalicelib.models.jobs import JobEvent

    try:
        with jobs.transaction() as tx:
            tx.update(event, actions=actions)
            row = jobs.publish_in(tx, event_type, job_event_id, payload)
            for extra in also:
                tx.save(extra, condition=JobEvent.event_id.does_not_exist())
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" in cancellation_codes(exc):
            raise ConflictError("The event changed concurrently; reload it and retry.") from exc
        raise
    jobs.dispatch(row)
    return Event.get(event.event_id, consistent_read=True)


def update_event_with_outbox(event: Event, actions: list, rows: Iterable) -> None:
    """``update_event`` and outbox rows (whose caller sends their jobs) in one transaction, version-checked.
    ``event`` is brought up to date in memory from ``actions`` (no re-read)."""
    from chalicelib import jobs
    from chalicelib.models.jobs import JobEvent

    applied = list(actions)  # before the transaction appends its version increment (applied locally by it)
    try:
        with jobs.transaction() as tx:
            tx.update(event, actions=actions)
            for row in rows:
                tx.save(row, condition=JobEvent.event_id.does_not_exist())
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" in cancellation_codes(exc):
            raise ConflictError("The event changed concurrently; reload it and retry.") from exc
        raise
    apply_locally(event, applied)


def apply_locally(model: Any, actions: list) -> None:
    """Apply SET / REMOVE / numeric ADD update actions to the model in memory (what DynamoDB did to the row)."""
    from pynamodb.expressions.operand import Path, Value
    from pynamodb.expressions.update import AddAction, RemoveAction, SetAction

    names = {attr.attr_name: name for name, attr in model.get_attributes().items()}
    for action in actions:
        path = action.values[0]
        if not isinstance(path, Path) or len(path.path) != 1 or path.path[0] not in names:
            raise ValueError(f"cannot apply {action!r} locally")
        name = names[path.path[0]]
        attr = model.get_attributes()[name]
        if isinstance(action, RemoveAction):
            setattr(model, name, None)
        elif isinstance(action, SetAction) and isinstance(action.values[1], Value):
            setattr(model, name, attr.deserialize(attr.get_value(action.values[1].value)))
        elif isinstance(action, AddAction) and isinstance(action.values[1], Value):
            setattr(model, name, (getattr(model, name) or 0) + attr.deserialize(attr.get_value(action.values[1].value)))
        else:
            raise ValueError(f"cannot apply {action!r} locally")


def delete_event_and_publish(event_id: str, event_type: str, job_event_id: str, payload: dict[str, Any]) -> None:
    """Delete the event row and publish ``event_type`` in one transaction. Done before (the row gone, the
    event published, or both): whatever is left is finished on its own, so a replay changes nothing."""
    from chalicelib import jobs

    try:
        with jobs.transaction() as tx:
            tx.delete(Event(event_id=event_id), condition=Event.event_id.exists(), add_version_condition=False)
            row = jobs.publish_in(tx, event_type, job_event_id, payload)
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" not in cancellation_codes(exc):
            raise
        jobs.publish(event_type, job_event_id, payload)  # False (nothing sent) when it was published before
        delete_event_row(event_id)
        return
    jobs.dispatch(row)


def delete_event_row(event_id: str) -> None:
    try:
        Event(event_id=event_id).delete(condition=Event.event_id.exists(), add_version_condition=False)
    except DeleteError as exc:  # already gone: deletion is idempotent
        if not condition_failed(exc):
            raise


def events_of_owner(owner_id: str, limit: int | None = None, last_key: dict | None = None):
    return Event.by_owner.query(owner_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def public_events(limit: int | None = None, last_key: dict | None = None):
    return Event.public_recent.query(PUBLIC_BUCKET, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def public_events_of_type(event_type: str, limit: int | None = None, last_key: dict | None = None):
    return Event.public_by_type.query(
        f"{PUBLIC_BUCKET}#{event_type}", scan_index_forward=False, limit=limit, last_evaluated_key=last_key
    )


def public_events_in_cell(prefix: str) -> list[Event]:
    """Every public, located event whose geohash starts with ``prefix`` (3+ characters)."""
    condition = Event.geohash.startswith(prefix) if len(prefix) > GEO_CELL_PRECISION else None
    return list(Event.geo.query(prefix[:GEO_CELL_PRECISION], range_key_condition=condition))


def events_by_ids(event_ids: Iterable[str]) -> dict[str, Event]:
    ids = list(dict.fromkeys(event_ids))
    return {e.event_id: e for e in Event.batch_get(ids)} if ids else {}


def membership(event_id: str, user_id: str) -> EventMember | None:
    if not (_plausible_id(event_id) and _plausible_id(user_id)):
        return None
    try:
        return EventMember.get(event_id, user_id)
    except EventMember.DoesNotExist:
        return None


def memberships_of_user_in(user_id: str, event_ids: Iterable[str]) -> dict[str, EventMember]:
    keys = [(event_id, user_id) for event_id in dict.fromkeys(event_ids)]
    return {m.event_id: m for m in EventMember.batch_get(keys)} if keys else {}


def add_member(member: EventMember) -> None:
    try:
        member.save(condition=EventMember.user_id.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            raise ConflictError(
                "That user is already a member of this event.",
                code="already_member",
                details={"username": "already a member"},
            ) from exc
        raise


def remove_member(event_id: str, user_id: str) -> bool:
    """Delete the membership; False if there was none."""
    if not (_plausible_id(event_id) and _plausible_id(user_id)):
        return False
    try:
        EventMember(event_id=event_id, user_id=user_id).delete(condition=EventMember.user_id.exists())
    except DeleteError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def members_of(event_id: str, limit: int | None = None, last_key: dict | None = None):
    return EventMember.query(event_id, limit=limit, last_evaluated_key=last_key)


def memberships_of_user(user_id: str, limit: int | None = None, last_key: dict | None = None):
    return EventMember.by_user.query(user_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def delete_members(event_id: str, limit: int | None = None, before: Any = None) -> int:
    """Delete up to ``limit`` of the event's memberships; returns how many there were. ``before`` is called
    with the members about to go."""
    members = list(EventMember.query(event_id, attributes_to_get=["event_id", "user_id"], limit=limit))
    if before is not None:
        before(members)
    with EventMember.batch_write() as batch:
        for member in members:
            batch.delete(member)
    return len(members)


class _EventTypeKey(Model):
    """The index attributes of an ``events`` row, without ``Event``'s version: a backfill does not change the
    event's version (a PATCH made from an earlier read still applies). Not registered: it lives in ``events``."""

    Meta = table_meta("events")

    event_id = UnicodeAttribute(hash_key=True)
    visibility = UnicodeAttribute(null=True)
    public_type = UnicodeAttribute(null=True)


def backfill_public_types() -> int:
    """Operator backfill (``python -m chalicelib.cli backfill-event-types``), never on a request path: give every
    public event written before ``public_by_type`` existed its ``public_type`` (``public#<event_type or
    other>``), so the type filter finds it. A Scan, the one place that walks the table; each write is
    conditioned on the event still being public and still without one. Returns how many it set."""
    count = 0
    missing = Event.visibility == "public"
    for event in Event.scan(missing & Event.public_type.does_not_exist()):
        key = f"{PUBLIC_BUCKET}#{event.event_type or DEFAULT_EVENT_TYPE}"
        try:
            _EventTypeKey(event_id=event.event_id).update(
                actions=[_EventTypeKey.public_type.set(key)],
                condition=(_EventTypeKey.visibility == "public") & _EventTypeKey.public_type.does_not_exist(),
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
            continue  # changed meanwhile: its PATCH wrote the index attributes
        count += 1
    return count
