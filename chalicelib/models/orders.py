"""Orders, their items, the purchases they grant, refunds, and webhook deliveries already applied.

An order holds its items (at most ``MAX_ORDER_ITEMS`` lines, a few hundred bytes each: far below DynamoDB's
400 KB item limit), so an order is never written without its items and every state change of the order or
one of its items is one conditional write of one row (``version``: optimistic locking).

Access patterns (every listing is a Query on a key or an index):
- order by id .................................. Orders GetItem(order_id)
- a buyer's orders, newest first ............... Orders GSI by_buyer (buyer_id, created_at), keys + status
- stale unpaid orders, oldest first ............ Orders GSI by_unpaid (unpaid, expires_at): sparse, keys only;
                                                 ``unpaid`` is set while the order awaits payment
- a seller's orders, newest first .............. SellerOrders Query(seller_id), range order_id (ids are
                                                 time-sortable); one row per seller of an order, written in the
                                                 order's creating transaction, ``status`` kept in step
- what a buyer bought of a page of photos ...... Purchases BatchGet((buyer_id, photo_id) ...)
- a buyer's purchases, newest first ............ Purchases GSI by_buyer_recent (buyer_id, updated_at), keys only
- refunds of an order .......................... Refunds Query(order_id) (``refunds_of``)
- one refund ................................... Refunds GetItem(order_id, refund_id) (``refund_by_id``)
- a webhook delivery already applied? .......... WebhookEvents conditional PutItem(event_key), TTL
- an order's state change (fulfilment) ......... Orders PutItem with the version condition, in a transaction
                                                 with its domain events and its SellerOrders' status
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.models.base import (
    PutError,
    at_epoch,
    condition_failed,
    epoch,
    keys_only_index,
    now,
    register,
    table_meta,
)

MAX_ORDER_ITEMS = 100  # lines per order (a cart line with quantity 3 is one line)
MAX_SELLERS_PER_ORDER = 20  # one SellerOrders row each, in the order's creating transaction

ORDER_STATES = (
    "awaiting_payment",
    "paid",
    "fulfilled",
    "cancelled",
    "partially_refunded",
    "refunded",
    "disputed",
)
DIGITAL_ITEM_STATES = ("pending", "available", "refunded")
PRINT_ITEM_STATES = ("pending", "submitted", "in_production", "shipped", "delivered", "failed", "refunded")
UNPAID = "1"  # the one bucket of the sparse by_unpaid index


class Tracking(MapAttribute[str, Any]):
    carrier = UnicodeAttribute(null=True)
    number = UnicodeAttribute(null=True)
    url = UnicodeAttribute(null=True)


class OrderLine(MapAttribute[str, Any]):
    """One item of an order: a snapshot of what was bought (title, sku, licence, size, unit price)."""

    item_id = UnicodeAttribute()
    photo_id = UnicodeAttribute()
    seller_id = UnicodeAttribute()
    client_id = UnicodeAttribute(null=True)  # the seller's client record of the buyer, when there is one
    title = UnicodeAttribute(null=True)  # the photo's title at the time of the order
    sku = UnicodeAttribute()
    kind = UnicodeAttribute()  # digital | print
    label = UnicodeAttribute()
    quantity = NumberAttribute()
    unit_price_cents = NumberAttribute()
    line_total_cents = NumberAttribute()
    price_sheet_id = UnicodeAttribute(null=True)
    # digital
    variant = UnicodeAttribute(null=True)  # large | original
    license = UnicodeAttribute(null=True)  # personal | commercial
    # print
    width_in = NumberAttribute(null=True)
    height_in = NumberAttribute(null=True)
    paper = UnicodeAttribute(null=True)
    frame = UnicodeAttribute(null=True)
    fulfilment = UnicodeAttribute(null=True)  # lab | self
    lab_order_id = UnicodeAttribute(null=True)
    tracking = Tracking(null=True)
    # state
    status = UnicodeAttribute(default="pending")
    status_at = UTCDateTimeAttribute(null=True)  # when ``status`` was last set (out-of-order callbacks)
    refunded_cents = NumberAttribute(default=0)


class ShippingAddress(MapAttribute[str, Any]):
    name = UnicodeAttribute()
    line1 = UnicodeAttribute()
    line2 = UnicodeAttribute(null=True)
    city = UnicodeAttribute()
    postal_code = UnicodeAttribute()
    country = UnicodeAttribute()


class OrdersByBuyer(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_buyer"
        projection = IncludeProjection(["status"])

    buyer_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


@register
class Order(Model):
    Meta = table_meta("orders")

    order_id = UnicodeAttribute(hash_key=True)
    buyer_id = UnicodeAttribute()
    status = UnicodeAttribute(default="awaiting_payment")
    currency = UnicodeAttribute()
    items = ListAttribute(of=OrderLine, default=list)
    seller_ids = ListAttribute(of=UnicodeAttribute, default=list)
    subtotal_cents = NumberAttribute()
    tax_cents = NumberAttribute(default=0)
    shipping_cents = NumberAttribute(default=0)
    total_cents = NumberAttribute()
    refunded_cents = NumberAttribute(default=0)
    shipping_address = ShippingAddress(null=True)
    payment_intent_id = UnicodeAttribute(null=True)
    payment_status = UnicodeAttribute(null=True)  # the PaymentIntent's status as last read from Stripe
    charge_id = UnicodeAttribute(null=True)
    payment_attempts = NumberAttribute(default=0)  # server-side confirms with a payment method (Stripe keys)
    dispute_id = UnicodeAttribute(null=True)
    dispute_status = UnicodeAttribute(null=True)  # open | won | lost
    status_before_dispute = UnicodeAttribute(null=True)
    pending_refund_id = UnicodeAttribute(null=True)  # the API refund being sent to Stripe (one at a time)
    pending_refund_at = UTCDateTimeAttribute(null=True)  # when it was claimed (a stale claim is taken over)
    archive_status = UnicodeAttribute(null=True)  # building | ready | failed
    archive_key = UnicodeAttribute(null=True)  # the zip's S3 key once ready
    archive_items = UnicodeAttribute(null=True)  # fingerprint of the item set the zip holds
    archive_at = UTCDateTimeAttribute(null=True)  # when archive_status was last set (stale builds, expired zips)
    invoice_numbers: MapAttribute[str, Any] = MapAttribute(default=dict)  # seller_id -> invoice number
    unpaid = UnicodeAttribute(null=True)  # UNPAID while awaiting payment (sparse index by_unpaid)
    created_at = UTCDateTimeAttribute(default=now)
    expires_at = UTCDateTimeAttribute(null=True)  # an unpaid order is cancelled after this
    paid_at = UTCDateTimeAttribute(null=True)
    cancelled_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(default=now)
    version = VersionAttribute()

    by_buyer = OrdersByBuyer()
    by_unpaid = keys_only_index("orders", "by_unpaid", "unpaid", "expires_at")

    def line(self, item_id: str) -> OrderLine | None:
        return next((i for i in self.items if i.item_id == item_id), None)


@register
class SellerOrder(Model):
    """An order as one of its sellers sees it in their listing (one row per seller per order)."""

    Meta = table_meta("seller_orders")

    seller_id = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute(range_key=True)
    buyer_id = UnicodeAttribute()
    status = UnicodeAttribute(default="awaiting_payment")
    client_id = UnicodeAttribute(null=True)  # the seller's client record of the buyer (``?client_id=``, filtered)
    created_at = UTCDateTimeAttribute(default=now)


@register
class Purchase(Model):
    """What one buyer holds of one photo: one entry per paid order item, so a refund of one item ends exactly
    that item's grant. ``items``: ``"<order_id>:<item_id>"`` -> ``{"sku", "variant", "state"}`` where state is
    ``active``, ``suspended`` (a dispute is open) or ``refunded``; a pay-per-view purchase is the entry
    ``"ppv:<purchase_id>"`` -> ``{"kind": "ppv", "state"}`` and grants every full variant."""

    Meta = table_meta("purchases")

    buyer_id = UnicodeAttribute(hash_key=True)
    photo_id = UnicodeAttribute(range_key=True)
    items: MapAttribute[str, Any] = MapAttribute(default=dict)
    updated_at = UTCDateTimeAttribute(default=now)
    # pay-per-view (services/creator_payments.py): the one purchase holding the item now (claimed with a
    # condition before it is booked, removed when it is refunded); its entry is ``ppv:<purchase_id>``
    ppv_id = UnicodeAttribute(null=True)

    by_buyer_recent = keys_only_index("purchases", "by_buyer_recent", "buyer_id", "updated_at")


@register
class Refund(Model):
    Meta = table_meta("refunds")

    order_id = UnicodeAttribute(hash_key=True)
    refund_id = UnicodeAttribute(range_key=True)
    amount_cents = NumberAttribute()
    currency = UnicodeAttribute()
    allocations: MapAttribute[str, Any] = MapAttribute(default=dict)  # item_id -> cents refunded of it
    reason = UnicodeAttribute(null=True)
    source = UnicodeAttribute(default="api")  # api | stripe (made in the Stripe dashboard) | dispute
    stripe_refund_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="pending")  # pending | succeeded | failed
    requested_by = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute(default=now)


def refunds_of(order_id: str) -> list[Refund]:
    """Every refund of an order, oldest first."""
    return sorted(Refund.query(order_id, consistent_read=True), key=lambda r: (r.created_at, r.refund_id))


def refund_by_id(order_id: str, refund_id: str) -> Refund | None:
    try:
        return Refund.get(order_id, refund_id, consistent_read=True)
    except Refund.DoesNotExist:
        return None


@register
class WebhookEvent(Model):
    """A webhook delivery that took effect: ``event_key`` is ``"<source>:<event id>"`` (stripe, print_lab)."""

    Meta = table_meta("webhook_events")

    event_key = UnicodeAttribute(hash_key=True)
    type = UnicodeAttribute(null=True)
    received_at = UTCDateTimeAttribute(default=now)
    expires_at = TTLAttribute(null=True)


# ---- fulfilment (print lab, seller shipping): named access patterns --------------------------------------

WEBHOOK_EVENT_RETENTION_SECONDS = 30 * 24 * 3600  # longer than any sender retries a delivery


def order_by_id(order_id: str) -> Order | None:
    return get_order(order_id, consistent=True)


# ---- access functions (checkout) -------------------------------------------------------------------------


def get_order(order_id: str, consistent: bool = False) -> Order | None:
    try:
        return Order.get(order_id, consistent_read=consistent)
    except Order.DoesNotExist:
        return None


def save_order_in(tx: TransactWrite, order: Order) -> None:
    """Add the order's new state to ``tx``, conditional on the version it was read at (optimistic locking)."""
    order.updated_at = now()
    tx.save(order)


def set_seller_orders_status_in(tx: TransactWrite, order: Order, status: str) -> None:
    """Keep each seller's listing row of ``order`` in step with its status (one update per seller)."""
    for seller_id in order.seller_ids:
        tx.update(
            SellerOrder(seller_id=seller_id, order_id=order.order_id),
            actions=[SellerOrder.status.set(status)],
            condition=SellerOrder.order_id.exists(),
        )


def webhook_event_seen(event_key: str) -> bool:
    try:
        WebhookEvent.get(event_key, consistent_read=True)
    except WebhookEvent.DoesNotExist:
        return False
    return True


def record_webhook_event(event_key: str, type_: str | None) -> bool:
    """Record a delivery that took effect; False if it was recorded already (a concurrent duplicate)."""
    row = WebhookEvent(event_key=event_key, type=type_, expires_at=at_epoch(epoch() + WEBHOOK_EVENT_RETENTION_SECONDS))
    try:
        row.save(condition=WebhookEvent.event_key.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def get_seller_order(seller_id: str, order_id: str) -> SellerOrder | None:
    try:
        return SellerOrder.get(seller_id, order_id)
    except SellerOrder.DoesNotExist:
        return None


def orders_of_buyer(buyer_id: str, status: str | None, limit: int, last_key: dict | None) -> Any:
    condition = Order.status == status if status else None
    return Order.by_buyer.query(
        buyer_id, filter_condition=condition, scan_index_forward=False, limit=limit, last_evaluated_key=last_key
    )


def orders_by_ids(order_ids: list[str]) -> dict[str, Order]:
    ids = list(dict.fromkeys(order_ids))
    return {o.order_id: o for o in Order.batch_get(ids)} if ids else {}


def orders_of_seller(
    seller_id: str, status: str | None, client_id: str | None, limit: int, last_key: dict | None
) -> Any:
    condition = None
    if status:
        condition = SellerOrder.status == status
    if client_id:
        by_client = SellerOrder.client_id == client_id
        condition = by_client if condition is None else condition & by_client
    return SellerOrder.query(
        seller_id, filter_condition=condition, scan_index_forward=False, limit=limit, last_evaluated_key=last_key
    )


def unpaid_due(before: Any, limit: int, last_key: dict | None) -> Any:
    """Orders awaiting payment whose expiry is before ``before``, oldest first (keys only)."""
    return Order.by_unpaid.query(
        UNPAID, range_key_condition=Order.expires_at < before, limit=limit, last_evaluated_key=last_key
    )


def purchases_of(buyer_id: str, photo_ids: list[str]) -> dict[str, Purchase]:
    ids = list(dict.fromkeys(photo_ids))
    return {p.photo_id: p for p in Purchase.batch_get([(buyer_id, i) for i in ids])} if ids else {}
