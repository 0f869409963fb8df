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

from chalicelib.models.base import keys_only_index, now, register, table_meta

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
    dispute_id = UnicodeAttribute(null=True)
    dispute_status = UnicodeAttribute(null=True)  # open | won | lost
    status_before_dispute = UnicodeAttribute(null=True)
    pending_refund_id = UnicodeAttribute(null=True)  # the API refund being sent to Stripe (one at a time)
    pending_refund_at = UTCDateTimeAttribute(null=True)  # when it was claimed (a stale claim is taken over)
    archive_status = UnicodeAttribute(null=True)  # building | ready | failed
    archive_key = UnicodeAttribute(null=True)  # the zip's S3 key once ready
    archive_items = UnicodeAttribute(null=True)  # fingerprint of the item set the zip holds
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
    created_at = UTCDateTimeAttribute(default=now)


@register
class Purchase(Model):
    """What one buyer holds of one photo: one entry per paid order item, so a refund of one item ends exactly
    that item's grant. ``items``: ``"<order_id>:<item_id>"`` -> ``{"sku", "variant", "state"}`` where state is
    ``active``, ``suspended`` (a dispute is open) or ``refunded``."""

    Meta = table_meta("purchases")

    buyer_id = UnicodeAttribute(hash_key=True)
    photo_id = UnicodeAttribute(range_key=True)
    items: MapAttribute[str, Any] = MapAttribute(default=dict)
    updated_at = UTCDateTimeAttribute(default=now)

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
