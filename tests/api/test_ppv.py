"""Pay-per-view: a ``paid`` item bought by wallet (at once) or card (confirm, 3-D Secure, decline, webhook
replayed and reordered) unlocks it for the buyer for ever; refunds (staff route, ``charge.refunded``) re-lock it
and reverse the earning, a refund after payout leaves a receivable the next earnings repay."""

from __future__ import annotations

import pytest

from tests.checkout_kit import card
from tests.jobs import drain
from tests.wallet_kit import (
    balance,
    charge_of,
    deliver,
    deposit,
    event,
    idem,
    ledger_balanced,
    make_creator,
    make_staff,
    paid_photo,
    pay_in_browser,
)


@pytest.fixture
def scene(api, make_user, stripe_server):
    creator = make_creator(make_user, "ppvcreator")
    return {
        "creator": creator,
        "fan": make_user("ppvfan"),
        "staff": make_staff(make_user, "ppvstaff"),
        "photo": paid_photo(creator["id"], price=500),
    }


def buy(api, fan, photo_id, method="wallet", key="buy-1", body=None):
    return api.post(
        f"/photos/{photo_id}/purchase",
        {"payment_method": method} if body is None else body,
        token=fan["access"],
        headers=idem(key),
    )


def _confirm(api, fan, purchase_id, pm=None):
    return api.post(f"/purchases/{purchase_id}/confirm", {"payment_method_id": pm} if pm else {}, token=fan["access"])


def _view(api, user, photo_id):
    r = api.get(f"/photos/{photo_id}", token=user["access"])
    assert r.status_code == 200, r.body
    return r.data


def _count(photo_id) -> int:
    from chalicelib.models.photos import Photo

    return int(Photo.get(photo_id, consistent_read=True).purchase_count or 0)


def _purchases_net(api, creator) -> int:
    return api.get("/earnings", token=creator["access"]).data["by_source"]["purchases"]


def _refund(api, staff, kind, payment_id, key="rf-1"):
    return api.post(f"/staff/payments/{kind}/{payment_id}/refund", {}, token=staff["access"], headers=idem(key))


def _locked(view) -> bool:
    return view["locked"] is True and set(view["urls"]) == {"preview"}


def test_wallet_purchase_unlocks_for_ever_and_counts_once(api, scene):
    creator, fan, staff, photo = scene["creator"], scene["fan"], scene["staff"], scene["photo"]
    before = _view(api, fan, photo)
    assert _locked(before) and before["access"] == "paid"
    deposit(api, staff, fan, 1200, "d")
    r = buy(api, fan, photo)
    assert r.status_code == 201, r.body
    p = r.data["purchase"]
    assert p["status"] == "paid" and p["photo_id"] == photo and p["amount_cents"] == 500 and p["currency"] == "eur"
    assert r.data.get("payment") is None
    assert buy(api, fan, photo).data == r.data  # the same request again
    after = _view(api, fan, photo)
    assert after["locked"] is False and {"thumb", "medium", "large"} <= set(after["urls"])
    assert "original" not in after["urls"]
    assert _count(photo) == 1 and balance(api, fan) == 700 and _purchases_net(api, creator) == 450
    again = buy(api, fan, photo, key="buy-2")
    assert again.status_code == 409 and again.data["error"]["code"] == "already_purchased"
    assert _count(photo) == 1 and balance(api, fan) == 700
    inbox = api.get("/notifications", token=creator["access"]).data["items"]
    assert [(n["type"], n["target"]["id"], n["target"]["purchase_id"]) for n in inbox] == [("purchase", photo, p["id"])]
    assert _locked(_view(api, scene["fan_b"], photo))  # somebody else still sees a preview
    assert ledger_balanced(api, staff)


@pytest.fixture(autouse=True)
def _more_people(scene, make_user):
    scene["fan_b"] = make_user("ppvother")


def test_short_wallet_is_402_writes_nothing_and_stays_locked(api, scene):
    fan, staff, photo = scene["fan"], scene["staff"], scene["photo"]
    deposit(api, staff, fan, 499, "d")
    r = buy(api, fan, photo)
    assert r.status_code == 402 and r.data["error"]["code"] == "insufficient_funds"
    assert _locked(_view(api, fan, photo)) and _count(photo) == 0 and balance(api, fan) == 499
    deposit(api, staff, fan, 1, "d2")
    assert buy(api, fan, photo, key="buy-2").status_code == 201  # the claim was released: a new try works
    assert _view(api, fan, photo)["locked"] is False and balance(api, fan) == 0


def test_card_purchase_with_a_saved_card(api, scene, stripe_server):
    creator, fan, photo = scene["creator"], scene["fan"], scene["photo"]
    r = buy(api, fan, photo, method="card")
    assert r.status_code == 201, r.body
    p, payment = r.data["purchase"], r.data["payment"]
    assert p["status"] == "awaiting_payment" and payment["client_secret"]
    pi = stripe_server.get(f"/v1/payment_intents/{payment['payment_intent_id']}")
    assert pi["amount"] == 500 and pi["metadata"] == {"kind": "purchase", "purchase_id": p["id"]}
    assert _locked(_view(api, fan, photo))
    done = _confirm(api, fan, p["id"], "pm_card_visa")
    assert done.status_code == 200, done.body
    assert done.data["purchase"]["status"] == "paid" and done.data["payment"]["status"] == "succeeded"
    assert _view(api, fan, photo)["locked"] is False
    assert _count(photo) == 1 and _purchases_net(api, creator) == 450
    assert _confirm(api, scene["fan_b"], p["id"]).status_code == 404


def test_card_purchase_decline_and_three_d_secure(api, scene, stripe_server):
    fan, photo = scene["fan"], scene["photo"]
    created = buy(api, fan, photo, method="card").data
    pid = created["purchase"]["id"]
    r = _confirm(api, fan, pid, "pm_card_chargeCustomerFail")
    assert r.status_code == 402 and r.data["error"]["code"] == "card_declined"
    assert _locked(_view(api, fan, photo))
    r = _confirm(api, fan, pid, card(stripe_server, "4000002760003184"))
    assert r.data["payment"]["status"] == "requires_action" and r.data["purchase"]["status"] == "awaiting_payment"
    assert _locked(_view(api, fan, photo))
    stripe_server.authenticate(created["payment"]["payment_intent_id"], r.data["payment"]["client_secret"])
    assert _confirm(api, fan, pid).data["purchase"]["status"] == "paid"
    assert _view(api, fan, photo)["locked"] is False and _count(photo) == 1


def test_card_purchase_by_webhook_replayed_and_reordered(api, scene, stripe_server):
    creator, fan, staff, photo = scene["creator"], scene["fan"], scene["staff"], scene["photo"]
    created = buy(api, fan, photo, method="card").data
    pi = created["payment"]["payment_intent_id"]
    pay_in_browser(stripe_server, pi)
    ok = event("evt_p1", "payment_intent.succeeded", pi)
    for payload in (ok, ok, event("evt_p2", "payment_intent.succeeded", pi)):
        assert deliver(api, stripe_server, payload).status_code == 200
    assert deliver(api, stripe_server, event("evt_p3", "payment_intent.payment_failed", pi)).status_code == 200
    assert _count(photo) == 1 and _purchases_net(api, creator) == 450
    assert _view(api, fan, photo)["locked"] is False
    assert _confirm(api, fan, created["purchase"]["id"]).data["purchase"]["status"] == "paid"
    assert ledger_balanced(api, staff)


def test_two_card_purchases_of_one_item_the_second_is_refunded(api, scene, stripe_server):
    fan, photo = scene["fan"], scene["photo"]
    first = buy(api, fan, photo, method="card", key="a").data
    second = buy(api, fan, photo, method="card", key="b").data  # neither is paid yet: both may start
    assert _confirm(api, fan, first["purchase"]["id"], "pm_card_visa").data["purchase"]["status"] == "paid"
    late = _confirm(api, fan, second["purchase"]["id"], "pm_card_visa")
    assert late.status_code == 200 and late.data["purchase"]["status"] == "failed"
    refunds = stripe_server.get(f"/v1/refunds?payment_intent={second['payment']['payment_intent_id']}")["data"]
    assert [r["amount"] for r in refunds] == [500]  # the money of the duplicate went back
    assert _count(photo) == 1


def test_what_can_be_bought(api, scene, make_user, stripe_server):
    creator, fan = scene["creator"], scene["fan"]
    free = paid_photo(creator["id"], access="free")
    subs = paid_photo(creator["id"], access="subscribers")
    r = buy(api, fan, free, key="f")
    assert r.status_code == 409 and r.data["error"]["code"] == "not_for_sale"
    assert buy(api, fan, subs, key="s").data["error"]["code"] == "not_for_sale"
    r = buy(api, creator, scene["photo"], key="own")
    assert r.status_code == 400 and r.data["error"]["code"] == "own_item"
    assert buy(api, fan, "p_nope", key="n").status_code == 404
    unverified = make_creator(make_user, "lapsed", verified=False)
    theirs = paid_photo(unverified["id"])
    r = buy(api, fan, theirs, key="u")
    assert r.status_code == 403 and r.data["error"]["code"] == "creator_not_verified"
    for n, body in enumerate(
        ({}, {"payment_method": "cash"}, {"payment_method": "wallet", "amount_cents": 1}, {"payment_method": 1})
    ):
        r = buy(api, fan, scene["photo"], key=f"bad{n}", body=body)
        assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", body
    r = api.post(f"/photos/{scene['photo']}/purchase", {"payment_method": "wallet"}, token=fan["access"])
    assert r.status_code == 400  # no Idempotency-Key
    assert (
        api.post(f"/photos/{scene['photo']}/purchase", {"payment_method": "wallet"}, headers=idem("x")).status_code
        == 401
    )


# ---- refunds -------------------------------------------------------------------------------------------------


def test_refund_of_a_wallet_purchase_relocks_and_repays_the_wallet(api, scene):
    creator, fan, staff, photo = scene["creator"], scene["fan"], scene["staff"], scene["photo"]
    deposit(api, staff, fan, 500, "d")
    pid = buy(api, fan, photo).data["purchase"]["id"]
    assert _refund(api, fan, "purchases", pid).status_code == 403  # staff only
    r = _refund(api, staff, "purchases", pid)
    assert r.status_code == 200, r.body
    assert r.data["status"] == "refunded"
    assert _refund(api, staff, "purchases", pid, key="rf-2").data["status"] == "refunded"  # once
    assert balance(api, fan) == 500 and _purchases_net(api, creator) == 0
    assert _locked(_view(api, fan, photo))
    from chalicelib.models.orders import Purchase

    row = Purchase.get(fan["id"], photo, consistent_read=True)
    assert row.items.as_dict()[f"ppv:{pid}"]["state"] == "refunded" and row.ppv_id is None
    again = buy(api, fan, photo, key="buy-again")  # bought again after the refund
    assert again.status_code == 201 and again.data["purchase"]["status"] == "paid"
    assert _view(api, fan, photo)["locked"] is False
    assert _refund(api, staff, "tips", pid, key="rf-3").status_code == 404  # not a tip
    assert _refund(api, staff, "things", pid, key="rf-4").status_code == 404
    assert ledger_balanced(api, staff)


def test_refund_of_a_card_purchase_goes_to_the_card_and_the_webhook_changes_nothing(api, scene, stripe_server):
    creator, fan, staff, photo = scene["creator"], scene["fan"], scene["staff"], scene["photo"]
    created = buy(api, fan, photo, method="card").data
    pid, pi = created["purchase"]["id"], created["payment"]["payment_intent_id"]
    _confirm(api, fan, pid, "pm_card_visa")
    r = _refund(api, staff, "purchases", pid)
    assert r.status_code == 200 and r.data["status"] == "refunded"
    [refund] = stripe_server.get(f"/v1/refunds?payment_intent={pi}")["data"]
    assert refund["amount"] == 500 and refund["metadata"]["refund_id"] == f"rf_{pid}"
    assert _refund(api, staff, "purchases", pid, key="rf-2").status_code == 200
    assert len(stripe_server.get(f"/v1/refunds?payment_intent={pi}")["data"]) == 1
    payload = event("evt_ch_1", "charge.refunded", charge_of(stripe_server, pi))
    assert deliver(api, stripe_server, payload).status_code == 200  # Stripe reports it: booked already
    assert _purchases_net(api, creator) == 0 and balance(api, fan) == 0
    assert _locked(_view(api, fan, photo))
    assert ledger_balanced(api, staff)


def test_a_dashboard_refund_of_a_card_tip_is_booked_from_charge_refunded(api, scene, stripe_server):
    creator, fan, staff = scene["creator"], scene["fan"], scene["staff"]
    body = {"amount_cents": 800, "currency": "eur", "payment_method": "card"}
    created = api.post(f"/creators/{creator['id']}/tips", body, token=fan["access"], headers=idem("t")).data
    tid, pi = created["tip"]["id"], created["payment"]["payment_intent_id"]
    api.post(f"/tips/{tid}/confirm", {"payment_method_id": "pm_card_visa"}, token=fan["access"])
    tips = lambda: api.get("/earnings", token=creator["access"]).data["by_source"]["tips"]  # noqa: E731
    assert tips() == 720
    stripe_server.post("/v1/refunds", {"payment_intent": pi})  # made in the Stripe dashboard
    payload = event("evt_ch_2", "charge.refunded", charge_of(stripe_server, pi))
    assert deliver(api, stripe_server, payload).status_code == 200
    assert (
        deliver(api, stripe_server, event("evt_ch_3", "charge.refunded", charge_of(stripe_server, pi))).status_code
        == 200
    )
    assert tips() == 0
    assert _refund(api, staff, "tips", tid).data["status"] == "refunded"  # already: no second Stripe refund
    assert len(stripe_server.get(f"/v1/refunds?payment_intent={pi}")["data"]) == 1
    assert ledger_balanced(api, staff)


def test_a_refund_after_payout_leaves_a_receivable_the_next_earnings_repay(api, scene, stripe_server):
    from chalicelib.services import ledger

    creator, fan, staff = scene["creator"], scene["fan"], scene["staff"]
    cid = creator["id"]
    deposit(api, staff, fan, 3000, "d")

    def tip(amount, key):
        body = {"amount_cents": amount, "currency": "eur", "payment_method": "wallet"}
        r = api.post(f"/creators/{cid}/tips", body, token=fan["access"], headers=idem(key))
        assert r.status_code == 201, r.body
        return r.data["tip"]["id"]

    first = tip(2000, "t1")  # net 1800
    assert ledger.release_hold(f"tips:{first}:{cid}")  # the hold period passed
    r = api.post("/payouts", {"amount_cents": 1800}, token=creator["access"], headers=idem("po"))
    assert r.status_code == 201, r.body
    drain()
    assert api.get("/payouts", token=creator["access"]).data["items"][0]["status"] == "paid"
    assert _refund(api, staff, "tips", first).data["status"] == "refunded"
    assert balance(api, fan) == 3000  # the fan has the money back
    receivable = f"seller:{cid}:receivable:eur"
    assert ledger.balance(receivable) == -1800  # the creator owes what was paid out (a debit balance)
    second = tip(1000, "t2")  # net 900
    assert ledger.release_hold(f"tips:{second}:{cid}")
    assert ledger.balance(receivable) == -900  # the next earnings repay it first
    assert api.get("/earnings", token=creator["access"]).data["available_cents"] == 0
    third = tip(1000, "t3")
    assert ledger.release_hold(f"tips:{third}:{cid}")
    assert ledger.balance(receivable) == 0
    assert api.get("/earnings", token=creator["access"]).data["available_cents"] == 0
    assert ledger_balanced(api, staff)


def test_a_dead_claim_is_taken_over_once_stale(api, scene):
    """A wallet purchase that claimed the item and died before booking must not block the item for ever."""
    from datetime import timedelta

    from chalicelib.models.base import now
    from chalicelib.models.orders import Purchase

    fan, staff, photo = scene["fan"], scene["staff"], scene["photo"]
    deposit(api, staff, fan, 1000, "d")
    Purchase(buyer_id=fan["id"], photo_id=photo, items={}, ppv_id="ppv_dead", updated_at=now()).save()
    r = buy(api, fan, photo, key="fresh")
    assert r.status_code == 409 and r.data["error"]["code"] == "already_purchased"  # it may still be booking
    Purchase(
        buyer_id=fan["id"], photo_id=photo, items={}, ppv_id="ppv_dead", updated_at=now() - timedelta(minutes=5)
    ).save()
    r = buy(api, fan, photo, key="later")
    assert r.status_code == 201 and r.data["purchase"]["status"] == "paid"
    assert _view(api, fan, photo)["locked"] is False and balance(api, fan) == 500
