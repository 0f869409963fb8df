"""The subscription state machine, pure: access at a moment, counter deltas, wallet renewal and cancel steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.services import subscription_states as s

T0 = datetime(2026, 1, 1, tzinfo=UTC)
END = T0 + timedelta(days=30)


def state(**kw) -> s.WalletState:
    base = {"status": "active", "period": 1, "current_period_start": T0, "current_period_end": END}
    base.update(kw)
    return s.WalletState(**base)


@pytest.mark.parametrize("status", s.STATUSES)
def test_access_by_status(status):
    assert s.has_access(status, END, False, T0) is (status in ("active", "trialing", "past_due"))


def test_cancel_at_period_end_keeps_access_until_the_end_only():
    assert s.has_access("active", END, True, END - timedelta(seconds=1))
    assert not s.has_access("active", END, True, END)
    assert s.has_access("active", END, False, END + timedelta(days=3))  # renewing: Stripe or the sweep decides
    assert s.has_access("past_due", END, False, END + timedelta(days=3))
    assert not s.has_access("canceled", END, False, T0)


def test_counter_delta():
    assert s.counter_delta(False, True) == 1
    assert s.counter_delta(True, False) == -1
    assert s.counter_delta(True, True) == 0 and s.counter_delta(False, False) == 0


def test_renewal_action():
    assert s.renewal_action(state(), END - timedelta(seconds=1), 7) == "none"
    assert s.renewal_action(state(), END, 7) == "charge"
    assert s.renewal_action(state(cancel_at_period_end=True), END, 7) == "cancel"
    assert s.renewal_action(state(cancel_at_period_end=True), END - timedelta(days=1), 7) == "none"
    due = state(status="past_due", past_due_since=END)
    assert s.renewal_action(due, END + timedelta(days=6), 7) == "charge"  # retry within the grace
    assert s.renewal_action(due, END + timedelta(days=7), 7) == "cancel"
    for ended in ("canceled", "incomplete_expired", "incomplete", "unpaid"):
        assert s.renewal_action(state(status=ended), END + timedelta(days=1), 7) == "none"


def test_a_paid_renewal_keeps_the_anchor():
    late = END + timedelta(days=3)
    paid = s.after_charge(state(status="past_due", past_due_since=END), True, late, 30)
    assert paid.status == "active" and paid.period == 2 and paid.past_due_since is None
    assert paid.current_period_start == END and paid.current_period_end == END + timedelta(days=30)


def test_a_failed_renewal_is_past_due_from_the_first_failure():
    first = s.after_charge(state(), False, END, 30)
    assert first.status == "past_due" and first.past_due_since == END and first.period == 1
    again = s.after_charge(first, False, END + timedelta(days=1), 30)
    assert again.past_due_since == END  # the grace period runs from the first failure


def test_next_check():
    assert s.next_check(state(), 7, T0) == END
    due = state(status="past_due", past_due_since=END)
    assert s.next_check(due, 7, END) == END + timedelta(hours=s.RETRY_HOURS)
    assert s.next_check(due, 7, END + timedelta(days=6, hours=12)) == END + timedelta(days=7)  # the deadline
    assert s.next_check(s.after_cancel(state()), 7, END) is None


@pytest.mark.parametrize(
    ("status", "at_end", "step"),
    [
        ("active", False, "at_period_end"),
        ("trialing", False, "at_period_end"),
        ("active", True, "nothing"),
        ("past_due", False, "now"),
        ("unpaid", False, "now"),
        ("incomplete", False, "now"),
        ("canceled", False, "nothing"),
        ("incomplete_expired", False, "nothing"),
    ],
)
def test_cancel_step(status, at_end, step):
    assert s.cancel_step(status, at_end) == step
