"""/events/*: events (create, list, read, change, delete), their members, and public events near a point.

Reads take an optional bearer token (``auth="optional"``): anonymous callers see public and unlisted events;
with a token the caller also sees the private events they own or belong to, and ``my_role``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from chalicelib.api.routing import Ctx, PublicCtx, route
from chalicelib.api.schema_base import Body, CleanText, Out, Page, PageQuery, Username
from chalicelib.models.base import iso
from chalicelib.models.events import Event, EventMember
from chalicelib.services import accounts
from chalicelib.services import events as events_service
from chalicelib.services.users_view import avatar_url, avatar_urls

TAGS = ("events",)


# ---- schemas -----------------------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    if not 1900 <= value.year <= 2999:
        raise ValueError("must be between the years 1900 and 2999")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text_block(value: str) -> str:
    import unicodedata

    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") and ch not in "\n\t" for ch in value):
        raise ValueError("must not contain control or invisible formatting characters")
    return value.strip()


EventTime = Annotated[datetime, AfterValidator(_utc), Field(description="ISO 8601; no offset means UTC")]
EventName = Annotated[CleanText, Field(min_length=1, max_length=120)]
Description = Annotated[str, Field(max_length=2000), AfterValidator(_text_block)]
Visibility = Literal["public", "unlisted", "private"]
Variants = Literal["full", "watermarked"]
WatermarkText = Annotated[CleanText, Field(max_length=40, description='Text of the watermark; null: "Lightbox"')]
EventType = Literal["study", "party", "business", "other"]
Capacity = Annotated[int, Field(ge=1, le=1_000_000, description="The most attendees `going`; null: unlimited")]


def _terms(values: list[str]) -> list[str]:
    from chalicelib.services.autoinvite import normalise_terms

    return normalise_terms(values)


InterestTerm = Annotated[CleanText, Field(min_length=1, max_length=32)]
InterestTags = Annotated[
    list[InterestTerm],
    Field(max_length=10, description="Up to 10 terms (lower-cased); auto-invite matches users' interests"),
    AfterValidator(_terms),
]


class LocationIn(Body):
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    name: Annotated[CleanText, Field(max_length=120)] | None = None


class _EventBody(Body):
    @field_validator("ends_at", check_fields=False)
    @classmethod
    def _ends_after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        starts_at = info.data.get("starts_at")
        if value is not None and starts_at is not None and value < starts_at:
            raise ValueError("must not be before starts_at")
        return value

    @field_validator("location", mode="wrap", check_fields=False)
    @classmethod
    def _location_errors_under_location(cls, value: Any, handler: Any) -> Any:
        """Report a bad location as one ``location`` problem (naming the sub-fields in the message)."""
        from pydantic import ValidationError as PydanticValidationError

        try:
            return handler(value)
        except PydanticValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in e['loc']) or 'location'}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)
            ]
            raise ValueError("; ".join(problems)) from None


class EventIn(_EventBody):
    name: EventName
    description: Description | None = None
    visibility: Visibility
    starts_at: EventTime | None = None
    ends_at: EventTime | None = None
    location: LocationIn | None = None
    watermark_text: WatermarkText | None = None
    viewer_variants: Variants = Field("full", description="What members see: full-size or watermarked images")
    public_variants: Variants = Field("full", description="What everybody else sees")
    event_type: EventType = "other"
    capacity: Capacity | None = None
    interest_tags: InterestTags | None = None
    auto_invite: bool | None = Field(
        None, description="A public event with a location and interest_tags invites matching users (up to 200)"
    )


class EventPatchIn(_EventBody):
    """Only the fields present change; null clears description, times, location and watermark_text."""

    name: EventName | None = None
    description: Description | None = None
    visibility: Visibility | None = None
    starts_at: EventTime | None = None
    ends_at: EventTime | None = None
    location: LocationIn | None = None
    watermark_text: WatermarkText | None = None
    viewer_variants: Variants | None = None
    public_variants: Variants | None = None
    event_type: EventType | None = None
    capacity: Capacity | None = Field(
        None, description="Null: unlimited. Below going_count: nobody is dropped, nobody new may go"
    )
    interest_tags: InterestTags | None = None
    auto_invite: bool | None = None
    version: int | None = Field(None, description="If given, the change applies only to this version (else 409)")


class EventsQuery(PageQuery):
    scope: Literal["mine", "joined", "public"] = Field("mine", description="Owned, joined, or public events")
    event_type: EventType | None = Field(None, description="Only public events of this type (scope=public)")


class NearbyQuery(PageQuery):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_km: float = Field(10.0, gt=0, le=100, description="Search radius in km (up to 100)")


class MemberIn(Body):
    username: Username
    role: Literal["viewer", "contributor"]


class EventUserOut(Out):
    id: str
    username: str
    display_name: str | None
    avatar_url: str | None = None

    @classmethod
    def of(cls, user, user_id: str, avatars: dict[str, str] | None = None) -> EventUserOut:
        """``avatars``: the listing's avatar URLs read in one batch (``social.avatar_urls``); without it, one
        user's avatar is read on its own."""
        if user is None:
            return cls(id=user_id, username="deleted", display_name="Deleted user")
        url = avatars.get(user.user_id) if avatars is not None else avatar_url(user)
        return cls(id=user.user_id, username=user.username, display_name=user.display_name, avatar_url=url)


class LocationOut(Out):
    lat: float
    lon: float
    name: str | None


class EventOut(Out):
    id: str
    owner: EventUserOut
    name: str
    description: str | None
    visibility: Visibility
    starts_at: str | None
    ends_at: str | None
    location: LocationOut | None
    created_at: str
    updated_at: str
    my_role: Literal["owner", "contributor", "viewer"] | None
    viewer_variants: Variants
    public_variants: Variants
    watermark_text: str | None = Field(None, description="Shown to those who may change the event")
    version: int
    event_type: EventType = "other"
    capacity: int | None = Field(None, description="The most attendees going; null: unlimited")
    going_count: int = 0
    interested_count: int = 0
    like_count: int = 0
    comment_count: int = 0
    interest_tags: list[str] = []
    auto_invite: bool = False

    @classmethod
    def fields_of(
        cls, event: Event, owner, role: str | None, can_edit: bool, avatars: dict[str, str] | None = None
    ) -> dict[str, Any]:
        location = (
            LocationOut(lat=float(event.location_lat), lon=float(event.location_lon), name=event.location_name)
            if event.has_location
            else None
        )
        return dict(
            id=event.event_id,
            owner=EventUserOut.of(owner, event.owner_id, avatars),
            name=event.name,
            description=event.description,
            visibility=event.visibility,
            starts_at=iso(event.starts_at),
            ends_at=iso(event.ends_at),
            location=location,
            created_at=iso(event.created_at),
            updated_at=iso(event.updated_at),
            my_role=role,
            viewer_variants=event.viewer_variants,
            public_variants=event.public_variants,
            watermark_text=event.watermark_text if can_edit else None,
            version=event.version or 1,
            event_type=event.event_type or "other",
            capacity=int(event.capacity) if event.capacity is not None else None,
            going_count=max(0, int(event.going_count or 0)),
            interested_count=max(0, int(event.interested_count or 0)),
            like_count=int(event.like_count or 0),
            comment_count=int(event.comment_count or 0),
            interest_tags=sorted(event.interest_tags or ()),
            auto_invite=bool(event.auto_invite),
        )


class NearbyEventOut(EventOut):
    distance_km: float


class MemberOut(Out):
    user: EventUserOut
    role: Literal["viewer", "contributor"]
    joined_at: str

    @classmethod
    def of(cls, member: EventMember, user, avatars: dict[str, str] | None = None) -> MemberOut:
        return cls(
            user=EventUserOut.of(user, member.user_id, avatars), role=member.role, joined_at=iso(member.joined_at)
        )


# ---- helpers -----------------------------------------------------------------------------------------------


def _fields(pairs: list[tuple[Event, str | None]], principal) -> list[dict[str, Any]]:
    """EventOut fields for each (event, caller's role); owners in one BatchGetItem (none for the caller's own)."""
    known = {principal.user_id: principal.user} if principal else {}
    owners = {**known, **accounts.users_by_ids([e.owner_id for e, _ in pairs if e.owner_id not in known])}
    staff = bool(principal) and principal.is_staff
    avatars = avatar_urls(u for u in owners.values() if u is not None)
    return [EventOut.fields_of(e, owners.get(e.owner_id), role, role == "owner" or staff, avatars) for e, role in pairs]


def _event_out(event: Event, role: str | None, principal) -> EventOut:
    return EventOut(**_fields([(event, role)], principal)[0])


# ---- events ------------------------------------------------------------------------------------------------


@route("/events", "POST", body=EventIn, response=EventOut, status=201, tags=TAGS, responses=(400, 403))
def create_event(ctx: Ctx[EventIn]) -> EventOut:
    """Create an event; the caller owns it."""
    b = ctx.body
    event = events_service.create_event(
        ctx.principal,
        name=b.name,
        visibility=b.visibility,
        description=b.description,
        starts_at=b.starts_at,
        ends_at=b.ends_at,
        location=b.location,
        watermark_text=b.watermark_text,
        viewer_variants=b.viewer_variants,
        public_variants=b.public_variants,
        event_type=b.event_type,
        capacity=b.capacity,
        interest_tags=b.interest_tags,
        auto_invite=b.auto_invite,
    )
    return _event_out(event, "owner", ctx.principal)


@route("/events", "GET", query=EventsQuery, response=Page[EventOut], auth="optional", tags=TAGS, responses=(400, 401))
def list_events(ctx: PublicCtx[None, EventsQuery]) -> Page[EventOut]:
    """The caller's events (scope=mine, the default), events they joined, or public events, newest first."""
    q = ctx.query
    pairs, cursor = events_service.list_events(ctx.principal, q.scope, q.limit, q.cursor, q.event_type)
    return Page[EventOut](items=[EventOut(**f) for f in _fields(pairs, ctx.principal)], next_cursor=cursor)


@route(
    "/events/nearby",
    "GET",
    query=NearbyQuery,
    response=Page[NearbyEventOut],
    auth="optional",
    tags=TAGS,
    responses=(400,),
)
def nearby_events(ctx: PublicCtx[None, NearbyQuery]) -> Page[NearbyEventOut]:
    """Public events within ``radius_km`` of (lat, lon), nearest first, each with ``distance_km``."""
    q = ctx.query
    found, cursor = events_service.nearby(ctx.principal, q.lat, q.lon, q.radius_km, q.limit, q.cursor)
    fields = _fields([(f.event, f.role) for f in found], ctx.principal)
    items = [NearbyEventOut(**f, distance_km=round(hit.distance_km, 3)) for f, hit in zip(fields, found, strict=False)]
    return Page[NearbyEventOut](items=items, next_cursor=cursor)


@route("/events/{event_id}", "GET", response=EventOut, auth="optional", tags=TAGS, responses=(401, 404))
def get_event(ctx: PublicCtx, event_id: str) -> EventOut:
    """One event: public and unlisted ones for anyone, private ones for the owner, members and staff."""
    event, role = events_service.access(ctx.principal, event_id)
    return _event_out(event, role, ctx.principal)


@route("/events/{event_id}", "PATCH", body=EventPatchIn, response=EventOut, tags=TAGS, responses=(400, 403, 404, 409))
def patch_event(ctx: Ctx[EventPatchIn], event_id: str) -> EventOut:
    """Change an event (owner or staff). Fields left out stay as they are."""
    fields = ctx.body.model_fields_set - {"version"}
    changes = {name: getattr(ctx.body, name) for name in fields}
    event, role = events_service.update_event(ctx.principal, event_id, changes, ctx.body.version)
    return _event_out(event, role, ctx.principal)


@route("/events/{event_id}", "DELETE", status=204, tags=TAGS, responses=(403, 404))
def delete_event(ctx: Ctx, event_id: str) -> None:
    """Delete an event (owner or staff) with its photos, their stored files and its members."""
    events_service.delete_event(ctx.principal, event_id)


# ---- members -----------------------------------------------------------------------------------------------


@route(
    "/events/{event_id}/members",
    "GET",
    query=PageQuery,
    response=Page[MemberOut],
    auth="optional",
    tags=TAGS,
    responses=(400, 401, 404),
)
def list_members(ctx: PublicCtx[None, PageQuery], event_id: str) -> Page[MemberOut]:
    """The event's members with their roles (the owner is the event's ``owner``)."""
    members, cursor = events_service.list_members(ctx.principal, event_id, ctx.query.limit, ctx.query.cursor)
    users = accounts.users_by_ids([m.user_id for m in members])
    avatars = avatar_urls(users.values())
    return Page[MemberOut](items=[MemberOut.of(m, users.get(m.user_id), avatars) for m in members], next_cursor=cursor)


@route(
    "/events/{event_id}/members",
    "POST",
    body=MemberIn,
    response=MemberOut,
    status=201,
    tags=TAGS,
    responses=(400, 403, 404, 409),
)
def add_member(ctx: Ctx[MemberIn], event_id: str) -> MemberOut:
    """Add a user by username as viewer or contributor (owner or staff)."""
    member, user = events_service.add_member(ctx.principal, event_id, ctx.body.username, ctx.body.role)
    return MemberOut.of(member, user)


@route("/events/{event_id}/members/{user_id}", "DELETE", status=204, tags=TAGS, responses=(400, 403, 404))
def remove_member(ctx: Ctx, event_id: str, user_id: str) -> None:
    """Remove a member (owner or staff), or leave the event (the member themselves)."""
    events_service.remove_member(ctx.principal, event_id, user_id)
