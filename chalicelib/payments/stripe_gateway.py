"""The one module that imports ``stripe`` (lazily: the API's cold start never loads it).

Configured from settings: the secret key is ``LIGHTBOX_STRIPE_SECRET_KEY`` locally and in tests, the SSM
SecureString named by ``LIGHTBOX_STRIPE_SECRET_PARAM`` in AWS (:func:`chalicelib.aws.secret`); the API base is
``LIGHTBOX_STRIPE_API_BASE`` (localstripe) or Stripe's own. Every creating or state-changing call takes an
explicit idempotency key derived from our ids (``order:<id>:pi``), so a retry never charges twice.

Stripe's errors become domain errors: a declined card is ``402 card_declined``; Stripe unreachable or failing
is ``502 payment_provider_error`` (a retry may succeed); anything else Stripe refuses is ``502`` as well, since
the request we sent was ours, not the client's; no Stripe key configured is ``503 payments_unavailable``.

localstripe limits (docs/payments.md): no ``description``, ``receipt_email`` or ``automatic_payment_methods`` on
PaymentIntents (``order_id`` goes in ``metadata``), and ``confirm(payment_method=...)`` is a 500 there, so the
payment method is set by an update and then confirmed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from chalicelib.errors import LightboxError, NotFoundError
from chalicelib.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")
WEBHOOK_TOLERANCE_SECONDS = 300

_lock = threading.Lock()
_clients: dict[tuple[str, str | None], Any] = {}


class CardDeclinedError(LightboxError):
    """The card was declined."""

    status = 402
    code = "card_declined"


class PaymentProviderError(LightboxError):
    """The payment provider is unavailable; try again."""

    status = 502
    code = "payment_provider_error"


class PaymentsNotConfiguredError(LightboxError):
    """Payments are not configured on this deployment."""

    status = 503
    code = "payments_unavailable"


class SignatureError(Exception):
    """A webhook delivery whose Stripe-Signature does not verify (or is too old)."""


def _client() -> Any:
    import stripe

    from chalicelib import aws
    from chalicelib.config import get_settings

    settings = get_settings()
    if not settings.stripe_secret_key and not settings.stripe_secret_param:
        raise PaymentsNotConfiguredError()
    key = aws.secret(settings.stripe_secret_key, settings.stripe_secret_param)
    cache_key = (key, settings.stripe_api_base)
    with _lock:
        found = _clients.get(cache_key)
        if found is None:
            kwargs: dict[str, Any] = {"max_network_retries": 1}
            if settings.stripe_api_base:
                kwargs["base_addresses"] = {"api": settings.stripe_api_base}
            found = _clients[cache_key] = stripe.StripeClient(key, **kwargs)
    return found


def publishable_key() -> str | None:
    from chalicelib.config import get_settings

    return get_settings().stripe_publishable_key


def _call(fn: Callable[[Any], T]) -> T:
    """Run one Stripe call, translating its errors into domain errors."""
    import stripe

    try:
        return fn(_client().v1)
    except stripe.CardError as exc:
        raise CardDeclinedError(
            exc.user_message or "The card was declined.",
            details={"decline_code": getattr(exc, "code", None) or "card_declined"},
        ) from None
    except stripe.InvalidRequestError as exc:
        log.info("stripe invalid request", extra={"stripe_error": str(exc), "status": exc.http_status})
        if exc.http_status == 404:
            raise NotFoundError("No such payment object.") from None
        log.warning("stripe refused a request", extra={"stripe_error": str(exc)})
        raise PaymentProviderError("The payment provider refused the request.") from None
    except stripe.StripeError as exc:
        log.warning("stripe call failed", extra={"stripe_error": str(exc)})
        raise PaymentProviderError() from None


def _opts(idempotency_key: str | None) -> dict[str, Any]:
    return {"idempotency_key": idempotency_key} if idempotency_key else {}


def as_dict(obj: Any) -> dict[str, Any]:
    """A Stripe object as plain JSON data."""
    if isinstance(obj, dict) and not hasattr(obj, "to_dict"):
        return obj
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


# ---- what Stripe accepts ------------------------------------------------------------------------------------

# Stripe's presentment currencies (https://docs.stripe.com/currencies), lowercase. Left out on purpose: the
# three-decimal currencies (bhd, jod, kwd, omr, tnd: Stripe wants amounts rounded to tens there) and codes Stripe
# does not settle (cup, irr, kpw, sdg, syp, ...).
STRIPE_CURRENCIES = frozenset(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bif bmd bnd bob brl bsd bwp byn bzd cad cdf chf
    clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq gyd hkd hnl htg huf idr
    ils inr isk jmd jpy kes kgs khr kmf krw kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk
    mxn myr mzn nad ngn nio nok npr nzd pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp
    sle sos srd szl thb tjs top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw
    """.split()  # noqa: SIM905
)
# Stripe's minimum charge per currency in minor units (https://docs.stripe.com/currencies#minimum-and-maximum-
# charge-amounts); any other supported currency gets the conservative DEFAULT_MIN_CHARGE.
MIN_CHARGE = {
    "usd": 50, "eur": 50, "chf": 50, "aud": 50, "cad": 50, "nzd": 50, "sgd": 50, "brl": 50, "inr": 50,
    "gbp": 30, "dkk": 250, "nok": 300, "sek": 300, "jpy": 50, "hkd": 400, "mxn": 1000, "czk": 1500,
    "huf": 17500, "pln": 200, "ron": 200, "bgn": 100, "aed": 200, "myr": 200, "thb": 1000,
}  # fmt: skip
DEFAULT_MIN_CHARGE = 50
MAX_CHARGE = 99_999_999  # Stripe's largest amount (eight digits of minor units)


def min_charge(currency: str) -> int:
    return MIN_CHARGE.get(currency, DEFAULT_MIN_CHARGE)


# ---- PaymentIntents ----------------------------------------------------------------------------------------


def create_payment_intent(
    amount_cents: int,
    currency: str,
    *,
    idempotency_key: str,
    metadata: dict[str, str],
    customer_id: str | None = None,
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "amount": amount_cents,
        "currency": currency,
        "metadata": metadata,
        "payment_method_types": ["card"],
    }
    if customer_id:
        params["customer"] = customer_id
    return as_dict(_call(lambda c: c.payment_intents.create(params=params, options=_opts(idempotency_key))))


def retrieve_payment_intent(payment_intent_id: str) -> dict[str, Any]:
    return as_dict(_call(lambda c: c.payment_intents.retrieve(payment_intent_id)))


def update_payment_intent(payment_intent_id: str, *, idempotency_key: str, **params: Any) -> dict[str, Any]:
    return as_dict(
        _call(lambda c: c.payment_intents.update(payment_intent_id, params=params, options=_opts(idempotency_key)))
    )


def confirm_payment_intent(payment_intent_id: str, *, idempotency_key: str) -> dict[str, Any]:
    return as_dict(_call(lambda c: c.payment_intents.confirm(payment_intent_id, options=_opts(idempotency_key))))


def cancel_payment_intent(payment_intent_id: str, *, idempotency_key: str) -> dict[str, Any]:
    return as_dict(_call(lambda c: c.payment_intents.cancel(payment_intent_id, options=_opts(idempotency_key))))


def refund_payment_intent(payment_intent_id: str, *, idempotency_key: str, metadata: dict[str, str]) -> dict[str, Any]:
    """Refund a PaymentIntent's charge in full (a payment that must not stand, e.g. on a cancelled order)."""
    params = {"payment_intent": payment_intent_id, "metadata": metadata}
    return as_dict(_call(lambda c: c.refunds.create(params=params, options=_opts(idempotency_key))))


# ---- customers, SetupIntents, payment methods --------------------------------------------------------------


def create_customer(user_id: str, email: str, *, idempotency_key: str) -> dict[str, Any]:
    params = {"email": email, "metadata": {"user_id": user_id}}
    return as_dict(_call(lambda c: c.customers.create(params=params, options=_opts(idempotency_key))))


def create_setup_intent(customer_id: str, *, idempotency_key: str) -> dict[str, Any]:
    params = {"customer": customer_id, "payment_method_types": ["card"], "usage": "off_session"}
    return as_dict(_call(lambda c: c.setup_intents.create(params=params, options=_opts(idempotency_key))))


def list_payment_methods(customer_id: str, limit: int = 100) -> list[dict[str, Any]]:
    params = {"customer": customer_id, "type": "card", "limit": limit}
    listing = _call(lambda c: c.payment_methods.list(params=params))
    return [as_dict(pm) for pm in as_dict(listing).get("data", [])]


def retrieve_payment_method(payment_method_id: str) -> dict[str, Any]:
    return as_dict(_call(lambda c: c.payment_methods.retrieve(payment_method_id)))


def attach_payment_method(payment_method_id: str, customer_id: str, *, idempotency_key: str) -> dict[str, Any]:
    params = {"customer": customer_id}
    return as_dict(
        _call(lambda c: c.payment_methods.attach(payment_method_id, params=params, options=_opts(idempotency_key)))
    )


def detach_payment_method(payment_method_id: str, *, idempotency_key: str) -> dict[str, Any]:
    return as_dict(_call(lambda c: c.payment_methods.detach(payment_method_id, options=_opts(idempotency_key))))


# ---- products, plans, subscriptions, invoices (creator subscriptions) -----------------------------------------
# localstripe has products, plans (no Prices), subscriptions and invoices; a subscription is charged with the
# customer's ``invoice_settings.default_payment_method`` (it refuses ``default_payment_method`` on the
# subscription), so that is how the card is chosen, here and on Stripe.

# Only ``latest_invoice``: Stripe API 2025-03-31 and later (the pinned stripe-python's) have no
# ``Invoice.payment_intent``, so expanding it is a 400 there; the payment is read by ``invoice_payment_intent``.
SUBSCRIPTION_EXPAND = ["latest_invoice"]


def create_product(name: str, *, idempotency_key: str, metadata: dict[str, str]) -> dict[str, Any]:
    params = {"name": name, "type": "service", "metadata": metadata}
    return as_dict(_call(lambda c: c.products.create(params=params, options=_opts(idempotency_key))))


def create_plan(
    product_id: str, amount_cents: int, currency: str, *, idempotency_key: str, metadata: dict[str, str]
) -> dict[str, Any]:
    """A monthly plan of the product (Stripe's legacy Plans API: localstripe has no Prices)."""
    params = {
        "product": product_id,
        "amount": amount_cents,
        "currency": currency,
        "interval": "month",
        "interval_count": 1,
        "metadata": metadata,
    }
    return as_dict(_call(lambda c: c.plans.create(params=params, options=_opts(idempotency_key))))


def set_default_payment_method(customer_id: str, payment_method_id: str, *, idempotency_key: str) -> dict[str, Any]:
    params = {"invoice_settings": {"default_payment_method": payment_method_id}}
    return as_dict(_call(lambda c: c.customers.update(customer_id, params=params, options=_opts(idempotency_key))))


def retrieve_customer(customer_id: str) -> dict[str, Any]:
    return as_dict(_call(lambda c: c.customers.retrieve(customer_id)))


def create_subscription(
    customer_id: str, plan_id: str, *, idempotency_key: str, metadata: dict[str, str]
) -> dict[str, Any]:
    """Subscribe the customer to the plan; the first invoice is charged at once to the customer's default card
    (``allow_incomplete``: a card needing 3-D Secure or declined leaves it ``incomplete``, not an error)."""
    params = {
        "customer": customer_id,
        "items": [{"plan": plan_id}],
        "metadata": metadata,
        "payment_behavior": "allow_incomplete",
        "expand": SUBSCRIPTION_EXPAND,
    }
    return as_dict(_call(lambda c: c.subscriptions.create(params=params, options=_opts(idempotency_key))))


def retrieve_subscription(subscription_id: str) -> dict[str, Any]:
    params = {"expand": SUBSCRIPTION_EXPAND}
    return as_dict(_call(lambda c: c.subscriptions.retrieve(subscription_id, params=params)))


def update_subscription(subscription_id: str, *, idempotency_key: str, cancel_at_period_end: bool) -> dict[str, Any]:
    params = {"cancel_at_period_end": cancel_at_period_end}
    return as_dict(
        _call(lambda c: c.subscriptions.update(subscription_id, params=params, options=_opts(idempotency_key)))
    )


def cancel_subscription(subscription_id: str, *, idempotency_key: str) -> dict[str, Any]:
    """End it now (``DELETE /v1/subscriptions/{id}``)."""
    return as_dict(_call(lambda c: c.subscriptions.cancel(subscription_id, options=_opts(idempotency_key))))


def list_subscriptions(customer_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """The customer's subscriptions of every status, newest first (to find one of our attempts by metadata)."""
    params = {"customer": customer_id, "status": "all", "limit": limit}
    listing = _call(lambda c: c.subscriptions.list(params=params))
    return [as_dict(s) for s in as_dict(listing).get("data", [])]


def retrieve_invoice(invoice_id: str, *, expand: list[str] | None = None) -> dict[str, Any]:
    params = {"expand": expand} if expand else {}
    return as_dict(_call(lambda c: c.invoices.retrieve(invoice_id, params=params)))


def invoice_payment_intent(invoice: dict[str, Any]) -> dict[str, Any] | None:
    """The PaymentIntent paying an invoice, in either shape: ``invoice.payment_intent`` (APIs before 2025-03-31, and
    localstripe), else the invoice's ``payments`` (InvoicePayments, newer APIs: read by retrieving the invoice with
    ``payments`` expanded when it does not carry them), the default payment's or the latest's."""
    if "payment_intent" in invoice:
        pi = invoice["payment_intent"]
        if isinstance(pi, dict):
            return pi
        return retrieve_payment_intent(pi) if isinstance(pi, str) and pi else None
    payments = invoice.get("payments")
    if not isinstance(payments, dict):
        if not isinstance(invoice.get("id"), str):
            return None
        payments = retrieve_invoice(invoice["id"], expand=["payments"]).get("payments")
    items = [p for p in ((payments or {}).get("data") or []) if isinstance(p, dict)]
    items.sort(key=lambda p: (bool(p.get("is_default")), int(p.get("created") or 0)), reverse=True)
    for item in items:
        pi = (item.get("payment") or {}).get("payment_intent")
        if isinstance(pi, dict):
            return pi
        if isinstance(pi, str) and pi:
            return retrieve_payment_intent(pi)
    return None


# ---- webhooks ------------------------------------------------------------------------------------------------


def webhook_secret() -> str:
    from chalicelib import aws
    from chalicelib.config import get_settings

    settings = get_settings()
    if not settings.stripe_webhook_secret and not settings.stripe_webhook_secret_param:
        raise PaymentsNotConfiguredError("Stripe webhooks are not configured on this deployment.")
    return aws.secret(settings.stripe_webhook_secret, settings.stripe_webhook_secret_param)


def verify_webhook(
    raw_body: bytes, signature_header: str | None, *, secret: str | None = None, now: float | None = None
) -> dict[str, Any]:
    """The event of a webhook delivery whose ``Stripe-Signature`` (``t=<ts>,v1=<hex HMAC-SHA256 of "t.body">``,
    any of several ``v1``) matches the raw body and is at most 5 minutes old (or ahead); else SignatureError.
    Stripe's own scheme, checked here without importing stripe."""
    if not signature_header:
        raise SignatureError("missing Stripe-Signature")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in signature_header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            if not re.fullmatch(r"[0-9]{1,12}", value):  # ASCII digits only ("²".isdigit(), int("١") is 1)
                raise SignatureError("bad timestamp")
            timestamp = int(value)
        elif name == "v1" and re.fullmatch(r"[0-9a-f]{64}", value):  # anything else can match no HMAC
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("no timestamp or v1 signature")
    key = (secret or webhook_secret()).encode()
    expected = hmac.new(key, f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise SignatureError("signature mismatch")
    if abs((time.time() if now is None else now) - timestamp) > WEBHOOK_TOLERANCE_SECONDS:
        raise SignatureError("timestamp outside the tolerance")
    try:
        event = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        raise SignatureError("body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise SignatureError("not an event")
    return event
