"""/cart, /orders, /payment-methods, /payments, /sales/orders: buying photos (docs/payments.md).

Money routes (``POST /orders``) require an ``Idempotency-Key``; totals are computed on the server at today's
prices. Payments go through Stripe (``chalicelib.payments.stripe_gateway``); fulfilment is in
``services.checkout``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from chalicelib.api.routing import Ctx, route
from chalicelib.api.schema_base import Body, CleanText, Out, Page, PageQuery
from chalicelib.models.cart import MAX_QUANTITY
from chalicelib.models.orders import ORDER_STATES
from chalicelib.services import cart as cart_service
from chalicelib.services import checkout
from chalicelib.services import orders as orders_service

TAGS = ("commerce",)
Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY, description=f"1 to {MAX_QUANTITY}")]
OrderStatus = Literal[
    "awaiting_payment", "paid", "fulfilled", "cancelled", "partially_refunded", "refunded", "disputed"
]
assert set(OrderStatus.__args__) == set(ORDER_STATES)  # type: ignore[attr-defined]


# ---- schemas -----------------------------------------------------------------------------------------------


class CartItemIn(Body):
    photo_id: Id
    sku: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    quantity: Quantity = 1


class CartItemPatchIn(Body):
    quantity: Quantity | None = None
    saved_for_later: bool | None = None


class SellerOut(Out):
    id: str
    username: str | None = None
    display_name: str | None = None


class CartLineOut(Out):
    id: str
    photo_id: str | None
    sku: str | None
    label: str | None
    kind: str | None = None
    quantity: int
    unit_price_cents: int | None = Field(description="Today's price; null when no longer for sale")
    line_total_cents: int | None
    currency: str | None = None
    saved_for_later: bool
    available: bool = Field(description="False when the item is no longer for sale to you")
    seller: SellerOut | None


class CartOut(Out):
    items: list[CartLineOut]
    subtotal_cents: int = Field(description="Lines not saved for later, at today's prices")
    currency: str | None


class AddressIn(Body):
    name: Annotated[CleanText, Field(min_length=1, max_length=120)]
    line1: Annotated[CleanText, Field(min_length=1, max_length=200)]
    line2: Annotated[CleanText, Field(max_length=200)] | None = None
    city: Annotated[CleanText, Field(min_length=1, max_length=120)]
    postal_code: Annotated[CleanText, Field(min_length=1, max_length=20)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]


class OrderIn(Body):
    shipping_address: AddressIn | None = Field(None, description="Required when the cart has prints")


class ConfirmIn(Body):
    payment_method_id: Annotated[str, Field(min_length=4, max_length=255, pattern=r"^pm_[A-Za-z0-9_]+$")] | None = None


class TrackingOut(Out):
    carrier: str | None = None
    number: str | None = None
    url: str | None = None


class OrderItemOut(Out):
    id: str
    photo_id: str
    seller_id: str
    client_id: str | None = None
    title: str | None = None
    sku: str
    kind: Literal["digital", "print"]
    label: str
    quantity: int
    unit_price_cents: int
    line_total_cents: int
    refunded_cents: int = 0
    status: str
    digital: dict[str, Any] | None = None
    print: dict[str, Any] | None = None
    download_url: str | None = Field(None, description="Signed afresh on each read while paid and not refunded")
    tracking: TrackingOut | None = None


class AddressOut(Out):
    name: str
    line1: str
    line2: str | None = None
    city: str
    postal_code: str
    country: str


class PaymentStateOut(Out):
    status: str | None = None
    client_secret: str | None = Field(None, description="When 3-D Secure is needed: finish it with Stripe.js")


class OrderOut(Out):
    id: str
    status: OrderStatus
    buyer_id: str
    items: list[OrderItemOut]
    seller_ids: list[str]
    currency: str
    subtotal_cents: int
    tax_cents: int
    shipping_cents: int
    total_cents: int
    refunded_cents: int
    payment_intent_id: str | None = None
    payment_status: str | None = None
    shipping_address: AddressOut | None = None
    archive: dict[str, Any] | None = None
    dispute: dict[str, Any] | None = None
    created_at: str
    paid_at: str | None = None
    expires_at: str | None = None
    cancelled_at: str | None = None
    payment: PaymentStateOut | None = None


class PaymentOut(Out):
    payment_intent_id: str | None
    client_secret: str | None
    publishable_key: str | None
    status: str | None = None


class OrderCreatedOut(Out):
    order: OrderOut
    payment: PaymentOut


class OrdersQuery(PageQuery):
    status: OrderStatus | None = None


class SalesQuery(PageQuery):
    status: OrderStatus | None = None
    client_id: Id | None = None


class SetupOut(Out):
    client_secret: str
    publishable_key: str | None


class PaymentMethodOut(Out):
    id: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None


class PaymentMethodsOut(Out):
    items: list[PaymentMethodOut]


class PaymentEntryOut(Out):
    id: str
    kind: Literal["order", "tip", "purchase", "subscription", "top_up"]
    amount_cents: int
    currency: str
    status: str
    created_at: str
    ref: str


def _order(order: Any, principal: Any, payment: dict[str, Any] | None = None) -> OrderOut:
    view = orders_service.order_view(order, principal)
    return OrderOut(**view, payment=PaymentStateOut(**payment) if payment else None)


# ---- cart --------------------------------------------------------------------------------------------------


@route("/cart", "GET", response=CartOut, tags=TAGS)
def get_cart(ctx: Ctx) -> CartOut:
    """The caller's cart at today's prices."""
    return CartOut(**cart_service.view(ctx.user_id))


@route("/cart/items", "POST", body=CartItemIn, response=CartLineOut, status=201, tags=TAGS, responses=(400, 404, 409))
def add_cart_item(ctx: Ctx[CartItemIn]) -> CartLineOut:
    """Add a photo's sku; the same photo and sku again adds to its quantity (at most 99 in all, else 409)."""
    return CartLineOut(**cart_service.add(ctx.user_id, ctx.body.photo_id, ctx.body.sku, ctx.body.quantity))


@route("/cart/items/{item_id}", "PATCH", body=CartItemPatchIn, response=CartLineOut, tags=TAGS, responses=(400, 404))
def change_cart_item(ctx: Ctx[CartItemPatchIn], item_id: str) -> CartLineOut:
    """Change a line's quantity or move it to (or back from) saved for later."""
    return CartLineOut(**cart_service.change(ctx.user_id, item_id, ctx.body.quantity, ctx.body.saved_for_later))


@route("/cart/items/{item_id}", "DELETE", status=204, tags=TAGS, responses=(404,))
def remove_cart_item(ctx: Ctx, item_id: str) -> None:
    """Remove a line from the cart."""
    cart_service.remove(ctx.user_id, item_id)


# ---- orders ------------------------------------------------------------------------------------------------


@route(
    "/orders",
    "POST",
    body=OrderIn,
    response=OrderCreatedOut,
    status=201,
    tags=TAGS,
    idempotency="required",
    responses=(400, 402, 409, 502, 503),
)
def create_order(ctx: Ctx[OrderIn]) -> OrderCreatedOut:
    """Buy the cart's lines that are not saved for later: one order, one PaymentIntent for its total."""
    address = ctx.body.shipping_address.model_dump() if ctx.body.shipping_address else None
    key = (ctx.request.headers or {}).get("idempotency-key")
    order, payment = checkout.create_order(ctx.principal, address, key)
    return OrderCreatedOut(order=_order(order, ctx.principal), payment=PaymentOut(**payment))


@route("/orders", "GET", query=OrdersQuery, response=Page[OrderOut], tags=TAGS, responses=(400,))
def list_orders(ctx: Ctx[None, OrdersQuery]) -> Page[OrderOut]:
    """The caller's orders as buyer, newest first."""
    orders, cursor = orders_service.buyer_orders(ctx.principal, ctx.query.status, ctx.query.limit, ctx.query.cursor)
    return Page[OrderOut](items=[_order(o, ctx.principal) for o in orders], next_cursor=cursor)


@route("/orders/{order_id}", "GET", response=OrderOut, tags=TAGS, responses=(404,))
def get_order(ctx: Ctx, order_id: str) -> OrderOut:
    """An order, to its buyer, its sellers (their items) and staff; download URLs are signed on each read."""
    return _order(orders_service.readable(ctx.principal, order_id), ctx.principal)


@route(
    "/orders/{order_id}/confirm",
    "POST",
    body=ConfirmIn,
    response=OrderOut,
    tags=TAGS,
    responses=(402, 404, 409, 502, 503),
)
def confirm_order(ctx: Ctx[ConfirmIn], order_id: str) -> OrderOut:
    """Confirm the payment (with a saved card's id) or read it (after Stripe.js), then fulfil as the webhook does."""
    order, payment = checkout.confirm(ctx.principal, order_id, ctx.body.payment_method_id)
    return _order(order, ctx.principal, payment)


@route("/orders/{order_id}/cancel", "POST", response=OrderOut, tags=TAGS, responses=(404, 409, 502, 503))
def cancel_order(ctx: Ctx, order_id: str) -> OrderOut:
    """Cancel an order awaiting payment, and its PaymentIntent."""
    return _order(checkout.cancel(ctx.principal, order_id), ctx.principal)


# ---- payment methods, history, sales -----------------------------------------------------------------------


@route("/payment-methods/setup", "POST", response=SetupOut, tags=TAGS, idempotency="accepted", responses=(502, 503))
def setup_payment_method(ctx: Ctx) -> SetupOut:
    """A SetupIntent for the caller's Stripe customer (Stripe.js ``confirmCardSetup`` saves a card)."""
    return SetupOut(**checkout.setup_payment_method(ctx.principal))


@route("/payment-methods", "GET", response=PaymentMethodsOut, tags=TAGS, responses=(502, 503))
def list_payment_methods(ctx: Ctx) -> PaymentMethodsOut:
    """The caller's saved cards."""
    return PaymentMethodsOut(items=[PaymentMethodOut(**m) for m in checkout.payment_methods(ctx.principal)])


@route("/payment-methods/{payment_method_id}", "DELETE", status=204, tags=TAGS, responses=(404, 502, 503))
def delete_payment_method(ctx: Ctx, payment_method_id: str) -> None:
    """Remove one of the caller's saved cards (another user's: 404)."""
    checkout.delete_payment_method(ctx.principal, payment_method_id)


@route("/payments", "GET", query=PageQuery, response=Page[PaymentEntryOut], tags=TAGS, responses=(400,))
def list_payments(ctx: Ctx[None, PageQuery]) -> Page[PaymentEntryOut]:
    """The caller's payment history, newest first."""
    items, cursor = orders_service.payments(ctx.principal, ctx.query.limit, ctx.query.cursor)
    return Page[PaymentEntryOut](items=[PaymentEntryOut(**i) for i in items], next_cursor=cursor)


@route("/sales/orders", "GET", query=SalesQuery, response=Page[OrderOut], tags=TAGS, responses=(400,))
def list_sales_orders(ctx: Ctx[None, SalesQuery]) -> Page[OrderOut]:
    """Orders containing the caller's items (as their seller), newest first."""
    q = ctx.query
    orders, cursor = orders_service.seller_orders(ctx.principal, q.status, q.client_id, q.limit, q.cursor)
    return Page[OrderOut](items=[_order(o, ctx.principal) for o in orders], next_cursor=cursor)
