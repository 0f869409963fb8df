"""A reversed top-up: how much comes out of the wallet and how much the user owes; credits repay the debt first."""

from __future__ import annotations

import pytest

from chalicelib.services import money


@pytest.mark.parametrize(
    ("amount", "wallet", "split"),
    [
        (10_000, 10_000, (10_000, 0)),  # all still there
        (10_000, 25_000, (10_000, 0)),  # more there than reversed
        (10_000, 0, (0, 10_000)),  # all spent: all owed
        (10_000, 3_000, (3_000, 7_000)),  # partly spent
        (0, 500, (0, 0)),
        (700, -5, (0, 700)),  # never takes a wallet below zero
    ],
)
def test_clawback_split(amount, wallet, split):
    assert money.clawback_split(amount, wallet) == split
    assert sum(split) == amount


def test_clawback_split_refuses_a_negative_amount():
    with pytest.raises(ValueError):
        money.clawback_split(-1, 100)


def test_top_up_reversal_entries_balance():
    entries = money.top_up_reversal("u1", "eur", 10_000, 3_000)
    assert entries == [("clearing:eur", 10_000), ("wallet:u1:eur", -3_000), ("wallet:u1:receivable:eur", -7_000)]
    assert money.balanced(entries)
    assert money.top_up_reversal("u1", "eur", 500, 800) == [("clearing:eur", 500), ("wallet:u1:eur", -500)]
    assert money.may_go_negative("wallet:u1:receivable:eur") and not money.may_go_negative("wallet:u1:eur")


@pytest.mark.parametrize(
    ("amount", "receivable", "to_receivable", "to_wallet"),
    [(3_000, -10_000, 3_000, 0), (8_000, -7_000, 7_000, 1_000), (500, 0, 0, 500), (500, 20, 0, 500)],
)
def test_wallet_credit_repays_the_debt_first(amount, receivable, to_receivable, to_wallet):
    entries = dict(money.wallet_credit("clearing:eur", "u1", "eur", amount, receivable))
    assert entries.get("wallet:u1:receivable:eur", 0) == to_receivable
    assert entries.get("wallet:u1:eur", 0) == to_wallet
    assert entries["clearing:eur"] == -amount and money.balanced(entries.items())
    with pytest.raises(ValueError):
        money.wallet_credit("clearing:eur", "u1", "eur", 0, 0)
