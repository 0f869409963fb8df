"""charge.refunded (localstripe's event, made by infrastructure/local/stripe_disputes.py): a refund made in the
Stripe dashboard is booked exactly like an API refund, once, whatever the order of delivery."""

from __future__ import annotations

import pytest

from chalicelib.services import refunds
from tests import refunds_support
from tests.refunds_support import idem, order_row, outbox, paid_order, purchase_states

stripe_fixture = refunds_support.stripe_fixture  # the fixture


@pytest.fixture
def cast(make_user):
    return {"buyer": make_user("buyer"), "seller": make_user("seller", role="photographer")}


def dashboard_refund(stripe, order, amount=None):
    params = {"payment_intent": order.payment_intent_id}
    if amount is not None:
        params["amount"] = amount
    return stripe.client.v1.refunds.create(params=params)


def refund_rows(order_id):
    from chalicelib.models.orders import refunds_of

    return refunds_of(order_id)


def test_dashboard_refund_is_booked_like_an_api_refund_and_a_replay_changes_nothing(cast, stripe):
    order = paid_order(
        stripe, cast["buyer"], [{"seller": cast["seller"], "price": 3000}, {"seller": cast["seller"], "price": 1000}]
    )
    made = dashboard_refund(stripe, order, 2000)
    (event,) = stripe.events("charge.refunded")
    assert event["data"]["object"]["id"] == order.charge_id

    refunds.on_charge_refunded(event)
    row = order_row(order.order_id)
    assert row.refunded_cents == 2000 and row.status == "partially_refunded"
    assert [i.refunded_cents for i in row.items] == [1500, 500]  # in proportion to what was left
    (booked,) = refund_rows(order.order_id)
    assert (booked.source, booked.stripe_refund_id, booked.status, booked.amount_cents) == (
        "stripe",
        made.id,
        "succeeded",
        2000,
    )
    assert len(outbox("refund.succeeded")) == 1

    refunds.on_charge_refunded(event)  # the same delivery again
    refunds.on_charge_refunded(event)
    assert order_row(order.order_id).refunded_cents == 2000
    assert len(refund_rows(order.order_id)) == 1 and len(outbox("refund.succeeded")) == 1

    dashboard_refund(stripe, order)  # the rest (Stripe's default: what is left)
    refunds.on_charge_refunded(stripe.events("charge.refunded")[-1])
    row = order_row(order.order_id)
    assert row.status == "refunded" and row.refunded_cents == 4000
    assert [i.status for i in row.items] == ["refunded", "refunded"]
    assert purchase_states(row) == {"it1": "refunded", "it2": "refunded"}


def test_events_out_of_order_book_each_refund_once(cast, stripe):
    order = paid_order(stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}])
    dashboard_refund(stripe, order, 100)
    dashboard_refund(stripe, order, 200)
    first, second = stripe.events("charge.refunded")
    refunds.on_charge_refunded(second)  # re-reads the charge: books both refunds
    assert order_row(order.order_id).refunded_cents == 300
    refunds.on_charge_refunded(first)
    assert order_row(order.order_id).refunded_cents == 300
    assert sorted(r.amount_cents for r in refund_rows(order.order_id)) == [100, 200]
    assert len(outbox("refund.succeeded")) == 2


def test_the_event_of_our_own_api_refund_books_nothing_twice(api, cast, stripe):
    order = paid_order(stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}])
    r = api.post(
        f"/sales/orders/{order.order_id}/refunds",
        {"amount_cents": 400, "reason": "x"},
        token=cast["seller"]["access"],
        headers=idem("w1"),
    )
    assert r.status_code == 201
    (event,) = stripe.events("charge.refunded")
    refunds.on_charge_refunded(event)
    assert order_row(order.order_id).refunded_cents == 400
    (only,) = refund_rows(order.order_id)
    assert only.refund_id == r.data["refund"]["id"] and only.source == "api"


def test_a_crash_after_stripe_refunded_is_repaired_by_the_webhook(cast, stripe):
    """The API process died between Stripe's refund and the booking: the pending row is booked by the event."""
    from chalicelib.models.base import now
    from chalicelib.models.orders import Refund
    from chalicelib.payments import stripe_refunds

    order = paid_order(stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}])
    Refund(
        order_id=order.order_id, refund_id="rf_lost", amount_cents=1000, currency="eur",
        allocations={"it1": 1000}, source="api", status="pending", reason="changed mind",
    ).save()  # fmt: skip
    row = order_row(order.order_id)
    row.pending_refund_id, row.pending_refund_at = "rf_lost", now()
    row.save()
    stripe_refunds.create_refund(order.payment_intent_id, 1000, refund_id="rf_lost", order_id=order.order_id)

    refunds.on_charge_refunded(stripe.events("charge.refunded")[0])
    row = order_row(order.order_id)
    assert row.status == "refunded" and row.pending_refund_id is None
    (booked,) = refund_rows(order.order_id)
    assert booked.refund_id == "rf_lost" and booked.status == "succeeded" and booked.source == "api"
    assert purchase_states(row) == {"it1": "refunded"}


def test_charge_refunded_of_a_payment_that_is_not_an_order_is_ignored(cast, stripe):
    pi = stripe.pay(500, "or_not_ours")
    stripe.client.v1.refunds.create(params={"payment_intent": pi.id})
    refunds.on_charge_refunded(stripe.events("charge.refunded")[0])  # no error, nothing written
    from chalicelib.models.orders import Order

    with pytest.raises(Order.DoesNotExist):
        Order.get("or_not_ours")


def test_stripe_refuses_more_than_is_left_as_stripe_does(cast, stripe):
    """The localstripe extension refuses a refund above the unrefunded amount (stock localstripe accepts it)."""
    import stripe as stripe_lib

    order = paid_order(stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}])
    dashboard_refund(stripe, order, 900)
    with pytest.raises(stripe_lib.InvalidRequestError):
        dashboard_refund(stripe, order, 101)
    assert sum(r["amount"] for r in stripe.refunds_of(order.payment_intent_id)) == 900


def test_through_post_webhooks_stripe_dashboard_refund_and_dispute_events_apply_once(api, cast, stripe, stripe_server):
    """The real route: signed deliveries of localstripe's own events; a replayed delivery is answered, not applied."""
    import json

    order = paid_order(stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}])

    def deliver(event):
        payload = json.dumps(event)
        return api.call("POST", "/webhooks/stripe", headers=stripe_server.sign(payload), raw=payload)

    dashboard_refund(stripe, order, 250)
    (refunded,) = stripe.events("charge.refunded")
    assert deliver(refunded).status_code == 200
    assert deliver(refunded).status_code == 200
    row = order_row(order.order_id)
    assert row.refunded_cents == 250 and len(refund_rows(order.order_id)) == 1

    dispute = stripe.dispute(order.payment_intent_id)
    assert deliver(stripe.events("charge.dispute.created")[0]).status_code == 200
    assert order_row(order.order_id).status == "disputed"
    assert purchase_states(order_row(order.order_id)) == {"it1": "suspended"}
    stripe.resolve(dispute["id"], "won")
    assert deliver(stripe.events("charge.dispute.closed")[0]).status_code == 200
    row = order_row(order.order_id)
    assert (row.status, row.dispute_status) == ("partially_refunded", "won")
    assert purchase_states(row) == {"it1": "active"}
    forged = api.call("POST", "/webhooks/stripe", headers=stripe_server.sign("{}", secret="whsec_wrong"), raw="{}")
    assert forged.status_code == 400
