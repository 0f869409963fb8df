"""Creator earnings and wallets in the ledger: booked once, exact under concurrent wallet spends, reversible."""

from __future__ import annotations

import threading

import pytest

pytestmark = pytest.mark.usefixtures("app")


def _balances(*accounts: str) -> dict[str, int]:
    from chalicelib.services import ledger

    return {a: ledger.balance(a) for a in accounts}


def test_tip_by_card_books_fee_and_pending_once_and_counts_by_source():
    from chalicelib.services import earnings, ledger, payouts

    assert earnings.book("tips", "t1", "cre", 1000, "eur") is True
    assert earnings.book("tips", "t1", "cre", 1000, "eur") is False  # replay: nothing
    b = _balances("clearing:eur", "platform:fees:eur", "seller:cre:pending:eur")
    assert b == {"clearing:eur": -1000, "platform:fees:eur": 100, "seller:cre:pending:eur": 900}
    got = payouts.earnings("cre", "eur")
    assert got["by_source"] == {"sales": 0, "subscriptions": 0, "tips": 900, "purchases": 0}
    assert got["pending_cents"] == 900 and got["lifetime_cents"] == 900
    assert got["series"][-1]["net_cents"] == 900
    assert ledger.check()["balanced"]


def test_wallet_spends_are_exact_under_50_concurrent_spends():
    from chalicelib.errors import PaymentRequiredError
    from chalicelib.services import earnings, ledger

    assert earnings.deposit("d1", "fan", 3000, "eur")
    outcomes: list[str] = []
    lock = threading.Lock()

    def spend(n: int) -> None:
        try:
            earnings.book("purchases", f"p{n}", "cre", 100, "eur", payer_wallet="fan")
            result = "paid"
        except PaymentRequiredError:
            result = "short"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=spend, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("paid") == 30 and outcomes.count("short") == 20
    assert earnings.wallet_balance("fan", "eur") == 0
    assert ledger.balance("seller:cre:pending:eur") == 30 * 90
    assert ledger.check()["balanced"]


def test_refund_of_a_wallet_purchase_goes_back_to_the_wallet():
    from chalicelib.services import earnings, ledger

    earnings.deposit("d2", "fan", 500, "eur")
    earnings.book("purchases", "p1", "cre", 500, "eur", payer_wallet="fan")
    earnings.reverse("purchases", "p1", "r1", "cre", 500, "eur", payer_wallet="fan")
    earnings.reverse("purchases", "p1", "r1", "cre", 500, "eur", payer_wallet="fan")  # replay
    assert earnings.wallet_balance("fan", "eur") == 500
    assert ledger.balance("seller:cre:pending:eur") == 0 and ledger.balance("platform:fees:eur") == 0
    assert earnings.by_source("cre", "eur")["purchases"] == 0
    assert ledger.check()["balanced"]
