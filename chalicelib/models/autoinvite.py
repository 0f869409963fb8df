"""The auto-invite index: who wants to be invited to events about a term near a place.

A user who opted in (``User.auto_invite``) with interests, a home and a radius has one row per
(interest term, geohash cell of the cover of their circle): the circle around their home of their own radius is
covered by at most a few cells at the finest precision that allows it (``geo.cells_for_radius``, precision
2..6), so a wide radius is indexed in coarse cells and a small one in fine cells. An event at point E finds
every user whose circle may contain E with one Query per (tag, precision): the key ``<term>#<E's geohash
prefix of that precision>``; each candidate row carries the home and radius, so the exact distance check needs
no further read.

Access patterns:
- users indexed under a term in a cell ....... InterestCells Query(cell_key = "<term>#<geohash prefix>")
- a user's index rows (re-indexing) .......... InterestCells GSI by_user (user_id, cell_key), keys only
"""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.models.base import register, table_meta

PRECISIONS = (2, 3, 4, 5, 6)  # the cover of a circle of 1..500 km uses one of these


class CellsByUser(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_user"
        projection = KeysOnlyProjection()

    user_id = UnicodeAttribute(hash_key=True)
    cell_key = UnicodeAttribute(range_key=True)


@register
class InterestCell(Model):
    Meta = table_meta("interest_cells")

    cell_key = UnicodeAttribute(hash_key=True)  # "<term>#<geohash prefix>"
    user_id = UnicodeAttribute(range_key=True)
    home_lat = NumberAttribute()
    home_lon = NumberAttribute()
    radius_km = NumberAttribute()

    by_user = CellsByUser()


def cell_key(term: str, prefix: str) -> str:
    return f"{term}#{prefix}"


def users_in(key: str, limit: int | None = None, last_key: dict | None = None):
    return InterestCell.query(key, limit=limit, last_evaluated_key=last_key)


def keys_of_user(user_id: str) -> list[str]:
    return [row.cell_key for row in InterestCell.by_user.query(user_id)]


def replace_rows(user_id: str, stale: Iterable[str], rows: Iterable[InterestCell]) -> None:
    """Delete the user's ``stale`` keys and put ``rows`` (batch writes of 25; puts overwrite: idempotent)."""
    with InterestCell.batch_write() as batch:
        for key in stale:
            batch.delete(InterestCell(cell_key=key, user_id=user_id))
        for row in rows:
            batch.save(row)
