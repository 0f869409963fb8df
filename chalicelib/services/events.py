"""Events: create, read, list, change and delete events; members; public events near a point.

Who may do what:
- read: public and unlisted events, anyone (also anonymous); private events, the owner, members and staff.
  Everyone else gets 404 for a private event, so its existence does not leak.
- change, delete, add or remove members: the owner and staff. Others get 403 if they can read the event,
  else 404. A member may remove themselves (leave).
- contribute photos: the owner, contributors and staff (viewers 403).

Work that grows with the event runs as background jobs (chalicelib/jobs): deleting an event removes its row
at once and publishes ``event.deleted`` (its photos, files and members go in jobs); a visibility change
publishes ``event.visibility_changed`` (the photos' listing state follows in jobs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypedDict

from chalicelib import geo
from chalicelib.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
    ValidationError,
)
from chalicelib.models import events as store
from chalicelib.models.base import new_id, now
from chalicelib.models.events import Event, EventMember
from chalicelib.models.users import user_by_id, user_id_by_claim
from chalicelib.pagination import decode, encode, page

OWNER = "owner"
MAX_NEARBY_CELLS = 64  # more only near the poles, where the cells narrow to nothing; refused with 400
SCOPES = ("mine", "joined", "public")


class LocationLike(Protocol):
    lat: float
    lon: float
    name: str | None


@dataclass(frozen=True)
class Located:
    event: Event
    role: str | None
    distance_km: float


# ---- reading and permissions -------------------------------------------------------------------------------


def get_event(event_id: str) -> Event | None:
    return store.event_by_id(event_id)


def member_role(event: Event, user_id: str | None) -> str | None:
    """ "owner", "contributor", "viewer", or None for everybody else (and anonymous callers)."""
    if not user_id:
        return None
    if user_id == event.owner_id:
        return OWNER
    member = store.membership(event.event_id, user_id)
    return member.role if member else None


def _is_staff(principal: Any) -> bool:
    return bool(principal) and principal.is_staff


def _readable(event: Event, role: str | None, principal: Any) -> bool:
    return event.visibility != "private" or role is not None or _is_staff(principal)


def _can_manage(event: Event, principal: Any) -> bool:
    return bool(principal) and (principal.user_id == event.owner_id or _is_staff(principal))


def access(principal: Any, event_id: str, *, consistent: bool = False) -> tuple[Event, str | None]:
    """The event and the caller's role in it; 404 if it does not exist or the caller may not read it."""
    event = store.event_by_id(event_id, consistent=consistent)
    role = member_role(event, principal.user_id if principal else None) if event else None
    if event is None or not (_readable(event, role, principal) or _invited(event, principal)):
        raise NotFoundError("No such event.")
    return event, role


def _invited(event: Event, principal: Any) -> bool:
    """A pending invitation lets its invitee read the event (one GetItem, asked only when nothing else does)."""
    from chalicelib.services import invitations

    return bool(principal) and invitations.can_read(event, principal.user_id)


def require_readable(principal: Any, event_id: str) -> Event:
    return access(principal, event_id)[0]


def require_contributor(principal: Any, event_id: str) -> Event:
    event, role = access(principal, event_id)
    if role not in (OWNER, "contributor") and not _is_staff(principal):
        raise ForbiddenError("Only the event's owner and contributors may add photos.")
    return event


def _require_manager(principal: Any, event_id: str) -> tuple[Event, str | None]:
    event, role = access(principal, event_id, consistent=True)
    if not _can_manage(event, principal):
        raise ForbiddenError("Only the event's owner may do this.")
    return event, role


def events_by_ids(event_ids: list[str]) -> dict[str, Event]:
    """Events by id (one BatchGetItem per 100); missing ids are left out. No permission check."""
    return store.events_by_ids(event_ids)


def member_ids(event_id: str) -> list[str]:
    """The owner and every member, for notification fan-out."""
    event = store.event_by_id(event_id)
    if event is None:
        return []
    return [event.owner_id] + [m.user_id for m in store.members_of(event_id) if m.user_id != event.owner_id]


def roles_in(events: list[Event], principal: Any) -> dict[str, str | None]:
    """The caller's role in each event: one BatchGetItem for the events the caller does not own."""
    if not principal:
        return {e.event_id: None for e in events}
    others = [e.event_id for e in events if e.owner_id != principal.user_id]
    members = store.memberships_of_user_in(principal.user_id, others)
    return {
        e.event_id: OWNER
        if e.owner_id == principal.user_id
        else (members[e.event_id].role if e.event_id in members else None)
        for e in events
    }


# ---- create, change, delete --------------------------------------------------------------------------------


def _check_times(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and ends_at < starts_at:
        raise ValidationError(
            "The event cannot end before it starts.", details={"ends_at": "must not be before starts_at"}
        )


class _IndexAttrs(TypedDict):
    geohash: str | None
    geo_cell: str | None
    public_bucket: str | None
    public_type: str | None


def _derived(visibility: str, lat: float | None, lon: float | None, event_type: str | None = None) -> _IndexAttrs:
    """Index attributes: the geo index holds public events with a location, public_recent public events,
    public_by_type public events under their type."""
    public = visibility == "public"
    geohash = geo.encode(lat, lon, store.GEOHASH_PRECISION) if public and lat is not None and lon is not None else None
    return {
        "geohash": geohash,
        "geo_cell": geohash[: store.GEO_CELL_PRECISION] if geohash else None,
        "public_bucket": store.PUBLIC_BUCKET if public else None,
        "public_type": f"{store.PUBLIC_BUCKET}#{event_type or store.DEFAULT_EVENT_TYPE}" if public else None,
    }


def create_event(
    principal: Any,
    *,
    name: str,
    visibility: str,
    description: str | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    location: LocationLike | None = None,
    watermark_text: str | None = None,
    viewer_variants: str = "full",
    public_variants: str = "full",
    event_type: str = store.DEFAULT_EVENT_TYPE,
    capacity: int | None = None,
    interest_tags: list[str] | None = None,
    auto_invite: bool | None = None,
) -> Event:
    if not principal.user.email_verified:
        raise ForbiddenError("Verify your email address first.", code="email_not_verified")
    _check_times(starts_at, ends_at)
    lat, lon = (location.lat, location.lon) if location else (None, None)
    t = now()
    event = Event(
        event_id=new_id("e_"),
        owner_id=principal.user_id,
        name=name,
        description=description or None,
        visibility=visibility,
        starts_at=starts_at,
        ends_at=ends_at,
        location_lat=lat,
        location_lon=lon,
        location_name=location.name if location else None,
        watermark_text=watermark_text or None,
        viewer_variants=viewer_variants,
        public_variants=public_variants,
        event_type=event_type,
        capacity=capacity,
        interest_tags=set(interest_tags) if interest_tags else None,
        auto_invite=auto_invite or None,
        created_at=t,
        updated_at=t,
        **_derived(visibility, lat, lon, event_type),
    )
    store.create_event(event)
    from chalicelib.services import autoinvite

    autoinvite.request(event)
    return event


_PLAIN_FIELDS = (
    "name",
    "description",
    "visibility",
    "starts_at",
    "ends_at",
    "watermark_text",
    "viewer_variants",
    "public_variants",
    "event_type",
    "capacity",  # lowering it below going_count is allowed: nobody is dropped, nobody new gets `going`
    "interest_tags",
    "auto_invite",
)
_REQUIRED_FIELDS = ("name", "visibility", "viewer_variants", "public_variants", "event_type")


def update_event(
    principal: Any, event_id: str, changes: dict[str, Any], expected_version: int | None = None
) -> tuple[Event, str | None]:
    """Apply the given fields (``None`` clears an optional one; ``location`` takes lat/lon/name or None).
    Optimistic locking: a concurrent change (or a stale ``expected_version``) is a 409."""
    event, role = _require_manager(principal, event_id)
    if expected_version is not None and expected_version != event.version:
        raise ConflictError(
            "The event changed since you read it; reload it and retry.",
            code="version_mismatch",
            details={"version": f"current version is {event.version}"},
        )
    nulls = [f for f in _REQUIRED_FIELDS if f in changes and changes[f] is None]
    if nulls:
        raise ValidationError("The request body is not valid.", details={f: "must not be null" for f in nulls})
    _check_times(changes.get("starts_at", event.starts_at), changes.get("ends_at", event.ends_at))
    from chalicelib.services import autoinvite

    if "interest_tags" in changes:
        changes["interest_tags"] = set(changes["interest_tags"] or ()) or None
    if changes.get("auto_invite") is False:
        changes["auto_invite"] = None
    was_auto = autoinvite.qualifies(event)
    actions = []
    for field in _PLAIN_FIELDS:
        if field in changes and changes[field] != getattr(event, field):
            attr = getattr(Event, field)
            actions.append(attr.set(changes[field]) if changes[field] not in (None, "") else attr.remove())
    lat: float | None = event.location_lat
    lon: float | None = event.location_lon
    if "location" in changes:
        loc = changes["location"]
        lat, lon = (loc.lat, loc.lon) if loc else (None, None)
        for attr, value in (
            (Event.location_lat, lat),
            (Event.location_lon, lon),
            (Event.location_name, loc.name if loc else None),
        ):
            actions.append(attr.set(value) if value is not None else attr.remove())
    old_visibility = event.visibility
    new_visibility = changes.get("visibility") or old_visibility
    new_type = changes.get("event_type") or event.event_type
    if actions:
        for name, value in _derived(new_visibility, lat, lon, new_type).items():
            attr = getattr(Event, name)
            actions.append(attr.set(value) if value is not None else attr.remove())
        actions.append(Event.updated_at.set(now()))
        from chalicelib.services import event_updates

        live_version = (event.version or 0) + 1
        live = event_updates.outbox_row(event.event_id, "updated", live_version)
        if new_visibility != old_visibility:
            event = store.update_event_and_publish(
                event,
                actions,
                "event.visibility_changed",
                f"event.visibility_changed:{event.event_id}:{(event.version or 0) + 1}",
                {"event_id": event.event_id},
                also=[live],
            )
        else:
            store.update_event_with_outbox(event, actions, [live])
        event_updates.dispatch(live)
        autoinvite.request(event, was_auto)
        from chalicelib.services import audit

        changed = sorted(f for f in (*_PLAIN_FIELDS, "location") if f in changes)
        audit.staff_action(
            principal, event.owner_id, "event.update", "event", event.event_id, {"fields": changed},
            audit_id=f"event.update:{event.event_id}:{live_version}",
        )  # fmt: skip
    return event, role


def delete_event(principal: Any, event_id: str) -> None:
    from chalicelib.services import event_updates

    event, _ = _require_manager(principal, event_id)
    _delete(event_id)
    event_updates.send_now(event_id, "deleted", [event.owner_id])  # members and invitees: event.deleted jobs
    from chalicelib.services import audit

    details = {"name": event.name}
    audit.staff_action(
        principal, event.owner_id, "event.delete", "event", event_id, details, audit_id=f"event.delete:{event_id}"
    )


def _delete(event_id: str) -> None:
    """The event row goes at once (so its photos, which follow the event's permissions, stop being readable
    by anyone but their owners and staff); ``event.deleted`` removes photos, files and members in jobs. The
    row's deletion and the event's outbox row commit in one transaction, so neither happens without the other
    (the relay sends the event if the process dies before it is dispatched). Idempotent."""
    store.delete_event_and_publish(event_id, "event.deleted", f"event.deleted:{event_id}", {"event_id": event_id})


# ---- background jobs (chalicelib/jobs/registry.py) ----------------------------------------------------------


def on_user_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``user.deleted``: the user's events go (each publishes ``event.deleted`` for its photos and members),
    then the user leaves every other event; a chunk of ``limit`` at a time."""
    user_id = payload["user_id"]
    if (cursor or {}).get("phase") != "memberships":
        owned = list(store.events_of_owner(user_id, limit))
        for event in owned:
            _delete(event.event_id)
        return {"phase": "events" if len(owned) >= limit else "memberships"}
    memberships = list(store.memberships_of_user(user_id, limit))
    for membership in memberships:
        store.remove_member(membership.event_id, user_id)
    return {"phase": "memberships"} if len(memberships) >= limit else None


def on_event_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``event.deleted``: the members of the deleted event (each chunk gets the live ``deleted`` frame first)."""
    from chalicelib.services import event_updates

    def announce(members: list[EventMember]) -> None:
        event_updates.send_now(payload["event_id"], "deleted", [m.user_id for m in members])

    return {} if store.delete_members(payload["event_id"], limit, before=announce) >= limit else None


def on_photo_ready(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``photo.ready``: notify the owner and every member of the photo's event, a page of members per run
    (the cursor is the members query's page key). Notifications are keyed by the photo, so a rerun of a page
    notifies nobody twice."""
    from chalicelib.services import notifications

    event_id = payload.get("event_id")
    event = store.event_by_id(event_id) if event_id else None
    if event is None:
        return None
    state = cursor or {}
    if not state and _is_draft(payload["photo_id"]):
        return None  # nobody hears of a draft; publishing it publishes this again
    recipients = [] if state else [event.owner_id]
    page = store.members_of(event.event_id, limit, state.get("key"))
    members = [m.user_id for m in page]
    recipients += [u for u in members if u != event.owner_id]
    for user_id in recipients:
        notifications.notify(
            user_id,
            "event_photo_added",
            actor_id=payload.get("owner_id"),
            target={"kind": "photo", "id": payload["photo_id"], "event_id": event_id},
            dedupe=payload["photo_id"],
        )
    last = page.last_evaluated_key
    return {"key": last} if len(members) >= limit and last else None


def _is_draft(photo_id: str) -> bool:
    from chalicelib.models.photos import Photo
    from chalicelib.services import photos_access

    try:  # consistent: the job of a photo published just now must see it published
        photo = Photo.get(photo_id, consistent_read=True, attributes_to_get=["photo_id", "published"])
    except Photo.DoesNotExist:
        return False
    return not photos_access.is_published(photo)


# ---- listings ----------------------------------------------------------------------------------------------


def list_events(
    principal: Any, scope: str, limit: int, cursor: str | None, event_type: str | None = None
) -> tuple[list[tuple[Event, str | None]], str | None]:
    """scope "mine" (owned), "joined" (member of, not owned), "public" (public events, newest first);
    ``event_type`` (scope "public" only) reads the public_by_type index, so every page is full."""
    if scope in ("mine", "joined") and not principal:
        raise UnauthorizedError("Log in to list your events.")
    if event_type is not None and scope != "public":
        raise ValidationError(
            "Filter by event_type only with scope=public.", details={"event_type": "needs scope=public"}
        )
    if scope == "mine":
        key = f"events:mine:{principal.user_id}"
        events, next_cursor = page(key, store.events_of_owner(principal.user_id, limit, decode(key, cursor)), limit)
        return [(e, OWNER) for e in events], next_cursor
    if scope == "joined":
        key = f"events:joined:{principal.user_id}"
        members, next_cursor = page(
            key, store.memberships_of_user(principal.user_id, limit, decode(key, cursor)), limit
        )
        found = store.events_by_ids(m.event_id for m in members)
        return [(found[m.event_id], m.role) for m in members if m.event_id in found], next_cursor
    key = f"events:public:{event_type}" if event_type else "events:public"
    found = (
        store.public_events_of_type(event_type, limit, decode(key, cursor))
        if event_type
        else store.public_events(limit, decode(key, cursor))
    )
    events, next_cursor = page(key, found, limit)
    roles = roles_in(events, principal)
    return [(e, roles[e.event_id]) for e in events], next_cursor


def nearby(
    principal: Any, lat: float, lon: float, radius_km: float, limit: int, cursor: str | None
) -> tuple[list[Located], str | None]:
    """Public events within ``radius_km`` of the point, nearest first. Each covering cell is one Query on the
    geo index; the exact distance then filters the candidates. The cursor is an offset into that order."""
    _, cells = geo.cells_for_radius(lat, lon, radius_km)
    if len(cells) > MAX_NEARBY_CELLS:
        raise ValidationError(
            "This close to a pole, search a smaller radius.", details={"radius_km": "too large at this latitude"}
        )
    key = f"events:nearby:{lat!r}:{lon!r}:{radius_km!r}"
    state = decode(key, cursor) or {"offset": 0}
    offset = state.get("offset")
    if not isinstance(offset, int) or offset < 0:
        raise ValidationError("The cursor is invalid.", code="invalid_cursor", details={"cursor": "invalid"})
    found: dict[str, tuple[float, Event]] = {}
    for cell in cells:
        for event in store.public_events_in_cell(cell):
            distance = geo.distance_km(lat, lon, float(event.location_lat), float(event.location_lon))
            if distance <= radius_km and event.visibility == "public":
                found[event.event_id] = (distance, event)
    ordered = sorted(found.values(), key=lambda pair: (pair[0], pair[1].event_id))
    chunk = ordered[offset : offset + limit]
    roles = roles_in([e for _, e in chunk], principal)
    next_cursor = encode(key, {"offset": offset + limit}) if offset + limit < len(ordered) else None
    return [Located(e, roles[e.event_id], d) for d, e in chunk], next_cursor


# ---- members -----------------------------------------------------------------------------------------------


def list_members(principal: Any, event_id: str, limit: int, cursor: str | None) -> tuple[list[EventMember], str | None]:
    access(principal, event_id)
    key = f"events:members:{event_id}"
    return page(key, store.members_of(event_id, limit, decode(key, cursor)), limit)


def add_member(principal: Any, event_id: str, username: str, role: str) -> tuple[EventMember, Any]:
    """Returns the membership and the user."""
    event, _ = _require_manager(principal, event_id)
    user_id = user_id_by_claim("username", username)
    user = user_by_id(user_id) if user_id else None
    if user is None:
        raise NotFoundError("No such user.", details={"username": "no such user"})
    if user.user_id == event.owner_id:
        raise ValidationError("The owner is already part of the event.", details={"username": "is the owner"})
    member = EventMember(event_id=event_id, user_id=user.user_id, role=role, joined_at=now())
    store.add_member(member)
    return member, user


def remove_member(principal: Any, event_id: str, user_id: str) -> None:
    """The owner or staff remove anyone; a member may remove themselves. Their RSVP to a private event goes
    with the membership."""
    event, _ = access(principal, event_id, consistent=True)
    if principal.user_id != user_id and not _can_manage(event, principal):
        raise ForbiddenError("Only the event's owner may remove members.")
    if user_id == event.owner_id:
        raise BadRequestError("The owner cannot leave the event; delete it instead.", code="owner_cannot_leave")
    if not store.remove_member(event_id, user_id):
        raise NotFoundError("That user is not a member of this event.")
    from chalicelib.services import rsvp

    rsvp.access_lost(event, user_id)
