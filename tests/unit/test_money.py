"""The fee and split arithmetic (chalicelib/services/money.py), pure: examples and hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.services import money

CUR = "eur"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_fee_rounds_half_up_and_never_exceeds_gross():
    assert money.fee_of(1000, 1000) == 100
    assert money.fee_of(5, 1000) == 1  # 0.5 -> 1
    assert money.fee_of(4, 1000) == 0  # 0.4 -> 0
    assert money.fee_of(7, 10_000) == 7
    assert money.fee_of(0, 1000) == 0
    with pytest.raises(ValueError):
        money.fee_of(-1, 1000)
    with pytest.raises(ValueError):
        money.fee_of(100, 10_001)


def test_sale_books_fee_per_seller_and_nets():
    holds, entries = money.sale(CUR, [("a", 1000), ("b", 505), ("a", 500)], 1000)
    assert holds["a"].gross == 1500 and holds["a"].fee == 150 and holds["a"].net == 1350
    assert holds["b"].fee == 51 and holds["b"].net == 454  # 50.5 -> 51
    assert dict(entries) == {
        "clearing:eur": -2005,
        "platform:fees:eur": 201,
        "seller:a:pending:eur": 1350,
        "seller:b:pending:eur": 454,
    }


def test_shipping_and_tax_beyond_the_lines_are_the_platforms():
    _, entries = money.sale(CUR, [("a", 1000)], 1000, total=1450)
    assert dict(entries) == {
        "clearing:eur": -1450,
        "platform:fees:eur": 100,
        "platform:shipping_tax:eur": 450,
        "seller:a:pending:eur": 900,
    }
    with pytest.raises(ValueError):
        money.sale(CUR, [("a", 1000)], 1000, total=999)


def test_partial_refunds_take_the_exact_remainder_last():
    holds, _ = money.sale(CUR, [("a", 999)], 1000)  # fee 100 (99.9), net 899
    hold = holds["a"]
    reversed_fee = 0
    for amount in (333, 333, 333):
        hold, entries = money.refund(hold, amount, available=0)
        assert money.balanced(entries)
        reversed_fee -= dict(entries).get("platform:fees:eur", 0)
    assert reversed_fee == 100 and hold.reversed_net == 899 and hold.pending == 0
    with pytest.raises(ValueError):
        money.refund(hold, 1, available=0)


def test_refund_after_release_comes_from_available_then_receivable():
    holds, _ = money.sale(CUR, [("a", 1000)], 1000)
    hold, entries = money.release(holds["a"])
    assert dict(entries) == {"seller:a:pending:eur": -900, "seller:a:available:eur": 900}
    _, entries = money.refund(hold, 1000, available=400)  # 500 of it already paid out
    assert dict(entries) == {
        "clearing:eur": 1000,
        "platform:fees:eur": -100,
        "seller:a:available:eur": -400,
        "seller:a:receivable:eur": -500,
    }
    # the next release settles the debt before anything becomes available
    holds, _ = money.sale(CUR, [("a", 1000)], 1000)
    _, entries = money.release(holds["a"], receivable=-500)
    assert dict(entries) == {
        "seller:a:pending:eur": -900,
        "seller:a:receivable:eur": 500,
        "seller:a:available:eur": 400,
    }


def test_dispute_won_restores_and_lost_is_a_refund():
    holds, _ = money.sale(CUR, [("a", 2000)], 1000)
    opened, entries = money.dispute_opened(holds["a"], 2000, available=0)
    assert dict(entries) == {"seller:a:pending:eur": -1800, "seller:a:disputed:eur": 1800}
    assert money.dispute_opened(opened, 2000, available=0) == (opened, [])
    won, entries = money.dispute_closed(opened, won=True, available=0)
    assert dict(entries) == {"seller:a:disputed:eur": -1800, "seller:a:pending:eur": 1800}
    assert won.pending == 1800
    lost, entries = money.dispute_closed(opened, won=False, available=0)
    assert dict(entries) == {"clearing:eur": 2000, "platform:fees:eur": -200, "seller:a:disputed:eur": -1800}
    assert lost.refunded_gross == 2000 and lost.reversed_fee == 200


# ---- properties -----------------------------------------------------------------------------------------

sellers = st.sampled_from(["s1", "s2", "s3", "s4"])
carts = st.lists(st.tuples(sellers, st.integers(0, 50_000)), min_size=1, max_size=12)
fee_bps = st.integers(0, 10_000)
# (kind, seller index, fraction of what is left in thousandths)
operations = st.lists(
    st.tuples(
        st.sampled_from(["refund", "dispute_open", "dispute_won", "dispute_lost", "release"]),
        st.integers(0, 3),
        st.integers(0, 1000),
    ),
    max_size=12,
)


class Book:
    """An in-memory ledger built only from the pure functions' entries."""

    def __init__(self) -> None:
        self.balances: dict[str, int] = {}

    def post(self, entries: list[money.Entry]) -> None:
        assert money.balanced(entries), entries
        self.balances = money.balances_after(self.balances, entries)
        for account, balance in self.balances.items():
            if not money.may_go_negative(account):
                assert balance >= 0, (account, balance, entries)

    def available(self, seller_id: str) -> int:
        return self.balances.get(money.seller(seller_id, "available", CUR), 0)


def _run(cart, bps, ops) -> tuple[Book, dict[str, money.Hold]]:
    book = Book()
    holds, entries = money.sale(CUR, cart, bps)
    book.post(entries)
    names = sorted(holds)
    for kind, index, share in ops:
        sid = names[index % len(names)]
        hold = holds[sid]
        amount = hold.refundable * share // 1000
        if kind == "refund":
            hold, entries = money.refund(hold, amount, book.available(sid))
        elif kind == "dispute_open":
            hold, entries = money.dispute_opened(hold, amount, book.available(sid))
        elif kind == "release":
            hold, entries = money.release(hold)
        else:
            hold, entries = money.dispute_closed(hold, kind == "dispute_won", book.available(sid))
        book.post(entries)
        holds[sid] = hold
    return book, holds


@SETTINGS
@given(carts, fee_bps)
def test_a_sale_balances_and_splits_every_cent(cart, bps):
    holds, entries = money.sale(CUR, cart, bps)
    assert money.balanced(entries)
    assert sum(h.gross for h in holds.values()) == sum(a for _, a in cart)
    for hold in holds.values():
        assert 0 <= hold.fee <= hold.gross and hold.fee + hold.net == hold.gross


@SETTINGS
@given(carts, fee_bps, operations)
def test_any_sequence_balances_and_nothing_but_clearing_goes_negative(cart, bps, ops):
    book, holds = _run(cart, bps, ops)
    assert sum(book.balances.values()) == 0
    for hold in holds.values():
        assert 0 <= hold.reversed_fee <= hold.fee and 0 <= hold.reversed_net <= hold.net
        assert hold.refunded_gross <= hold.gross
    # without payouts the seller's own earnings always cover a reversal: nobody owes anything
    assert all(v == 0 for a, v in book.balances.items() if ":receivable:" in a)


@SETTINGS
@given(carts, fee_bps, operations)
def test_refunding_everything_that_is_left_zeroes_every_seller_and_the_fee(cart, bps, ops):
    book, holds = _run(cart, bps, ops)
    for sid, hold in holds.items():
        hold, entries = money.dispute_closed(hold, True, book.available(sid))
        book.post(entries)
        hold, entries = money.refund(hold, hold.refundable, book.available(sid))
        book.post(entries)
        assert hold.reversed_fee == hold.fee and hold.reversed_net == hold.net
    assert {a: v for a, v in book.balances.items() if v} == {}


@SETTINGS
@given(st.integers(1, 10**7), fee_bps, st.lists(st.integers(1, 1000), min_size=1, max_size=10))
def test_cumulative_fee_reversal_is_monotone_and_exact(gross, bps, parts):
    holds, _ = money.sale(CUR, [("s", gross)], bps)
    hold = holds["s"]
    for part in parts:
        amount = max(1, hold.refundable * part // 1000)
        if amount > hold.refundable:
            break
        before = hold.reversed_fee
        hold, _ = money.refund(hold, amount, 0)
        assert hold.reversed_fee >= before
    hold, _ = money.refund(hold, hold.refundable, 0)
    assert (hold.reversed_fee, hold.reversed_net) == (hold.fee, hold.net)
