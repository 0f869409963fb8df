"""The wallet: balance and entries, card top-ups (credited once, by confirm or webhook, in any order), staff
deposits (audited), against a real localstripe."""

from __future__ import annotations

import pytest

from tests.checkout_kit import card
from tests.wallet_kit import balance, deliver, deposit, event, idem, ledger_balanced, make_staff, pay_in_browser


@pytest.fixture
def people(api, make_user, stripe_server):
    return {"fan": make_user("walletfan"), "staff": make_staff(make_user, "walletstaff"), "other": make_user("other")}


def _top_up(api, user, amount, key="t1", currency="eur"):
    return api.post(
        "/wallet/top-ups", {"amount_cents": amount, "currency": currency}, token=user["access"], headers=idem(key)
    )


def _confirm(api, user, top_up_id, pm=None):
    body = {"payment_method_id": pm} if pm else {}
    return api.post(f"/wallet/top-ups/{top_up_id}/confirm", body, token=user["access"])


def test_empty_wallet(api, people):
    r = api.get("/wallet", token=people["fan"]["access"])
    assert r.status_code == 200
    assert r.data == {
        "balance_cents": 0,
        "currency": "eur",
        "owed_cents": 0,
        "entries": {"items": [], "next_cursor": None},
    }
    assert api.get("/wallet").status_code == 401


def test_card_top_up_is_credited_once_by_confirm(api, people, stripe_server):
    fan = people["fan"]
    r = _top_up(api, fan, 2500)
    assert r.status_code == 201, r.body
    top_up, payment = r.data["top_up"], r.data["payment"]
    assert top_up["status"] == "awaiting_payment" and top_up["amount_cents"] == 2500 and top_up["currency"] == "eur"
    assert payment["client_secret"] and payment["status"] == "requires_payment_method"
    pi = stripe_server.get(f"/v1/payment_intents/{payment['payment_intent_id']}")
    assert pi["amount"] == 2500 and pi["metadata"] == {"kind": "top_up", "top_up_id": top_up["id"]}
    assert balance(api, fan) == 0  # not paid yet

    again = _top_up(api, fan, 2500)  # the client retries: the same top-up
    assert again.status_code == 201 and again.data["top_up"]["id"] == top_up["id"]

    done = _confirm(api, fan, top_up["id"], "pm_card_visa")
    assert done.status_code == 200, done.body
    assert done.data["top_up"]["status"] == "paid" and done.data["payment"]["status"] == "succeeded"
    assert _confirm(api, fan, top_up["id"]).data["top_up"]["status"] == "paid"  # again: nothing more
    wallet = api.get("/wallet", token=fan["access"]).data
    assert wallet["balance_cents"] == 2500
    [entry] = wallet["entries"]["items"]
    assert entry["amount_cents"] == 2500 and entry["kind"] == "top_up" and entry["ref"] == top_up["id"]
    assert entry["id"] == f"top_up:{top_up['id']}" and entry["created_at"].endswith("Z")
    assert ledger_balanced(api, people["staff"])
    assert _confirm(api, people["other"], top_up["id"]).status_code == 404  # not theirs


def test_top_up_by_webhook_replayed_and_reordered(api, people, stripe_server):
    fan = people["fan"]
    created = _top_up(api, fan, 1000).data
    pi = created["payment"]["payment_intent_id"]
    pay_in_browser(stripe_server, pi)
    ok = event("evt_tu_1", "payment_intent.succeeded", pi)
    assert deliver(api, stripe_server, ok).status_code == 200
    assert deliver(api, stripe_server, ok).status_code == 200  # the same delivery again
    assert deliver(api, stripe_server, event("evt_tu_2", "payment_intent.succeeded", pi)).status_code == 200
    assert deliver(api, stripe_server, event("evt_tu_3", "payment_intent.payment_failed", pi)).status_code == 200
    assert balance(api, fan) == 1000  # once
    assert _confirm(api, fan, created["top_up"]["id"]).data["top_up"]["status"] == "paid"
    assert balance(api, fan) == 1000


def test_a_lying_event_credits_nothing(api, people, stripe_server):
    fan = people["fan"]
    pi = _top_up(api, fan, 1000).data["payment"]["payment_intent_id"]
    r = deliver(api, stripe_server, event("evt_lie", "payment_intent.succeeded", pi, status="succeeded"))
    assert r.status_code == 200 and balance(api, fan) == 0


def test_top_up_decline_and_three_d_secure(api, people, stripe_server):
    fan = people["fan"]
    created = _top_up(api, fan, 1500).data
    tid = created["top_up"]["id"]
    r = _confirm(api, fan, tid, "pm_card_chargeCustomerFail")
    assert r.status_code == 402 and r.data["error"]["code"] == "card_declined"
    assert balance(api, fan) == 0
    r = _confirm(api, fan, tid, card(stripe_server, "4000002760003184"))
    assert r.status_code == 200 and r.data["payment"]["status"] == "requires_action"
    assert r.data["top_up"]["status"] == "awaiting_payment"
    stripe_server.authenticate(created["payment"]["payment_intent_id"], r.data["payment"]["client_secret"])
    done = _confirm(api, fan, tid)
    assert done.data["top_up"]["status"] == "paid" and balance(api, fan) == 1500


def test_top_up_bounds_and_bad_input(api, people, stripe_server):
    fan = people["fan"]
    assert _top_up(api, fan, 49, key="low").status_code == 400  # below Stripe's minimum charge
    r = _top_up(api, fan, 100_001, key="high")  # above LIGHTBOX_WALLET_TOP_UP_MAX_CENTS
    assert r.status_code == 400 and r.data["error"]["code"] == "amount_out_of_range"
    r = _top_up(api, fan, 1000, key="cur", currency="xxx")
    assert r.status_code == 400 and r.data["error"]["code"] == "currency_unsupported"
    for n, body in enumerate(
        ({}, {"amount_cents": "10"}, {"amount_cents": 0}, {"amount_cents": -5}, {"amount_cents": 1.5})
    ):
        r = api.post("/wallet/top-ups", body, token=fan["access"], headers=idem(f"bad{n}"))
        assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", body
    r = api.post("/wallet/top-ups", {"amount_cents": 1000}, token=fan["access"])
    assert r.status_code == 400 and "Idempotency-Key" in r.data["error"]["details"]
    assert api.get("/wallet?currency=EUR", token=fan["access"]).status_code == 400
    assert api.get("/wallet?cursor=forged", token=fan["access"]).status_code == 400
    assert _top_up(api, fan, 1000, key="k").status_code == 201
    r = _top_up(api, fan, 2000, key="k")  # the same key, another body
    assert r.status_code == 409 and r.data["error"]["code"] == "idempotency_key_reused"


def test_staff_deposit_is_audited_and_exactly_once(api, people):
    fan, staff = people["fan"], people["staff"]
    r = deposit(api, staff, fan, 3000, "d1", reason="Seed credit for the launch")
    assert r.status_code == 201, r.body
    d = r.data["deposit"]
    assert r.data["balance_cents"] == 3000
    assert d["user_id"] == fan["id"] and d["actor_id"] == staff["id"] and d["amount_cents"] == 3000
    assert d["reason"] == "Seed credit for the launch" and d["created_at"].endswith("Z")
    assert deposit(api, staff, fan, 3000, "d1", reason="Seed credit for the launch").data == r.data  # replay
    assert balance(api, fan) == 3000
    deposit(api, staff, fan, 500, "d2", reason="Goodwill")
    audit = api.get(f"/staff/wallets/{fan['id']}/deposits", token=staff["access"]).data
    assert [(a["amount_cents"], a["reason"], a["actor_id"]) for a in audit["items"]] == [
        (500, "Goodwill", staff["id"]),
        (3000, "Seed credit for the launch", staff["id"]),
    ]
    page = api.get(f"/staff/wallets/{fan['id']}/deposits?limit=1", token=staff["access"]).data
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = api.get(f"/staff/wallets/{fan['id']}/deposits?limit=1&cursor={page['next_cursor']}", token=staff["access"])
    assert rest.data["items"][0]["amount_cents"] == 3000
    entries = api.get("/wallet?limit=1", token=fan["access"]).data["entries"]
    assert entries["items"][0]["kind"] == "deposit" and entries["items"][0]["amount_cents"] == 500
    more = api.get(f"/wallet?limit=1&cursor={entries['next_cursor']}", token=fan["access"]).data["entries"]
    assert more["items"][0]["amount_cents"] == 3000
    assert balance(api, fan, "usd") == 0  # another currency's wallet
    assert ledger_balanced(api, staff)


def test_deposit_rules(api, people):
    fan, staff = people["fan"], people["staff"]
    r = deposit(api, fan, fan, 3000, "self")  # not staff
    assert r.status_code == 403
    r = api.post(
        f"/staff/wallets/{fan['id']}/deposits", {"amount_cents": 100}, token=staff["access"], headers=idem("x")
    )
    assert r.status_code == 400 and "reason" in r.data["error"]["details"]  # the reason is required
    assert deposit(api, staff, fan, 100, "blank", reason="").status_code == 400
    assert deposit(api, staff, {"id": "u_nobody"}, 100, "nobody").status_code == 404
    assert deposit(api, staff, fan, 0, "zero").status_code == 400
    assert deposit(api, staff, fan, 100_001, "big").status_code == 400
    assert deposit(api, staff, fan, 100, "cur", currency="zzz").status_code == 400
    r = api.post(f"/staff/wallets/{fan['id']}/deposits", {"amount_cents": 100, "reason": "x"}, token=staff["access"])
    assert r.status_code == 400  # no Idempotency-Key
    assert api.get(f"/staff/wallets/{fan['id']}/deposits", token=fan["access"]).status_code == 403
    assert balance(api, fan) == 0
