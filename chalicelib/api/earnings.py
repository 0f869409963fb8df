"""Ledger, earnings, payouts and sales analytics: /earnings, /payouts, /sales/summary, /staff/ledger/check.

Amounts come from the ledger (chalicelib/services/ledger.py) and the pre-aggregated sales rows
(chalicelib/services/sales_stats.py); see docs/ledger.md.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from chalicelib.api.routing import IDEMPOTENCY_HEADER, Ctx, route
from chalicelib.api.schema_base import Body, Out, Page, PageQuery, Query
from chalicelib.services import ledger

TAGS = ("earnings",)
STAFF = ("staff", "admin")


class CurrencyTotalsOut(Out):
    sum_cents: int
    debits_cents: int
    credits_cents: int


class LedgerCheckOut(Out):
    balanced: bool
    accounts: int
    transactions: int
    currencies: dict[str, CurrencyTotalsOut]


@route("/staff/ledger/check", "GET", response=LedgerCheckOut, roles=STAFF, tags=TAGS, responses=(403,))
def ledger_check(ctx: Ctx) -> LedgerCheckOut:
    """Staff: the sum of every ledger account is zero (read from the totals each transaction updates)."""
    return LedgerCheckOut.model_validate(ledger.check())


# ---- sales summary ---------------------------------------------------------------------------------------

SELLERS = ("photographer", "creator")
CurrencyCode = Annotated[str, Field(pattern=r"^[a-z]{3}$", description="Lowercase ISO 4217 code")]


class SummaryQuery(Query):
    from_: date | None = Field(
        None, alias="from", description="First day (YYYY-MM-DD); default: 30 days / 12 months ago"
    )
    to: date | None = Field(None, description="Last day (YYYY-MM-DD), inclusive; default: today")
    granularity: Literal["day", "month"] = "day"
    currency: CurrencyCode = "eur"


class TotalsOut(Out):
    gross_cents: int
    refunds_cents: int
    fees_cents: int
    net_cents: int
    orders: int


class PeriodOut(Out):
    period: str
    gross_cents: int
    net_cents: int
    orders: int


class TopPhotoOut(Out):
    photo_id: str
    amount_cents: int


class TopClientOut(Out):
    client_id: str
    amount_cents: int


class SummaryOut(Out):
    currency: str
    totals: TotalsOut
    series: list[PeriodOut]
    top_photos: list[TopPhotoOut]
    top_clients: list[TopClientOut]


@route("/sales/summary", "GET", query=SummaryQuery, response=SummaryOut, roles=SELLERS, tags=TAGS, responses=(400, 403))
def sales_summary(ctx: Ctx[None, SummaryQuery]) -> SummaryOut:
    """Seller: sales totals, a day or month series, top photos and clients (pre-aggregated rows)."""
    from chalicelib.services import sales_stats

    q = ctx.query
    first, last = sales_stats.resolve_range(q.granularity, q.from_, q.to)
    return SummaryOut.model_validate(sales_stats.summary(ctx.user_id, q.currency, q.granularity, first, last))


# ---- earnings --------------------------------------------------------------------------------------------


class EarningsQuery(Query):
    currency: CurrencyCode = "eur"


class BySourceOut(Out):
    sales: int
    subscriptions: int
    tips: int
    purchases: int


class NetPeriodOut(Out):
    period: str
    net_cents: int


class EarningsOut(Out):
    available_cents: int
    pending_cents: int
    disputed_cents: int = Field(description="Held while a dispute is open")
    lifetime_cents: int
    currency: str
    by_source: BySourceOut
    series: list[NetPeriodOut]


@route("/earnings", "GET", query=EarningsQuery, response=EarningsOut, roles=SELLERS, tags=TAGS, responses=(403,))
def earnings(ctx: Ctx[None, EarningsQuery]) -> EarningsOut:
    """Seller or creator: available and pending earnings, lifetime net by source, net per month."""
    from chalicelib.services import payouts

    return EarningsOut.model_validate(payouts.earnings(ctx.user_id, ctx.query.currency))


# ---- payouts ---------------------------------------------------------------------------------------------


class PayoutIn(Body):
    amount_cents: int = Field(gt=0, le=100_000_000, description="At most the available balance, at least the minimum")
    currency: CurrencyCode = "eur"


class PayoutView(Out):
    id: str
    amount_cents: int
    currency: str
    status: Literal["pending", "paid", "failed"]
    failure: str | None = None
    created_at: str


class PayoutCreatedOut(Out):
    payout: PayoutView


@route(
    "/payouts",
    "POST",
    body=PayoutIn,
    response=PayoutCreatedOut,
    status=201,
    roles=SELLERS,
    idempotency="required",
    tags=TAGS,
    responses=(400, 403, 409),
)
def create_payout(ctx: Ctx[PayoutIn]) -> PayoutCreatedOut:
    """Seller or creator: pay out available earnings to their connected Stripe account. A creator must be
    verified first (403 ``creator_not_verified``)."""
    from chalicelib.services import accounts, payouts

    if ctx.principal.role == "creator":
        accounts.require_verified_creator(ctx.principal)

    key = (ctx.request.headers or {}).get(IDEMPOTENCY_HEADER)
    payout = payouts.request_payout(ctx.user_id, ctx.body.amount_cents, ctx.body.currency, request_key=key)
    return PayoutCreatedOut(payout=PayoutView.model_validate(payouts.view(payout)))


@route("/payouts", "GET", query=PageQuery, response=Page[PayoutView], roles=SELLERS, tags=TAGS, responses=(400, 403))
def list_payouts(ctx: Ctx[None, PageQuery]) -> Page[PayoutView]:
    """The caller's payouts, newest first."""
    from chalicelib.services import payouts

    rows, cursor = payouts.payouts_page(ctx.user_id, ctx.query.limit, ctx.query.cursor)
    return Page[PayoutView](items=[PayoutView.model_validate(payouts.view(r)) for r in rows], next_cursor=cursor)
