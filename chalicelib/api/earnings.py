"""Ledger, earnings, payouts and sales analytics: /earnings, /payouts, /sales/summary, /staff/ledger/check.

Amounts come from the ledger (chalicelib/services/ledger.py) and the pre-aggregated sales rows
(chalicelib/services/sales_stats.py); see docs/ledger.md.
"""

from __future__ import annotations

from chalicelib.api.routing import Ctx, route
from chalicelib.api.schema_base import Out
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
