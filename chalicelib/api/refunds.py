"""/sales/orders/{order_id}/refunds: a seller (their own items) or staff (any item) refunds a paid order."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from chalicelib.api.routing import IDEMPOTENCY_HEADER, Ctx, route
from chalicelib.api.schema_base import Body, CleanText, Out
from chalicelib.services import refunds as refunds_service

TAGS = ("sales",)
ItemId = Annotated[str, Field(min_length=1, max_length=64)]


class RefundIn(Body):
    amount_cents: int | None = Field(None, ge=1, le=100_000_000, description="Default: all that is left")
    item_ids: list[ItemId] | None = Field(
        None, min_length=1, max_length=100, description="Refund only these items (default: all the caller may)"
    )
    reason: Annotated[CleanText, Field(min_length=1, max_length=500)]


class RefundItemOut(Out):
    id: str
    amount_cents: int


class RefundOut(Out):
    id: str
    order_id: str
    amount_cents: int
    currency: str
    status: str = Field(description="pending | succeeded | failed")
    source: str = Field(description="api | stripe (made in the Stripe dashboard) | dispute (a lost dispute)")
    reason: str | None
    items: list[RefundItemOut] = Field(description="How the amount is allocated over the order's items")
    order_cents: int = Field(description="The part of the amount that refunds shipping and tax (staff only)")
    created_at: str


class RefundCreatedOut(Out):
    refund: RefundOut


@route(
    "/sales/orders/{order_id}/refunds",
    "POST",
    body=RefundIn,
    response=RefundCreatedOut,
    status=201,
    tags=TAGS,
    idempotency="required",
    responses=(400, 403, 404, 409, 502),
)
def create_refund(ctx: Ctx[RefundIn], order_id: str) -> RefundCreatedOut:
    """Refund all or part of an order (seller: their own items; staff: any). More than is left is 409."""
    b = ctx.body
    refund = refunds_service.create(
        ctx.principal,
        order_id,
        amount_cents=b.amount_cents,
        item_ids=b.item_ids,
        reason=b.reason,
        request_key=(ctx.request.headers or {}).get(IDEMPOTENCY_HEADER),
    )
    return RefundCreatedOut(refund=RefundOut(**refunds_service.refund_view(refund)))
