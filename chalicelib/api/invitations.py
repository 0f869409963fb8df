"""Event invitations: /events/{id}/invitations (the owner invites by username), /invitations (the caller's
pending ones) and /invitations/{event_id}/accept|decline."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from chalicelib.api.events import EventUserOut, LocationOut, Visibility
from chalicelib.api.routing import Ctx, route
from chalicelib.api.schema_base import Body, Out, Page, PageQuery, Username
from chalicelib.models.base import iso
from chalicelib.models.invitations import Invitation
from chalicelib.services import accounts, invitations
from chalicelib.services.events import events_by_ids
from chalicelib.services.users_view import avatar_urls

TAGS = ("invitations",)
MAX_INVITES = 100

SkipReason = Literal["unknown_user", "owner", "already_member", "already_invited", "declined", "unavailable"]


class InviteIn(Body):
    usernames: Annotated[list[Username], Field(min_length=1, max_length=MAX_INVITES)]


class SkippedOut(Out):
    username: str
    reason: SkipReason


class InviteOut(Out):
    invited: list[EventUserOut]
    skipped: list[SkippedOut] = Field(description="Usernames not invited, each with why")


class EventSummaryOut(Out):
    id: str
    name: str
    visibility: Visibility
    starts_at: str | None
    ends_at: str | None
    location: LocationOut | None
    owner: EventUserOut


class InvitationOut(Out):
    event: EventSummaryOut
    status: Literal["pending", "accepted", "declined"]
    invited_by: EventUserOut | None = Field(None, description="null: invited automatically (auto-invite)")
    created_at: str


class InvitationStateOut(Out):
    event_id: str
    status: Literal["pending", "accepted", "declined"]
    role: Literal["viewer"] | None = Field(None, description="Your role in the event once accepted")


def _state(row: Invitation) -> InvitationStateOut:
    return InvitationStateOut(
        event_id=row.event_id, status=row.status, role="viewer" if row.status == "accepted" else None
    )


@route(
    "/events/{event_id}/invitations",
    "POST",
    body=InviteIn,
    response=InviteOut,
    status=201,
    tags=TAGS,
    responses=(400, 403, 404),
    idempotency="accepted",
)
def invite(ctx: Ctx[InviteIn], event_id: str) -> InviteOut:
    """Invite up to 100 users by username (the owner); unknown, declined or existing members and users who
    cannot be invited (``unavailable``: a block, either way) are reported in ``skipped``. Each invitee gets an
    ``event_invite`` notification."""
    result = invitations.invite(ctx.principal, event_id, ctx.body.usernames)
    users = result["invited"]
    avatars = avatar_urls(users)
    return InviteOut(
        invited=[EventUserOut.of(u, u.user_id, avatars) for u in users],
        skipped=[SkippedOut(**s) for s in result["skipped"]],
    )


@route("/invitations", "GET", query=PageQuery, response=Page[InvitationOut], tags=TAGS, responses=(400,))
def list_invitations(ctx: Ctx[None, PageQuery]) -> Page[InvitationOut]:
    """The caller's pending invitations, newest first, each with a summary of its event."""
    rows, cursor = invitations.pending(ctx.user_id, ctx.query.limit, ctx.query.cursor)
    events = events_by_ids([r.event_id for r in rows])
    people = accounts.users_by_ids([e.owner_id for e in events.values()] + [r.inviter_id for r in rows if r.inviter_id])
    avatars = avatar_urls(people.values())
    items = []
    for row in rows:
        event = events.get(row.event_id)
        if event is None:
            continue  # deleted: its invitations are being removed
        location = (
            LocationOut(lat=float(event.location_lat), lon=float(event.location_lon), name=event.location_name)
            if event.has_location
            else None
        )
        summary = EventSummaryOut(
            id=event.event_id,
            name=event.name,
            visibility=event.visibility,
            starts_at=iso(event.starts_at),
            ends_at=iso(event.ends_at),
            location=location,
            owner=EventUserOut.of(people.get(event.owner_id), event.owner_id, avatars),
        )
        inviter = EventUserOut.of(people.get(row.inviter_id), row.inviter_id, avatars) if row.inviter_id else None
        items.append(
            InvitationOut(event=summary, status=row.status, invited_by=inviter, created_at=iso(row.created_at))
        )
    return Page[InvitationOut](items=items, next_cursor=cursor)


@route("/invitations/{event_id}/accept", "POST", response=InvitationStateOut, tags=TAGS, responses=(403, 404, 409))
def accept(ctx: Ctx, event_id: str) -> InvitationStateOut:
    """Accept: you become a viewer of the event (accepting again changes nothing)."""
    return _state(invitations.accept(ctx.principal, event_id))


@route("/invitations/{event_id}/decline", "POST", response=InvitationStateOut, tags=TAGS, responses=(404, 409))
def decline(ctx: Ctx, event_id: str) -> InvitationStateOut:
    """Decline: you are not invited to this event again."""
    return _state(invitations.decline(ctx.principal, event_id))
