"""Print fulfilment: the lab's signed status callbacks and the seller's own shipping of self-fulfilled prints.

``POST /webhooks/print-lab`` (no auth): ``Lab-Signature`` is verified on the raw body before anything is read
(5-minute tolerance), each callback's event id takes effect once, statuses only move forward (docs/print-lab.md).
``PATCH /sales/orders/{order_id}/items/{item_id}``: the item's seller moves a self-fulfilled print one step.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from chalicelib.api.routing import Ctx, PublicCtx, route
from chalicelib.api.schema_base import Body, CleanText, Out
from chalicelib.errors import BadRequestError, PayloadTooLargeError

TAGS = ("fulfilment",)


class TrackingIn(Body):
    carrier: Annotated[CleanText, Field(min_length=1, max_length=80)]
    number: Annotated[CleanText, Field(min_length=1, max_length=80)]
    url: Annotated[str, Field(max_length=500)] | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


class ItemStatusIn(Body):
    status: Literal["in_production", "shipped", "delivered"]
    tracking: TrackingIn | None = Field(None, description="Required with status shipped (unless already set)")


class TrackingOut(Out):
    carrier: str | None
    number: str | None
    url: str | None


class FulfilmentItemOut(Out):
    id: str
    photo_id: str
    sku: str
    kind: str
    label: str
    quantity: int
    unit_price_cents: int
    status: str
    status_at: str | None
    fulfilment: str | None = None
    tracking: TrackingOut | None = None


class ItemStatusOut(Out):
    order_id: str
    order_status: str
    item: FulfilmentItemOut


class WebhookOut(Out):
    received: bool
    applied: bool


@route(
    "/sales/orders/{order_id}/items/{item_id}",
    "PATCH",
    body=ItemStatusIn,
    response=ItemStatusOut,
    tags=TAGS,
    responses=(400, 404, 409),
)
def update_item_status(ctx: Ctx[ItemStatusIn], order_id: str, item_id: str) -> ItemStatusOut:
    """Seller: move a self-fulfilled print of a paid order (in_production, shipped with tracking, delivered)."""
    from chalicelib.services import fulfilment

    tracking = ctx.body.tracking.model_dump() if ctx.body.tracking else None
    order = fulfilment.seller_update(ctx.user_id, order_id, item_id, ctx.body.status, tracking)
    line = order.line(item_id)
    assert line is not None  # seller_update found it
    item = FulfilmentItemOut.model_validate(fulfilment.item_view(line))
    return ItemStatusOut(order_id=order.order_id, order_status=order.status, item=item)


@route("/webhooks/print-lab", "POST", response=WebhookOut, auth=False, tags=TAGS, responses=(400, 413))
def print_lab_webhook(ctx: PublicCtx) -> WebhookOut:
    """The print lab's signed status callback (Lab-Signature over the raw body); idempotent, out-of-order safe."""
    from chalicelib.config import get_settings
    from chalicelib.services import fulfilment, print_lab

    raw = ctx.request.raw_body or b""
    if len(raw) > get_settings().max_body_bytes:
        raise PayloadTooLargeError(f"The request body exceeds {get_settings().max_body_bytes} bytes.")
    signature = (ctx.request.headers or {}).get("lab-signature")
    try:
        print_lab.verify_signature(signature, raw, print_lab.webhook_secret())
        update = print_lab.read_callback(raw)
    except (print_lab.BadSignature, print_lab.BadCallback) as exc:
        code = "bad_signature" if isinstance(exc, print_lab.BadSignature) else None
        raise BadRequestError(str(exc), code=code) from None
    return WebhookOut(received=True, applied=fulfilment.apply_lab_callback(update))
