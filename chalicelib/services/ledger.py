"""The double-entry ledger (docs/ledger.md): posting balanced transactions, the money events' consumers, the
release sweep, balances and the staff check.

Every amount is computed by :mod:`chalicelib.services.money` (pure); this module reads the state a computation
needs (the order sellers' holds, their balances), posts the entries with the holds' new state in the same
TransactWrite (:func:`chalicelib.models.ledger.write_transaction`) and retries when a concurrent post changed
what it read. A transaction id is derived from the event (``sale:<order_id>``, ``refund:<refund_id>``...), so a
replayed job posts nothing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.config import get_settings
from chalicelib.errors import ConflictError
from chalicelib.logs import get_logger
from chalicelib.models import ledger as store
from chalicelib.models.base import now
from chalicelib.services import money

log = get_logger(__name__)
MAX_ATTEMPTS = 12
BACKOFF_SECONDS = 0.01  # a contended post waits a random 0..BACKOFF*2^n (capped) before computing again


class LedgerBusy(ConflictError):
    """Every attempt raced another post (DynamoDB's TransactionConflict on a hot row): a transient 409 the client
    retries with the same Idempotency-Key (not stored by the idempotency layer); a job is retried by SQS."""

    code = "ledger_busy"


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.5, BACKOFF_SECONDS * 2**attempt)))


SELLERS_PER_TRANSACTION = 10  # a reversal touches ~4 accounts per seller (2 actions each) + its hold: < 100 actions


class NotBookedYet(Exception):
    """A refund or dispute whose sale is not in the ledger yet (its job runs first): the job is retried."""


@dataclass
class Posting:
    tx_id: str
    kind: str
    ref: str | None
    entries: list[money.Entry]
    at: datetime
    extra: Callable[[TransactWrite], None] | None = None
    shares: dict[str, dict[str, Any]] | None = None  # seller -> {gross, fee, net(, client)} booked or reversed
    pinned: dict[str, int] | None = None  # account -> the balance the entries were computed from: must not move


def currency_of(account: str) -> str:
    return account.rsplit(":", 1)[1]


def post(
    tx_id: str,
    entries: Iterable[money.Entry],
    kind: str,
    ref: str | None = None,
    at: datetime | None = None,
    extra: Callable[[TransactWrite], None] | None = None,
    *,
    currency: str | None = None,
) -> bool:
    """Post one balanced transaction (entries aggregated per account). False if ``tx_id`` was posted before.
    Raises ValueError when the entries do not sum to zero or mix currencies, and ``InsufficientFunds`` when a
    debit would take an account other than clearing or a receivable below zero."""
    fixed = list(entries)
    return _post(lambda: Posting(tx_id, kind, ref, fixed, at or now(), extra), currency=currency)


def _post(compute: Callable[[], Posting | None], *, currency: str | None = None) -> bool:
    """Compute a posting from fresh reads and write it; again from the start when a concurrent post won. A post
    that would overdraw an account is computed once more (its reads may predate a concurrent post); short
    twice with the same entries, it raises InsufficientFunds."""
    short_before: list[money.Entry] | None = None
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            _backoff(attempt)
        posting = compute()
        if posting is None:
            return False
        entries = money.aggregate(posting.entries)
        if not money.balanced(entries):
            raise ValueError(f"transaction {posting.tx_id} does not balance: {entries}")
        currencies = {currency_of(a) for a, _ in entries} | ({currency} if currency else set())
        if len(currencies) != 1:
            raise ValueError(f"transaction {posting.tx_id} needs exactly one currency, has {sorted(currencies)}")
        (cur,) = currencies
        existing = store.accounts(a for a, _ in entries)
        short = [
            (account, int(existing[account].balance) if account in existing else 0, -amount)
            for account, amount in entries
            if amount < 0
            and not money.may_go_negative(account)
            and (int(existing[account].balance) if account in existing else 0) + amount < 0
        ]
        if short:
            if store.transaction(posting.tx_id) is not None:
                return False  # posted before: what it debited is gone, not short
            if entries != short_before:  # computed from state a concurrent post has changed since: compute again
                short_before = entries
                continue
            account, held, asked = short[0]
            raise store.InsufficientFunds(f"{account} holds {held}, {asked} asked.")
        try:
            return store.write_transaction(
                posting.tx_id,
                posting.kind,
                posting.ref,
                cur,
                entries,
                posting.at,
                existing,
                lambda a: not money.may_go_negative(a),
                posting.extra,
                posting.shares,
                posting.pinned,
            )
        except store.AccountsChanged:
            continue
    raise LedgerBusy("The ledger is busy; retry the request.")


# ---- holds <-> money.Hold --------------------------------------------------------------------------------


def _hold_id(order_id: str, seller_id: str) -> str:
    return f"{order_id}:{seller_id}"


def _pure(row: store.LedgerHold) -> money.Hold:
    return money.Hold(
        seller_id=row.seller_id,
        currency=row.currency,
        gross=int(row.gross),
        fee=int(row.fee),
        net=int(row.net),
        refunded_gross=int(row.refunded_gross),
        reversed_fee=int(row.reversed_fee),
        reversed_net=int(row.reversed_net),
        pending=int(row.pending),
        released=bool(row.released),
        disputed_gross=int(row.disputed_gross),
        disputed_net=int(row.disputed_net),
    )


def _store_into(row: store.LedgerHold, hold: money.Hold) -> store.LedgerHold:
    for name, value in asdict(hold).items():
        if name not in ("seller_id", "currency"):
            setattr(row, name, value)
    if hold.released:
        row.due = None
    return row


def _saving(rows: list[store.LedgerHold]) -> Callable[[TransactWrite], None]:
    def extra(tx: TransactWrite) -> None:
        for row in rows:
            tx.save(row)  # version-checked: a concurrent change of the hold cancels the post (and it is retried)

    return extra


# ---- consumers -------------------------------------------------------------------------------------------


def _at(payload: dict[str, Any], key: str = "at") -> datetime:
    raw = payload.get(key)
    if isinstance(raw, str):
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return now()


def on_order_paid(payload: dict[str, Any], cursor: Any, limit: int) -> None:
    """``sale:<order_id>``: clearing debited the total, the platform fee credited, each seller's pending
    credited their net; one hold per seller, due for release after the holding period."""
    settings = get_settings()
    order_id, currency = payload["order_id"], payload["currency"]
    paid_at = _at(payload, "paid_at")
    lines = [(line["seller_id"], int(line["amount_cents"])) for line in payload.get("lines", [])]
    total = payload.get("total_cents")
    fee_bps = int(payload.get("fee_bps", settings.platform_fee_bps))
    holds, entries = money.sale(currency, lines, fee_bps, int(total) if total is not None else None)
    release_at = paid_at + timedelta(days=settings.earnings_hold_days)
    rows = [
        _store_into(
            store.LedgerHold(
                hold_id=_hold_id(order_id, sid),
                order_id=order_id,
                seller_id=sid,
                currency=currency,
                gross=hold.gross,
                fee=hold.fee,
                net=hold.net,
                release_at=release_at,
                due=store.DUE,
            ),
            hold,
        )
        for sid, hold in holds.items()
    ]

    def extra(tx: TransactWrite) -> None:
        for row in rows:
            tx.save(row, condition=store.LedgerHold.hold_id.does_not_exist())

    clients = {line["seller_id"]: line.get("client_id") for line in payload.get("lines", [])}
    shares: dict[str, dict[str, Any]] = {
        sid: {"gross": h.gross, "fee": h.fee, "net": h.net, "client": clients.get(sid) or payload.get("buyer_id")}
        for sid, h in holds.items()
    }
    _post(lambda: Posting(f"sale:{order_id}", "sale", order_id, entries, paid_at, extra, shares), currency=currency)
    return None


def _per_seller(payload: dict[str, Any]) -> dict[str, int]:
    amounts: dict[str, int] = {}
    for line in payload.get("lines", []):
        amounts[line["seller_id"]] = amounts.get(line["seller_id"], 0) + int(line["amount_cents"])
    return amounts


def transaction_ids(payload: dict[str, Any], tx_base: str) -> list[tuple[str, list[str]]]:
    """The transactions a refund or dispute event posts, with their sellers: ten sellers each, ``<tx_base>``
    alone when one holds them all, else ``<tx_base>#<n>`` (what sales_stats reads back)."""
    sellers = sorted(_per_seller(payload))
    chunks = [sellers[i : i + SELLERS_PER_TRANSACTION] for i in range(0, len(sellers), SELLERS_PER_TRANSACTION)]
    return [(tx_base if len(chunks) == 1 else f"{tx_base}#{n}", chunk) for n, chunk in enumerate(chunks)]


Step = Callable[[store.LedgerHold, money.Hold, int, dict[str, int]], tuple[money.Hold, list[money.Entry]]]


Also = Callable[[dict[str, dict[str, Any]], datetime], Callable[[TransactWrite], None]]


def _apply_to_holds(
    payload: dict[str, Any],
    tx_base: str,
    kind: str,
    step: Step,
    *,
    remap: dict[str, str] | None = None,
    also: Also | None = None,
) -> None:
    """Apply ``step(row, hold, amount, balances)`` to each seller's hold of the order, ten sellers per
    transaction (``<tx_base>`` alone when one transaction holds them all, else ``<tx_base>#<n>``).
    ``remap``: accounts the entries use in place of others (a wallet-paid earning is refunded to the wallet, not
    to clearing); ``also(shares, at)``: more writes of the same TransactWrite (creator earnings' stats rows)."""
    order_id, currency = payload["order_id"], payload["currency"]
    amounts = _per_seller(payload)
    at = _at(payload)
    for tx_id, chunk in transaction_ids(payload, tx_base):

        def compute(chunk: list[str] = chunk, tx_id: str = tx_id) -> Posting | None:
            if store.transaction(tx_id) is not None:
                return None
            rows = store.holds(_hold_id(order_id, sid) for sid in chunk)
            missing = [sid for sid in chunk if _hold_id(order_id, sid) not in rows]
            if missing:
                raise NotBookedYet(f"sale:{order_id} is not booked for {missing}")
            names = [money.seller(sid, b, currency) for sid in chunk for b in ("available", "receivable")]
            balances = {a: int(r.balance) for a, r in store.accounts(names).items()}
            entries: list[money.Entry] = []
            changed = []
            shares = {}
            for sid in chunk:
                row = rows[_hold_id(order_id, sid)]
                before = _pure(row)
                hold, part = step(row, before, amounts[sid], balances)
                entries += part
                changed.append(_store_into(row, hold))
                if hold.refunded_gross != before.refunded_gross:
                    shares[sid] = {
                        "gross": hold.refunded_gross - before.refunded_gross,
                        "fee": hold.reversed_fee - before.reversed_fee,
                        "net": hold.reversed_net - before.reversed_net,
                    }
            if remap:
                entries = [(remap.get(a, a), v) for a, v in entries]
            saving = _saving(changed)
            if also is not None:
                more = also(shares, at)

                def extra(tx: TransactWrite, saving: Callable[[TransactWrite], None] = saving) -> None:
                    saving(tx)
                    more(tx)

                saving = extra
            return Posting(
                tx_id,
                kind,
                payload.get("refund_id") or payload.get("dispute_id"),
                entries,
                at,
                saving,
                shares,
            )

        _post(compute, currency=currency)


def _available(balances: dict[str, int], hold: money.Hold) -> int:
    return balances.get(money.seller(hold.seller_id, "available", hold.currency), 0)


def on_refund_succeeded(payload: dict[str, Any], cursor: Any, limit: int) -> None:
    """``refund:<refund_id>``: each seller's share reversed proportionally (money.refund)."""

    def step(row: store.LedgerHold, hold: money.Hold, amount: int, balances: dict[str, int]):
        return money.refund(hold, min(amount, hold.refundable), _available(balances, hold))

    _apply_to_holds(payload, f"refund:{payload['refund_id']}", "refund", step)
    return None


def _dispute_state(row: store.LedgerHold, dispute_id: str) -> str | None:
    disputes = row.disputes.as_dict() if row.disputes is not None else {}
    return disputes.get(dispute_id)


def _set_dispute_state(row: store.LedgerHold, dispute_id: str, state: str) -> None:
    disputes = row.disputes.as_dict() if row.disputes is not None else {}
    row.disputes = {**disputes, dispute_id: state}


def on_dispute_opened(payload: dict[str, Any], cursor: Any, limit: int) -> None:
    """``dispute:<id>:opened``: the disputed net moves to the seller's disputed account (money.dispute_opened)."""
    dispute_id = payload["dispute_id"]

    def step(row: store.LedgerHold, hold: money.Hold, amount: int, balances: dict[str, int]):
        if _dispute_state(row, dispute_id) is not None:
            return hold, []  # already opened, or closed before this arrived
        _set_dispute_state(row, dispute_id, "open")
        return money.dispute_opened(hold, amount, _available(balances, hold))

    _apply_to_holds(payload, f"dispute:{dispute_id}:opened", "dispute_opened", step)
    return None


def on_dispute_closed(payload: dict[str, Any], cursor: Any, limit: int) -> None:
    """``dispute:<id>:won|lost``: won, the reserve goes back; lost, booked as a refund (money.dispute_closed).
    A close that arrives before its open applies both."""
    dispute_id, status = payload["dispute_id"], payload.get("status")
    if status not in ("won", "lost"):
        return None  # e.g. warning_closed: nothing was reserved that a close would change

    def step(row: store.LedgerHold, hold: money.Hold, amount: int, balances: dict[str, int]):
        state = _dispute_state(row, dispute_id)
        if state in ("won", "lost"):
            return hold, []
        entries: list[money.Entry] = []
        if state is None:
            hold, entries = money.dispute_opened(hold, amount, _available(balances, hold))
            balances = money.balances_after(balances, entries)
        _set_dispute_state(row, dispute_id, status)
        hold, closing = money.dispute_closed(hold, status == "won", _available(balances, hold))
        return hold, entries + closing

    _apply_to_holds(payload, f"dispute:{dispute_id}:{status}", f"dispute_{status}", step)
    return None


def release_hold(hold_id: str) -> bool:
    """``release:<hold_id>``: the hold's pending earnings become available (after settling a receivable)."""

    def compute() -> Posting | None:
        row = store.holds([hold_id]).get(hold_id)
        if row is None or row.released:
            return None
        # What it settles depends on what the seller owes: read consistently, and the write is conditioned on that
        # balance (a concurrent release or reversal that moved it cancels this post, which is computed again).
        account = money.seller(row.seller_id, "receivable", row.currency)
        found = store.accounts([account]).get(account)
        receivable = int(found.balance or 0) if found else 0
        hold, entries = money.release(_pure(row), receivable)
        saving = _saving([_store_into(row, hold)])
        return Posting(
            f"release:{hold_id}", "release", row.order_id, entries, now(), saving, pinned={account: receivable}
        )

    return _post(compute)


def on_earnings_release(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """The sweep: holds past their release time (the sparse by_release index), oldest first, ``limit`` a
    chunk; a released hold leaves the index, so the continuation queries from the start again."""
    due = store.holds_due(now(), limit)
    for hold_id in due:
        release_hold(hold_id)
    return {} if len(due) >= limit else None


# ---- reads -----------------------------------------------------------------------------------------------


BUCKETS = ("pending", "available", "disputed", "receivable")


def entries_page(account: str, limit: int, cursor: str | None) -> tuple[list[store.LedgerEntry], str | None]:
    """An account's entries, newest first, a page at a time (the cursor is bound to the account)."""
    from chalicelib import pagination

    scope = f"ledger:{account}"
    rows = store.entries_of(account, limit, pagination.decode(scope, cursor))
    return pagination.page(scope, rows, limit)


def balance(account: str) -> int:
    return store.balance(account)


def seller_balances(user_id: str, currency: str) -> dict[str, int]:
    names = {money.seller(user_id, b, currency): b for b in BUCKETS}
    found = store.accounts(names, consistent=False)
    return {bucket: int(found[name].balance) if name in found else 0 for name, bucket in names.items()}


def check() -> dict[str, Any]:
    """The sum of every account is zero: read from the totals rows that each post updates in its own
    transaction (docs/ledger.md: why this is a real check), never by a Scan."""
    totals = store.accounts([store.TOTALS], consistent=True).get(store.TOTALS)
    currencies = sorted(totals.currencies or ()) if totals else []
    per_currency = store.accounts([store.totals_key(c) for c in currencies], consistent=True)
    balanced = all(
        int(row.balance) == 0 and int(row.debits or 0) == int(row.credits or 0) for row in per_currency.values()
    ) and len(per_currency) == len(currencies)
    return {
        "balanced": balanced,
        "accounts": int(totals.accounts or 0) if totals else 0,
        "transactions": int(totals.transactions or 0) if totals else 0,
        "currencies": {
            c.split(":", 1)[1]: {
                "sum_cents": int(r.balance),
                "debits_cents": int(r.debits or 0),
                "credits_cents": int(r.credits or 0),
            }
            for c, r in per_currency.items()
        },
    }
