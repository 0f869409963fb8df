"""The double-entry ledger: accounts with their balances, transactions, entries, earnings holds, and payouts.

Accounts and the sign convention are in docs/ledger.md. A transaction is posted in ONE TransactWrite
(:func:`write_transaction`): its header (``attribute_not_exists(tx_id)``: a replay posts nothing), one entry row
per account, each account's balance (ADD, or a conditional create of a new account), the global ``#totals`` row
(counts of accounts and transactions, the currencies seen) and the ``#totals:<cur>`` row (the sum of every
balance in that currency, debits, credits), plus the rows of the caller's own state that change with it (an
earnings hold, a payout).

Access patterns (every read is a GetItem, a BatchGet or a Query):
- an account's balance ........................ LedgerAccounts GetItem(account) / BatchGet (a post's accounts)
- the ledger check ............................ LedgerAccounts GetItem("#totals"), BatchGet("#totals:<cur>" ...)
- a transaction ............................... LedgerTransactions GetItem(tx_id)
- an account's entries, newest first .......... LedgerEntries Query(account), range entry_key = "<at>#<tx_id>"
- an order seller's hold ...................... LedgerHolds GetItem / BatchGet(hold_id = "<order_id>:<seller_id>")
- holds due for release, oldest first ......... LedgerHolds GSI by_release (due, release_at): sparse (``due`` is
                                                set until the hold is released), keys only
- an earner's payouts, newest first ........... Payouts Query(user_id), range payout_id (time-sortable ids)
- an earner's connected account ............... PayoutAccounts GetItem(user_id)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.errors import ConflictError
from chalicelib.models.base import (
    PutError,
    TransactWriteError,
    cancellation_codes,
    condition_failed,
    connection,
    keys_only_index,
    now,
    register,
    table_meta,
)

TOTALS = "#totals"
DUE = "1"  # the one bucket of the sparse by_release index


def totals_key(currency: str) -> str:
    return f"#totals:{currency}"


@register
class LedgerAccount(Model):
    """An account and its balance (the sum of its entries), or one of the ``#totals`` rows."""

    Meta = table_meta("ledger_accounts")

    account = UnicodeAttribute(hash_key=True)
    balance = NumberAttribute(default=0)
    currency = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute(default=now)
    # "#totals" only
    accounts = NumberAttribute(null=True)
    transactions = NumberAttribute(null=True)
    currencies = UnicodeSetAttribute(null=True)
    # "#totals:<cur>" only
    debits = NumberAttribute(null=True)
    credits = NumberAttribute(null=True)


@register
class LedgerTransaction(Model):
    Meta = table_meta("ledger_transactions")

    tx_id = UnicodeAttribute(hash_key=True)  # sale:<order_id>, refund:<refund_id>, release:<hold_id>, ...
    kind = UnicodeAttribute()
    ref = UnicodeAttribute(null=True)
    currency = UnicodeAttribute()
    entries: MapAttribute[str, Any] = MapAttribute(default=dict)  # account -> amount
    # seller_id -> {gross, fee, net}: what a sale booked, or a refund / lost dispute reversed, of each share
    shares: MapAttribute[str, Any] = MapAttribute(default=dict)
    at = UTCDateTimeAttribute(default=now)


@register
class LedgerEntry(Model):
    Meta = table_meta("ledger_entries")

    account = UnicodeAttribute(hash_key=True)
    entry_key = UnicodeAttribute(range_key=True)  # "<at, ISO with microseconds>#<tx_id>": newest first
    tx_id = UnicodeAttribute()
    amount = NumberAttribute()
    kind = UnicodeAttribute()
    ref = UnicodeAttribute(null=True)
    at = UTCDateTimeAttribute(default=now)


@register
class LedgerHold(Model):
    """One seller's share of one paid order (chalicelib.services.money.Hold) and its release time."""

    Meta = table_meta("ledger_holds")

    hold_id = UnicodeAttribute(hash_key=True)  # "<order_id>:<seller_id>"
    order_id = UnicodeAttribute()
    seller_id = UnicodeAttribute()
    currency = UnicodeAttribute()
    gross = NumberAttribute()
    fee = NumberAttribute()
    net = NumberAttribute()
    refunded_gross = NumberAttribute(default=0)
    reversed_fee = NumberAttribute(default=0)
    reversed_net = NumberAttribute(default=0)
    pending = NumberAttribute(default=0)
    released = BooleanAttribute(default=False)
    disputed_gross = NumberAttribute(default=0)
    disputed_net = NumberAttribute(default=0)
    disputes: MapAttribute[str, Any] = MapAttribute(default=dict)  # dispute_id -> open | won | lost
    release_at = UTCDateTimeAttribute()
    due = UnicodeAttribute(null=True)  # DUE until released (sparse index by_release)
    version = VersionAttribute()

    by_release = keys_only_index("ledger_holds", "by_release", "due", "release_at")


@register
class Payout(Model):
    Meta = table_meta("payouts")

    user_id = UnicodeAttribute(hash_key=True)
    payout_id = UnicodeAttribute(range_key=True)
    amount_cents = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute(default="pending")  # pending | paid | failed
    destination = UnicodeAttribute(null=True)  # the connected account
    transfer_id = UnicodeAttribute(null=True)
    failure = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute(default=now)
    updated_at = UTCDateTimeAttribute(default=now)


@register
class PayoutAccount(Model):
    """Where an earner's payouts go: their Stripe Connect account."""

    Meta = table_meta("payout_accounts")

    user_id = UnicodeAttribute(hash_key=True)
    connect_account_id = UnicodeAttribute()
    created_at = UTCDateTimeAttribute(default=now)


# ---- access patterns -------------------------------------------------------------------------------------


class InsufficientFunds(ConflictError):
    """An account that may not go negative is short."""

    status = 409
    code = "insufficient_funds"


class AccountsChanged(Exception):
    """A post raced another one that created one of its accounts, or moved a guarded balance: re-read, retry."""


def accounts(names: Iterable[str], *, consistent: bool = True) -> dict[str, LedgerAccount]:
    keys = list(dict.fromkeys(names))
    return {a.account: a for a in LedgerAccount.batch_get(keys, consistent_read=consistent)} if keys else {}


def balance(account: str) -> int:
    try:
        return int(LedgerAccount.get(account).balance or 0)
    except LedgerAccount.DoesNotExist:
        return 0


def transaction(tx_id: str) -> LedgerTransaction | None:
    try:
        return LedgerTransaction.get(tx_id, consistent_read=True)
    except LedgerTransaction.DoesNotExist:
        return None


def entries_of(account: str, limit: int, last_key: dict | None = None):
    return LedgerEntry.query(account, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def entry_key(at: datetime, tx_id: str) -> str:
    return f"{at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{tx_id}"


def write_transaction(
    tx_id: str,
    kind: str,
    ref: str | None,
    currency: str,
    entries: list[tuple[str, int]],
    at: datetime,
    existing: dict[str, LedgerAccount],
    guarded: Callable[[str], bool],
    extra: Callable[[TransactWrite], None] | None = None,
    shares: dict[str, dict[str, Any]] | None = None,
    pinned: Mapping[str, int] | None = None,
) -> bool:
    """One TransactWrite (see the module docstring). ``existing``: the accounts read before (consistent);
    ``guarded(account)``: a debit of it must not take it below zero. False if ``tx_id`` was posted before;
    raises AccountsChanged when an account appeared or a guarded balance fell meanwhile. ``pinned``: accounts whose
    balance the entries were computed from (0: missing); the write is conditioned on each being unchanged."""
    pinned = dict(pinned or {})
    new_accounts = [a for a, _ in entries if a not in existing]
    debits = -sum(v for _, v in entries if v < 0)
    credits = sum(v for _, v in entries if v > 0)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(
                LedgerTransaction(
                    tx_id=tx_id,
                    kind=kind,
                    ref=ref,
                    currency=currency,
                    entries=dict(entries),
                    shares=shares or {},
                    at=at,
                ),
                condition=LedgerTransaction.tx_id.does_not_exist(),
            )
            for account, amount in entries:
                tx.save(
                    LedgerEntry(
                        account=account,
                        entry_key=entry_key(at, tx_id),
                        tx_id=tx_id,
                        amount=amount,
                        kind=kind,
                        ref=ref,
                        at=at,
                    )
                )
                if account in existing:
                    condition = LedgerAccount.account.exists()
                    if amount < 0 and guarded(account):
                        condition &= LedgerAccount.balance >= -amount
                    if account in pinned:
                        condition &= LedgerAccount.balance == pinned.pop(account)
                    tx.update(
                        LedgerAccount(account=account), actions=[LedgerAccount.balance.add(amount)], condition=condition
                    )
                else:
                    if pinned.pop(account, 0) != 0:
                        raise AccountsChanged(tx_id)  # read with a balance, now missing: read again
                    tx.save(
                        LedgerAccount(account=account, balance=amount, currency=currency, created_at=at),
                        condition=LedgerAccount.account.does_not_exist(),
                    )
            for account, held in pinned.items():  # read but not written: only checked
                unchanged = LedgerAccount.balance == held
                if held == 0:
                    unchanged |= LedgerAccount.account.does_not_exist()
                tx.condition_check(LedgerAccount, account, condition=unchanged)
            tx.update(
                LedgerAccount(account=TOTALS),
                actions=[
                    LedgerAccount.transactions.add(1),
                    LedgerAccount.accounts.add(len(new_accounts)),
                    LedgerAccount.currencies.add({currency}),
                ],
            )
            tx.update(
                LedgerAccount(account=totals_key(currency)),
                actions=[
                    LedgerAccount.balance.add(sum(v for _, v in entries)),
                    LedgerAccount.debits.add(debits),
                    LedgerAccount.credits.add(credits),
                    LedgerAccount.transactions.add(1),
                ],
            )
            if extra is not None:
                extra(tx)
    except TransactWriteError as exc:
        codes = cancellation_codes(exc)
        if codes and codes[0] == "ConditionalCheckFailed":
            return False
        if "ConditionalCheckFailed" in codes or "TransactionConflict" in codes:
            raise AccountsChanged(tx_id) from exc
        raise
    return True


def holds(hold_ids: Iterable[str]) -> dict[str, LedgerHold]:
    keys = list(dict.fromkeys(hold_ids))
    return {h.hold_id: h for h in LedgerHold.batch_get(keys, consistent_read=True)} if keys else {}


def holds_due(until: datetime, limit: int) -> list[str]:
    return [k.hold_id for k in LedgerHold.by_release.query(DUE, LedgerHold.release_at <= until, limit=limit)]


def payouts_of(user_id: str, limit: int, last_key: dict | None = None):
    return Payout.query(user_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def payout_account(user_id: str) -> PayoutAccount | None:
    try:
        return PayoutAccount.get(user_id, consistent_read=True)
    except PayoutAccount.DoesNotExist:
        return None


def save_payout_account(row: PayoutAccount) -> PayoutAccount:
    """Create it once; a concurrent creator's row wins (the caller then uses that one)."""
    try:
        row.save(condition=PayoutAccount.user_id.does_not_exist())
    except PutError as exc:
        if not condition_failed(exc):
            raise
        found = payout_account(row.user_id)
        assert found is not None
        return found
    return row
