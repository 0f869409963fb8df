"""POST /webhooks/stripe: Stripe's deliveries, verified on the raw body (services/stripe_webhooks.py)."""

from __future__ import annotations

from chalicelib.api.routing import PublicCtx, route
from chalicelib.api.schema_base import Out
from chalicelib.errors import PayloadTooLargeError

TAGS = ("webhooks",)
MAX_WEBHOOK_BYTES = 512 * 1024  # Stripe's events are far smaller


class WebhookOut(Out):
    received: bool
    handled: bool | None = None
    duplicate: bool | None = None


@route("/webhooks/stripe", "POST", response=WebhookOut, auth=False, tags=TAGS, responses=(400, 413, 502, 503))
def stripe_webhook(ctx: PublicCtx) -> WebhookOut:
    """Stripe events: Stripe-Signature checked (5 minutes' tolerance), each event id applied once; unknown 200."""
    from chalicelib.services import stripe_webhooks

    raw = ctx.request.raw_body or b""
    if len(raw) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLargeError("The webhook body is too large.")
    signature = (ctx.request.headers or {}).get("stripe-signature")
    return WebhookOut(**stripe_webhooks.handle(raw, signature))
