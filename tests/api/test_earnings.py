"""GET /earnings, POST/GET /payouts: ledger balances, and transfers to a connected account on a real localstripe
(whose missing Connect calls infrastructure/local/stripe_connect.py serves)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from tests.api.test_ledger import admin_token, balances, paid
from tests.jobs import drain


def _available(seller_id: str, cents: int, order_id: str = "o1") -> None:
    """Sell for ``cents`` gross eight days ago and run the release sweep: 90% of it becomes available."""
    from chalicelib.jobs import sweeps

    paid(order_id, [(seller_id, cents)], days_ago=8)
    sweeps.tick()
    drain()


def _payout(api, seller: dict, amount: int, key: str):
    return api.post("/payouts", {"amount_cents": amount}, token=seller["access"], headers={"Idempotency-Key": key})


def test_earnings_show_pending_available_lifetime_and_series(api, make_user):
    seller = make_user("phil", role="photographer")
    sid = seller["id"]
    _available(sid, 10_000)
    paid("o2", [(sid, 2000)])
    r = api.get("/earnings", token=seller["access"])
    assert r.status_code == 200, r.body
    assert r.data["available_cents"] == 9000 and r.data["pending_cents"] == 1800
    assert r.data["lifetime_cents"] == 10_800 and r.data["by_source"]["sales"] == 10_800
    assert r.data["by_source"]["tips"] == 0 and r.data["currency"] == "eur"
    assert len(r.data["series"]) == 12 and sum(p["net_cents"] for p in r.data["series"]) == 10_800
    assert api.get("/earnings", token=make_user("mem")["access"]).status_code == 403
    assert api.get("/earnings?currency=EURO", token=seller["access"]).status_code == 400


def test_a_payout_is_transferred_to_the_connected_account_once(api, make_user, stripe_server):
    seller = make_user("phil", role="photographer")
    sid = seller["id"]
    _available(sid, 10_000)
    r = _payout(api, seller, 4000, "k1")
    assert r.status_code == 201, r.body
    payout = r.data["payout"]
    assert payout["status"] == "pending" and payout["amount_cents"] == 4000
    again = _payout(api, seller, 4000, "k1")  # the client retries: the same payout, not a second one
    assert again.status_code == 201 and again.data["payout"]["id"] == payout["id"]
    assert balances()[f"seller:{sid}:available:eur"] == 5000 and balances()["payouts:eur"] == 4000
    drain()
    listed = api.get("/payouts", token=seller["access"]).data
    assert [(p["id"], p["status"]) for p in listed["items"]] == [(payout["id"], "paid")]
    b = balances()
    assert "payouts:eur" not in b and b["clearing:eur"] == -10_000 + 4000  # the money left our Stripe balance

    from chalicelib.models import ledger as store

    row = store.Payout.get(sid, payout["id"])
    transfer = stripe_server.get(f"/v1/transfers/{row.transfer_id}")
    account = store.payout_account(sid).connect_account_id
    assert transfer["amount"] == 4000 and transfer["currency"] == "eur" and transfer["destination"] == account
    assert stripe_server.get(f"/v1/accounts/{account}")["metadata"] == {"user_id": sid}

    second = _payout(api, seller, 1000, "k2")
    drain()
    assert second.status_code == 201
    assert store.Payout.get(sid, second.data["payout"]["id"]).destination == account  # one account, reused
    assert api.get("/staff/ledger/check", token=admin_token(api)).data["balanced"] is True


def test_a_retry_of_a_payout_that_died_after_booking_pays_once(api, make_user, stripe_server, monkeypatch):
    """The function dies after the booking committed (a 5xx is not stored by the idempotency layer): the
    client's retry with the same Idempotency-Key answers the same payout; one booking, one transfer."""
    from chalicelib import jobs
    from chalicelib.models import ledger as store

    seller = make_user("phil", role="photographer")
    sid = seller["id"]
    _available(sid, 10_000)
    real_dispatch = jobs.dispatch

    def die(*args, **kwargs):
        raise RuntimeError("the Lambda timed out")

    monkeypatch.setattr(jobs, "dispatch", die)
    assert _payout(api, seller, 4000, "flaky").status_code == 500
    monkeypatch.setattr(jobs, "dispatch", real_dispatch)
    retried = _payout(api, seller, 4000, "flaky")
    assert retried.status_code == 201, retried.body
    assert _payout(api, seller, 4000, "flaky").data["payout"]["id"] == retried.data["payout"]["id"]  # replayed
    jobs.relay(min_age_seconds=0)  # the event the dead attempt wrote but never sent
    drain()
    items = api.get("/payouts", token=seller["access"]).data["items"]
    assert [(p["id"], p["status"]) for p in items] == [(retried.data["payout"]["id"], "paid")]
    booked = [e.ref for e in store.entries_of(f"seller:{sid}:available:eur", 100) if e.kind == "payout"]
    assert booked == [retried.data["payout"]["id"]]
    b = balances()
    assert b[f"seller:{sid}:available:eur"] == 5000 and b["clearing:eur"] == -10_000 + 4000


def test_payout_bounds_and_bad_input(api, make_user, stripe_server):
    seller = make_user("phil", role="photographer")
    _available(seller["id"], 2000)  # 1800 available
    assert _payout(api, seller, 999, "a").status_code == 400  # below LIGHTBOX_PAYOUT_MINIMUM_CENTS (1000)
    r = _payout(api, seller, 1801, "b")
    assert r.status_code == 409 and r.data["error"]["code"] == "insufficient_funds"
    assert r.data["error"]["details"] == {"amount_cents": "at most 1800"}
    assert api.post("/payouts", {"amount_cents": 1000}, token=seller["access"]).status_code == 400  # no key
    for body in ({"amount_cents": "1000"}, {"amount_cents": 10.5}, {"amount_cents": -5}, {}):
        r = api.post("/payouts", body, token=seller["access"], headers={"Idempotency-Key": json.dumps(body)})
        assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", body
    member = make_user("mem")
    assert _payout(api, member, 1000, "c").status_code == 403
    assert balances()[f"seller:{seller['id']}:available:eur"] == 1800


def test_a_refused_transfer_fails_the_payout_and_returns_the_money(api, make_user, stripe_server):
    from chalicelib.models import ledger as store

    seller = make_user("phil", role="photographer")
    sid = seller["id"]
    _available(sid, 5000)
    assert _payout(api, seller, 1000, "first").status_code == 201
    drain()
    account = store.payout_account(sid).connect_account_id
    stripe_server.post(f"/_config/connect/accounts/{account}/transfers", {"enabled": "false"})
    r = _payout(api, seller, 3000, "second")
    drain()
    items = api.get("/payouts", token=seller["access"]).data["items"]
    assert [p["status"] for p in items] == ["failed", "paid"]
    assert items[0]["failure"] == "insufficient_capabilities_for_transfer" and items[0]["id"] == r.data["payout"]["id"]
    assert balances()[f"seller:{sid}:available:eur"] == 4500 - 1000


def test_concurrent_payouts_never_overdraw(api, make_user, stripe_server):
    seller = make_user("phil", role="photographer")
    _available(seller["id"], 2000)  # 1800 available
    statuses: list[int] = []

    def request(key: str) -> None:
        statuses.append(_payout(api, seller, 1200, key).status_code)

    threads = [threading.Thread(target=request, args=(f"k{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 409, 409]
    assert balances()[f"seller:{seller['id']}:available:eur"] == 600


def test_the_connect_fake_honours_idempotency_keys(stripe_server):
    def create(params: str, key: str) -> tuple[int, dict]:
        request = urllib.request.Request(
            stripe_server.url + "/v1/accounts",
            data=params.encode(),
            method="POST",
            headers={"Authorization": f"Bearer {stripe_server.secret_key}", "Idempotency-Key": key},
        )
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    status, first = create("type=express&email=a%40example.com", "acct-1")
    assert status == 200 and first["id"].startswith("acct_")
    assert create("type=express&email=a%40example.com", "acct-1") == (200, first)
    status, error = create("type=express&email=b%40example.com", "acct-1")
    assert status == 400 and error["error"]["type"] == "idempotency_error"
    status, error = create("type=express", "acct-2")
    assert status == 200 and error["id"] != first["id"]
    with pytest.raises(urllib.error.HTTPError) as missing:
        stripe_server.get("/v1/transfers/tr_nothing")
    assert missing.value.code == 404


def test_an_unverified_creator_cannot_request_a_payout(api, make_user, stripe_server):
    from chalicelib.models.users import User

    creator = make_user("cleo", role="creator")
    _available(creator["id"], 2000)
    r = _payout(api, creator, 1000, "u1")
    assert r.status_code == 403 and r.data["error"]["code"] == "creator_not_verified"
    User(user_id=creator["id"]).update(actions=[User.creator_verification.set("approved")])
    assert _payout(api, creator, 1000, "u2").status_code == 201
