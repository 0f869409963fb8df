"""Ratings between attendees of the same event, and the aggregates on the rated user's row.

Access patterns (every listing is a Query on a key or an index):
- has R rated U for event E ........ Ratings GetItem(rated_id, rating_key = "<event_id>#<rater_id>"); the key
                                     makes "once per (rater, rated, event)" a condition (attribute_not_exists)
- ratings a user received, newest .. Ratings GSI recent (rated_id, created_at)
- a deleted user's ratings ......... Ratings Query(rated_id), keys only

The rated user's ``users.rating_count`` and ``users.rating_sum`` are ADDed in the same TransactWrite that puts
the rating row under its condition, so a repeated rating counts nothing and many raters at once count exactly.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.models.base import commit, now, register, table_meta
from chalicelib.models.rsvp import FAILED
from chalicelib.models.users import User


class RatingsRecent(GlobalSecondaryIndex):
    class Meta:
        index_name = "recent"
        projection = AllProjection()

    rated_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


@register
class Rating(Model):
    """``rater_id`` rated ``rated_id`` (1..5) for having been at ``event_id`` together."""

    Meta = table_meta("ratings")

    rated_id = UnicodeAttribute(hash_key=True)
    rating_key = UnicodeAttribute(range_key=True)  # "<event_id>#<rater_id>"
    rater_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    rating = NumberAttribute()
    reference = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute(default=now)

    recent = RatingsRecent()


def rating_key(event_id: str, rater_id: str) -> str:
    return f"{event_id}#{rater_id}"


def add_rating(rating: Rating) -> None:
    """Store the rating and add it to the rated user's count and sum, atomically. 409 ``already_rated`` (and
    nothing changed) if this rater rated this user for this event before; 404 if the rated user is gone."""

    def build(tx: TransactWrite) -> None:
        tx.save(rating, condition=Rating.rating_key.does_not_exist())
        tx.update(
            User(user_id=rating.rated_id),
            actions=[User.rating_count.add(1), User.rating_sum.add(int(rating.rating))],
            condition=User.user_id.exists(),
        )

    codes = commit(build, "The user is busy; retry.")
    if not codes:
        return
    if codes[0] == FAILED:
        raise ConflictError(
            "You already rated this user for this event.",
            code="already_rated",
            details={"event_id": "already rated for this event"},
        )
    raise NotFoundError("No such user.")


def ratings_of(rated_id: str, limit: int | None = None, last_key: dict | None = None):
    return Rating.recent.query(rated_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def delete_ratings_of(rated_id: str, limit: int | None = None) -> int:
    """Delete up to ``limit`` of the ratings a (deleted) user received; returns how many there were."""
    rows = list(Rating.query(rated_id, attributes_to_get=["rated_id", "rating_key"], limit=limit))
    with Rating.batch_write() as batch:
        for row in rows:
            batch.delete(row)
    return len(rows)
