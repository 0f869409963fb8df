"""The counters the staff users listing shows on each user row (``User.photo_count``, ``User.orders_count``), so
a page reads them with its BatchGet: bounded work per listed user, never a count query.

- ``photo_count``: a photo is counted when it becomes ready (the ``photo.ready`` job) and uncounted when it is
  purged; the photo's ``owner_counted`` mark and the counter change in one transaction, so a redelivered job
  counts nothing and a photo is never uncounted twice;
- ``orders_count``: an order is counted for its buyer when it is paid (the ``order.paid`` job), with its
  ``StatMark`` row in the same transaction.

Photos and orders from before these counters are not in them: ``python -m chalicelib.cli`` has no backfill yet
(docs/moderation.md says how one would run: per user, a ``Photo.by_owner`` Query and the orders by buyer).
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.models.base import at_epoch, cancellation_codes, connection, epoch
from chalicelib.models.moderation import StatMark
from chalicelib.models.photos import READY, Photo
from chalicelib.models.users import User

MARK_RETENTION_SECONDS = 60 * 24 * 3600


def _transact(write: Any) -> bool:
    try:
        with TransactWrite(connection=connection()) as tx:
            write(tx)
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" in cancellation_codes(exc):
            return False
        raise
    return True


def count_photo(photo_id: str, owner_id: str) -> bool:
    def write(tx: TransactWrite) -> None:
        tx.update(
            Photo(photo_id=photo_id),
            actions=[Photo.owner_counted.set(True)],
            condition=Photo.photo_id.exists() & Photo.owner_counted.does_not_exist() & (Photo.status == READY),
        )
        tx.update(User(user_id=owner_id), actions=[User.photo_count.add(1)], condition=User.user_id.exists())

    return _transact(write)


def uncount_photo(photo_id: str, owner_id: str) -> None:
    """Before a photo is deleted: out of the owner's count if it is in it, and marked so that a late
    ``photo.ready`` never counts it (as ``creators.uncount_post``)."""

    def counted(tx: TransactWrite) -> None:
        tx.update(
            Photo(photo_id=photo_id),
            actions=[Photo.owner_counted.set(False)],
            condition=Photo.owner_counted == True,  # noqa: E712  (a PynamoDB condition, not a comparison)
        )
        tx.update(User(user_id=owner_id), actions=[User.photo_count.add(-1)], condition=User.user_id.exists())

    def never(tx: TransactWrite) -> None:
        tx.update(
            Photo(photo_id=photo_id),
            actions=[Photo.owner_counted.set(False)],
            condition=Photo.photo_id.exists() & Photo.owner_counted.does_not_exist(),
        )

    for write in (counted, never, counted):
        if _transact(write):
            return


def on_photo_ready(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``photo.ready``: count the photo in its owner's ``photo_count``, once."""
    count_photo(payload["photo_id"], payload["owner_id"])
    return None


def on_order_paid(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``order.paid``: count the order in its buyer's ``orders_count``, once (the mark and the counter together)."""
    mark = StatMark(mark=f"order:{payload['order_id']}", expires_at=at_epoch(epoch() + MARK_RETENTION_SECONDS))

    def write(tx: TransactWrite) -> None:
        tx.save(mark, condition=StatMark.mark.does_not_exist())
        tx.update(
            User(user_id=payload["buyer_id"]), actions=[User.orders_count.add(1)], condition=User.user_id.exists()
        )

    _transact(write)
    return None
