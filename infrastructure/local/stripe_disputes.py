"""Disputes and the ``charge.*`` webhook events for localstripe (which has neither), served in its process.

What is faked here (everything else is localstripe's own code), in memory, in localstripe's store (so
``DELETE /_config/data`` clears it too):

- ``GET /v1/disputes/{id}``, ``GET /v1/disputes?charge=|payment_intent=``: Stripe's Dispute object (``dp_``):
  ``id, object, amount, currency, charge, payment_intent, reason, status, created, metadata, evidence,
  is_charge_refundable, balance_transactions, livemode``.
- ``POST /v1/disputes/{id}/close``: as in Stripe, the seller accepts the dispute: status ``lost``, then a
  signed ``charge.dispute.closed``.
- Test/dev control, not Stripe API (a real dispute is opened by the card holder's bank):
  ``POST /_lightbox/disputes`` ``{charge | payment_intent, amount?, reason?}`` opens a dispute (status
  ``needs_response``; amount defaults to what is not refunded of the charge) and posts a signed
  ``charge.dispute.created``; ``POST /_lightbox/disputes/{id}/resolve`` ``{status: won|lost}`` closes it and
  posts ``charge.dispute.closed``. Both take the secret key like any ``/v1`` call.
- ``charge.refunded``: localstripe emits no ``charge.*`` event; every refund created through ``POST
  /v1/refunds`` (ours or a "dashboard" refund made directly against localstripe) now posts one, whose object is
  the charge with its ``refunds`` list.
- ``POST /v1/refunds`` behaves as Stripe does where localstripe does not: the default amount is what is left of
  the charge (localstripe: the whole charge again), more than is left is ``400`` (localstripe accepted it), a
  charge with an open dispute is ``400`` ``charge_disputed``, and an ``Idempotency-Key`` replays the first
  response (localstripe ignores the header; the same key with other parameters is ``400``
  ``idempotency_error``).

Events are sent by localstripe's own ``webhooks.schedule_webhook`` (``Stripe-Signature: t=...,v1=...`` over
``"<t>.<body>"``, after a 1 s delay, never retried), so the signature format is the real one, and each event is
stored as a localstripe ``Event`` (``GET /v1/events/{id}`` re-reads it).
"""

from __future__ import annotations

import hashlib
from typing import Any

OPEN_STATUSES = ("warning_needs_response", "warning_under_review", "needs_response", "under_review")
CLOSED_STATUSES = ("warning_closed", "won", "lost")
IDEMPOTENT_PATHS = ("/v1/refunds",)


def install(app: Any) -> None:
    """Add this module's routes to localstripe's aiohttp ``app`` (before it starts)."""
    from aiohttp import web
    from localstripe import resources, webhooks
    from localstripe.errors import UserError
    from localstripe.resources import Charge, Event, PaymentIntent, Refund, StripeObject, store
    from localstripe.server import get_post_data, json_response, unflatten_data

    class Dispute(StripeObject):  # type: ignore[misc]
        object = "dispute"
        _id_prefix = "dp_"

        def __init__(self, charge: Any = None, amount: Any = None, reason: Any = None, **kwargs: Any) -> None:
            if kwargs:
                raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
            charge_obj = _charge_of(charge)
            left = charge_obj.amount - charge_obj.amount_refunded
            amount = resources.try_convert_to_int(amount) if amount is not None else left
            if type(amount) is not int or not 0 < amount <= left:
                raise UserError(400, f"Dispute amount must be 1..{left}", {"param": "amount"})
            if _open_dispute(charge_obj.id) is not None:
                raise UserError(400, "This charge already has an open dispute", {"code": "charge_disputed"})
            super().__init__()
            self.amount = amount
            self.currency = charge_obj.currency
            self.charge = charge_obj.id
            self.payment_intent = charge_obj.payment_intent
            self.reason = reason or "fraudulent"
            self.status = "needs_response"
            self.metadata: dict[str, Any] = {}
            self.evidence: dict[str, Any] = {}
            self.is_charge_refundable = False
            self.balance_transactions: list[Any] = []

        @classmethod
        def _api_list_all(cls, url: str, charge: Any = None, payment_intent: Any = None, **kwargs: Any) -> Any:
            li = super()._api_list_all(url, **kwargs)
            li._list = [
                d
                for d in li._list
                if (charge is None or d.charge == charge)
                and (payment_intent is None or d.payment_intent == payment_intent)
            ]
            return li

    def _charge_of(charge: Any = None, payment_intent: Any = None) -> Any:
        if isinstance(charge, str) and charge.startswith("ch_"):
            return Charge._api_retrieve(charge)
        if isinstance(payment_intent, str) and payment_intent.startswith("pi_"):
            pi = PaymentIntent._api_retrieve(payment_intent)
            if pi.latest_charge is None:
                raise UserError(400, "This PaymentIntent has no charge")
            return pi.latest_charge
        raise UserError(400, "Expected charge or payment_intent")

    def _open_dispute(charge_id: str) -> Any:
        return next(
            (
                v
                for k, v in store.items()
                if k.startswith("dispute:") and v.charge == charge_id and v.status in OPEN_STATUSES
            ),
            None,
        )

    def _emit(event_type: str, obj: Any) -> Any:
        event = Event(event_type, obj)
        webhooks.schedule_webhook(event)
        return event

    # ---- charge.refunded and Stripe's refund rules --------------------------------------------------------

    original_create = Refund._api_create.__func__

    def refund_create(cls: Any, **data: Any) -> Any:
        charge_obj = _charge_of(data.get("charge"), data.get("payment_intent"))
        if _open_dispute(charge_obj.id) is not None:
            raise UserError(400, "This charge is disputed", {"code": "charge_disputed"})
        left = charge_obj.amount - charge_obj.amount_refunded
        if left <= 0:
            raise UserError(400, "Charge has already been refunded", {"code": "charge_already_refunded"})
        amount = resources.try_convert_to_int(data.get("amount", left))
        if type(amount) is int and amount > left:
            raise UserError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                {"param": "amount"},
            )
        data["amount"] = amount
        refund = original_create(cls, **data)
        _emit("charge.refunded", charge_obj)
        return refund

    Refund._api_create = classmethod(refund_create)

    @web.middleware
    async def idempotency(request: Any, handler: Any) -> Any:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key or request.path not in IDEMPOTENT_PATHS:
            return await handler(request)
        body = await request.read()
        digest = hashlib.sha256(request.path.encode() + b"\n" + body).hexdigest()
        slot = f"idempotency:{key}"
        seen = store.get(slot)
        if seen is not None:
            if seen["digest"] != digest:
                raise UserError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they were first used with",
                    {"code": "idempotency_error"},
                )
            return web.Response(
                body=seen["body"],
                status=seen["status"],
                content_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        response = await handler(request)
        if response.status < 500:
            dict.__setitem__(store, slot, {"digest": digest, "body": response.body, "status": response.status})
        return response

    app.middlewares.append(idempotency)

    # ---- disputes -------------------------------------------------------------------------------------------

    def retrieve(request: Any) -> Any:
        return json_response(Dispute._api_retrieve(request.match_info["id"])._export())

    def list_all(request: Any) -> Any:
        data = unflatten_data(request.query)
        return json_response(Dispute._api_list_all("/v1/disputes", **data)._export())

    async def close(request: Any) -> Any:
        return json_response(_close(request.match_info["id"], "lost")._export())

    def _close(dispute_id: str, status: str) -> Any:
        dispute = Dispute._api_retrieve(dispute_id)
        if dispute.status not in OPEN_STATUSES:
            raise UserError(400, f"This dispute is already {dispute.status}")
        dispute.status = status
        _emit("charge.dispute.closed", dispute)
        return dispute

    async def open_dispute(request: Any) -> Any:
        data = await get_post_data(request) or {}
        charge_obj = _charge_of(data.get("charge"), data.get("payment_intent"))
        dispute = Dispute(charge=charge_obj.id, amount=data.get("amount"), reason=data.get("reason"))
        charge_obj.disputed = True
        _emit("charge.dispute.created", dispute)
        return json_response(dispute._export())

    async def resolve(request: Any) -> Any:
        data = await get_post_data(request) or {}
        status = data.get("status")
        if status not in ("won", "lost"):
            raise UserError(400, "status must be won or lost", {"param": "status"})
        return json_response(_close(request.match_info["id"], status)._export())

    app.router.add_get("/v1/disputes/{id}", retrieve)
    app.router.add_get("/v1/disputes", list_all)
    app.router.add_post("/v1/disputes/{id}/close", close)
    app.router.add_post("/_lightbox/disputes", open_dispute)
    app.router.add_post("/_lightbox/disputes/{id}/resolve", resolve)
