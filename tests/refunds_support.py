"""Refund and dispute tests: a real localstripe (with infrastructure/local/stripe_disputes.py), paid orders.

``stripe`` fixture: checkout's ``stripe_server`` (one localstripe per session, emptied before each test, the app's
environment pointing at it) with helpers for refunds and disputes.

``paid_order(buyer, lines)`` makes a real PaymentIntent in localstripe, confirms it with ``pm_card_visa``, and
writes the Order, its SellerOrders and the buyer's Purchase entries as checkout leaves them after payment.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest


class Stripe:
    def __init__(self, base: str, secret: str) -> None:
        self.base = base
        self.secret = secret
        import stripe

        self.client = stripe.StripeClient(secret, base_addresses={"api": base}, max_network_retries=0)

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.secret}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def reset(self) -> None:
        self.call("DELETE", "/_config/data")

    def events(self, type_: str) -> list[dict]:
        """The events localstripe made of a type, oldest first, as a webhook would carry them (raw JSON)."""
        found = self.call("GET", f"/v1/events?type={type_}&limit=100")["data"]
        return sorted(found, key=lambda e: (e["created"], e["id"]))

    def refunds_of(self, payment_intent_id: str) -> list[dict]:
        return self.call("GET", f"/v1/refunds?payment_intent={payment_intent_id}")["data"]

    def pay(self, amount: int, order_id: str, currency: str = "eur") -> Any:
        pi = self.client.v1.payment_intents.create(
            params={
                "amount": amount,
                "currency": currency,
                "payment_method": "pm_card_visa",
                "payment_method_types": ["card"],
                "metadata": {"order_id": order_id},
            }
        )
        return self.client.v1.payment_intents.confirm(pi.id)

    def dispute(self, payment_intent_id: str, amount: int | None = None) -> dict:
        body: dict[str, Any] = {"payment_intent": payment_intent_id, "reason": "fraudulent"}
        if amount is not None:
            body["amount"] = amount
        return self.call("POST", "/_lightbox/disputes", body)

    def resolve(self, dispute_id: str, status: str) -> dict:
        return self.call("POST", f"/_lightbox/disputes/{dispute_id}/resolve", {"status": status})


@pytest.fixture(name="stripe")
def stripe_fixture(stripe_server):
    """Checkout's ``stripe_server`` (tests/stripe_server.py: a real localstripe, emptied, the app's env set)."""
    return Stripe(stripe_server.url, stripe_server.secret_key)


def paid_order(stripe: Stripe, buyer: dict, lines: list[dict], *, shipping_cents: int = 0) -> Any:
    """``lines``: ``{"seller": user, "price": cents, "kind": "digital"|"print", "photo_id"?}``."""
    from chalicelib.models.base import new_id, now
    from chalicelib.models.orders import Order, OrderLine, Purchase, SellerOrder

    order_id = new_id("or_")
    items = []
    for i, spec in enumerate(lines):
        kind = spec.get("kind", "digital")
        items.append(
            OrderLine(
                item_id=f"it{i + 1}",
                photo_id=spec.get("photo_id", f"ph_{order_id}_{i + 1}"),
                seller_id=spec["seller"]["id"],
                sku="dl-large" if kind == "digital" else "print-8x10",
                kind=kind,
                label="Download" if kind == "digital" else "Print 8x10",
                quantity=1,
                unit_price_cents=spec["price"],
                line_total_cents=spec["price"],
                variant="large" if kind == "digital" else None,
                license="personal" if kind == "digital" else None,
                status="available" if kind == "digital" else "pending",
            )
        )
    subtotal = sum(line.line_total_cents for line in items)
    pi = stripe.pay(subtotal + shipping_cents, order_id)
    assert pi.status == "succeeded"
    charge = pi.latest_charge if isinstance(pi.latest_charge, str) else pi.latest_charge["id"]
    sellers = list(dict.fromkeys(line.seller_id for line in items))
    order = Order(
        order_id=order_id,
        buyer_id=buyer["id"],
        status="paid",
        currency="eur",
        items=items,
        seller_ids=sellers,
        subtotal_cents=subtotal,
        shipping_cents=shipping_cents,
        total_cents=subtotal + shipping_cents,
        payment_intent_id=pi.id,
        payment_status="succeeded",
        charge_id=charge,
        paid_at=now(),
    )
    order.save()
    for seller_id in sellers:
        SellerOrder(seller_id=seller_id, order_id=order_id, buyer_id=buyer["id"], status="paid").save()
    for line in items:
        if line.kind == "digital":
            key = f"{order_id}:{line.item_id}"
            entry = {"sku": line.sku, "variant": line.variant, "state": "active"}
            try:
                row = Purchase.get(buyer["id"], line.photo_id)
                row.items[key] = entry
                row.save()
            except Purchase.DoesNotExist:
                Purchase(buyer_id=buyer["id"], photo_id=line.photo_id, items={key: entry}).save()
    return order


def order_row(order_id: str) -> Any:
    from chalicelib.models.orders import Order

    return Order.get(order_id, consistent_read=True)


def purchase_states(order: Any) -> dict[str, str]:
    """item_id -> the buyer's purchase entry state, for the order's digital items."""
    from chalicelib.models.orders import Purchase

    states = {}
    for line in order.items:
        if line.kind == "digital":
            row = Purchase.get(order.buyer_id, line.photo_id, consistent_read=True)
            states[line.item_id] = row.items.as_dict()[f"{order.order_id}:{line.item_id}"]["state"]
    return states


def outbox(event_type: str) -> list[dict]:
    """Published domain events of a type (their outbox rows' payloads)."""
    from chalicelib.models.jobs import JobEvent

    return [row.payload.as_dict() | {"_id": row.event_id} for row in JobEvent.scan() if row.type == event_type]


def idem(key: str) -> dict:
    return {"Idempotency-Key": key}
