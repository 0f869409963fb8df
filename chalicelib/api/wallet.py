"""/wallet, top-ups, staff deposits, tips and pay-per-view purchases (docs/wallet.md).

Money routes require an ``Idempotency-Key``; amounts are integer minor units, prices of items come from the item
(never from the client). ``payment_method: card`` answers a PaymentIntent's ``client_secret`` (confirm with
Stripe.js, or with a saved card through the ``.../confirm`` route); ``wallet`` is charged at once (``402
insufficient_funds`` when short). Business rules: ``chalicelib.services.creator_payments``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from chalicelib.api.routing import IDEMPOTENCY_HEADER, Ctx, route
from chalicelib.api.schema_base import Body, CleanText, Out, Page, PageQuery
from chalicelib.services import creator_payments as service

TAGS = ("wallet",)
STAFF = ("staff", "admin")
CurrencyCode = Annotated[str, Field(pattern=r"^[a-z]{3}$", description="Lowercase ISO 4217 code")]
Amount = Annotated[int, Field(gt=0, le=100_000_000, description="Minor units")]
PaymentMethod = Literal["card", "wallet"]
PaymentMethodId = Annotated[str, Field(min_length=4, max_length=255, pattern=r"^pm_[A-Za-z0-9_]+$")]
ERRORS = (400, 402, 403, 404, 409, 502, 503)


def _key(ctx: Any) -> str | None:
    return (ctx.request.headers or {}).get(IDEMPOTENCY_HEADER)


# ---- schemas -----------------------------------------------------------------------------------------------


class WalletQuery(PageQuery):
    currency: CurrencyCode = "eur"


class WalletEntryOut(Out):
    id: str = Field(description="The ledger transaction")
    amount_cents: int = Field(description="Positive: into the wallet; negative: spent")
    kind: str = Field(description="top_up, deposit, tips, purchases, subscriptions, refund, ...")
    ref: str | None
    created_at: str


class WalletOut(Out):
    balance_cents: int
    currency: str
    owed_cents: int = Field(
        0, description="What the user owes: a top-up charged back after it was spent; the next credits repay it first"
    )
    entries: Page[WalletEntryOut]


class PaymentOut(Out):
    payment_intent_id: str | None = None
    client_secret: str | None = None
    publishable_key: str | None = None
    status: str | None = None


class ConfirmIn(Body):
    payment_method_id: PaymentMethodId | None = None


class TopUpIn(Body):
    amount_cents: Amount
    currency: CurrencyCode = "eur"


class TopUpView(Out):
    id: str
    status: str
    amount_cents: int
    currency: str
    created_at: str
    paid_at: str | None = None


class TopUpOut(Out):
    top_up: TopUpView
    payment: PaymentOut


class DepositIn(Body):
    amount_cents: Amount
    currency: CurrencyCode = "eur"
    reason: Annotated[CleanText, Field(min_length=1, max_length=500)]


class DepositView(Out):
    id: str
    user_id: str
    actor_id: str
    action: str
    amount_cents: int
    currency: str
    reason: str
    created_at: str


class DepositOut(Out):
    deposit: DepositView
    balance_cents: int


class TipIn(Body):
    amount_cents: Annotated[int, Field(le=100_000_000, description="1 to the configured maximum")]
    currency: CurrencyCode = "eur"
    message: Annotated[CleanText, Field(max_length=service.MAX_MESSAGE)] | None = None
    payment_method: PaymentMethod


class TipView(Out):
    id: str
    status: str
    amount_cents: int
    currency: str
    message: str | None = None
    creator_id: str | None = None
    payment_method: str
    created_at: str
    paid_at: str | None = None


class TipOut(Out):
    tip: TipView
    payment: PaymentOut | None = None


class PurchaseIn(Body):
    payment_method: PaymentMethod


class PurchaseView(Out):
    id: str
    status: str
    photo_id: str
    amount_cents: int
    currency: str
    creator_id: str | None = None
    payment_method: str
    created_at: str
    paid_at: str | None = None


class PurchaseOut(Out):
    purchase: PurchaseView
    payment: PaymentOut | None = None


class RefundOut(Out):
    id: str
    kind: str
    status: str
    amount_cents: int
    currency: str


def _payment(payment: dict | None) -> PaymentOut | None:
    return PaymentOut(**payment) if payment else None


# ---- the wallet ----------------------------------------------------------------------------------------------


@route("/wallet", "GET", query=WalletQuery, response=WalletOut, tags=TAGS, responses=(400,))
def get_wallet(ctx: Ctx[None, WalletQuery]) -> WalletOut:
    """The caller's wallet in a currency: the balance and its ledger entries, newest first."""
    q = ctx.query
    return WalletOut.model_validate(service.wallet(ctx.user_id, q.currency, q.limit, q.cursor))


@route(
    "/wallet/top-ups", "POST", body=TopUpIn, response=TopUpOut, status=201, tags=TAGS, idempotency="required",
    responses=ERRORS,
)  # fmt: skip
def create_top_up(ctx: Ctx[TopUpIn]) -> TopUpOut:
    """Top up the wallet by card: a PaymentIntent; the wallet is credited once it is paid."""
    row, payment = service.create_top_up(ctx.principal, ctx.body.amount_cents, ctx.body.currency, _key(ctx))
    return TopUpOut(top_up=TopUpView(**service.view(row)), payment=PaymentOut(**payment))


@route("/wallet/top-ups/{top_up_id}/confirm", "POST", body=ConfirmIn, response=TopUpOut, tags=TAGS, responses=ERRORS)
def confirm_top_up(ctx: Ctx[ConfirmIn], top_up_id: str) -> TopUpOut:
    """Confirm the top-up's payment with a saved card, or read it (after Stripe.js); credits once paid."""
    row, payment = service.confirm(ctx.principal, "top_up", top_up_id, ctx.body.payment_method_id)
    return TopUpOut(top_up=TopUpView(**service.view(row)), payment=PaymentOut(**payment))


@route(
    "/staff/wallets/{user_id}/deposits", "POST", body=DepositIn, response=DepositOut, status=201, roles=STAFF,
    tags=TAGS, idempotency="required", responses=(400, 403, 404, 409),
)  # fmt: skip
def create_deposit(ctx: Ctx[DepositIn], user_id: str) -> DepositOut:
    """Staff: deposit into a user's wallet, with a reason (audited: who, whom, amount, reason, when)."""
    b = ctx.body
    done = service.deposit(ctx.principal, user_id, b.amount_cents, b.currency, b.reason, _key(ctx))
    balance = done.pop("balance_cents")
    return DepositOut(deposit=DepositView(**done), balance_cents=balance)


@route(
    "/staff/wallets/{user_id}/deposits", "GET", query=PageQuery, response=Page[DepositView], roles=STAFF, tags=TAGS,
    responses=(400, 403),
)  # fmt: skip
def list_deposits(ctx: Ctx[None, PageQuery], user_id: str) -> Page[DepositView]:
    """Staff: the audit of deposits into a user's wallet, newest first."""
    items, cursor = service.audit_page(user_id, ctx.query.limit, ctx.query.cursor)
    return Page[DepositView](items=[DepositView(**i) for i in items], next_cursor=cursor)


# ---- tips ----------------------------------------------------------------------------------------------------


@route(
    "/creators/{user_id}/tips", "POST", body=TipIn, response=TipOut, status=201, tags=TAGS, idempotency="required",
    responses=ERRORS,
)  # fmt: skip
def create_tip(ctx: Ctx[TipIn], user_id: str) -> TipOut:
    """Tip a verified creator, by card or from the wallet; the creator gets a ``tip`` notification."""
    b = ctx.body
    row, payment = service.create_tip(
        ctx.principal, user_id, b.amount_cents, b.currency, b.message, b.payment_method, _key(ctx)
    )
    return TipOut(tip=TipView(**service.view(row)), payment=_payment(payment))


@route("/tips/{tip_id}/confirm", "POST", body=ConfirmIn, response=TipOut, tags=TAGS, responses=ERRORS)
def confirm_tip(ctx: Ctx[ConfirmIn], tip_id: str) -> TipOut:
    """Confirm a card tip's payment with a saved card, or read it (after Stripe.js)."""
    row, payment = service.confirm(ctx.principal, "tip", tip_id, ctx.body.payment_method_id)
    return TipOut(tip=TipView(**service.view(row)), payment=_payment(payment))


# ---- pay-per-view --------------------------------------------------------------------------------------------


@route(
    "/photos/{photo_id}/purchase", "POST", body=PurchaseIn, response=PurchaseOut, status=201, tags=TAGS,
    idempotency="required", responses=ERRORS,
)  # fmt: skip
def create_purchase(ctx: Ctx[PurchaseIn], photo_id: str) -> PurchaseOut:
    """Buy a ``paid`` item pay-per-view at its price: once paid, the buyer sees it in full for ever (unless
    refunded)."""
    row, payment = service.create_purchase(ctx.principal, photo_id, ctx.body.payment_method, _key(ctx))
    return PurchaseOut(purchase=PurchaseView(**service.view(row)), payment=_payment(payment))


@route("/purchases/{purchase_id}/confirm", "POST", body=ConfirmIn, response=PurchaseOut, tags=TAGS, responses=ERRORS)
def confirm_purchase(ctx: Ctx[ConfirmIn], purchase_id: str) -> PurchaseOut:
    """Confirm a card purchase's payment with a saved card, or read it (after Stripe.js)."""
    row, payment = service.confirm(ctx.principal, "purchase", purchase_id, ctx.body.payment_method_id)
    return PurchaseOut(purchase=PurchaseView(**service.view(row)), payment=_payment(payment))


# ---- refunds -------------------------------------------------------------------------------------------------

REFUND_KINDS = {"tips": "tip", "purchases": "purchase"}


@route(
    "/staff/payments/{kind}/{payment_id}/refund", "POST", response=RefundOut, roles=STAFF, tags=TAGS,
    idempotency="required", responses=(403, 404, 409, 502, 503),
)  # fmt: skip
def refund_payment(ctx: Ctx, kind: str, payment_id: str) -> RefundOut:
    """Staff: refund a paid tip or purchase (``kind``: tips | purchases) in full: back to the wallet, or to the
    card; the creator's earning is reversed (a receivable if it was paid out), a purchase re-locks."""
    from chalicelib.errors import NotFoundError

    if kind not in REFUND_KINDS:
        raise NotFoundError("No such payment.")
    row = service.refund(ctx.principal, REFUND_KINDS[kind], payment_id)
    return RefundOut(
        id=row.payment_id, kind=row.kind, status=row.status, amount_cents=int(row.amount_cents), currency=row.currency
    )
