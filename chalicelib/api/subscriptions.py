"""Creator plans and subscriptions: PUT /creators/me/plan, POST/DELETE /creators/{id}/subscription,
GET /subscriptions, GET /creators/me/subscribers (docs/subscriptions.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from chalicelib.api.routing import IDEMPOTENCY_HEADER, Ctx, route
from chalicelib.api.schema_base import Body, Out, Page, PageQuery
from chalicelib.services import subscriptions

TAGS = ("creators",)
CurrencyCode = Annotated[str, Field(pattern=r"^[a-z]{3}$", description="Lowercase ISO 4217 code Stripe takes")]
PaymentMethodId = Annotated[str, Field(min_length=4, max_length=255, pattern=r"^pm_[A-Za-z0-9_]+$")]


class PlanIn(Body):
    price_cents: int = Field(
        gt=0, le=100_000_000, description="Monthly price: Stripe's minimum charge up to the maximum"
    )
    currency: CurrencyCode


class PlanOut(Out):
    price_cents: int
    currency: str
    version: int = Field(description="Bumped by each price change; existing subscribers keep their price")


@route(
    "/creators/me/plan",
    "PUT",
    body=PlanIn,
    response=PlanOut,
    tags=TAGS,
    responses=(400, 403, 409, 502, 503),
)
def put_plan(ctx: Ctx[PlanIn]) -> PlanOut:
    """Verified creator: set the monthly subscription price (new subscribers pay the new price)."""
    profile = subscriptions.set_plan(ctx.principal, ctx.body.price_cents, ctx.body.currency)
    return PlanOut(
        price_cents=int(profile.plan_price_cents),
        currency=str(profile.plan_currency),
        version=int(profile.plan_version),
    )


class SubscribeIn(Body):
    payment_method: Literal["card", "wallet"]
    payment_method_id: PaymentMethodId | None = Field(
        None, description="card: a saved card (POST /payment-methods/setup); default: the customer's saved card"
    )


class SubscriptionOut(Out):
    id: str
    subscriber_id: str
    creator_id: str
    method: Literal["card", "wallet"]
    status: str
    access: bool
    price_cents: int
    currency: str
    current_period_end: str | None
    cancel_at_period_end: bool
    created_at: str | None


class SubscriptionPaymentOut(Out):
    payment_intent_id: str | None
    client_secret: str | None
    status: str | None
    publishable_key: str | None


class SubscribedOut(Out):
    subscription: SubscriptionOut
    payment: SubscriptionPaymentOut | None = Field(
        None, description="card: the first invoice's payment when it needs confirmation (3-D Secure)"
    )


@route(
    "/creators/{user_id}/subscription",
    "POST",
    body=SubscribeIn,
    response=SubscribedOut,
    status=201,
    idempotency="required",
    tags=TAGS,
    responses=(400, 402, 404, 409, 502, 503),
)
def subscribe(ctx: Ctx[SubscribeIn], user_id: str) -> SubscribedOut:
    """Subscribe to a creator monthly, by card (Stripe) or from the wallet (charged at once)."""
    key = (ctx.request.headers or {}).get(IDEMPOTENCY_HEADER)
    b = ctx.body
    row, payment = subscriptions.subscribe(ctx.principal, user_id, b.payment_method, b.payment_method_id, key)
    out = SubscriptionOut.model_validate(subscriptions.view(row))
    return SubscribedOut(subscription=out, payment=SubscriptionPaymentOut.model_validate(payment) if payment else None)


class CancelledOut(Out):
    status: str
    current_period_end: str | None
    cancel_at_period_end: bool


@route(
    "/creators/{user_id}/subscription",
    "DELETE",
    response=CancelledOut,
    tags=TAGS,
    responses=(404, 409, 502, 503),
)
def unsubscribe(ctx: Ctx, user_id: str) -> CancelledOut:
    """Cancel at the period's end: access stays until current_period_end (an unpaid one ends now)."""
    view = subscriptions.view(subscriptions.cancel(ctx.principal, user_id))
    return CancelledOut(
        status=view["status"],
        current_period_end=view["current_period_end"],
        cancel_at_period_end=view["cancel_at_period_end"],
    )


@route("/subscriptions", "GET", query=PageQuery, response=Page[SubscriptionOut], tags=TAGS, responses=(400,))
def my_subscriptions(ctx: Ctx[None, PageQuery]) -> Page[SubscriptionOut]:
    """The caller's subscriptions (every status)."""
    rows, cursor = subscriptions.mine(ctx.user_id, ctx.query.limit, ctx.query.cursor)
    return Page[SubscriptionOut](
        items=[SubscriptionOut.model_validate(subscriptions.view(r)) for r in rows], next_cursor=cursor
    )


@route(
    "/creators/me/subscribers",
    "GET",
    query=PageQuery,
    response=Page[SubscriptionOut],
    roles=("creator",),
    tags=TAGS,
    responses=(400, 403),
)
def my_subscribers(ctx: Ctx[None, PageQuery]) -> Page[SubscriptionOut]:
    """Creator: who subscribes to them (every status), newest first."""
    rows, cursor = subscriptions.subscribers(ctx.user_id, ctx.query.limit, ctx.query.cursor)
    return Page[SubscriptionOut](
        items=[SubscriptionOut.model_validate(subscriptions.view(r)) for r in rows], next_cursor=cursor
    )
