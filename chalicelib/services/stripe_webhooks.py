"""Stripe webhooks: verify, apply once, re-read the object from Stripe before acting.

``handle(raw_body, signature)``: the ``Stripe-Signature`` is checked on the raw body (5-minute tolerance; the
secret is ``LIGHTBOX_STRIPE_WEBHOOK_SECRET`` locally, the SSM SecureString named by
``LIGHTBOX_STRIPE_WEBHOOK_SECRET_PARAM`` in AWS), else 400. A delivery whose event id already took effect is
answered 200 at once. Otherwise the type's handler runs and, only once it succeeded, the event id is recorded
(conditional put of ``webhook_events``), so a crash mid-way is retried by Stripe and handlers are idempotent
on their own. Handlers act on the object as Stripe has it now (re-read), never on the event's copy, so the
order of arrival does not matter (a ``payment_failed`` after ``succeeded`` changes nothing). Unknown types: 200.

``HANDLERS`` maps an event type to ``fn(event) -> None``; other areas add theirs (refunds: ``charge.refunded``,
``charge.dispute.*``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from chalicelib.errors import NotFoundError, ValidationError
from chalicelib.logs import get_logger
from chalicelib.models.base import PutError, condition_failed, now
from chalicelib.models.orders import WebhookEvent, get_order
from chalicelib.payments import stripe_gateway as stripe

log = get_logger(__name__)
RETENTION_DAYS = 30
SOURCE = "stripe"


def on_payment_intent(event: dict[str, Any]) -> None:
    """payment_intent.succeeded / payment_intent.payment_failed (and any other payment_intent.*): re-read the
    PaymentIntent and let ``fulfil`` decide (paid once if it succeeded; else its status is only recorded). A
    PaymentIntent whose metadata ``kind`` is ``top_up``, ``tip`` or ``purchase`` goes to creator_payments.fulfil."""
    from chalicelib.services import checkout, creator_payments

    obj = (event.get("data") or {}).get("object") or {}
    pi_id = obj.get("id")
    if not isinstance(pi_id, str) or not pi_id.startswith("pi_"):
        return
    try:
        pi = stripe.retrieve_payment_intent(pi_id)
    except NotFoundError:  # not a PaymentIntent of this Stripe account: nothing to do, and no retries
        log.info("webhook for an unknown payment intent", extra={"payment_intent_id": pi_id})
        return
    if (pi.get("metadata") or {}).get("kind") in creator_payments.META_ID:  # a top-up, tip or purchase
        creator_payments.on_payment_intent(pi)
        return
    order_id = (pi.get("metadata") or {}).get("order_id")
    order = get_order(order_id) if isinstance(order_id, str) and order_id else None
    if order is None or order.payment_intent_id != pi_id:
        log.info("payment intent of no order of ours", extra={"payment_intent_id": pi_id})
        return
    checkout.fulfil(order.order_id, pi)


def on_refunds_event(event: dict[str, Any]) -> None:
    """refunds/disputes (chalicelib/services/refunds.py, disputes.py): each re-reads from Stripe itself."""
    from chalicelib.services import disputes, refunds

    if event["type"] == "charge.refunded":
        from chalicelib.services import creator_payments

        if not creator_payments.on_charge_refunded(event):  # a tip, purchase, top-up or subscription invoice, else
            refunds.on_charge_refunded(event)  # an order's
    else:  # disputes.sync: an order's, else creator_payments.on_dispute
        disputes.sync(str(event["data"]["object"]["id"]))


def on_subscription_event(event: dict[str, Any]) -> None:
    """Creator subscriptions (chalicelib/services/subscriptions.py): the subscription, and the invoice for
    invoice.*, are re-read from Stripe; our row is set from them and a paid invoice is booked once."""
    from chalicelib.services import subscriptions

    if event["type"].startswith("invoice."):
        subscriptions.on_stripe_invoice(event)
    else:
        subscriptions.on_stripe_subscription(event)


HANDLERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "payment_intent.succeeded": on_payment_intent,
    "payment_intent.payment_failed": on_payment_intent,
    "charge.refunded": on_refunds_event,  # refunds
    "charge.dispute.created": on_refunds_event,  # refunds
    "charge.dispute.closed": on_refunds_event,  # refunds
    "customer.subscription.created": on_subscription_event,  # subscriptions
    "customer.subscription.updated": on_subscription_event,  # subscriptions
    "customer.subscription.deleted": on_subscription_event,  # subscriptions
    "invoice.paid": on_subscription_event,  # subscriptions
    "invoice.payment_succeeded": on_subscription_event,  # subscriptions
    "invoice.payment_failed": on_subscription_event,  # subscriptions
}


def _seen(key: str) -> bool:
    try:
        WebhookEvent.get(key, consistent_read=True)
    except WebhookEvent.DoesNotExist:
        return False
    return True


def handle(raw_body: bytes, signature: str | None) -> dict[str, Any]:
    try:
        event = stripe.verify_webhook(raw_body, signature)
    except stripe.SignatureError as exc:
        raise ValidationError(
            "The Stripe-Signature header does not verify.",
            code="invalid_signature",
            details={"Stripe-Signature": str(exc)},
        ) from None
    handler = HANDLERS.get(event["type"])
    if handler is None:
        return {"received": True, "handled": False}
    key = f"{SOURCE}:{event['id']}"
    if _seen(key):
        return {"received": True, "duplicate": True}
    handler(event)
    row = WebhookEvent(event_key=key, type=event["type"], expires_at=now() + timedelta(days=RETENTION_DAYS))
    try:
        row.save(condition=WebhookEvent.event_key.does_not_exist())
    except PutError as exc:
        if not condition_failed(exc):
            raise
    return {"received": True}
