"""Tips: by card (PaymentIntent: confirm, 3-D Secure, decline, webhook replayed and reordered) or from the wallet
(at once, 402 when short, exact under 50 concurrent spends through the API); the creator is told live."""

from __future__ import annotations

import threading

import pytest

from tests.checkout_kit import card
from tests.realtime import connect
from tests.wallet_kit import (
    balance,
    deliver,
    deposit,
    event,
    idem,
    ledger_balanced,
    make_creator,
    make_staff,
    pay_in_browser,
)


@pytest.fixture
def scene(api, make_user, stripe_server):
    return {
        "creator": make_creator(make_user, "tipcreator"),
        "fan": make_user("tipfan"),
        "staff": make_staff(make_user, "tipstaff"),
    }


def tip(api, fan, creator_id, amount=500, method="wallet", key="tip-1", message=None, currency="eur"):
    body = {"amount_cents": amount, "currency": currency, "payment_method": method}
    if message is not None:
        body["message"] = message
    return api.post(f"/creators/{creator_id}/tips", body, token=fan["access"], headers=idem(key))


def _confirm(api, fan, tip_id, pm=None):
    return api.post(f"/tips/{tip_id}/confirm", {"payment_method_id": pm} if pm else {}, token=fan["access"])


def _earnings(api, creator):
    r = api.get("/earnings", token=creator["access"])
    assert r.status_code == 200, r.body
    return r.data


def test_wallet_tip_is_charged_at_once_and_the_creator_is_told_live(api, scene, live):
    import app as app_module

    creator, fan, staff = scene["creator"], scene["fan"], scene["staff"]
    ws, _ = connect(app_module, creator["access"])
    assert deposit(api, staff, fan, 2000, "d").status_code == 201
    r = tip(api, fan, creator["id"], 700, message="Thanks for the sunrise series!")
    assert r.status_code == 201, r.body
    t = r.data["tip"]
    assert t["status"] == "paid" and t["amount_cents"] == 700 and t["message"] == "Thanks for the sunrise series!"
    assert r.data.get("payment") is None
    assert balance(api, fan) == 1300
    assert tip(api, fan, creator["id"], 700, message="Thanks for the sunrise series!").data == r.data  # replay
    assert balance(api, fan) == 1300
    [frame] = live.of_type(ws, "notification")
    n = frame["notification"]
    assert n["type"] == "tip" and n["actor"]["id"] == fan["id"]
    assert n["target"]["message"] == "Thanks for the sunrise series!" and n["target"]["amount_cents"] == 700
    inbox = api.get("/notifications", token=creator["access"]).data["items"]
    assert [i["type"] for i in inbox] == ["tip"]
    e = _earnings(api, creator)
    assert e["by_source"]["tips"] == 630 and e["pending_cents"] == 630  # 10% platform fee
    entry = api.get("/wallet", token=fan["access"]).data["entries"]["items"][0]
    assert entry == {**entry, "amount_cents": -700, "kind": "tips", "ref": t["id"]}
    assert ledger_balanced(api, staff)


def test_short_wallet_is_402_and_writes_nothing(api, scene, live):
    import app as app_module

    creator, fan, staff = scene["creator"], scene["fan"], scene["staff"]
    ws, _ = connect(app_module, creator["access"])
    deposit(api, staff, fan, 300, "d")
    r = tip(api, fan, creator["id"], 301)
    assert r.status_code == 402 and r.data["error"]["code"] == "insufficient_funds"
    assert r.data["error"]["details"] == {"balance_cents": 300, "amount_cents": 301}
    assert balance(api, fan) == 300 and _earnings(api, creator)["by_source"]["tips"] == 0
    assert live.of_type(ws, "notification") == []
    assert tip(api, fan, creator["id"], 300, key="tip-2").status_code == 201
    assert balance(api, fan) == 0


def test_card_tip_confirmed_with_a_saved_card(api, scene, stripe_server, live):
    creator, fan = scene["creator"], scene["fan"]
    r = tip(api, fan, creator["id"], 1200, method="card", message="coffee")
    assert r.status_code == 201, r.body
    t, payment = r.data["tip"], r.data["payment"]
    assert t["status"] == "awaiting_payment" and payment["client_secret"]
    pi = stripe_server.get(f"/v1/payment_intents/{payment['payment_intent_id']}")
    assert pi["amount"] == 1200 and pi["metadata"] == {"kind": "tip", "tip_id": t["id"]}
    assert _earnings(api, creator)["by_source"]["tips"] == 0
    done = _confirm(api, fan, t["id"], "pm_card_visa")
    assert done.status_code == 200, done.body
    assert done.data["tip"]["status"] == "paid" and done.data["payment"]["status"] == "succeeded"
    assert _confirm(api, fan, t["id"]).data["tip"]["status"] == "paid"
    assert _earnings(api, creator)["by_source"]["tips"] == 1080
    assert balance(api, fan) == 0  # a card tip never touches the wallet
    inbox = api.get("/notifications", token=creator["access"]).data["items"]
    assert [(i["type"], i["target"]["message"]) for i in inbox] == [("tip", "coffee")]


def test_card_tip_decline_then_three_d_secure(api, scene, stripe_server):
    creator, fan = scene["creator"], scene["fan"]
    created = tip(api, fan, creator["id"], 900, method="card").data
    tid = created["tip"]["id"]
    r = _confirm(api, fan, tid, "pm_card_chargeCustomerFail")
    assert r.status_code == 402 and r.data["error"]["code"] == "card_declined"
    r = _confirm(api, fan, tid, card(stripe_server, "4000002760003184"))
    assert r.status_code == 200 and r.data["payment"]["status"] == "requires_action"
    assert r.data["tip"]["status"] == "awaiting_payment"
    assert _earnings(api, creator)["by_source"]["tips"] == 0
    stripe_server.authenticate(created["payment"]["payment_intent_id"], r.data["payment"]["client_secret"])
    assert _confirm(api, fan, tid).data["tip"]["status"] == "paid"
    assert _earnings(api, creator)["by_source"]["tips"] == 810


def test_failed_three_d_secure_stays_unpaid(api, scene, stripe_server):
    creator, fan = scene["creator"], scene["fan"]
    created = tip(api, fan, creator["id"], 900, method="card").data
    r = _confirm(api, fan, created["tip"]["id"], card(stripe_server, "4000002760003184"))
    stripe_server.authenticate(created["payment"]["payment_intent_id"], r.data["payment"]["client_secret"], False)
    after = _confirm(api, fan, created["tip"]["id"])
    assert after.data["tip"]["status"] == "awaiting_payment" and after.data["payment"]["status"] != "succeeded"
    assert _earnings(api, creator)["by_source"]["tips"] == 0


def test_card_tip_by_webhook_replayed_and_reordered(api, scene, stripe_server, live):
    creator, fan, staff = scene["creator"], scene["fan"], scene["staff"]
    created = tip(api, fan, creator["id"], 1000, method="card", message="hi").data
    pi = created["payment"]["payment_intent_id"]
    early_fail = deliver(api, stripe_server, event("evt_t0", "payment_intent.payment_failed", pi))
    assert early_fail.status_code == 200  # before anything happened: nothing changes
    pay_in_browser(stripe_server, pi)
    ok = event("evt_t1", "payment_intent.succeeded", pi)
    for payload in (ok, ok, event("evt_t2", "payment_intent.succeeded", pi)):
        assert deliver(api, stripe_server, payload).status_code == 200
    assert deliver(api, stripe_server, event("evt_t3", "payment_intent.payment_failed", pi)).status_code == 200
    assert _earnings(api, creator)["by_source"]["tips"] == 900  # once
    assert _confirm(api, fan, created["tip"]["id"]).data["tip"]["status"] == "paid"
    assert len(api.get("/notifications", token=creator["access"]).data["items"]) == 1
    assert ledger_balanced(api, staff)


def test_who_can_be_tipped_and_bad_input(api, scene, make_user, stripe_server, monkeypatch):
    creator, fan, staff = scene["creator"], scene["fan"], scene["staff"]
    deposit(api, staff, fan, 5000, "d")
    pending = make_creator(make_user, "unverified", verified=False)
    member = make_user("justmember")
    r = tip(api, fan, pending["id"], key="k1")
    assert r.status_code == 403 and r.data["error"]["code"] == "creator_not_verified"
    assert tip(api, fan, member["id"], key="k2").status_code == 404  # not a creator
    assert tip(api, fan, "u_nobody", key="k3").status_code == 404
    r = tip(api, creator, creator["id"], key="k4")
    assert r.status_code == 400 and r.data["error"]["code"] == "own_account"
    for n, amount in enumerate((0, -100, 50_001)):  # 50_000 is LIGHTBOX_TIP_MAX_CENTS
        r = tip(api, fan, creator["id"], amount, key=f"amt{n}")
        assert r.status_code == 400 and r.data["error"]["code"] == "amount_out_of_range", amount
    r = tip(api, fan, creator["id"], currency="xyz", key="cur")
    assert r.status_code == 400 and r.data["error"]["code"] == "currency_unsupported"
    r = tip(api, fan, creator["id"], 10, method="card", key="tiny")  # below Stripe's minimum charge
    assert r.status_code == 400 and r.data["error"]["code"] == "amount_out_of_range"
    assert tip(api, fan, creator["id"], 10, key="tiny-wallet").status_code == 201  # the wallet has no minimum
    r = tip(api, fan, creator["id"], message="x" * 501, key="long")
    assert r.status_code == 400 and "message" in r.data["error"]["details"]
    bad_bodies = [
        {"amount_cents": 100, "currency": "eur"},
        {"amount_cents": 100, "currency": "eur", "payment_method": "cash"},
        {"amount_cents": "100", "currency": "eur", "payment_method": "wallet"},
        {"amount_cents": 100, "currency": "EUR", "payment_method": "wallet"},
        {"amount_cents": 100, "payment_method": "wallet", "extra": 1},
    ]
    for n, body in enumerate(bad_bodies):
        r = api.post(f"/creators/{creator['id']}/tips", body, token=fan["access"], headers=idem(f"bad{n}"))
        assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", body
    r = api.post(
        f"/creators/{creator['id']}/tips", {"amount_cents": 100, "payment_method": "wallet"}, token=fan["access"]
    )
    assert r.status_code == 400  # no Idempotency-Key
    anon = api.post(
        f"/creators/{creator['id']}/tips", {"amount_cents": 100, "payment_method": "wallet"}, headers=idem("a")
    )
    assert anon.status_code == 401
    assert balance(api, fan) == 4990
    assert _confirm(api, scene["staff"], "tip_nope").status_code == 404


@pytest.fixture
def threaded_api(monkeypatch):
    """Chalice keeps the current request on the app object (one request per Lambda process); here one per
    thread, so test threads can call the API at once as concurrent Lambda invocations would."""
    import chalice.app

    local = threading.local()

    class PerThread:
        def __get__(self, obj, owner=None):
            return getattr(local, "request", None)

        def __set__(self, obj, value):
            local.request = value

    monkeypatch.setattr(chalice.app.Chalice, "current_request", PerThread(), raising=False)


def test_50_concurrent_wallet_tips_through_the_api_are_exact(api, scene, threaded_api):
    creator, fan, staff = scene["creator"], scene["fan"], scene["staff"]
    deposit(api, staff, fan, 3000, "d")  # exactly enough for 30 tips of 100
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(50)

    def spend(n: int) -> None:
        barrier.wait()
        r = tip(api, fan, creator["id"], 100, key=f"spend-{n}")
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=spend, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] * 30 + [402] * 20
    assert balance(api, fan) == 0
    assert _earnings(api, creator)["by_source"]["tips"] == 30 * 90
    wallet = api.get("/wallet?limit=100", token=fan["access"]).data
    assert sum(e["amount_cents"] for e in wallet["entries"]["items"]) == 0 and len(wallet["entries"]["items"]) == 31
    assert ledger_balanced(api, staff)


def test_a_ledger_that_stays_contended_is_a_transient_409_the_retry_completes(api, scene, monkeypatch):
    """DynamoDB's TransactionConflict on the ledger's hot rows (moto never raises it): every attempt raced, so the
    answer is 409 ``ledger_busy`` (never a 500), nothing is charged, and the same Idempotency-Key then succeeds."""
    from chalicelib.models import ledger as store
    from chalicelib.services import ledger

    deposit(api, scene["staff"], scene["fan"], 1000, "dep-busy")
    real = store.write_transaction

    def contended(*args, **kwargs):
        raise store.AccountsChanged("TransactionConflict")

    monkeypatch.setattr(ledger, "BACKOFF_SECONDS", 0.0)
    monkeypatch.setattr(store, "write_transaction", contended)
    r = tip(api, scene["fan"], scene["creator"]["id"], key="busy-1")
    assert r.status_code == 409 and r.data["error"]["code"] == "ledger_busy", r.body
    assert balance(api, scene["fan"]) == 1000
    monkeypatch.setattr(store, "write_transaction", real)
    r = tip(api, scene["fan"], scene["creator"]["id"], key="busy-1")
    assert r.status_code == 201, r.body
    assert balance(api, scene["fan"]) == 500
