"""Creator earnings and wallets in the ledger (docs/ledger.md, "Creator earnings and wallets").

One function per kind of movement; each is ONE balanced ledger transaction with an id derived from our own ids,
so a replayed webhook or job posts nothing (``False``):

- ``book(source, ref, earner, gross, ...)``: an earning of a creator (``source``: subscriptions | tips |
  purchases) paid by card (debits ``clearing``) or from the payer's wallet (debits ``wallet:<payer>``, a guarded
  account: DynamoDB's own condition ``balance >= amount`` makes concurrent spends exact, never negative).
  Transaction ``<source>:<ref>``, kind ``<source>``; the platform fee and the earner's net go exactly as an order
  seller's share (``money.sale``), with one hold ``<source>:<ref>:<earner>`` that the release sweep makes
  available after ``LIGHTBOX_EARNINGS_HOLD_DAYS``. The earner's per-source stats (``SalesStats`` rows
  ``<earner>#<cur>#<source>``, month and all-time) are ADDed in the same TransactWrite: they agree with the
  ledger to the cent, once.
- ``reverse(source, ref, refund_id, amount, ...)``: a refund (or a lost dispute) of such an earning, transaction
  ``refund:<refund_id>``, with the same arithmetic as an order refund (``money.refund``: this hold's pending,
  then available, then a receivable the next earnings repay). A wallet-paid earning is refunded to the wallet.
- ``top_up(top_up_id, user, amount, ...)``: a paid card top-up (``top_up:<id>``: clearing -> wallet).
- ``deposit(deposit_id, user, amount, ...)``: a staff deposit (``deposit:<id>``: platform:deposits -> wallet).
  Both repay first what the user owes (``wallet:<user>:receivable:<cur>``), the rest goes to the wallet.
- ``reverse_top_up(reversal_id, top_up_id, user, amount, ...)``: a top-up refunded or charged back
  (``refund:<reversal_id>``: -> clearing, from the wallet as far as it holds it, the rest owed).

The caller's own rows that change with the money (a tip's status, a purchase entry, a subscription period) go in
``extra``: the same TransactWrite, so the money and what it bought commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.config import get_settings
from chalicelib.errors import PaymentRequiredError
from chalicelib.models import ledger as store
from chalicelib.models import sales_stats as stats_store
from chalicelib.models.base import now
from chalicelib.services import ledger, money

SOURCES = ("subscriptions", "tips", "purchases")
Extra = Callable[[TransactWrite], None]


def tx_id(source: str, ref: str) -> str:
    return f"{source}:{ref}"


def hold_id(source: str, ref: str, earner_id: str) -> str:
    return f"{source}:{ref}:{earner_id}"


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"unknown earnings source {source!r}")


def _stats(earner_id: str, currency: str, source: str, at: datetime, deltas: dict[str, int]) -> Extra:
    pk = stats_store.source_pk(earner_id, currency, source)
    actions = [getattr(stats_store.SalesStats, name).add(v) for name, v in deltas.items() if v]

    def extra(tx: TransactWrite) -> None:
        if actions:
            for sk in (f"m#{at.strftime('%Y-%m')}", "all"):
                tx.update(stats_store.SalesStats(pk=pk, sk=sk), actions=actions)

    return extra


def both(*parts: Extra | None) -> Extra:
    """One ``extra`` that runs each of ``parts`` (None ones skipped) in the same TransactWrite."""

    def extra(tx: TransactWrite) -> None:
        for part in parts:
            if part is not None:
                part(tx)

    return extra


def book(
    source: str,
    ref: str,
    earner_id: str,
    gross: int,
    currency: str,
    *,
    at: datetime | None = None,
    payer_wallet: str | None = None,
    fee_bps: int | None = None,
    extra: Extra | None = None,
) -> bool:
    """Book one earning (see the module docstring). False if it was booked before. ``payer_wallet``: the user
    whose wallet pays (else the card payment in clearing). A short wallet raises ``PaymentRequiredError`` (402
    ``insufficient_funds``) and writes nothing, ``extra`` included."""
    _check_source(source)
    if gross <= 0:
        raise ValueError("an earning is a positive amount")
    settings = get_settings()
    at = at or now()
    bps = settings.platform_fee_bps if fee_bps is None else fee_bps
    holds, entries = money.sale(currency, [(earner_id, gross)], bps, gross)
    hold = holds[earner_id]
    if payer_wallet is not None:
        wallet = money.wallet(payer_wallet, currency)
        entries = [(wallet if a == money.clearing(currency) else a, v) for a, v in entries]
    row = store.LedgerHold(
        hold_id=hold_id(source, ref, earner_id),
        order_id=tx_id(source, ref),
        seller_id=earner_id,
        currency=currency,
        gross=hold.gross,
        fee=hold.fee,
        net=hold.net,
        pending=hold.pending,
        release_at=at + _hold_period(),
        due=store.DUE,
    )

    def save_hold(tx: TransactWrite) -> None:
        tx.save(row, condition=store.LedgerHold.hold_id.does_not_exist())

    deltas = {"gross_cents": hold.gross, "fees_cents": hold.fee, "net_cents": hold.net, "orders": 1}
    everything = both(save_hold, _stats(earner_id, currency, source, at, deltas), extra)
    shares = {earner_id: {"gross": hold.gross, "fee": hold.fee, "net": hold.net, "client": payer_wallet}}
    try:
        return ledger._post(
            lambda: ledger.Posting(tx_id(source, ref), source, ref, entries, at, everything, shares),
            currency=currency,
        )
    except store.InsufficientFunds as exc:
        if payer_wallet is None:
            raise
        raise PaymentRequiredError(
            "Your wallet balance is too low for this payment.",
            details={"balance_cents": wallet_balance(payer_wallet, currency), "amount_cents": gross},
        ) from exc


def _hold_period():
    from datetime import timedelta

    return timedelta(days=get_settings().earnings_hold_days)


def reverse(
    source: str,
    ref: str,
    refund_id: str,
    earner_id: str,
    amount: int,
    currency: str,
    *,
    at: datetime | None = None,
    payer_wallet: str | None = None,
    extra: Extra | None = None,
) -> None:
    """Refund ``amount`` of a booked earning (transaction ``refund:<refund_id>``; replays post nothing). Raises
    ``ledger.NotBookedYet`` when the earning is not booked (the job retries)."""
    _check_source(source)
    payload = {
        "order_id": tx_id(source, ref),
        "refund_id": refund_id,
        "currency": currency,
        "amount_cents": amount,
        "at": (at or now()).isoformat(),
        "lines": [{"seller_id": earner_id, "amount_cents": amount}],
    }
    remap = {money.clearing(currency): money.wallet(payer_wallet, currency)} if payer_wallet else None

    def also(shares: dict[str, dict[str, Any]], when: datetime) -> Extra:
        share = shares.get(earner_id)
        if not share:
            return both(extra)
        deltas = {
            "refunds_cents": int(share["gross"]),
            "fees_cents": -int(share["fee"]),
            "net_cents": -int(share["net"]),
        }
        return both(_stats(earner_id, currency, source, when, deltas), extra)

    def step(row: store.LedgerHold, hold: money.Hold, amt: int, balances: dict[str, int]):
        available = balances.get(money.seller(hold.seller_id, "available", hold.currency), 0)
        return money.refund(hold, min(amt, hold.refundable), available)

    ledger._apply_to_holds(payload, f"refund:{refund_id}", "refund", step, remap=remap, also=also)


def _credit(
    tx: str,
    kind: str,
    ref: str,
    source_account: str,
    user_id: str,
    amount: int,
    currency: str,
    at: datetime | None,
    extra: Extra | None,
) -> bool:
    """A wallet credit; what the user owes (``wallet:<user>:receivable:<cur>``, a reversed top-up already spent)
    is repaid first, from a consistent read the write is conditioned on (two racing credits never repay one debt
    twice)."""
    if amount <= 0:
        raise ValueError("a wallet credit is a positive amount")
    when = at or now()
    receivable = money.wallet_receivable(user_id, currency)

    def compute() -> ledger.Posting:
        owed = _consistent_balance(receivable)
        entries = money.wallet_credit(
            source_account, user_id, amount=amount, currency=currency, receivable_balance=owed
        )
        return ledger.Posting(tx, kind, ref, entries, when, extra, pinned={receivable: owed})

    return ledger._post(compute, currency=currency)


def _consistent_balance(account: str) -> int:
    row = store.accounts([account]).get(account)
    return int(row.balance or 0) if row is not None else 0


def reverse_top_up(
    reversal_id: str, top_up_id: str, user_id: str, amount: int, currency: str, *, at: datetime | None = None
) -> bool:
    """A top-up refunded at Stripe or lost in a dispute (``refund:<reversal_id>``, kind ``top_up_reversal``): the
    money goes back to clearing; the wallet gives what it holds (the write is conditioned on the balance read, so
    a concurrent spend makes it compute again), the rest is owed (``wallet:<user>:receivable:<cur>``, repaid by
    the next credits). False if booked before."""
    if amount <= 0:
        raise ValueError("a reversal is a positive amount")
    when = at or now()
    account = money.wallet(user_id, currency)

    def compute() -> ledger.Posting | None:
        tx = f"refund:{reversal_id}"
        if store.transaction(tx) is not None:
            return None
        held = _consistent_balance(account)
        entries = money.top_up_reversal(user_id, currency, amount, held)
        return ledger.Posting(tx, "top_up_reversal", top_up_id, entries, when, None, pinned={account: held})

    return ledger._post(compute, currency=currency)


def top_up(
    top_up_id: str, user_id: str, amount: int, currency: str, *, at: datetime | None = None, extra: Extra | None = None
) -> bool:
    """A paid card top-up: ``top_up:<id>``, clearing -> the user's wallet."""
    return _credit(
        f"top_up:{top_up_id}", "top_up", top_up_id, money.clearing(currency), user_id, amount, currency, at, extra
    )


def deposit(
    deposit_id: str, user_id: str, amount: int, currency: str, *, at: datetime | None = None, extra: Extra | None = None
) -> bool:
    """A staff deposit: ``deposit:<id>``, platform:deposits -> the user's wallet."""
    return _credit(
        f"deposit:{deposit_id}", "deposit", deposit_id, money.deposits(currency), user_id, amount, currency, at, extra
    )


# ---- reads -----------------------------------------------------------------------------------------------


def refundable(source: str, ref: str, earner_id: str) -> int | None:
    """What is left to reverse of a booked earning (None: not booked)."""
    key = hold_id(source, ref, earner_id)
    row = store.holds([key]).get(key)
    return None if row is None else ledger._pure(row).refundable


def wallet_owed(user_id: str, currency: str) -> int:
    """What the user owes (a reversed top-up that was already spent): repaid by the next credit of the wallet."""
    return max(0, -ledger.balance(money.wallet_receivable(user_id, currency)))


def wallet_balance(user_id: str, currency: str) -> int:
    return ledger.balance(money.wallet(user_id, currency))


def wallet_entries(user_id: str, currency: str, limit: int, cursor: str | None):
    """The wallet's entries, newest first (``LedgerEntry``: amount, kind, ref, at), and the next cursor."""
    return ledger.entries_page(money.wallet(user_id, currency), limit, cursor)


def by_source(user_id: str, currency: str) -> dict[str, int]:
    """Lifetime net per creator source (one BatchGet of the all-time rows)."""
    keys = [(stats_store.source_pk(user_id, currency, s), "all") for s in SOURCES]
    rows = {r.pk: r for r in stats_store.SalesStats.batch_get(keys)}
    out = {}
    for s in SOURCES:
        row = rows.get(stats_store.source_pk(user_id, currency, s))
        out[s] = int(row.net_cents or 0) if row else 0
    return out


def monthly_net(user_id: str, currency: str, first: str, last: str) -> dict[str, int]:
    """Net per month (``YYYY-MM``) of the creator sources between two months: one Query per source."""
    out: dict[str, int] = {}
    for s in SOURCES:
        pk = stats_store.source_pk(user_id, currency, s)
        for row in stats_store.SalesStats.query(pk, stats_store.SalesStats.sk.between(f"m#{first}", f"m#{last}")):
            out[row.sk[2:]] = out.get(row.sk[2:], 0) + int(row.net_cents or 0)
    return out
