"""/users/{user_id}/ratings: attendees of the same event rating each other, and the ratings a user received.

The rules (who may rate whom, when) and the trust table are in ``services/ratings.py`` (docs/ratings.md).
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from pydantic import AfterValidator, Field

from chalicelib.api.events import Description, EventUserOut
from chalicelib.api.routing import Ctx, PublicCtx, route
from chalicelib.api.schema_base import Body, Out, Page, PageQuery
from chalicelib.models.base import iso
from chalicelib.models.ratings import Rating
from chalicelib.services import accounts
from chalicelib.services import events as events_service
from chalicelib.services import ratings as ratings_service
from chalicelib.services.users_view import avatar_urls

TAGS = ("users",)


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("must not be blank")
    return value


class RatingIn(Body):
    event_id: Annotated[str, Field(min_length=1, max_length=64)]
    rating: Annotated[int, Field(ge=1, le=5, description="1 (poor) to 5 (excellent)")]
    reference: Annotated[Description, Field(max_length=500), AfterValidator(_not_blank)] | None = Field(
        None, description="A few words about the person (up to 500 characters)"
    )


class TrustLevelOut(Out):
    level: int
    title: str


class ReputationOut(Out):
    average: float | None = Field(description="Mean rating received (2 decimals); null before the first")
    count: int = Field(description="Ratings received")
    trust_level: TrustLevelOut
    events_hosted: int
    events_attended: int = Field(description="Events the user RSVPed going to, upcoming ones included")


class RatedEventOut(Out):
    id: str
    name: str


class RatingOut(Out):
    id: str = Field(description="Stable and opaque")
    rater: EventUserOut
    rated_id: str
    event: RatedEventOut | None = Field(
        description="null when the caller may not read the event (private, or deleted): not even its id is shown"
    )
    rating: int
    reference: str | None
    created_at: str


def rating_id(row: Rating) -> str:
    """Stable and opaque: the row's key holds the event's id, which not every reader may see."""
    return "r_" + hashlib.sha256(f"{row.rated_id}.{row.rating_key}".encode()).hexdigest()[:24]


def _outs(rows: list[Rating], principal) -> list[RatingOut]:
    """Raters in one BatchGetItem (and their avatars in one more), events in one, the caller's roles in one;
    a private (or deleted) event only for those who may read it."""
    raters = accounts.users_by_ids([r.rater_id for r in rows])
    avatars = avatar_urls(u for u in raters.values() if u is not None)
    events = events_service.events_by_ids([r.event_id for r in rows])
    roles = events_service.roles_in(list(events.values()), principal)
    staff = bool(principal) and principal.is_staff

    def shown(event_id: str) -> RatedEventOut | None:
        event = events.get(event_id)
        if event is None or (event.visibility == "private" and roles.get(event_id) is None and not staff):
            return None
        return RatedEventOut(id=event.event_id, name=event.name)

    return [
        RatingOut(
            id=rating_id(r),
            rater=EventUserOut.of(raters.get(r.rater_id), r.rater_id, avatars),
            rated_id=r.rated_id,
            event=shown(r.event_id),
            rating=int(r.rating),
            reference=r.reference,
            created_at=iso(r.created_at) or "",
        )
        for r in rows
    ]


@route(
    "/users/{user_id}/ratings",
    "POST",
    body=RatingIn,
    response=RatingOut,
    status=201,
    tags=TAGS,
    responses=(400, 401, 403, 404, 409),
    idempotency="accepted",
)
def rate_user(ctx: Ctx[RatingIn], user_id: str) -> RatingOut:
    """Rate a user you went to an ended event with (1..5, once per event); both must have gone."""
    b = ctx.body
    row = ratings_service.rate(ctx.principal, user_id, b.event_id, b.rating, b.reference)
    return _outs([row], ctx.principal)[0]


@route(
    "/users/{user_id}/ratings",
    "GET",
    query=PageQuery,
    response=Page[RatingOut],
    auth="optional",
    tags=TAGS,
    responses=(400, 401, 404),
)
def list_ratings(ctx: PublicCtx[None, PageQuery], user_id: str) -> Page[RatingOut]:
    """The ratings a user received, newest first."""
    rows, cursor = ratings_service.ratings_of(user_id, ctx.query.limit, ctx.query.cursor)
    return Page[RatingOut](items=_outs(rows, ctx.principal), next_cursor=cursor)
