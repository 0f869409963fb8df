"""The double-entry ledger: money events posted once, balanced, exact under concurrency, checkable by staff."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from tests.conftest import PASSWORD
from tests.jobs import drain

pytestmark = pytest.mark.usefixtures("app")


def _iso(days_ago: float = 0) -> str:
    from chalicelib.models.base import iso, now

    return iso(now() - timedelta(days=days_ago))


def paid(order_id: str, lines: list[tuple[str, int]], *, days_ago: float = 0, event: str | None = None) -> dict:
    from chalicelib import jobs

    payload = {
        "order_id": order_id,
        "buyer_id": "u_buyer",
        "currency": "eur",
        "subtotal_cents": sum(a for _, a in lines),
        "total_cents": sum(a for _, a in lines),
        "paid_at": _iso(days_ago),
        "lines": [
            {
                "item_id": f"i{n}",
                "photo_id": f"p{n}",
                "seller_id": s,
                "client_id": None,
                "sku": "dl",
                "kind": "digital",
                "quantity": 1,
                "amount_cents": a,
                "fulfilment": None,
            }
            for n, (s, a) in enumerate(lines)
        ],
    }
    jobs.publish("order.paid", event or f"order.paid:{order_id}", payload)
    drain()
    return payload


def money_event(kind: str, key: str, order_id: str, lines: list[tuple[str, int]], **extra) -> None:
    from chalicelib import jobs

    payload = {
        "order_id": order_id,
        "currency": "eur",
        "amount_cents": sum(a for _, a in lines),
        "at": _iso(),
        "lines": [
            {"item_id": f"i{n}", "seller_id": s, "photo_id": f"p{n}", "amount_cents": a}
            for n, (s, a) in enumerate(lines)
        ],
        **extra,
    }
    jobs.publish(kind, f"{kind}:{key}", payload)
    drain()


def balances() -> dict[str, int]:
    """Every account's balance, read the way a person would check a ledger: from the entries' sum per account
    (tests may Scan; the API never does)."""
    from chalicelib.models.ledger import LedgerAccount

    return {a.account: int(a.balance) for a in LedgerAccount.scan() if not a.account.startswith("#") and a.balance}


def entry_sums() -> dict[str, int]:
    from chalicelib.models.ledger import LedgerEntry

    sums: dict[str, int] = {}
    for e in LedgerEntry.scan():
        sums[e.account] = sums.get(e.account, 0) + int(e.amount)
    return {a: v for a, v in sums.items() if v}


def admin_token(api) -> str:
    from chalicelib.services import accounts

    accounts.create_admin("root@example.com", "root", PASSWORD)
    return api.post("/auth/login", {"login": "root", "password": PASSWORD}).data["access_token"]


def test_a_sale_books_clearing_fee_and_each_sellers_pending_once(api, make_user):
    paid("o1", [("alice", 1000), ("bob", 505), ("alice", 500)])
    expected = {
        "clearing:eur": -2005,
        "platform:fees:eur": 201,
        "seller:alice:pending:eur": 1350,
        "seller:bob:pending:eur": 454,
    }
    assert balances() == expected == entry_sums()
    paid("o1", [("alice", 1000), ("bob", 505), ("alice", 500)], event="order.paid:o1:again")  # a replay
    assert balances() == expected

    member = make_user("mem")
    assert api.get("/staff/ledger/check", token=member["access"]).status_code == 403
    r = api.get("/staff/ledger/check", token=admin_token(api))
    assert r.status_code == 200, r.body
    assert r.data["balanced"] is True and r.data["accounts"] == 4 and r.data["transactions"] == 1
    assert r.data["currencies"]["eur"] == {"sum_cents": 0, "debits_cents": 2005, "credits_cents": 2005}


def test_partial_refunds_then_the_rest_leave_seller_and_fee_at_zero():
    paid("o2", [("alice", 999), ("bob", 333)])
    money_event("refund.succeeded", "r1", "o2", [("alice", 333)], refund_id="r1", source="api")
    money_event("refund.succeeded", "r1b", "o2", [("alice", 333)], refund_id="r1", source="api")  # replayed: once
    assert balances()["seller:alice:pending:eur"] == 899 - 300  # fee 100 of 999: 33 of 333 goes back
    money_event("refund.succeeded", "r2", "o2", [("alice", 666), ("bob", 333)], refund_id="r2", source="api")
    assert balances() == {}  # clearing back to zero too: every cent went back to the buyer


def test_earnings_move_to_available_after_the_hold_and_refunds_then_come_from_available():
    from chalicelib import jobs
    from chalicelib.jobs import sweeps

    paid("old", [("alice", 1000)], days_ago=8)
    paid("new", [("alice", 2000)], days_ago=1)
    sweeps.tick()
    drain()
    b = balances()
    assert b["seller:alice:available:eur"] == 900 and b["seller:alice:pending:eur"] == 1800
    jobs.publish("earnings.release", "earnings.release:again", {"period": 0, "minutes": 60})
    drain()
    assert balances() == b  # released once
    money_event("refund.succeeded", "r3", "old", [("alice", 1000)], refund_id="r3", source="api")
    b = balances()
    assert "seller:alice:available:eur" not in b and b["seller:alice:pending:eur"] == 1800


def test_dispute_reserves_the_net_won_restores_lost_is_a_refund():
    paid("o3", [("alice", 2000), ("bob", 1000)])
    money_event("dispute.opened", "d1", "o3", [("alice", 2000), ("bob", 1000)], dispute_id="d1")
    b = balances()
    assert b["seller:alice:disputed:eur"] == 1800 and "seller:alice:pending:eur" not in b
    money_event("dispute.closed", "d1", "o3", [("alice", 2000), ("bob", 1000)], dispute_id="d1", status="won")
    assert balances()["seller:alice:pending:eur"] == 1800 and "seller:alice:disputed:eur" not in balances()

    paid("o4", [("carol", 1000)])
    # the close arrives before the open: booked as a lost dispute once, the late open changes nothing
    money_event("dispute.closed", "d2", "o4", [("carol", 1000)], dispute_id="d2", status="lost")
    money_event("dispute.opened", "d2", "o4", [("carol", 1000)], dispute_id="d2")
    b = balances()
    assert not any(a.startswith("seller:carol") for a in b)
    assert b["platform:fees:eur"] == 300  # o3's fee only
    assert sum(b.values()) == 0


def test_an_order_of_twenty_sellers_fits_and_a_full_refund_reverses_it_exactly():
    lines = [(f"s{n:02d}", 100 + n) for n in range(20)]
    paid("big", lines)
    assert len([a for a in balances() if a.endswith(":pending:eur")]) == 20
    money_event("refund.succeeded", "rbig", "big", lines, refund_id="rbig", source="api")
    assert balances() == {}


def test_a_refund_before_its_sale_is_booked_is_retried_not_lost():
    from chalicelib.services import ledger

    payload = {
        "order_id": "o5",
        "refund_id": "r5",
        "currency": "eur",
        "amount_cents": 100,
        "at": _iso(),
        "lines": [{"item_id": "i0", "seller_id": "alice", "photo_id": "p0", "amount_cents": 100}],
    }
    with pytest.raises(ledger.NotBookedYet):
        ledger.on_refund_succeeded(payload, None, 10)
    paid("o5", [("alice", 100)])
    ledger.on_refund_succeeded(payload, None, 10)
    assert balances() == {}


def test_concurrent_refunds_and_replays_stay_exact(aws_mock):
    from chalicelib.services import ledger

    paid("o6", [("alice", 10_000)])
    errors: list[BaseException] = []

    def refund(n: int) -> None:
        try:
            ledger.on_refund_succeeded(
                {
                    "order_id": "o6",
                    "refund_id": f"rc{n % 4}",
                    "currency": "eur",
                    "amount_cents": 1000,
                    "at": _iso(),
                    "lines": [{"item_id": "i0", "seller_id": "alice", "photo_id": "p0", "amount_cents": 1000}],
                },
                None,
                10,
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=refund, args=(n,)) for n in range(8)]  # 4 refunds, each sent twice
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    b = balances()
    assert b == entry_sums()
    assert b["clearing:eur"] == -6000 and b["platform:fees:eur"] == 600 and b["seller:alice:pending:eur"] == 5400


def test_a_post_must_balance_and_guarded_accounts_never_go_negative(aws_mock):
    from chalicelib.models.ledger import InsufficientFunds
    from chalicelib.services import ledger

    with pytest.raises(ValueError):
        ledger.post("bad", [("clearing:eur", -10), ("platform:fees:eur", 9)], "test")
    with pytest.raises(ValueError):
        ledger.post("mixed", [("clearing:eur", -10), ("platform:fees:usd", 10)], "test")
    with pytest.raises(InsufficientFunds):
        ledger.post("short", [("seller:x:available:eur", -1), ("payouts:eur", 1)], "test")
    assert ledger.post("ok", [("clearing:eur", -10), ("platform:fees:eur", 10)], "test") is True
    assert ledger.post("ok", [("clearing:eur", -10), ("platform:fees:eur", 10)], "test") is False
    assert ledger.check()["balanced"] is True and ledger.check()["transactions"] == 1


def test_entries_of_an_account_newest_first_page_by_page(aws_mock):
    from chalicelib.errors import ValidationError
    from chalicelib.services import ledger

    for n in range(3):
        paid(f"o{n}", [("alice", 100 * (n + 1))])
    account = "seller:alice:pending:eur"
    first, cursor = ledger.entries_page(account, 2, None)
    assert [(r.ref, int(r.amount)) for r in first] == [("o2", 270), ("o1", 180)] and cursor
    rest, cursor = ledger.entries_page(account, 2, cursor)
    assert [(r.ref, int(r.amount)) for r in rest] == [("o0", 90)] and cursor is None
    assert ledger.balance(account) == 540
    _, other = ledger.entries_page("clearing:eur", 1, None)
    with pytest.raises(ValidationError):
        ledger.entries_page(account, 2, other)  # a cursor of another account's listing


def test_a_release_racing_a_refund_leaves_consistent_balances(aws_mock):
    from chalicelib.services import ledger

    paid("o9", [("alice", 10_000)], days_ago=8)
    refund = {
        "order_id": "o9",
        "refund_id": "r9",
        "currency": "eur",
        "amount_cents": 4000,
        "at": _iso(),
        "lines": [{"item_id": "i0", "seller_id": "alice", "photo_id": "p0", "amount_cents": 4000}],
    }
    errors: list[BaseException] = []

    def run(fn) -> None:
        try:
            fn()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(lambda: ledger.release_hold("o9:alice"),)),
        threading.Thread(target=run, args=(lambda: ledger.on_refund_succeeded(refund, None, 10),)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    b = balances()
    assert b == entry_sums()
    assert "seller:alice:pending:eur" not in b and b["seller:alice:available:eur"] == 9000 - 3600
    assert ledger.check()["balanced"] is True


def test_a_release_settles_what_the_seller_owes_when_it_writes_not_when_it_read(aws_mock, monkeypatch):
    """Two releases of one seller race over what the seller owes: the one that read a receivable the other has
    settled meanwhile must not settle it again (it would leave the seller a positive receivable)."""
    from chalicelib.services import ledger, money

    paid("o1", [("alice", 1000)], days_ago=8)  # two holds of 900 net each, due
    paid("o2", [("alice", 1000)], days_ago=8)
    assert ledger.post("owed", [("seller:alice:receivable:eur", -500), ("clearing:eur", 500)], "test") is True
    real_release = money.release
    raced: list[str] = []

    def racing(hold, receivable=0):
        computed = real_release(hold, receivable)  # from the balance read before the other release wrote
        if not raced:
            raced.append("o2")
            assert ledger.release_hold("o2:alice") is True  # settles the 500
        return computed

    monkeypatch.setattr(money, "release", racing)
    assert ledger.release_hold("o1:alice") is True
    b = balances()
    assert b == entry_sums()
    assert "seller:alice:receivable:eur" not in b  # settled once: 0
    assert b["seller:alice:available:eur"] == 900 + 900 - 500
    assert ledger.check()["balanced"] is True
