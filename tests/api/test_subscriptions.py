"""Creator plans and subscriptions against a real localstripe: card (visa, 3-D Secure, decline), wallet (402,
renewals, past_due then cancel), cancel at the period's end, webhook replay and reordering, access and counters."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from tests.jobs import drain
from tests.wallet_kit import paid_photo

PRICE = 500


# ---- helpers -----------------------------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    """Move the application's clock (``models.base.now``) forward without sleeping."""
    from chalicelib.models import base

    offset = {"delta": timedelta()}
    real_now = base.now
    monkeypatch.setattr(base, "now", lambda: real_now() + offset["delta"])

    def advance(**kwargs):
        offset["delta"] += timedelta(**kwargs)

    return advance


def verify_creator(user: dict) -> dict:
    from chalicelib.models.users import User

    User(user_id=user["id"]).update(actions=[User.creator_verification.set("approved")])
    return user


@pytest.fixture
def creator(api, make_user, stripe_server):
    user = verify_creator(make_user("maker", role="creator"))
    r = api.put("/creators/me/plan", {"price_cents": PRICE, "currency": "eur"}, token=user["access"])
    assert r.status_code == 200, r.body
    return user


@pytest.fixture
def fan(make_user):
    return make_user("fan")


def subscribe(api, token: str, creator_id: str, method: str = "card", pm: str | None = "pm_card_visa", key=None):
    body: dict = {"payment_method": method}
    if pm and method == "card":
        body["payment_method_id"] = pm
    return api.post(
        f"/creators/{creator_id}/subscription", body, token=token, headers={"Idempotency-Key": key or uuid.uuid4().hex}
    )


def card(stripe_server, number: str) -> str:
    pm = stripe_server.post(
        "/v1/payment_methods",
        {"type": "card", "card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2034", "card[cvc]": "123"},
    )
    return pm["id"]


def row(fan_id: str, creator_id: str):
    from chalicelib.models.subscriptions import subscription_of

    return subscription_of(fan_id, creator_id)


def count(creator_id: str) -> int:
    from chalicelib.models.creators import profile

    p = profile(creator_id, consistent=True)
    return int(p.subscriber_count or 0) if p else 0


def booked(source_ref: str) -> bool:
    from chalicelib.models import ledger as store

    return store.transaction(f"subscriptions:{source_ref}") is not None


def net(creator_id: str) -> int:
    from chalicelib.services import earnings

    return earnings.by_source(creator_id, "eur")["subscriptions"]


def premium_photo(owner_id: str) -> str:
    """A ready public photo of ``owner_id`` for subscribers only."""
    return paid_photo(owner_id, access="subscribers")


def sees(api, token: str, photo_id: str) -> tuple[bool, set[str]]:
    r = api.get(f"/photos/{photo_id}", token=token)
    assert r.status_code == 200, r.body
    return r.data["locked"], set(r.data["urls"])


def deliver(api, stripe_server, type_: str, obj_id: str, event_id: str | None = None, **obj):
    payload = json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:12]}",
            "object": "event",
            "type": type_,
            "data": {"object": {"id": obj_id, **obj}},
        }
    )
    r = api.call("POST", "/webhooks/stripe", headers=stripe_server.sign(payload), raw=payload)
    assert r.status_code == 200, r.body
    return r


def sweep(name: str) -> None:
    from chalicelib import jobs

    jobs.publish("subscriptions.renew", f"subscriptions.renew:{name}", {"period": 0, "minutes": 5})
    drain()


def fund(user_id: str, amount: int) -> None:
    from chalicelib.services import earnings

    assert earnings.deposit(uuid.uuid4().hex, user_id, amount, "eur")


def wallet(user_id: str) -> int:
    from chalicelib.services import earnings

    return earnings.wallet_balance(user_id, "eur")


# ---- plans -------------------------------------------------------------------------------------------------


def test_only_verified_creators_set_a_plan(api, make_user, stripe_server):
    member = make_user("member1")
    unverified = make_user("unverified", role="creator")
    body = {"price_cents": PRICE, "currency": "eur"}
    assert api.put("/creators/me/plan", body).status_code == 401
    for user in (member, unverified):
        r = api.put("/creators/me/plan", body, token=user["access"])
        assert r.status_code == 403 and r.data["error"]["code"] == "creator_not_verified"
    verified = verify_creator(make_user("verified", role="creator"))
    for bad in ({"price_cents": 10, "currency": "eur"}, {"price_cents": 10**6, "currency": "eur"}):
        r = api.put("/creators/me/plan", bad, token=verified["access"])
        assert r.status_code == 400 and "price_cents" in r.data["error"]["details"], r.body
    r = api.put("/creators/me/plan", {"price_cents": PRICE, "currency": "xyz"}, token=verified["access"])
    assert r.status_code == 400 and "currency" in r.data["error"]["details"]
    r = api.put("/creators/me/plan", {"price_cents": PRICE, "currency": "EUR"}, token=verified["access"])
    assert r.status_code == 400  # lowercase, as Stripe has it


def test_a_price_change_makes_a_new_plan_for_new_subscribers_only(api, creator, make_user, stripe_server):
    from chalicelib.models.creators import profile

    first = profile(creator["id"], consistent=True)
    assert first.plan_version == 1 and first.stripe_plan_id and first.stripe_product_id
    plan = stripe_server.get(f"/v1/plans/{first.stripe_plan_id}")
    assert plan["amount"] == PRICE and plan["currency"] == "eur" and plan["interval"] == "month"
    again = api.put("/creators/me/plan", {"price_cents": PRICE, "currency": "eur"}, token=creator["access"])
    assert again.status_code == 200 and again.data == {"price_cents": PRICE, "currency": "eur", "version": 1}
    assert profile(creator["id"], consistent=True).stripe_plan_id == first.stripe_plan_id  # no new plan

    early = make_user("early")
    assert subscribe(api, early["access"], creator["id"]).status_code == 201
    r = api.put("/creators/me/plan", {"price_cents": 900, "currency": "eur"}, token=creator["access"])
    assert r.status_code == 200 and r.data["version"] == 2
    second = profile(creator["id"], consistent=True)
    assert second.stripe_plan_id != first.stripe_plan_id and second.stripe_product_id == first.stripe_product_id
    late = make_user("late")
    created = subscribe(api, late["access"], creator["id"])
    assert created.status_code == 201 and created.data["subscription"]["price_cents"] == 900
    old = stripe_server.get(f"/v1/subscriptions/{row(early['id'], creator['id']).stripe_subscription_id}")
    new = stripe_server.get(f"/v1/subscriptions/{row(late['id'], creator['id']).stripe_subscription_id}")
    assert old["plan"]["id"] == first.stripe_plan_id and old["plan"]["amount"] == PRICE  # keeps its price
    assert new["plan"]["id"] == second.stripe_plan_id
    assert count(creator["id"]) == 2


# ---- card ----------------------------------------------------------------------------------------------------


def test_card_subscription_unlocks_that_creator_only_and_books_once(api, creator, fan, make_user, stripe_server):
    other = verify_creator(make_user("other", role="creator"))
    assert (
        api.put("/creators/me/plan", {"price_cents": 700, "currency": "eur"}, token=other["access"]).status_code == 200
    )
    mine, theirs = premium_photo(creator["id"]), premium_photo(other["id"])
    assert sees(api, fan["access"], mine) == (True, {"preview"})

    key = "sub-key-1"
    r = subscribe(api, fan["access"], creator["id"], key=key)
    assert r.status_code == 201, r.body
    sub = r.data["subscription"]
    assert sub["status"] == "active" and sub["access"] is True and sub["current_period_end"]
    assert r.data.get("payment") is None
    replay = subscribe(api, fan["access"], creator["id"], key=key)  # the same request again: the same answer
    assert replay.status_code == 201 and replay.data == r.data

    locked, urls = sees(api, fan["access"], mine)
    assert locked is False and "large" in urls and "original" not in urls
    assert sees(api, fan["access"], theirs) == (True, {"preview"})  # a subscriber of one sees nothing of another
    stranger = make_user("stranger")
    assert sees(api, stranger["access"], mine) == (True, {"preview"})

    stored = row(fan["id"], creator["id"])
    invoice = stripe_server.get(f"/v1/subscriptions/{stored.stripe_subscription_id}")["latest_invoice"]
    assert booked(invoice) and net(creator["id"]) == PRICE - PRICE * 10 // 100
    assert count(creator["id"]) == 1

    again = subscribe(api, fan["access"], creator["id"])
    assert again.status_code == 409 and again.data["error"]["code"] == "already_subscribed"
    own = subscribe(api, creator["access"], creator["id"])
    assert own.status_code == 409 and own.data["error"]["code"] == "own_subscription"
    no_key = api.post(f"/creators/{creator['id']}/subscription", {"payment_method": "card"}, token=fan["access"])
    assert no_key.status_code == 400

    notes = [n for n in api.get("/notifications", token=creator["access"]).data["items"] if n["type"] == "subscribed"]
    assert [n["target"] for n in notes] == [
        {"kind": "subscription", "id": sub["id"], "creator_id": creator["id"]}  # "kind", as every target has
    ]

    mine_list = api.get("/subscriptions", token=fan["access"]).data
    assert [(s["creator_id"], s["status"]) for s in mine_list["items"]] == [(creator["id"], "active")]
    subs = api.get("/creators/me/subscribers", token=creator["access"]).data["items"]
    assert [(s["subscriber_id"], s["cancel_at_period_end"]) for s in subs] == [(fan["id"], False)]
    assert api.get("/creators/me/subscribers", token=fan["access"]).status_code == 403


def test_unknown_or_planless_creators(api, make_user, fan, stripe_server):
    planless = verify_creator(make_user("planless", role="creator"))
    r = subscribe(api, fan["access"], planless["id"])
    assert r.status_code == 409 and r.data["error"]["code"] == "no_plan"
    member = make_user("plainmember")
    for target in (member["id"], "u_nobody"):
        r = subscribe(api, fan["access"], target)
        assert r.status_code == 404 and r.data["error"]["code"] == "creator_not_found"
    assert api.post("/creators/x/subscription", {"payment_method": "card"}).status_code == 401


def test_3ds_answers_the_client_secret_and_the_webhook_activates_once(api, creator, fan, stripe_server):
    photo = premium_photo(creator["id"])
    r = subscribe(api, fan["access"], creator["id"], pm=card(stripe_server, "4000002760003184"))
    assert r.status_code == 201, r.body
    assert r.data["subscription"]["status"] == "incomplete" and r.data["subscription"]["access"] is False
    payment = r.data["payment"]
    assert payment["status"] == "requires_action" and payment["client_secret"].startswith(payment["payment_intent_id"])
    assert sees(api, fan["access"], photo)[0] is True and count(creator["id"]) == 0

    stored = row(fan["id"], creator["id"])
    sub_id = stored.stripe_subscription_id
    created_early = deliver(api, stripe_server, "customer.subscription.created", sub_id)  # still incomplete
    assert created_early.status_code == 200 and row(fan["id"], creator["id"]).status == "incomplete"

    stripe_server.authenticate(payment["payment_intent_id"], payment["client_secret"])  # the browser's 3DS step
    invoice = stripe_server.get(f"/v1/subscriptions/{sub_id}")["latest_invoice"]
    deliver(api, stripe_server, "invoice.payment_succeeded", invoice, event_id="evt_paid")
    assert row(fan["id"], creator["id"]).status == "active" and sees(api, fan["access"], photo)[0] is False
    assert booked(invoice) and count(creator["id"]) == 1

    before = net(creator["id"])
    again = deliver(api, stripe_server, "invoice.payment_succeeded", invoice, event_id="evt_paid")  # replay
    assert again.data.get("duplicate") is True
    deliver(api, stripe_server, "invoice.paid", invoice)  # another event for the same invoice
    deliver(api, stripe_server, "customer.subscription.created", sub_id, status="incomplete")  # late, and a lie
    deliver(api, stripe_server, "invoice.payment_failed", invoice)  # out of order: Stripe says paid
    assert row(fan["id"], creator["id"]).status == "active"
    assert net(creator["id"]) == before == PRICE - PRICE * 10 // 100 and count(creator["id"]) == 1
    notes = api.get("/notifications", token=creator["access"]).data["items"]
    assert [n["type"] for n in notes].count("subscribed") == 1


def test_a_failed_3ds_gives_no_access(api, creator, fan, stripe_server):
    r = subscribe(api, fan["access"], creator["id"], pm=card(stripe_server, "4000002760003184"))
    payment = r.data["payment"]
    stripe_server.authenticate(payment["payment_intent_id"], payment["client_secret"], success=False)
    sub_id = row(fan["id"], creator["id"]).stripe_subscription_id
    deliver(api, stripe_server, "customer.subscription.deleted", sub_id)
    stored = row(fan["id"], creator["id"])
    assert stored.status == "canceled" and count(creator["id"]) == 0
    again = subscribe(api, fan["access"], creator["id"])  # may try again with another card
    assert again.status_code == 201 and again.data["subscription"]["status"] == "active"


def test_a_declined_card_is_402_and_gives_no_access(api, creator, fan, stripe_server):
    photo = premium_photo(creator["id"])
    r = subscribe(api, fan["access"], creator["id"], pm="pm_card_chargeCustomerFail")
    assert r.status_code == 402 and r.data["error"]["code"] == "card_declined", r.body
    stored = row(fan["id"], creator["id"])
    assert stored.status == "canceled" and count(creator["id"]) == 0
    assert stripe_server.get(f"/v1/subscriptions/{stored.stripe_subscription_id}")["status"] == "canceled"
    assert sees(api, fan["access"], photo)[0] is True and net(creator["id"]) == 0
    declined_on_attach = subscribe(api, fan["access"], creator["id"], pm="pm_card_visa_chargeDeclined")
    assert declined_on_attach.status_code == 402
    no_card = subscribe(api, fan["access"], creator["id"], pm=None)  # the saved default is the declined one
    assert no_card.status_code == 402


def test_a_card_is_required(api, creator, fan, stripe_server):
    r = subscribe(api, fan["access"], creator["id"], pm=None)
    assert r.status_code == 409 and r.data["error"]["code"] == "payment_method_required"


# ---- wallet --------------------------------------------------------------------------------------------------


def test_wallet_subscription_charges_at_once_and_402_when_short(api, creator, fan, make_user, stripe_server):
    photo = premium_photo(creator["id"])
    fund(fan["id"], 600)
    r = subscribe(api, fan["access"], creator["id"], method="wallet")
    assert r.status_code == 201, r.body
    assert r.data["subscription"]["status"] == "active" and r.data["subscription"]["method"] == "wallet"
    assert wallet(fan["id"]) == 100 and sees(api, fan["access"], photo)[0] is False
    stored = row(fan["id"], creator["id"])
    assert booked(f"{stored.subscription_id}:1") and count(creator["id"]) == 1

    poor = make_user("poor")
    fund(poor["id"], 499)
    short = subscribe(api, poor["access"], creator["id"], method="wallet")
    assert short.status_code == 402 and short.data["error"]["code"] == "insufficient_funds"
    assert row(poor["id"], creator["id"]) is None and wallet(poor["id"]) == 499 and count(creator["id"]) == 1
    assert sees(api, poor["access"], photo)[0] is True


def test_wallet_renewals_once_then_past_due_then_cancelled(api, creator, fan, stripe_server, clock):
    from chalicelib.config import get_settings

    photo = premium_photo(creator["id"])
    fund(fan["id"], 1000)
    assert subscribe(api, fan["access"], creator["id"], method="wallet").status_code == 201
    first = row(fan["id"], creator["id"])
    sweep("early")  # nothing due yet
    assert row(fan["id"], creator["id"]).period == 1 and wallet(fan["id"]) == 500

    clock(days=get_settings().subscription_period_days, minutes=1)
    sweep("p2")
    sweep("p2-again")  # a second run of the sweep: the period is booked once
    second = row(fan["id"], creator["id"])
    assert second.period == 2 and second.status == "active" and wallet(fan["id"]) == 0
    assert second.current_period_start == first.current_period_end and booked(f"{first.subscription_id}:2")

    clock(days=get_settings().subscription_period_days, minutes=1)
    sweep("p3-short")
    third = row(fan["id"], creator["id"])
    assert third.status == "past_due" and third.period == 2 and wallet(fan["id"]) == 0
    assert sees(api, fan["access"], photo)[0] is False and count(creator["id"]) == 1  # past_due keeps access

    clock(days=get_settings().subscription_grace_days, minutes=1)
    sweep("grace-over")
    gone = row(fan["id"], creator["id"])
    assert gone.status == "canceled" and gone.renew_due is None
    assert sees(api, fan["access"], photo)[0] is True and count(creator["id"]) == 0
    sweep("after")  # nothing more
    assert count(creator["id"]) == 0 and not booked(f"{first.subscription_id}:3")


def test_a_past_due_wallet_recovers_when_topped_up(api, creator, fan, stripe_server, clock):
    from chalicelib.config import get_settings

    fund(fan["id"], 500)
    subscribe(api, fan["access"], creator["id"], method="wallet")
    clock(days=get_settings().subscription_period_days, minutes=1)
    sweep("short")
    assert row(fan["id"], creator["id"]).status == "past_due"
    fund(fan["id"], 500)
    clock(hours=25)
    sweep("retry")
    back = row(fan["id"], creator["id"])
    assert back.status == "active" and back.period == 2 and back.past_due_since is None and wallet(fan["id"]) == 0
    assert count(creator["id"]) == 1


# ---- cancelling --------------------------------------------------------------------------------------------


def test_wallet_cancel_at_period_end_keeps_access_until_then(api, creator, fan, stripe_server, clock):
    from chalicelib.config import get_settings

    photo = premium_photo(creator["id"])
    fund(fan["id"], 1000)
    subscribe(api, fan["access"], creator["id"], method="wallet")
    r = api.delete(f"/creators/{creator['id']}/subscription", token=fan["access"])
    assert r.status_code == 200 and r.data["status"] == "active" and r.data["cancel_at_period_end"] is True
    assert r.data["current_period_end"]
    assert api.delete(f"/creators/{creator['id']}/subscription", token=fan["access"]).status_code == 200  # again
    assert sees(api, fan["access"], photo)[0] is False
    clock(days=get_settings().subscription_period_days - 1)
    assert sees(api, fan["access"], photo)[0] is False
    clock(days=1, minutes=1)
    assert sees(api, fan["access"], photo)[0] is True  # past the period's end: before any sweep ran
    sweep("end")
    assert row(fan["id"], creator["id"]).status == "canceled" and wallet(fan["id"]) == 500
    assert count(creator["id"]) == 0
    r = api.delete(f"/creators/{creator['id']}/subscription", token=fan["access"])
    assert r.status_code == 404 and r.data["error"]["code"] == "not_subscribed"


def test_card_cancel_at_period_end_then_deleted_by_stripe(api, creator, fan, stripe_server, clock):
    photo = premium_photo(creator["id"])
    subscribe(api, fan["access"], creator["id"])
    r = api.delete(f"/creators/{creator['id']}/subscription", token=fan["access"])
    assert r.status_code == 200 and r.data["status"] == "active" and r.data["cancel_at_period_end"] is True
    sub_id = row(fan["id"], creator["id"]).stripe_subscription_id
    assert stripe_server.get(f"/v1/subscriptions/{sub_id}")["cancel_at_period_end"] is True
    deliver(api, stripe_server, "customer.subscription.updated", sub_id)
    assert sees(api, fan["access"], photo)[0] is False and count(creator["id"]) == 1
    clock(days=32)
    assert sees(api, fan["access"], photo)[0] is True  # the period is over
    stripe_server.request("DELETE", f"/v1/subscriptions/{sub_id}")  # Stripe ends it at the period's end
    deliver(api, stripe_server, "customer.subscription.deleted", sub_id, event_id="evt_del")
    deliver(api, stripe_server, "customer.subscription.deleted", sub_id, event_id="evt_del")  # replay
    deliver(api, stripe_server, "customer.subscription.updated", sub_id)  # late, out of order
    assert row(fan["id"], creator["id"]).status == "canceled" and count(creator["id"]) == 0


def test_events_of_unknown_objects_are_ignored(api, stripe_server, creator):
    deliver(api, stripe_server, "customer.subscription.updated", "sub_unknown")
    deliver(api, stripe_server, "invoice.paid", "in_unknown")
    deliver(api, stripe_server, "invoice.paid", "not-an-invoice")
    assert count(creator["id"]) == 0


def test_lists_are_paginated(api, creator, make_user, stripe_server):
    fans = [make_user(f"pfan{i}") for i in range(3)]
    for f in fans:
        fund(f["id"], PRICE)
        assert subscribe(api, f["access"], creator["id"], method="wallet").status_code == 201
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        q = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(f"/creators/me/subscribers{q}", token=creator["access"]).data
        seen += [s["subscriber_id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(f["id"] for f in fans) and count(creator["id"]) == 3
    forged = api.get("/creators/me/subscribers?cursor=abc.def", token=creator["access"])
    assert forged.status_code == 400


# ---- concurrency -------------------------------------------------------------------------------------------


def test_concurrent_deliveries_count_the_transition_once(api, creator, fan, stripe_server):
    import threading

    from chalicelib.payments import stripe_gateway
    from chalicelib.services import subscriptions

    r = subscribe(api, fan["access"], creator["id"], pm=card(stripe_server, "4000002760003184"))
    payment = r.data["payment"]
    stripe_server.authenticate(payment["payment_intent_id"], payment["client_secret"])
    sub = stripe_gateway.retrieve_subscription(row(fan["id"], creator["id"]).stripe_subscription_id)  # as a handler
    assert sub["status"] == "active"
    errors: list[BaseException] = []

    def apply() -> None:
        try:
            subscriptions.sync(sub)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=apply) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert row(fan["id"], creator["id"]).status == "active" and count(creator["id"]) == 1
    assert net(creator["id"]) == PRICE - PRICE * 10 // 100


def test_every_path_of_the_first_invoice_racing_books_it_once(api, creator, fan, stripe_server):
    """The first invoice reaches the booking from the subscribe retry (the confirm path), customer.subscription.*,
    invoice.paid and invoice.payment_succeeded (each twice, one a replay), all at once: one ledger transaction
    (ref: the invoice id), and the creator's pending balance equals their per-source earnings to the cent."""
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.services import payouts

    key, pm = uuid.uuid4().hex, card(stripe_server, "4000002760003184")
    r = subscribe(api, fan["access"], creator["id"], pm=pm, key=key)
    payment = r.data["payment"]
    stripe_server.authenticate(payment["payment_intent_id"], payment["client_secret"])
    sub_id = row(fan["id"], creator["id"]).stripe_subscription_id
    invoice = stripe_server.get(f"/v1/subscriptions/{sub_id}")["latest_invoice"]
    calls = [
        lambda: subscribe(api, fan["access"], creator["id"], pm=pm, key=key),
        lambda: deliver(api, stripe_server, "customer.subscription.updated", sub_id),
        lambda: deliver(api, stripe_server, "customer.subscription.updated", sub_id),
        lambda: deliver(api, stripe_server, "invoice.paid", invoice, event_id="evt_race_paid"),
        lambda: deliver(api, stripe_server, "invoice.paid", invoice, event_id="evt_race_paid"),
        lambda: deliver(api, stripe_server, "invoice.payment_succeeded", invoice),
        lambda: deliver(api, stripe_server, "invoice.payment_succeeded", invoice),
    ]
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        results = list(pool.map(lambda call: call(), calls))
    assert results[0].status_code == 201, results[0].body
    one = PRICE - PRICE * 10 // 100
    assert booked(invoice) and row(fan["id"], creator["id"]).status == "active" and count(creator["id"]) == 1
    earned = payouts.earnings(creator["id"], "eur")
    assert earned["by_source"]["subscriptions"] == earned["pending_cents"] == earned["lifetime_cents"] == one


def test_concurrent_wallet_subscribes_charge_once(api, creator, fan, stripe_server):
    from concurrent.futures import ThreadPoolExecutor

    fund(fan["id"], 5 * PRICE)
    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(lambda _: subscribe(api, fan["access"], creator["id"], method="wallet"), range(5)))
    codes = sorted(r.status_code for r in results)
    assert codes.count(201) == 1 and set(codes) <= {201, 409}, [r.body for r in results]
    assert wallet(fan["id"]) == 4 * PRICE and count(creator["id"]) == 1


def test_each_paid_renewal_invoice_books_once(api, creator, fan, stripe_server):
    """A renewal (made by hand in localstripe, which has no clock): its invoice events book it once."""
    subscribe(api, fan["access"], creator["id"])
    stored = row(fan["id"], creator["id"])
    sub = stripe_server.get(f"/v1/subscriptions/{stored.stripe_subscription_id}")
    first = net(creator["id"])
    renewal = stripe_server.post("/v1/invoices", {"customer": sub["customer"], "subscription": sub["id"]})
    stripe_server.post(f"/v1/invoices/{renewal['id']}/pay")
    assert stripe_server.get(f"/v1/invoices/{renewal['id']}")["status"] == "paid"
    deliver(api, stripe_server, "invoice.paid", renewal["id"])
    deliver(api, stripe_server, "invoice.payment_succeeded", renewal["id"])
    assert renewal["amount_due"] == PRICE  # the subscription's line
    assert booked(renewal["id"]) and net(creator["id"]) == 2 * first
    assert row(fan["id"], creator["id"]).status == "active" and count(creator["id"]) == 1


def test_a_page_of_two_creators_reads_subscriptions_once(api, creator, fan, make_user, stripe_server, monkeypatch):
    from chalicelib.models import subscriptions as store
    from chalicelib.services import photos_access
    from chalicelib.services.photos import get_photo

    other = verify_creator(make_user("second", role="creator"))
    page = [premium_photo(creator["id"]), premium_photo(other["id"]), premium_photo(creator["id"])]
    fund(fan["id"], PRICE)
    assert subscribe(api, fan["access"], creator["id"], method="wallet").status_code == 201
    calls: list[list[str]] = []
    real = store.subscriptions_to
    monkeypatch.setattr(store, "subscriptions_to", lambda who, owners: calls.append(list(owners)) or real(who, owners))

    class Who:
        user_id = fan["id"]
        is_staff = False

    decisions = photos_access.decide(Who(), [get_photo(p) for p in page])
    assert [decisions[p].locked for p in page] == [False, True, False]
    assert len(calls) == 1 and sorted(set(calls[0])) == sorted({creator["id"], other["id"]})


# ---- retries, abandoned attempts, Stripe API shapes, renewal races ------------------------------------------


def stripe_subs(stripe_server, fan_id: str) -> list[dict]:
    """Every Stripe subscription of the fan's customer (localstripe, every status)."""
    from chalicelib.models.users import user_by_id

    customer = user_by_id(fan_id).stripe_customer_id
    return stripe_server.get(f"/v1/subscriptions?customer={customer}&status=all&limit=100")["data"]


def charges(stripe_server, fan_id: str) -> list[dict]:
    from chalicelib.models.users import user_by_id

    customer = user_by_id(fan_id).stripe_customer_id
    found = stripe_server.get(f"/v1/charges?customer={customer}&limit=100")["data"]
    return [c for c in found if c["status"] == "succeeded"]


def fail_once(monkeypatch, module, name: str) -> dict:
    """``module.name`` raises once (a crash after the Stripe call), then behaves."""
    real = getattr(module, name)
    state = {"failed": 0}

    def flaky(*args, **kwargs):
        if not state["failed"]:
            state["failed"] += 1
            raise RuntimeError("boom after Stripe")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, flaky)
    return state


@pytest.mark.parametrize("step", ["sync", "_first_payment"])
def test_a_retried_card_subscribe_charges_once(api, creator, fan, stripe_server, monkeypatch, step):
    """The request fails after Stripe made (and charged) the subscription; a 5xx is not stored by the idempotency
    layer, so the client's retry with the same key runs again: it finds the same subscription, charges nothing."""
    from chalicelib.services import subscriptions

    state = fail_once(monkeypatch, subscriptions, step)
    first = subscribe(api, fan["access"], creator["id"], key="retry-key")
    assert first.status_code == 500 and state["failed"] == 1
    again = subscribe(api, fan["access"], creator["id"], key="retry-key")
    assert again.status_code == 201, again.body
    assert again.data["subscription"]["status"] == "active" and again.data["subscription"]["access"] is True
    subs = stripe_subs(stripe_server, fan["id"])
    assert len(subs) == 1 and subs[0]["status"] == "active"
    assert subs[0]["id"] == row(fan["id"], creator["id"]).stripe_subscription_id
    assert len(charges(stripe_server, fan["id"])) == 1
    assert net(creator["id"]) == PRICE - PRICE * 10 // 100 and count(creator["id"]) == 1
    replay = subscribe(api, fan["access"], creator["id"], key="retry-key")  # now stored: the same answer
    assert replay.status_code == 201 and replay.data == again.data


def test_a_wallet_subscribe_retried_after_a_failure_books_once(api, creator, fan, stripe_server, monkeypatch):
    from chalicelib.services import subscriptions

    fund(fan["id"], 3 * PRICE)
    fail_once(monkeypatch, subscriptions, "_notify_subscribed")  # after the booking and the row
    assert subscribe(api, fan["access"], creator["id"], method="wallet", key="w-key").status_code == 500
    again = subscribe(api, fan["access"], creator["id"], method="wallet", key="w-key")
    assert again.status_code == 201 and again.data["subscription"]["status"] == "active", again.body
    assert wallet(fan["id"]) == 2 * PRICE and count(creator["id"]) == 1
    other = subscribe(api, fan["access"], creator["id"], method="wallet")  # a new request: already subscribed
    assert other.status_code == 409 and other.data["error"]["code"] == "already_subscribed"


def test_an_abandoned_attempt_is_cancelled_and_refunded_when_replaced(api, creator, fan, stripe_server, monkeypatch):
    """The first attempt crashed after Stripe charged it, and the client retried with a NEW key: the first Stripe
    subscription is cancelled and its payment refunded, so the fan pays once."""
    from chalicelib.services import subscriptions

    fail_once(monkeypatch, subscriptions, "sync")
    assert subscribe(api, fan["access"], creator["id"], key="first").status_code == 500
    (abandoned,) = stripe_subs(stripe_server, fan["id"])
    second = subscribe(api, fan["access"], creator["id"], key="second")
    assert second.status_code == 201 and second.data["subscription"]["status"] == "active", second.body
    by_id = {s["id"]: s for s in stripe_subs(stripe_server, fan["id"])}
    assert len(by_id) == 2 and by_id[abandoned["id"]]["status"] == "canceled"
    current = row(fan["id"], creator["id"]).stripe_subscription_id
    assert by_id[current]["status"] == "active"
    paid = charges(stripe_server, fan["id"])
    assert len(paid) == 2 and sum(1 for c in paid if c["refunded"]) == 1
    assert not booked(abandoned["latest_invoice"]) and net(creator["id"]) == PRICE - PRICE * 10 // 100


def test_an_event_of_a_live_abandoned_attempt_cancels_it_and_books_nothing(api, creator, fan, stripe_server):
    from chalicelib.models.creators import profile
    from chalicelib.payments import stripe_gateway

    fund(fan["id"], PRICE)
    assert subscribe(api, fan["access"], creator["id"], method="wallet").status_code == 201
    from chalicelib.services import checkout

    customer = checkout.ensure_customer(fan["id"])
    stripe_gateway.set_default_payment_method(customer, "pm_card_visa", idempotency_key=f"test:{customer}")
    meta = {"subscriber_id": fan["id"], "creator_id": creator["id"], "subscription_id": "sb_lost_attempt"}
    stray = stripe_gateway.create_subscription(
        customer, profile(creator["id"]).stripe_plan_id, idempotency_key="test:stray", metadata=meta
    )
    assert stray["status"] == "active"
    before = net(creator["id"])
    deliver(api, stripe_server, "customer.subscription.created", stray["id"])
    deliver(api, stripe_server, "invoice.payment_succeeded", stray["latest_invoice"]["id"])
    assert stripe_server.get(f"/v1/subscriptions/{stray['id']}")["status"] == "canceled"
    assert not booked(stray["latest_invoice"]["id"]) and net(creator["id"]) == before
    assert [c["refunded"] for c in charges(stripe_server, fan["id"])] == [True]
    assert row(fan["id"], creator["id"]).method == "wallet" and count(creator["id"]) == 1


def test_a_wallet_subscribe_ends_an_incomplete_card_attempt(api, creator, fan, stripe_server):
    r = subscribe(api, fan["access"], creator["id"], pm=card(stripe_server, "4000002760003184"))
    assert r.data["subscription"]["status"] == "incomplete"
    pending = row(fan["id"], creator["id"]).stripe_subscription_id
    fund(fan["id"], PRICE)
    w = subscribe(api, fan["access"], creator["id"], method="wallet")
    assert w.status_code == 201 and w.data["subscription"]["method"] == "wallet", w.body
    assert stripe_server.get(f"/v1/subscriptions/{pending}")["status"] == "canceled"  # cannot be paid any more
    assert count(creator["id"]) == 1 and wallet(fan["id"]) == 0


@pytest.fixture
def stripe_requests(monkeypatch):
    """Every request the app sends to Stripe, as (method, url, params), at the stripe-python boundary."""
    from stripe import _api_requestor

    sent: list[tuple[str, str, dict]] = []
    real = _api_requestor._APIRequestor.request

    def record(self, method, url, params=None, options=None, **kwargs):
        sent.append((method, url, dict(params or {})))
        return real(self, method, url, params, options, **kwargs)

    monkeypatch.setattr(_api_requestor._APIRequestor, "request", record)
    return sent


def test_no_request_expands_an_invoice_payment_intent(api, creator, fan, make_user, stripe_server, stripe_requests):
    """Stripe API 2025-03-31 and later (the pinned stripe-python's) have no Invoice.payment_intent: expanding it is
    a 400 there (localstripe does not mind). The card, 3-D Secure and decline flows and the invoice events work
    without it."""
    from chalicelib.payments import stripe_gateway

    assert subscribe(api, fan["access"], creator["id"]).data["subscription"]["status"] == "active"
    secure = make_user("secure")
    r = subscribe(api, secure["access"], creator["id"], pm=card(stripe_server, "4000002760003184"))
    assert r.data["payment"]["status"] == "requires_action"
    stripe_server.authenticate(r.data["payment"]["payment_intent_id"], r.data["payment"]["client_secret"])
    invoice = stripe_server.get(f"/v1/subscriptions/{row(secure['id'], creator['id']).stripe_subscription_id}")
    deliver(api, stripe_server, "invoice.payment_succeeded", invoice["latest_invoice"])
    assert row(secure["id"], creator["id"]).status == "active"
    declined = make_user("declined")
    assert subscribe(api, declined["access"], creator["id"], pm="pm_card_chargeCustomerFail").status_code == 402

    expands = [(m, u, p["expand"]) for m, u, p in stripe_requests if "expand" in p]
    assert any("/v1/subscriptions" in u for _, u, _ in expands)  # the subscription calls were seen
    assert all(e == stripe_gateway.SUBSCRIPTION_EXPAND for _, u, e in expands if "/v1/subscriptions" in u)
    assert not [x for x in expands if any("payment_intent" in path for path in x[2])], expands


def test_the_payment_of_an_invoice_in_either_api_shape(stripe_server):
    from chalicelib.payments import stripe_gateway

    pi = stripe_gateway.create_payment_intent(PRICE, "eur", idempotency_key="test:shape", metadata={})
    old = {"id": "in_old", "payment_intent": pi["id"]}  # APIs before 2025-03-31, and localstripe
    new = {  # 2025-03-31.basil and later: InvoicePayments
        "id": "in_new",
        "payments": {
            "data": [
                {"is_default": False, "created": 1, "payment": {"type": "payment_intent", "payment_intent": "pi_x"}},
                {"is_default": True, "created": 2, "payment": {"type": "payment_intent", "payment_intent": pi["id"]}},
            ]
        },
    }
    assert stripe_gateway.invoice_payment_intent(old)["id"] == pi["id"]
    assert stripe_gateway.invoice_payment_intent(new)["id"] == pi["id"]
    assert stripe_gateway.invoice_payment_intent({"id": "in_none", "payment_intent": None}) is None
    assert stripe_gateway.invoice_payment_intent({"id": "in_empty", "payments": {"data": []}}) is None


def test_a_renewal_racing_a_cancel_ends_consistently(api, creator, fan, stripe_server, clock, monkeypatch):
    """The fan cancels between the sweep's read of the row and its write: the renewal is re-evaluated (the row
    now says cancel at the period's end, and the period is over): cancelled, nothing booked, no failed job."""
    from chalicelib.config import get_settings
    from chalicelib.services import subscriptions

    fund(fan["id"], 2 * PRICE)
    assert subscribe(api, fan["access"], creator["id"], method="wallet").status_code == 201
    first = row(fan["id"], creator["id"])
    clock(days=get_settings().subscription_period_days, minutes=1)
    real = subscriptions.earnings.book
    calls = {"n": 0}

    def book_after_a_cancel(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:  # the concurrent DELETE lands between the renewal's read and its write
            r = api.delete(f"/creators/{creator['id']}/subscription", token=fan["access"])
            assert r.status_code == 200 and r.data["cancel_at_period_end"] is True
        return real(*args, **kwargs)

    monkeypatch.setattr(subscriptions.earnings, "book", book_after_a_cancel)
    assert subscriptions.renew(fan["id"], creator["id"]) == "canceled"
    done = row(fan["id"], creator["id"])
    assert done.status == "canceled" and done.renew_due is None and done.period == 1
    assert not booked(f"{first.subscription_id}:2") and wallet(fan["id"]) == PRICE and count(creator["id"]) == 0
    assert subscriptions.renew(fan["id"], creator["id"]) == "none"  # the next sweep: nothing more
