"""/events/{event_id}/rsvp and /events/{event_id}/attendees: answering an event, and who is coming.

The rules (who may RSVP, capacity, frozen RSVPs after the event) are in ``services/rsvp.py``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.api.events import EventUserOut
from chalicelib.api.routing import Ctx, PublicCtx, route
from chalicelib.api.schema_base import Body, Out, Page, PageQuery
from chalicelib.models.base import iso
from chalicelib.models.events import Event
from chalicelib.models.rsvp import Rsvp
from chalicelib.services import accounts
from chalicelib.services import rsvp as rsvp_service
from chalicelib.services.users_view import avatar_urls

TAGS = ("events",)

Status = Literal["going", "interested"]


class RsvpIn(Body):
    status: Status


class RsvpOut(Out):
    event_id: str
    status: Status
    responded_at: str
    going_count: int
    interested_count: int
    capacity: int | None = Field(description="null: unlimited")

    @classmethod
    def of(cls, row: Rsvp, event: Event) -> RsvpOut:
        going, interested = rsvp_service.counts(event)
        return cls(
            event_id=event.event_id,
            status=row.status,
            responded_at=iso(row.responded_at) or "",
            going_count=going,
            interested_count=interested,
            capacity=int(event.capacity) if event.capacity is not None else None,
        )


class AttendeesQuery(PageQuery):
    status: Status | None = Field(None, description="Only this answer (default: everybody, going first)")


class AttendeeOut(Out):
    user: EventUserOut
    status: Status
    responded_at: str


@route(
    "/events/{event_id}/rsvp",
    "PUT",
    body=RsvpIn,
    response=RsvpOut,
    tags=TAGS,
    responses=(400, 401, 403, 404, 409),
)
def put_rsvp(ctx: Ctx[RsvpIn], event_id: str) -> RsvpOut:
    """Answer an event ``going`` or ``interested`` (again: no change). ``going`` past capacity: 409 ``event_full``."""
    row, event = rsvp_service.set_rsvp(ctx.principal, event_id, ctx.body.status)
    return RsvpOut.of(row, event)


@route("/events/{event_id}/rsvp", "DELETE", status=204, tags=TAGS, responses=(401, 403, 404, 409))
def delete_rsvp(ctx: Ctx, event_id: str) -> None:
    """Withdraw the caller's RSVP (idempotent); a ``going`` seat frees at once."""
    rsvp_service.cancel_rsvp(ctx.principal, event_id)


@route(
    "/events/{event_id}/attendees",
    "GET",
    query=AttendeesQuery,
    response=Page[AttendeeOut],
    auth="optional",
    tags=TAGS,
    responses=(400, 401, 404),
)
def list_attendees(ctx: PublicCtx[None, AttendeesQuery], event_id: str) -> Page[AttendeeOut]:
    """Who answered the event, ``going`` first (or only ``?status=``); the host is the event's ``owner``."""
    q = ctx.query
    rows, cursor = rsvp_service.attendees(ctx.principal, event_id, q.status, q.limit, q.cursor)
    users = accounts.users_by_ids([r.user_id for r in rows])
    avatars = avatar_urls(u for u in users.values() if u is not None)
    items = [
        AttendeeOut(
            user=EventUserOut.of(users.get(r.user_id), r.user_id, avatars),
            status=r.status,
            responded_at=iso(r.responded_at) or "",
        )
        for r in rows
    ]
    return Page[AttendeeOut](items=items, next_cursor=cursor)
