"""POST /webhooks/stripe: signatures, replays, order of arrival; objects are re-read from Stripe."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error

import pytest

from tests import checkout_kit
from tests.checkout_kit import DIGITAL, add, checkout, seed_photo

shop = checkout_kit.shop  # the stand-in price sheet (fixture)


@pytest.fixture
def unpaid(api, make_user, shop, stripe_server):
    seller, buyer = make_user("hookseller", role="photographer"), make_user("hookbuyer")
    photo = seed_photo(seller["id"])
    shop.offer(photo, DIGITAL)
    add(api, buyer["access"], photo, "dl-large")
    created = checkout(api, buyer["access"]).data
    return {"order_id": created["order"]["id"], "pi": created["payment"]["payment_intent_id"], "token": buyer["access"]}


def _pay_in_browser(stripe_server, pi: str, pm: str = "pm_card_visa") -> None:
    """What Stripe.js does: the PaymentIntent is confirmed with Stripe directly, not through our API."""
    stripe_server.post(f"/v1/payment_intents/{pi}", {"payment_method": pm})
    with contextlib.suppress(urllib.error.HTTPError):  # a declined card
        stripe_server.post(f"/v1/payment_intents/{pi}/confirm")


def _event(event_id: str, type_: str, pi: str, **obj) -> str:
    return json.dumps({"id": event_id, "object": "event", "type": type_, "data": {"object": {"id": pi, **obj}}})


def deliver(api, stripe_server, payload: str, **sign):
    return api.call("POST", "/webhooks/stripe", headers=stripe_server.sign(payload, **sign), raw=payload)


def _status(api, unpaid) -> str:
    return api.get(f"/orders/{unpaid['order_id']}", token=unpaid["token"]).data["status"]


def test_succeeded_fulfils_and_a_replay_changes_nothing(api, stripe_server, unpaid):
    from chalicelib.models.jobs import JobEvent
    from chalicelib.models.orders import WebhookEvent

    _pay_in_browser(stripe_server, unpaid["pi"])
    payload = _event("evt_1", "payment_intent.succeeded", unpaid["pi"])
    r = deliver(api, stripe_server, payload)
    assert r.status_code == 200, r.body
    assert _status(api, unpaid) == "paid"
    assert WebhookEvent.get("stripe:evt_1").type == "payment_intent.succeeded"
    first = JobEvent.get(f"order.paid:{unpaid['order_id']}")
    again = deliver(api, stripe_server, payload)  # the same delivery again
    assert again.status_code == 200 and again.data["duplicate"] is True
    other_id = deliver(api, stripe_server, _event("evt_2", "payment_intent.succeeded", unpaid["pi"]))
    assert other_id.status_code == 200  # a second event for the same payment: fulfil is idempotent
    assert JobEvent.get(f"order.paid:{unpaid['order_id']}").created_at == first.created_at
    assert api.get(f"/orders/{unpaid['order_id']}", token=unpaid["token"]).data["paid_at"]


def test_the_event_copy_is_not_trusted(api, stripe_server, unpaid):
    """A correctly signed succeeded event for a PaymentIntent that has not succeeded fulfils nothing."""
    r = deliver(api, stripe_server, _event("evt_lie", "payment_intent.succeeded", unpaid["pi"], status="succeeded"))
    assert r.status_code == 200
    assert _status(api, unpaid) == "awaiting_payment"


def test_payment_failed_after_succeeded_changes_nothing(api, stripe_server, unpaid):
    _pay_in_browser(stripe_server, unpaid["pi"])
    deliver(api, stripe_server, _event("evt_ok", "payment_intent.succeeded", unpaid["pi"]))
    late = deliver(api, stripe_server, _event("evt_late_fail", "payment_intent.payment_failed", unpaid["pi"]))
    assert late.status_code == 200
    order = api.get(f"/orders/{unpaid['order_id']}", token=unpaid["token"]).data
    assert order["status"] == "paid" and order["payment_status"] == "succeeded"


def test_payment_failed_records_and_the_order_stays_payable(api, stripe_server, unpaid):
    _pay_in_browser(stripe_server, unpaid["pi"], "pm_card_chargeCustomerFail")
    r = deliver(api, stripe_server, _event("evt_fail", "payment_intent.payment_failed", unpaid["pi"]))
    assert r.status_code == 200
    order = api.get(f"/orders/{unpaid['order_id']}", token=unpaid["token"]).data
    assert order["status"] == "awaiting_payment" and order["payment_status"] == "requires_payment_method"
    _pay_in_browser(stripe_server, unpaid["pi"])  # the buyer tries another card
    deliver(api, stripe_server, _event("evt_ok2", "payment_intent.succeeded", unpaid["pi"]))
    assert _status(api, unpaid) == "paid"


def test_succeeded_before_the_confirm_call(api, stripe_server, unpaid):
    _pay_in_browser(stripe_server, unpaid["pi"])
    deliver(api, stripe_server, _event("evt_first", "payment_intent.succeeded", unpaid["pi"]))
    r = api.post(f"/orders/{unpaid['order_id']}/confirm", {}, token=unpaid["token"])
    assert r.status_code == 200 and r.data["status"] == "paid"


@pytest.mark.parametrize(
    "tamper",
    ["no header", "wrong secret", "other body", "old", "future", "garbage header", "unicode v1", "unicode t"],
)
def test_bad_signatures_are_400_and_change_nothing(api, stripe_server, unpaid, tamper):
    from chalicelib.models.orders import WebhookEvent

    _pay_in_browser(stripe_server, unpaid["pi"])
    payload = _event("evt_forged", "payment_intent.succeeded", unpaid["pi"])
    headers = stripe_server.sign(payload)
    if tamper == "no header":
        headers = {"Content-Type": "application/json"}
    elif tamper == "wrong secret":
        headers = stripe_server.sign(payload, secret="whsec_other")
    elif tamper == "other body":
        headers = stripe_server.sign(payload.replace("evt_forged", "evt_forged2"))
    elif tamper == "old":
        headers = stripe_server.sign(payload, timestamp=int(time.time()) - 310)
    elif tamper == "future":
        headers = stripe_server.sign(payload, timestamp=int(time.time()) + 310)
    elif tamper == "unicode v1":  # hmac.compare_digest raises TypeError on a non-ASCII str
        headers = {"Stripe-Signature": f"t={int(time.time())},v1=\u00e9", "Content-Type": "application/json"}
    elif tamper == "unicode t":  # int() reads Arabic-Indic digits: only ASCII ones are a timestamp
        signed = headers["Stripe-Signature"].split(",")
        digits = signed[0][2:].translate(str.maketrans("0123456789", "".join(chr(0x660 + i) for i in range(10))))
        headers = {**headers, "Stripe-Signature": ",".join([f"t={digits}", *signed[1:]])}
    else:
        headers = {"Stripe-Signature": "t=abc,v1=zz", "Content-Type": "application/json"}
    r = api.call("POST", "/webhooks/stripe", headers=headers, raw=payload)
    assert r.status_code == 400 and r.data["error"]["code"] == "invalid_signature", r.body
    assert _status(api, unpaid) == "awaiting_payment"
    assert WebhookEvent.count("stripe:evt_forged") == 0


def test_within_tolerance_and_unknown_types(api, stripe_server, unpaid):
    payload = json.dumps({"id": "evt_x", "type": "customer.created", "data": {"object": {"id": "cus_1"}}})
    r = deliver(api, stripe_server, payload, timestamp=int(time.time()) - 290)
    assert r.status_code == 200 and r.data["handled"] is False
    assert deliver(api, stripe_server, "not json").status_code == 400
    assert deliver(api, stripe_server, json.dumps({"type": "x"})).status_code == 400  # no id


def test_a_payment_intent_of_no_order_is_ignored(api, stripe_server, unpaid):
    pi = stripe_server.post("/v1/payment_intents", {"amount": 500, "currency": "eur"})
    r = deliver(api, stripe_server, _event("evt_foreign", "payment_intent.succeeded", pi["id"]))
    assert r.status_code == 200
    assert deliver(api, stripe_server, _event("evt_bad", "payment_intent.succeeded", "pi_unknown")).status_code == 200
    assert _status(api, unpaid) == "awaiting_payment"
