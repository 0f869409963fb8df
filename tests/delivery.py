"""Paid orders for the delivery tests (receipts, invoices, archives, downloads), made the way checkout leaves them.

Until checkout's cart and payment flow is on this branch, ``paid_order`` writes what a paid order is in
DynamoDB (an Order with its OrderLines ``available``/``pending``, one SellerOrder per seller, the buyer's
Purchase grants) over real photos (uploaded and processed, so their variants are in moto S3), and
``publish_paid`` publishes ``order.paid`` with the registry's payload.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tests.pipeline import jpeg, upload


def photo(api, seller: dict, *, caption: str | None = None, size: tuple[int, int] = (640, 480)) -> str:
    return upload(api, seller["access"], jpeg(*size), caption=caption)


def line(
    item_id: str,
    photo_id: str,
    seller: dict,
    *,
    kind: str = "digital",
    variant: str | None = "original",
    title: str | None = None,
    label: str | None = None,
    quantity: int = 1,
    unit_price_cents: int = 1500,
    status: str | None = None,
) -> dict:
    return {
        "item_id": item_id,
        "photo_id": photo_id,
        "seller_id": seller["id"],
        "title": title,
        "sku": f"{kind}-{variant or 'print'}",
        "kind": kind,
        "label": label or ("Full resolution, personal licence" if kind == "digital" else "8x10 print, lustre"),
        "quantity": quantity,
        "unit_price_cents": unit_price_cents,
        "line_total_cents": unit_price_cents * quantity,
        "variant": variant if kind == "digital" else None,
        "license": "personal" if kind == "digital" else None,
        "width_in": 8 if kind == "print" else None,
        "height_in": 10 if kind == "print" else None,
        "paper": "lustre" if kind == "print" else None,
        "frame": "none" if kind == "print" else None,
        "fulfilment": "self" if kind == "print" else None,
        "status": status or ("available" if kind == "digital" else "pending"),
    }


def paid_order(
    buyer: dict,
    lines: list[dict],
    *,
    currency: str = "eur",
    tax_cents: int = 0,
    shipping_cents: int = 0,
    paid: bool = True,
    order_id: str | None = None,
):
    from chalicelib.models.base import new_id
    from chalicelib.models.orders import Order, OrderLine, Purchase, SellerOrder

    order_id = order_id or new_id("o_")
    subtotal = sum(item["line_total_cents"] for item in lines)
    sellers = list(dict.fromkeys(item["seller_id"] for item in lines))
    paid_at = datetime(2026, 11, 30, 10, 15, 0, tzinfo=UTC)
    order = Order(
        order_id=order_id,
        buyer_id=buyer["id"],
        status="paid" if paid else "awaiting_payment",
        currency=currency,
        items=[OrderLine(**item) for item in lines],
        seller_ids=sellers,
        subtotal_cents=subtotal,
        tax_cents=tax_cents,
        shipping_cents=shipping_cents,
        total_cents=subtotal + tax_cents + shipping_cents,
        payment_intent_id=f"pi_{order_id}",
        payment_status="succeeded" if paid else "requires_payment_method",
        paid_at=paid_at if paid else None,
    )
    if not paid:
        for item in order.items:
            item.status = "pending"
    order.save()
    for seller_id in sellers:
        SellerOrder(seller_id=seller_id, order_id=order_id, buyer_id=buyer["id"], status=order.status).save()
    if paid:
        for item in lines:
            if item["kind"] != "digital":
                continue
            try:
                purchase = Purchase.get(buyer["id"], item["photo_id"])
            except Purchase.DoesNotExist:
                purchase = Purchase(buyer_id=buyer["id"], photo_id=item["photo_id"], items={})
            grants = purchase.items.as_dict() if purchase.items else {}
            grants[f"{order_id}:{item['item_id']}"] = {
                "sku": item["sku"],
                "variant": item["variant"],
                "state": "active",
            }
            purchase.items = grants
            purchase.save()
    return Order.get(order_id)


def publish_paid(order) -> bool:
    """Publish ``order.paid`` for an order written directly, with the payload checkout publishes."""
    from chalicelib import jobs
    from chalicelib.services.checkout import paid_event

    return jobs.publish("order.paid", f"order.paid:{order.order_id}", paid_event(order))


def refund_items(order, item_ids: list[str], *, reason: str = "requested_by_customer", refund_id: str = "r_1"):
    """What a succeeded refund of some items leaves (the refunds area's job): a Refund row with the allocation,
    the items ``refunded``, the purchase grants ``refunded``, the order's refunded total."""
    from chalicelib.models.orders import Order, Purchase, Refund

    order = Order.get(order.order_id)
    allocations = {i.item_id: int(i.line_total_cents) for i in order.items if i.item_id in item_ids}
    amount = sum(allocations.values())
    Refund(
        order_id=order.order_id,
        refund_id=refund_id,
        amount_cents=amount,
        currency=order.currency,
        allocations=allocations,
        reason=reason,
        status="succeeded",
        created_at=datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC),
    ).save()
    for item in order.items:
        if item.item_id in item_ids:
            item.status = "refunded"
            item.refunded_cents = int(item.line_total_cents)
            purchase = Purchase.get(order.buyer_id, item.photo_id)
            grants = purchase.items.as_dict()
            grants[f"{order.order_id}:{item.item_id}"]["state"] = "refunded"
            purchase.items = grants
            purchase.save()
    order.refunded_cents = int(order.refunded_cents or 0) + amount
    order.status = "refunded" if order.refunded_cents >= order.total_cents else "partially_refunded"
    order.save()
    return Order.get(order.order_id)
