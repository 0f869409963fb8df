"""Ratings between attendees, and the reputation a profile shows (docs/ratings.md).

A user may rate another (1..5, with an optional reference) for an event when:
- both went to it: each is its host or had RSVP ``going`` (``rsvp.attended``); otherwise 403 ``not_attended``;
- it has ended (``rsvp.ended_at``: ``ends_at``, else ``starts_at`` + 24 h; an event with neither never ends),
  otherwise 409 ``event_not_ended``;
- the rater may read the event (else 404), is not the rated user (400), and neither blocked the other
  (403 ``blocked``);
- the rater has not rated this user for this event before (409 ``already_rated``).
The rating row and the rated user's aggregates (count, sum) commit in one transaction (``models/ratings.py``).

Reputation is read from the user's own row (one GetItem, no query): ``average`` (sum / count, 2 decimals),
``count``, ``events_hosted``, ``events_attended`` and the trust level of :data:`TRUST_LEVELS`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from chalicelib.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from chalicelib.models import ratings as store
from chalicelib.models.base import iso, now
from chalicelib.models.ratings import Rating
from chalicelib.pagination import decode, page
from chalicelib.services import accounts, blocks, rsvp
from chalicelib.services import events as events_service


class TrustLevel(NamedTuple):
    level: int
    title: str
    min_ratings: int
    min_average: float


# The trust table: a user holds the highest level whose minimum number of ratings received AND minimum
# average rating they both meet. docs/ratings.md shows the same table.
TRUST_LEVELS: tuple[TrustLevel, ...] = (
    TrustLevel(0, "Newcomer", 0, 0.0),
    TrustLevel(1, "Participant", 1, 3.0),
    TrustLevel(2, "Trusted", 5, 4.0),
    TrustLevel(3, "Leader", 20, 4.5),
)


def trust_level(count: int, average: float | None) -> TrustLevel:
    """The highest level of TRUST_LEVELS that ``count`` ratings averaging ``average`` reach (a pure rule)."""
    reached = TRUST_LEVELS[0]
    for level in TRUST_LEVELS:
        if count >= level.min_ratings and (level.min_ratings == 0 or (average or 0.0) >= level.min_average):
            reached = level
    return reached


def _count(value: Any) -> int:
    return max(0, int(value or 0))


def reputation(user: Any) -> dict[str, Any]:
    """The reputation of a user row already read (its counters; no query)."""
    count, total = _count(user.rating_count), _count(user.rating_sum)
    average = round(total / count, 2) if count else None
    level = trust_level(count, average)
    return {
        "average": average,
        "count": count,
        "trust_level": {"level": level.level, "title": level.title},
        "events_hosted": _count(user.events_hosted),
        "events_attended": _count(user.events_attended),
    }


def _existing_user(id_or_username: str) -> Any:
    user = accounts.public_profile(id_or_username)
    if user.deleted:
        raise NotFoundError("No such user.")
    return user


def rate(principal: Any, rated: str, event_id: str, rating: int, reference: str | None) -> Rating:
    """``principal`` rates the user ``rated`` (an id or a username) for ``event_id``; the stored rating."""
    rater_id = principal.user_id
    rated_id = _existing_user(rated).user_id
    if rated_id == rater_id:
        raise ValidationError("You cannot rate yourself.", details={"user_id": "is you"})
    event = events_service.require_readable(principal, event_id)
    blocks.require_not_blocked(rater_id, rated_id, "You cannot rate this user.")
    if not rsvp.attended(event, rater_id):
        raise ForbiddenError(
            "Only those who went to the event may rate its attendees.",
            code="not_attended",
            details={"event_id": "you did not go to this event"},
        )
    if not rsvp.attended(event, rated_id):
        raise ForbiddenError(
            "That user did not go to this event.",
            code="not_attended",
            details={"user_id": "did not go to this event"},
        )
    if not rsvp.has_ended(event):
        end = rsvp.ended_at(event)
        when = f" (it ends at {iso(end)})" if end else " (it has no end time)"
        raise ConflictError(f"Rate attendees once the event has ended{when}.", code="event_not_ended")
    row = Rating(
        rated_id=rated_id,
        rating_key=store.rating_key(event.event_id, rater_id),
        rater_id=rater_id,
        event_id=event.event_id,
        rating=rating,
        reference=reference or None,
        created_at=now(),
    )
    store.add_rating(row)
    return row


def ratings_of(rated: str, limit: int, cursor: str | None) -> tuple[list[Rating], str | None]:
    """The ratings a user (an id or a username) received, newest first (404 if there is no such user)."""
    rated_id = _existing_user(rated).user_id
    key = f"ratings:{rated_id}"
    return page(key, store.ratings_of(rated_id, limit, decode(key, cursor)), limit)


# ---- background jobs (chalicelib/jobs/registry.py) ----------------------------------------------------------


def on_user_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``user.deleted``: the ratings the user received (those they gave stay, shown from a deleted user)."""
    return {} if store.delete_ratings_of(payload["user_id"], limit) >= limit else None
