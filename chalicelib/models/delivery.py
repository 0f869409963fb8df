"""Delivery of paid orders: per-seller invoice counters, once-only delivery marks, download counters.

Access patterns (no Scan; every one is a key lookup):
- the next invoice number of a seller ........ InvoiceCounters UpdateItem(seller_id) in ONE transaction with the
                                               order's ``invoice_numbers[seller_id]`` (both conditional): see
                                               :func:`take_invoice_number`
- was this delivery already done? ............ DeliveryMarks conditional PutItem(mark_key) (``receipt:<order_id>``),
                                               DeleteItem to undo a send that failed; TTL
- count a download of an order item .......... Downloads UpdateItem(order_id, item_id) ADD downloads
- download counts of an order ................ Downloads Query(order_id)
- an order, its refunds ....................... Orders GetItem(order_id) (consistent), Refunds Query(order_id)
"""

from __future__ import annotations

from datetime import timedelta

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.models.base import (
    PutError,
    TransactWriteError,
    UpdateError,
    cancellation_codes,
    condition_failed,
    connection,
    now,
    register,
    table_meta,
)
from chalicelib.models.orders import Order

MARK_RETENTION = timedelta(days=400)  # longer than any redelivery of the job that made the mark


@register
class InvoiceCounter(Model):
    """The last invoice number a seller issued (numbers are 1, 2, 3 ... per seller, without gaps)."""

    Meta = table_meta("invoice_counters")

    seller_id = UnicodeAttribute(hash_key=True)
    last_number = NumberAttribute(default=0)
    updated_at = UTCDateTimeAttribute(default=now)


@register
class DeliveryMark(Model):
    """Something done once per cause, e.g. ``receipt:<order_id>`` (the buyer's receipt email was sent)."""

    Meta = table_meta("delivery_marks")

    mark_key = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(default=now)
    expires_at = TTLAttribute(null=True)


@register
class DownloadCount(Model):
    """How often an order item's file was fetched through ``GET /orders/{o}/items/{i}/download``."""

    Meta = table_meta("downloads")

    order_id = UnicodeAttribute(hash_key=True)
    item_id = UnicodeAttribute(range_key=True)
    downloads = NumberAttribute(default=0)
    last_at = UTCDateTimeAttribute(null=True)


# ---- invoice numbers ---------------------------------------------------------------------------------------


def invoice_counter(seller_id: str) -> int:
    try:
        return int(InvoiceCounter.get(seller_id, consistent_read=True).last_number or 0)
    except InvoiceCounter.DoesNotExist:
        return 0


def take_invoice_number(order: Order, seller_id: str, last: int) -> bool:
    """Give ``order`` the seller's number ``last + 1`` in one transaction: the counter moves from ``last`` (or is
    created, when ``last`` is 0) and the order's ``invoice_numbers[seller_id]`` is set only if it has none. False
    if either condition failed (another order took that number, or this order got its number concurrently): the
    caller re-reads and tries again. Nothing else of the order is touched (no version condition), so a concurrent
    status change never costs a number."""
    number = last + 1
    counter = InvoiceCounter(seller_id=seller_id)
    counter_condition = InvoiceCounter.seller_id.does_not_exist() if last == 0 else InvoiceCounter.last_number == last
    slot = Order.invoice_numbers[seller_id]
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(
                counter,
                actions=[InvoiceCounter.last_number.set(number), InvoiceCounter.updated_at.set(now())],
                condition=counter_condition,
            )
            tx.update(
                unlocked(order.order_id),
                actions=[slot.set(number)],
                condition=Order.order_id.exists() & slot.does_not_exist(),
                add_version_condition=False,
            )
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" in cancellation_codes(exc):
            return False
        if getattr(exc, "cause_response_code", None) == "ValidationException" and _add_invoice_map(order.order_id):
            return False  # the order had no invoice_numbers map to set a key in: it has one now, retry
        raise
    return True


def _add_invoice_map(order_id: str) -> bool:
    """Give an order stored without ``invoice_numbers`` an empty map; False if it has one (or is gone)."""
    try:
        unlocked(order_id).update(
            actions=[Order.invoice_numbers.set({})],
            condition=Order.order_id.exists() & Order.invoice_numbers.does_not_exist(),
            add_version_condition=False,
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def unlocked(order_id: str) -> Order:
    """An order key for an update without the version condition: PynamoDB still bumps ``version`` (ADD 1, so
    other writers holding the old version retry), where a bare ``Order(order_id=...)`` would SET it to 1."""
    return Order(order_id=order_id, version=0)


# ---- once-only marks ---------------------------------------------------------------------------------------


def claim_mark(key: str) -> bool:
    """Write the mark unless it exists; True if this call wrote it."""
    row = DeliveryMark(mark_key=key, expires_at=now() + MARK_RETENTION)
    try:
        row.save(condition=DeliveryMark.mark_key.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def release_mark(key: str) -> None:
    DeliveryMark(mark_key=key).delete()


# ---- download counters -------------------------------------------------------------------------------------


def count_download(order_id: str, item_id: str) -> None:
    DownloadCount(order_id=order_id, item_id=item_id).update(
        actions=[DownloadCount.downloads.add(1), DownloadCount.last_at.set(now())]
    )


def download_counts(order_id: str) -> dict[str, int]:
    """item id -> downloads, one Query (an order has at most ``MAX_ORDER_ITEMS`` items)."""
    return {row.item_id: int(row.downloads or 0) for row in DownloadCount.query(order_id)}


# ---- orders as delivery reads them -------------------------------------------------------------------------


def get_order(order_id: str, *, consistent: bool = True) -> Order | None:
    try:
        return Order.get(order_id, consistent_read=consistent)
    except Order.DoesNotExist:
        return None


def refunds_of(order_id: str) -> list:
    """The order's refunds, oldest first (one Query: ids are time-sortable)."""
    from chalicelib.models.orders import Refund

    return list(Refund.query(order_id))
