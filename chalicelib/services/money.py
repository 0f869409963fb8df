"""Fee and split arithmetic for the ledger: pure functions over integer minor units (no I/O, no DynamoDB).

Everything a money event does to one seller's share of one order is computed here, as a new :class:`Hold`
(that share's state) and the ledger entries ``[(account, amount), ...]`` that sum to zero. The ledger service
(:mod:`chalicelib.services.ledger`) only aggregates the entries of an order's sellers and posts them.

Sign convention (docs/ledger.md): an entry adds ``amount`` to its account's balance; a transaction's entries sum
to zero, so the sum of every account's balance is zero. Money the platform owes someone (a seller's earnings,
its own fees, a payout on its way) is a positive balance; ``clearing:<cur>`` (the money Stripe holds for us)
goes negative by what it holds, and ``seller:<id>:receivable:<cur>`` goes negative by what a seller owes back.

Rounding:
- the platform fee of a seller's share is ``gross * bps / 10000`` rounded half up (``fee_of``), clamped to
  ``[0, gross]``; the seller's net is ``gross - fee``. The fee is per seller (not per line), so a cart of many
  cheap lines is not rounded up once per line;
- a refund or a lost dispute of ``amount`` reverses the fee *cumulatively*: after it, the reversed fee is
  ``fee_of_part(refunded_total)`` = ``refunded_total * fee / gross`` rounded half up, minus what was reversed
  before. That is non-decreasing in the refunded total, never more than ``fee``, and exactly ``fee`` once the
  whole gross is refunded (the last refund takes the exact remainder); the net reversed is ``amount - fee
  reversed``, which is never negative and never more than the net left.

Where a reversal takes the seller's net from (``_take``): this order's pending earnings (still on hold), then
the seller's available balance, then this order's dispute reserve (a lost dispute takes its reserve first);
only what is beyond those goes to ``seller:<id>:receivable:<cur>`` (the seller owes it; the release sweep
settles it from their next earnings before anything becomes available).
Without payouts in between, the receivable is never used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

Entry = tuple[str, int]
BPS = 10_000


# ---- accounts ---------------------------------------------------------------------------------------------


def clearing(currency: str) -> str:
    return f"clearing:{currency}"


def fees(currency: str) -> str:
    return f"platform:fees:{currency}"


def payouts(currency: str) -> str:
    return f"payouts:{currency}"


def seller(user_id: str, bucket: str, currency: str) -> str:
    """``bucket``: pending | available | disputed | receivable."""
    return f"seller:{user_id}:{bucket}:{currency}"


def wallet(user_id: str, currency: str) -> str:
    """A user's wallet: what they topped up or were given and have not spent (never negative)."""
    return f"wallet:{user_id}:{currency}"


def wallet_receivable(user_id: str, currency: str) -> str:
    """Minus what a user owes the platform: a top-up refunded or charged back after its money was spent."""
    return f"wallet:{user_id}:receivable:{currency}"


def deposits(currency: str) -> str:
    """What staff gave to wallets (the platform's expense): goes negative by what was deposited."""
    return f"platform:deposits:{currency}"


def may_go_negative(account: str) -> bool:
    return account.startswith(("clearing:", "platform:deposits:")) or ":receivable:" in account


# ---- arithmetic -------------------------------------------------------------------------------------------


def clawback_split(amount: int, wallet_balance: int) -> tuple[int, int]:
    """A reversed top-up of ``amount``: (taken from the wallet, owed by the user). The wallet gives what it holds
    (never below zero), the rest is owed."""
    if amount < 0:
        raise ValueError("amount must not be negative")
    from_wallet = min(amount, max(0, wallet_balance))
    return from_wallet, amount - from_wallet


def top_up_reversal(user_id: str, currency: str, amount: int, wallet_balance: int) -> list[Entry]:
    """A top-up refunded or lost in a dispute: clearing +amount (the money goes back to the card); the wallet
    -what it still holds of it; ``wallet:<user>:receivable:<cur>`` -the rest (the user owes it)."""
    from_wallet, owed = clawback_split(amount, wallet_balance)
    entries = [
        (clearing(currency), amount),
        (wallet(user_id, currency), -from_wallet),
        (wallet_receivable(user_id, currency), -owed),
    ]
    return aggregate(entries)


def wallet_credit(source: str, user_id: str, currency: str, amount: int, receivable_balance: int) -> list[Entry]:
    """A credit of a wallet (top-up, deposit) from ``source``: it repays what the user owes first
    (``receivable_balance`` is that account's balance, negative by the debt), the rest goes to the wallet."""
    if amount <= 0:
        raise ValueError("a wallet credit is a positive amount")
    repay = min(amount, max(0, -receivable_balance))
    entries = [
        (source, -amount),
        (wallet_receivable(user_id, currency), repay),
        (wallet(user_id, currency), amount - repay),
    ]
    return aggregate(entries)


def _half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def fee_of(gross: int, fee_bps: int) -> int:
    """The platform fee of ``gross`` at ``fee_bps`` basis points, rounded half up, never more than ``gross``."""
    if gross < 0 or not 0 <= fee_bps <= BPS:
        raise ValueError("gross must be >= 0 and fee_bps within 0..10000")
    return min(gross, _half_up(gross * fee_bps, BPS))


def balanced(entries: Iterable[Entry]) -> bool:
    return sum(amount for _, amount in entries) == 0


def aggregate(entries: Iterable[Entry]) -> list[Entry]:
    """One entry per account (their sum), zero entries dropped, in account order."""
    totals: dict[str, int] = {}
    for account, amount in entries:
        totals[account] = totals.get(account, 0) + amount
    return sorted((a, v) for a, v in totals.items() if v != 0)


@dataclass(frozen=True)
class Hold:
    """One seller's share of one paid order and what happened to it since."""

    seller_id: str
    currency: str
    gross: int
    fee: int
    net: int
    refunded_gross: int = 0  # refunds and lost disputes
    reversed_fee: int = 0
    reversed_net: int = 0
    pending: int = 0  # of this share's net, what is still on hold in the seller's pending account
    released: bool = False
    disputed_gross: int = 0  # an open dispute's amount (0: none open)
    disputed_net: int = 0  # the net moved to the seller's disputed account while it is open

    @property
    def refundable(self) -> int:
        return self.gross - self.refunded_gross


def shipping_tax(currency: str) -> str:
    return f"platform:shipping_tax:{currency}"


def sale(
    currency: str, lines: Iterable[tuple[str, int]], fee_bps: int, total: int | None = None
) -> tuple[dict[str, Hold], list[Entry]]:
    """A paid order: ``lines`` are ``(seller_id, amount_cents)``. Returns each seller's hold and the entries
    (clearing debited the total, the platform fee credited, each seller's pending credited their net). What
    the buyer paid beyond the lines (``total``: shipping and tax) is the platform's: ``platform:shipping_tax``."""
    gross: dict[str, int] = {}
    for seller_id, amount in lines:
        if amount < 0:
            raise ValueError("line amounts must be >= 0")
        gross[seller_id] = gross.get(seller_id, 0) + amount
    holds: dict[str, Hold] = {}
    entries: list[Entry] = []
    for seller_id, amount in sorted(gross.items()):
        fee = fee_of(amount, fee_bps)
        holds[seller_id] = Hold(seller_id, currency, amount, fee, amount - fee, pending=amount - fee)
        entries += [
            (clearing(currency), -amount),
            (fees(currency), fee),
            (seller(seller_id, "pending", currency), amount - fee),
        ]
    extra = 0 if total is None else total - sum(gross.values())
    if extra < 0:
        raise ValueError("the order's total is less than its lines")
    entries += [(clearing(currency), -extra), (shipping_tax(currency), extra)]
    return holds, aggregate(entries)


def _reversal(hold: Hold, amount: int) -> tuple[int, int]:
    """(fee, net) reversed by refunding ``amount`` more of this share (cumulative rounding, see above)."""
    if not 0 <= amount <= hold.refundable:
        raise ValueError(f"refund of {amount} exceeds the {hold.refundable} left of this share")
    total = hold.refunded_gross + amount
    fee = (
        hold.fee if total == hold.gross else _half_up(total * hold.fee, hold.gross) if hold.gross else 0
    ) - hold.reversed_fee
    return fee, amount - fee


def _take(hold: Hold, net: int, available: int, *, disputed_first: bool = False) -> tuple[list[Entry], int, int]:
    """Debit ``net`` of the seller from this share's pending, then ``available`` (the seller's balance), then
    this share's dispute reserve (a refund while a dispute is open), the rest as a receivable; a lost dispute
    takes from its reserve first. Returns the entries and how much came out of pending and of the reserve."""
    cur, sid = hold.currency, hold.seller_id
    buckets = [("pending", hold.pending), ("available", max(0, available)), ("disputed", hold.disputed_net)]
    if disputed_first:
        buckets.insert(0, buckets.pop())
    entries: list[Entry] = []
    taken = {"pending": 0, "disputed": 0}
    for bucket, limit in buckets:
        part = min(net, limit)
        if part > 0:
            entries.append((seller(sid, bucket, cur), -part))
            net -= part
            if bucket in taken:
                taken[bucket] = part
    if net > 0:
        entries.append((seller(sid, "receivable", cur), -net))
    return entries, taken["pending"], taken["disputed"]


def refund(hold: Hold, amount: int, available: int) -> tuple[Hold, list[Entry]]:
    """A refund of ``amount`` of this share: clearing credited (the money goes back to the buyer), the fee and
    the seller's net reversed proportionally. ``available``: the seller's available balance now."""
    fee, net = _reversal(hold, amount)
    taken, from_pending, from_reserve = _take(hold, net, available)
    entries = [(clearing(hold.currency), amount), (fees(hold.currency), -fee), *taken]
    refunded = hold.refunded_gross + amount
    new = replace(
        hold,
        refunded_gross=refunded,
        reversed_fee=hold.reversed_fee + fee,
        reversed_net=hold.reversed_net + net,
        pending=hold.pending - from_pending,
        disputed_gross=min(hold.disputed_gross, hold.gross - refunded),
        disputed_net=hold.disputed_net - from_reserve,
    )
    if hold.disputed_gross and not new.disputed_gross:  # nothing left to dispute: the reserve goes back
        new, back = _unreserve(new)
        entries += back
    return new, aggregate(entries)


def dispute_opened(hold: Hold, amount: int, available: int) -> tuple[Hold, list[Entry]]:
    """A dispute of ``amount`` (clamped to what is left of the share): the net it would reverse moves from
    pending/available to the seller's disputed account, out of reach of payouts. A second open is a no-op."""
    if hold.disputed_gross:
        return hold, []
    amount = min(amount, hold.refundable)
    if amount == 0:
        return hold, []
    _, net = _reversal(hold, amount)
    taken, from_pending, _ = _take(hold, net, available)
    taken = [(a, v) for a, v in taken if ":receivable:" not in a]  # reserve what there is
    moved = -sum(v for _, v in taken)
    entries = [*taken, (seller(hold.seller_id, "disputed", hold.currency), moved)]
    new = replace(
        hold,
        disputed_gross=amount,
        disputed_net=moved,
        pending=hold.pending - from_pending,
    )
    return new, aggregate(entries)


def _unreserve(hold: Hold) -> tuple[Hold, list[Entry]]:
    """The dispute reserve goes back: to pending while the share is on hold, else to available."""
    cur, sid, reserve = hold.currency, hold.seller_id, hold.disputed_net
    cleared = replace(hold, disputed_gross=0, disputed_net=0)
    if not reserve:
        return cleared, []
    back_to = "available" if hold.released else "pending"
    entries = [(seller(sid, "disputed", cur), -reserve), (seller(sid, back_to, cur), reserve)]
    return replace(cleared, pending=hold.pending + (0 if hold.released else reserve)), entries


def dispute_closed(hold: Hold, won: bool, available: int) -> tuple[Hold, list[Entry]]:
    """Won: the reserve goes back (to pending while the share is on hold, else to available). Lost: booked as
    a refund of the disputed amount, its net taken from the reserve first; what is left of the reserve goes
    back. Closing with no open dispute is a no-op."""
    if not hold.disputed_gross:
        return hold, []
    if won:
        new, entries = _unreserve(hold)
        return new, aggregate(entries)
    cur = hold.currency
    amount = min(hold.disputed_gross, hold.refundable)
    fee, net = _reversal(hold, amount)
    taken, from_pending, from_reserve = _take(hold, net, available, disputed_first=True)
    entries = [(clearing(cur), amount), (fees(cur), -fee), *taken]
    new = replace(
        hold,
        refunded_gross=hold.refunded_gross + amount,
        reversed_fee=hold.reversed_fee + fee,
        reversed_net=hold.reversed_net + net,
        pending=hold.pending - from_pending,
        disputed_net=hold.disputed_net - from_reserve,
    )
    new, back = _unreserve(new)
    return new, aggregate(entries + back)


def release(hold: Hold, receivable: int = 0) -> tuple[Hold, list[Entry]]:
    """The hold is over: this share's pending earnings become available, after settling what the seller owes
    (``receivable``: that account's balance, <= 0). Releasing twice is a no-op."""
    if hold.released:
        return hold, []
    cur, sid = hold.currency, hold.seller_id
    settle = min(hold.pending, max(0, -receivable))
    entries = [
        (seller(sid, "pending", cur), -hold.pending),
        (seller(sid, "receivable", cur), settle),
        (seller(sid, "available", cur), hold.pending - settle),
    ]
    return replace(hold, pending=0, released=True), aggregate(entries)


def payout(user_id: str, currency: str, amount: int) -> list[Entry]:
    """A payout requested: the amount leaves the seller's available balance for the payouts in flight."""
    return [(seller(user_id, "available", currency), -amount), (payouts(currency), amount)]


def payout_settled(user_id: str, currency: str, amount: int, paid: bool) -> list[Entry]:
    """The transfer's outcome: paid, the money leaves Stripe (clearing); failed, it goes back to available."""
    target = clearing(currency) if paid else seller(user_id, "available", currency)
    return [(payouts(currency), -amount), (target, amount)]


def balances_after(balances: Mapping[str, int], entries: Iterable[Entry]) -> dict[str, int]:
    out = dict(balances)
    for account, amount in entries:
        out[account] = out.get(account, 0) + amount
    return out
