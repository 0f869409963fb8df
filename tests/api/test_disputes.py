"""Disputes from localstripe (infrastructure/local/stripe_disputes.py): created suspends the downloads and tells
the seller, won restores, lost is booked as a refund; replays and reordered events end in the same state."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from chalicelib.services import disputes
from tests import refunds_support
from tests.refunds_support import idem, order_row, outbox, paid_order, purchase_states

stripe_fixture = refunds_support.stripe_fixture  # the fixture


@pytest.fixture
def cast(make_user):
    return {
        "buyer": make_user("buyer"),
        "seller": make_user("seller", role="photographer"),
        "other": make_user("other", role="photographer"),
    }


def two_seller_order(stripe, cast):
    return paid_order(
        stripe,
        cast["buyer"],
        [
            {"seller": cast["seller"], "price": 1500},
            {"seller": cast["other"], "price": 500},
            {"seller": cast["seller"], "price": 700, "kind": "print"},
        ],
    )


def event_of(stripe, type_, dispute_id):
    return next(e for e in stripe.events(type_) if e["data"]["object"]["id"] == dispute_id)


def notifications_of(user_id):
    from chalicelib.models.notifications import Notification

    return [n for n in Notification.query(user_id) if n.type == "order_disputed"]


def test_dispute_suspends_downloads_tells_the_sellers_and_won_restores(api, cast, stripe):
    order = two_seller_order(stripe, cast)
    dispute = stripe.dispute(order.payment_intent_id)
    assert dispute["status"] == "needs_response" and dispute["amount"] == 2700

    disputes.on_dispute_created(event_of(stripe, "charge.dispute.created", dispute["id"]))
    row = order_row(order.order_id)
    assert (row.status, row.status_before_dispute, row.dispute_id, row.dispute_status) == (
        "disputed",
        "paid",
        dispute["id"],
        "open",
    )
    assert purchase_states(row) == {"it1": "suspended", "it2": "suspended"}
    for seller in ("seller", "other"):
        (note,) = notifications_of(cast[seller]["id"])
        assert note.target.as_dict()["id"] == order.order_id
    (opened,) = outbox("dispute.opened")
    assert opened["amount_cents"] == 2700 and sum(x["amount_cents"] for x in opened["lines"]) == 2700
    listed = {
        who: [o["id"] for o in api.get("/sales/orders?status=disputed", token=cast[who]["access"]).data["items"]]
        for who in ("seller", "other")
    }
    assert listed == {"seller": [order.order_id], "other": [order.order_id]}  # each seller's listing follows
    blocked = api.post(
        f"/sales/orders/{order.order_id}/refunds", {"reason": "x"}, token=cast["seller"]["access"], headers=idem("d1")
    )
    assert blocked.status_code == 409 and blocked.data["error"]["code"] == "order_disputed"

    disputes.on_dispute_created(event_of(stripe, "charge.dispute.created", dispute["id"]))  # a replay
    assert len(notifications_of(cast["seller"]["id"])) == 1 and len(outbox("dispute.opened")) == 1

    stripe.resolve(dispute["id"], "won")
    disputes.on_dispute_closed(event_of(stripe, "charge.dispute.closed", dispute["id"]))
    row = order_row(order.order_id)
    assert (row.status, row.dispute_status, row.refunded_cents) == ("paid", "won", 0)
    sales = cast["seller"]["access"]
    assert api.get("/sales/orders?status=disputed", token=sales).data["items"] == []
    assert [o["id"] for o in api.get("/sales/orders?status=paid", token=sales).data["items"]] == [order.order_id]
    assert purchase_states(row) == {"it1": "active", "it2": "active"}
    (closed,) = outbox("dispute.closed")
    assert closed["status"] == "won" and closed["_id"] == f"dispute:{dispute['id']}:closed"
    assert outbox("refund.succeeded") == []


def test_lost_dispute_is_booked_as_a_refund_and_ends_the_entitlement(cast, stripe):
    from chalicelib.models.orders import refunds_of

    order = two_seller_order(stripe, cast)
    dispute = stripe.dispute(order.payment_intent_id)
    disputes.on_dispute_created(event_of(stripe, "charge.dispute.created", dispute["id"]))
    stripe.resolve(dispute["id"], "lost")
    closed_event = event_of(stripe, "charge.dispute.closed", dispute["id"])
    disputes.on_dispute_closed(closed_event)

    row = order_row(order.order_id)
    assert (row.status, row.dispute_status, row.refunded_cents) == ("refunded", "lost", 2700)
    assert [i.status for i in row.items] == ["refunded", "refunded", "refunded"]
    assert purchase_states(row) == {"it1": "refunded", "it2": "refunded"}
    (booked,) = refunds_of(order.order_id)
    assert (booked.source, booked.amount_cents, booked.status) == ("dispute", 2700, "succeeded")
    (closed,) = outbox("dispute.closed")
    assert closed["status"] == "lost" and {x["item_id"]: x["amount_cents"] for x in closed["lines"]} == {
        "it1": 1500,
        "it2": 500,
        "it3": 700,
    }
    assert outbox("refund.succeeded") == []  # the ledger books it from dispute.closed, once
    assert stripe.refunds_of(order.payment_intent_id) == []  # a lost dispute is no Stripe refund

    disputes.on_dispute_closed(closed_event)  # replays
    disputes.on_dispute_created(event_of(stripe, "charge.dispute.created", dispute["id"]))
    assert order_row(order.order_id).refunded_cents == 2700 and len(refunds_of(order.order_id)) == 1
    assert order_row(order.order_id).status == "refunded"


def test_closed_before_created_ends_in_the_same_state(cast, stripe):
    order = two_seller_order(stripe, cast)
    dispute = stripe.dispute(order.payment_intent_id)
    stripe.resolve(dispute["id"], "lost")
    created = event_of(stripe, "charge.dispute.created", dispute["id"])
    closed = event_of(stripe, "charge.dispute.closed", dispute["id"])

    disputes.on_dispute_closed(closed)  # delivered first
    disputes.on_dispute_created(created)  # the late one: the dispute is closed, so nothing reopens
    row = order_row(order.order_id)
    assert (row.status, row.dispute_status, row.refunded_cents) == ("refunded", "lost", 2700)
    assert purchase_states(row) == {"it1": "refunded", "it2": "refunded"}
    (opened,) = outbox("dispute.opened")
    (closed_event,) = outbox("dispute.closed")
    assert opened["lines"] == closed_event["lines"] and sum(x["amount_cents"] for x in opened["lines"]) == 2700
    assert row.status_before_dispute == "paid"
    assert len(notifications_of(cast["seller"]["id"])) == 1


def test_a_late_created_event_after_a_won_dispute_keeps_downloads(cast, stripe):
    order = paid_order(stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}])
    dispute = stripe.dispute(order.payment_intent_id)
    stripe.resolve(dispute["id"], "won")
    disputes.on_dispute_closed(event_of(stripe, "charge.dispute.closed", dispute["id"]))
    disputes.on_dispute_created(event_of(stripe, "charge.dispute.created", dispute["id"]))
    row = order_row(order.order_id)
    assert (row.status, row.dispute_status) == ("paid", "won")
    assert purchase_states(row) == {"it1": "active"}


def test_partly_refunded_order_losing_a_dispute_of_the_rest(api, cast, stripe):
    order = paid_order(
        stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}, {"seller": cast["seller"], "price": 1000}]
    )
    r = api.post(
        f"/sales/orders/{order.order_id}/refunds",
        {"item_ids": ["it1"], "reason": "x"},
        token=cast["seller"]["access"],
        headers=idem("p1"),
    )
    assert r.status_code == 201
    dispute = stripe.dispute(order.payment_intent_id)  # of what is not refunded: 1000
    assert dispute["amount"] == 1000
    disputes.on_dispute_created(event_of(stripe, "charge.dispute.created", dispute["id"]))
    row = order_row(order.order_id)
    assert row.status_before_dispute == "partially_refunded"
    assert purchase_states(row) == {"it1": "refunded", "it2": "suspended"}
    stripe.client.v1.disputes.close(dispute["id"])  # the seller accepts: lost
    disputes.on_dispute_closed(event_of(stripe, "charge.dispute.closed", dispute["id"]))
    row = order_row(order.order_id)
    assert (row.status, row.refunded_cents) == ("refunded", 2000)
    assert purchase_states(row) == {"it1": "refunded", "it2": "refunded"}


def test_localstripe_signs_dispute_events_as_stripe_does(stripe):
    """Registered webhooks get charge.dispute.* signed with Stripe's scheme (stripe.Webhook verifies them)."""
    import stripe as stripe_lib

    received: list[tuple[bytes, str]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers["Stripe-Signature"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        secret = "whsec_refunds_test"
        url = f"http://127.0.0.1:{server.server_port}/hook"
        stripe.call("POST", "/_config/webhooks/refunds", {"url": url, "secret": secret})
        pi = stripe.pay(800, "or_signed")
        dispute = stripe.dispute(pi.id)
        deadline = time.monotonic() + 10
        mine = dispute["id"].encode()
        while not any(b"charge.dispute.created" in body and mine in body for body, _ in received):
            assert time.monotonic() < deadline, "no webhook arrived"
            time.sleep(0.1)
        body, signature = next((b, s) for b, s in received if b"charge.dispute.created" in b and mine in b)
        event = stripe_lib.Webhook.construct_event(body, signature, secret)
        assert event["type"] == "charge.dispute.created" and event["data"]["object"]["id"] == dispute["id"]
        timestamp = signature.split(",")[0].split("=")[1]
        forged = hmac.new(b"wrong", f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        with pytest.raises(stripe_lib.SignatureVerificationError):
            stripe_lib.Webhook.construct_event(body, f"t={timestamp},v1={forged}", secret)
        assert json.loads(body)["data"]["object"]["status"] == "needs_response"
    finally:
        stripe.call("POST", "/_config/webhooks/refunds", {"url": "http://127.0.0.1:9/nowhere", "secret": "x"})
        server.shutdown()
