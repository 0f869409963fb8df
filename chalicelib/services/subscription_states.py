"""The subscription state machine, pure: statuses, what gives access at a moment, the wallet renewal steps.

No I/O, no clock (``at`` is passed in). docs/subscriptions.md has the lifecycle diagram.

Statuses are Stripe's (``incomplete``, ``incomplete_expired``, ``trialing``, ``active``, ``past_due``,
``canceled``, ``unpaid``). A card subscription's status is whatever Stripe says when we re-read it; a wallet
subscription's status moves only through :func:`renewal_step` and :func:`cancel_step`.

Access: ``active``, ``trialing`` and ``past_due`` give access, except that a subscription cancelled at the period's
end (``cancel_at_period_end``) stops giving it at ``current_period_end``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

STATUSES = ("incomplete", "incomplete_expired", "trialing", "active", "past_due", "canceled", "unpaid")
ACCESS = frozenset({"active", "trialing", "past_due"})
ENDED = frozenset({"canceled", "incomplete_expired"})
RETRY_HOURS = 24  # a past_due wallet subscription is charged again this often until its grace period ends


def has_access(status: str, current_period_end: datetime | None, cancel_at_period_end: bool, at: datetime) -> bool:
    """Whether the subscriber sees the creator's ``subscribers`` items at ``at``."""
    if status not in ACCESS:
        return False
    return not (cancel_at_period_end and current_period_end is not None and at >= current_period_end)


def counter_delta(was_counted: bool, now_counted: bool) -> int:
    """The change of the creator's ``subscriber_count`` for one transition of one subscription."""
    return int(now_counted) - int(was_counted)


@dataclass(frozen=True)
class WalletState:
    """What of a wallet subscription the renewal decides on."""

    status: str
    period: int  # the number of the current (last paid) period, 1 for the first
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool = False
    past_due_since: datetime | None = None


Action = Literal["none", "charge", "cancel"]


def renewal_action(state: WalletState, at: datetime, grace_days: int) -> Action:
    """What the renewal sweep does with the subscription at ``at``."""
    if state.status in ENDED or state.status not in ACCESS:
        return "none"
    if at < state.current_period_end:
        return "none"
    if state.cancel_at_period_end:
        return "cancel"
    overdue = state.past_due_since is not None and at >= state.past_due_since + timedelta(days=grace_days)
    return "cancel" if state.status == "past_due" and overdue else "charge"


def after_charge(state: WalletState, paid: bool, at: datetime, period_days: int) -> WalletState:
    """The state after the sweep charged (``paid``) or failed to charge the next period. A paid period starts
    where the last one ended (the anchor stays), so a late payment does not lengthen the subscription."""
    if paid:
        start = state.current_period_end
        return replace(
            state,
            status="active",
            period=state.period + 1,
            current_period_start=start,
            current_period_end=start + timedelta(days=period_days),
            past_due_since=None,
        )
    return replace(state, status="past_due", past_due_since=state.past_due_since or at)


def after_cancel(state: WalletState) -> WalletState:
    return replace(state, status="canceled")


def next_check(state: WalletState, grace_days: int, at: datetime) -> datetime | None:
    """When the sweep should look at the subscription again (None: never, it ended)."""
    if state.status in ENDED or state.status not in ACCESS:
        return None
    if state.status == "past_due" and state.past_due_since is not None:
        deadline = state.past_due_since + timedelta(days=grace_days)
        return min(at + timedelta(hours=RETRY_HOURS), deadline)
    return state.current_period_end


CancelStep = Literal["at_period_end", "now", "nothing"]


def cancel_step(status: str, cancel_at_period_end: bool) -> CancelStep:
    """What ``DELETE /creators/{id}/subscription`` does: a paid period runs to its end; a subscription that is not
    paid for (``past_due``, ``unpaid``, ``incomplete``) ends now; an ended one or one already cancelling: nothing."""
    if status in ENDED:
        return "nothing"
    if status in ("active", "trialing"):
        return "nothing" if cancel_at_period_end else "at_period_end"
    return "now"  # past_due, unpaid, incomplete
