"""The Stripe calls of refunds and disputes: create a refund, read a charge's refunds, a dispute, a PaymentIntent.

``stripe`` is imported on first use (the API's cold start never imports it). Every call that creates something
passes an idempotency key derived from our ids (``refund:<refund_id>``), so a retried request can never refund
twice. Locally ``LIGHTBOX_STRIPE_API_BASE`` points at localstripe (disputes and ``charge.*`` events come from
``infrastructure/local/stripe_disputes.py``: see docs/refunds.md).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from chalicelib.config import get_settings
from chalicelib.errors import ConflictError, LightboxError


class PaymentProviderError(LightboxError):
    """The payment provider could not be reached; retry with the same Idempotency-Key."""

    status = 502
    code = "payment_provider_unavailable"


@lru_cache(maxsize=4)
def _client_for(api_key: str, api_base: str | None) -> Any:
    import stripe

    bases = {"api": api_base} if api_base else {}
    return stripe.StripeClient(api_key, base_addresses=bases, max_network_retries=2)  # type: ignore[arg-type]


def client() -> Any:
    from chalicelib import aws

    settings = get_settings()
    return _client_for(aws.secret(settings.stripe_secret_key, settings.stripe_secret_param), settings.stripe_api_base)


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    import stripe

    try:
        return fn(*args, **kwargs)
    except stripe.InvalidRequestError as exc:
        raise ConflictError(
            f"The payment provider refused: {exc.user_message or exc}",
            code="payment_provider_refused",
            details={"provider_code": exc.code} if exc.code else None,
        ) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        raise PaymentProviderError() from exc


def _id(value: Any) -> str | None:
    """An expandable field: an id, or the object itself (localstripe expands ``latest_charge``)."""
    if value is None or isinstance(value, str):
        return value
    return str(value["id"])


def create_refund(payment_intent_id: str, amount_cents: int, *, refund_id: str, order_id: str) -> dict[str, Any]:
    """Refund part of a PaymentIntent's charge, once per ``refund_id``. -> ``{id, status, amount}``."""
    refund = _call(
        client().v1.refunds.create,
        params={
            "payment_intent": payment_intent_id,
            "amount": amount_cents,
            "metadata": {"order_id": order_id, "refund_id": refund_id},
        },
        options={"idempotency_key": f"refund:{refund_id}"},
    )
    return {"id": refund.id, "status": refund.status, "amount": refund.amount}


def charge_refunds(charge_id: str) -> list[dict[str, Any]]:
    """Every refund of a charge, oldest first: ``{id, amount, status, created, metadata}``."""
    page = _call(client().v1.refunds.list, params={"charge": charge_id, "limit": 100})
    refunds = [
        {
            "id": r["id"],
            "amount": int(r["amount"]),
            "status": r["status"],
            "created": int(r["created"]),
            "metadata": dict(r.get("metadata") or {}),
        }
        for r in (obj.to_dict() for obj in page.auto_paging_iter())
    ]
    return sorted(refunds, key=lambda r: (r["created"], r["id"]))


def charge(charge_id: str) -> dict[str, Any]:
    """``{id, payment_intent, amount, amount_refunded, currency}``."""
    ch = _call(client().v1.charges.retrieve, charge_id).to_dict()
    return {
        "id": ch["id"],
        "payment_intent": _id(ch.get("payment_intent")),
        "amount": int(ch["amount"]),
        "amount_refunded": int(ch.get("amount_refunded") or 0),
        "currency": ch["currency"],
    }


def payment_intent(payment_intent_id: str) -> dict[str, Any]:
    """``{id, status, latest_charge, metadata, invoice}`` (``invoice``: the subscription invoice it pays, if any)."""
    pi = _call(client().v1.payment_intents.retrieve, payment_intent_id).to_dict()
    return {
        "id": pi["id"],
        "status": pi["status"],
        "latest_charge": _id(pi.get("latest_charge")),
        "metadata": dict(pi.get("metadata") or {}),
        "invoice": _id(pi.get("invoice")),
    }


def dispute(dispute_id: str) -> dict[str, Any]:
    """``{id, status, amount, currency, charge, payment_intent, reason}``."""
    dp = _call(client().v1.disputes.retrieve, dispute_id).to_dict()
    return {
        "id": dp["id"],
        "status": dp["status"],
        "amount": int(dp["amount"]),
        "currency": dp["currency"],
        "charge": _id(dp.get("charge")),
        "payment_intent": _id(dp.get("payment_intent")),
        "reason": dp.get("reason"),
    }
