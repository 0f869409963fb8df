"""POST /sales/orders/{order_id}/refunds against a real localstripe: who may refund what, how much, once."""

from __future__ import annotations

import pytest

from tests import refunds_support
from tests.api.test_events import make_staff
from tests.refunds_support import idem, order_row, outbox, paid_order, purchase_states

stripe_fixture = refunds_support.stripe_fixture  # the fixture


@pytest.fixture
def cast(make_user):
    return {
        "buyer": make_user("buyer"),
        "seller": make_user("seller", role="photographer"),
        "other": make_user("other", role="photographer"),
        "stranger": make_user("stranger"),
        "staff": make_staff(make_user("staffer")),
    }


def refund(api, who, order_id, body, key):
    return api.post(f"/sales/orders/{order_id}/refunds", body, token=who["access"], headers=idem(key))


def test_full_refund_of_the_sellers_items_ends_their_downloads(api, cast, stripe, monkeypatch):
    from chalicelib.realtime import push

    order = paid_order(
        stripe,
        cast["buyer"],
        [{"seller": cast["seller"], "price": 1500}, {"seller": cast["seller"], "price": 500, "kind": "print"}],
    )
    push_frames = []
    monkeypatch.setattr(push, "send_to_user", lambda user_id, frame: push_frames.append((user_id, frame)) or 0)
    r = refund(api, cast["seller"], order.order_id, {"reason": "wrong photos"}, "k1")
    assert r.status_code == 201, r.body
    body = r.data["refund"]
    assert body["amount_cents"] == 2000 and body["currency"] == "eur" and body["status"] == "succeeded"
    assert body["order_id"] == order.order_id and body["reason"] == "wrong photos" and body["source"] == "api"
    assert {i["id"]: i["amount_cents"] for i in body["items"]} == {"it1": 1500, "it2": 500}
    assert body["created_at"].endswith("Z")

    row = order_row(order.order_id)
    assert row.status == "refunded" and row.refunded_cents == 2000 and row.pending_refund_id is None
    assert [(i.status, i.refunded_cents) for i in row.items] == [("refunded", 1500), ("refunded", 500)]
    assert purchase_states(row) == {"it1": "refunded"}
    made = stripe.refunds_of(order.payment_intent_id)
    assert [(m["amount"], m["metadata"]["refund_id"]) for m in made] == [(2000, body["id"])]
    from chalicelib.models.orders import SellerOrder

    assert SellerOrder.get(cast["seller"]["id"], order.order_id).status == "refunded"
    (event,) = outbox("refund.succeeded")
    assert event["_id"] == f"refund:{body['id']}" and event["amount_cents"] == 2000
    assert {(x["item_id"], x["amount_cents"], x["seller_id"]) for x in event["lines"]} == {
        ("it1", 1500, cast["seller"]["id"]),
        ("it2", 500, cast["seller"]["id"]),
    }
    assert [(u, f["type"], f["order"]["status"]) for u, f in push_frames] == [
        (cast["buyer"]["id"], "order.updated", "refunded")
    ]


def test_partial_refunds_until_nothing_is_left_then_409(api, cast, stripe):
    order = paid_order(stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}])
    r1 = refund(api, cast["seller"], order.order_id, {"amount_cents": 300, "reason": "late"}, "p1")
    assert r1.status_code == 201 and r1.data["refund"]["amount_cents"] == 300
    assert order_row(order.order_id).status == "partially_refunded"
    assert purchase_states(order_row(order.order_id)) == {"it1": "active"}  # partly refunded: still bought

    too_much = refund(api, cast["seller"], order.order_id, {"amount_cents": 701, "reason": "x"}, "p2")
    assert too_much.status_code == 409 and too_much.data["error"]["code"] == "refund_exceeds_remaining"
    assert too_much.data["error"]["details"] == {"remaining_cents": 700}

    rest = refund(api, cast["seller"], order.order_id, {"reason": "the rest"}, "p3")
    assert rest.status_code == 201 and rest.data["refund"]["amount_cents"] == 700
    row = order_row(order.order_id)
    assert row.status == "refunded" and row.refunded_cents == 1000 and row.items[0].status == "refunded"
    assert purchase_states(row) == {"it1": "refunded"}

    nothing = refund(api, cast["seller"], order.order_id, {"amount_cents": 1, "reason": "more"}, "p4")
    assert nothing.status_code == 409 and nothing.data["error"]["code"] == "nothing_to_refund"
    assert sorted(m["amount"] for m in stripe.refunds_of(order.payment_intent_id)) == [300, 700]


def test_item_refund_refunds_only_that_item(api, cast, stripe):
    order = paid_order(
        stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1200}, {"seller": cast["seller"], "price": 800}]
    )
    r = refund(api, cast["seller"], order.order_id, {"item_ids": ["it2"], "reason": "duplicate"}, "i1")
    assert r.status_code == 201, r.body
    assert r.data["refund"]["amount_cents"] == 800
    assert r.data["refund"]["items"] == [{"id": "it2", "amount_cents": 800}]
    row = order_row(order.order_id)
    assert [i.status for i in row.items] == ["available", "refunded"]
    assert row.status == "partially_refunded"
    assert purchase_states(row) == {"it1": "active", "it2": "refunded"}

    part = refund(api, cast["seller"], order.order_id, {"item_ids": ["it1"], "amount_cents": 200, "reason": "r"}, "i2")
    assert part.data["refund"]["items"] == [{"id": "it1", "amount_cents": 200}]
    again = refund(api, cast["seller"], order.order_id, {"item_ids": ["it2"], "amount_cents": 1, "reason": "r"}, "i3")
    assert again.status_code == 409  # that item has nothing left
    assert order_row(order.order_id).items[0].refunded_cents == 200


def test_sellers_refund_only_their_own_items(api, cast, stripe):
    order = paid_order(
        stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}, {"seller": cast["other"], "price": 600}]
    )
    foreign = refund(api, cast["seller"], order.order_id, {"item_ids": ["it2"], "reason": "x"}, "s1")
    assert foreign.status_code == 403 and foreign.data["error"]["details"] == {"item_ids": ["it2"]}
    unknown = refund(api, cast["seller"], order.order_id, {"item_ids": ["nope"], "reason": "x"}, "s2")
    assert unknown.status_code == 404

    own = refund(api, cast["other"], order.order_id, {"reason": "mine"}, "s3")  # default: the caller's items
    assert own.status_code == 201 and own.data["refund"]["items"] == [{"id": "it2", "amount_cents": 600}]
    row = order_row(order.order_id)
    assert [i.status for i in row.items] == ["available", "refunded"] and row.refunded_cents == 600
    assert stripe.refunds_of(order.payment_intent_id)[0]["amount"] == 600


def test_buyer_cannot_refund_and_strangers_do_not_see_the_order(api, cast, stripe):
    order = paid_order(stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}])
    buyer = refund(api, cast["buyer"], order.order_id, {"reason": "give it back"}, "b1")
    assert buyer.status_code == 403 and buyer.data["error"]["code"] == "forbidden"
    stranger = refund(api, cast["stranger"], order.order_id, {"reason": "x"}, "b2")
    assert stranger.status_code == 404
    seller_elsewhere = refund(api, cast["other"], order.order_id, {"reason": "x"}, "b3")
    assert seller_elsewhere.status_code == 404
    missing = refund(api, cast["seller"], "or_missing", {"reason": "x"}, "b4")
    assert missing.status_code == 404
    assert stripe.refunds_of(order.payment_intent_id) == []
    assert order_row(order.order_id).refunded_cents == 0


def test_staff_refunds_any_item_and_the_shipping(api, cast, stripe):
    order = paid_order(
        stripe,
        cast["buyer"],
        [{"seller": cast["seller"], "price": 1000}, {"seller": cast["other"], "price": 999, "kind": "print"}],
        shipping_cents=450,
    )
    r = refund(api, cast["staff"], order.order_id, {"item_ids": ["it2"], "reason": "lost in the post"}, "st1")
    assert r.status_code == 201 and r.data["refund"]["amount_cents"] == 999
    everything = refund(api, cast["staff"], order.order_id, {"reason": "goodwill"}, "st2")
    assert everything.status_code == 201, everything.body
    assert everything.data["refund"]["amount_cents"] == 1450
    assert everything.data["refund"]["order_cents"] == 450
    row = order_row(order.order_id)
    assert row.status == "refunded" and row.refunded_cents == row.total_cents == 2449
    assert sum(m["amount"] for m in stripe.refunds_of(order.payment_intent_id)) == 2449


def test_idempotency_key_replays_the_same_refund_and_stripe_has_one(api, cast, stripe):
    order = paid_order(stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}])
    body = {"amount_cents": 250, "reason": "scratch"}
    first = refund(api, cast["seller"], order.order_id, body, "same")
    second = refund(api, cast["seller"], order.order_id, body, "same")
    assert first.status_code == second.status_code == 201
    assert second.data == first.data and second.headers.get("Idempotent-Replayed") == "true"
    assert len(stripe.refunds_of(order.payment_intent_id)) == 1
    assert order_row(order.order_id).refunded_cents == 250
    reused = refund(api, cast["seller"], order.order_id, {"amount_cents": 251, "reason": "scratch"}, "same")
    assert reused.status_code == 409 and reused.data["error"]["code"] == "idempotency_key_reused"
    missing = api.post(f"/sales/orders/{order.order_id}/refunds", body, token=cast["seller"]["access"])
    assert missing.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"reason": ""},
        {"reason": "x", "amount_cents": 0},
        {"reason": "x", "amount_cents": -5},
        {"reason": "x", "amount_cents": 1.5},
        {"reason": "x", "amount_cents": "100"},
        {"reason": "x", "item_ids": []},
        {"reason": "x", "currency": "usd"},
    ],
)
def test_bad_bodies_are_400(api, cast, stripe, body):
    order = paid_order(stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}])
    r = refund(api, cast["seller"], order.order_id, body, "bad")
    assert r.status_code == 400 and r.data["error"]["code"] == "validation_error"
    assert order_row(order.order_id).refunded_cents == 0


def test_unpaid_and_disputed_orders_are_409(api, cast, stripe):
    order = paid_order(stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}])
    row = order_row(order.order_id)
    row.status = "awaiting_payment"
    row.save()
    r = refund(api, cast["seller"], order.order_id, {"reason": "x"}, "u1")
    assert r.status_code == 409 and r.data["error"]["code"] == "order_not_refundable"
    row = order_row(order.order_id)
    row.status = "disputed"
    row.save()
    r = refund(api, cast["seller"], order.order_id, {"reason": "x"}, "u2")
    assert r.status_code == 409 and r.data["error"]["code"] == "order_disputed"
    assert stripe.refunds_of(order.payment_intent_id) == []


def test_a_refund_in_flight_blocks_a_second_one_and_a_stale_claim_is_settled(api, cast, stripe):
    """A crash after Stripe refunded but before booking leaves a pending row and the order's claim: the next
    refund within the claim's life is 409; after it, the next refund first books what Stripe has."""
    from datetime import timedelta

    from chalicelib.models.base import now
    from chalicelib.models.orders import Refund
    from chalicelib.payments import stripe_refunds

    order = paid_order(stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}])
    row = order_row(order.order_id)
    pending = Refund(
        order_id=order.order_id, refund_id="rf_crashed", amount_cents=400, currency="eur",
        allocations={"it1": 400}, source="api", status="pending",
    )  # fmt: skip
    pending.save()
    row.pending_refund_id, row.pending_refund_at = "rf_crashed", now()
    row.save()
    stripe_refunds.create_refund(order.payment_intent_id, 400, refund_id="rf_crashed", order_id=order.order_id)

    busy = refund(api, cast["seller"], order.order_id, {"amount_cents": 100, "reason": "x"}, "c1")
    assert busy.status_code == 409 and busy.data["error"]["code"] == "refund_in_progress"

    row = order_row(order.order_id)
    row.pending_refund_at = now() - timedelta(minutes=5)
    row.save()
    r = refund(api, cast["seller"], order.order_id, {"reason": "the rest"}, "c2")
    assert r.status_code == 201 and r.data["refund"]["amount_cents"] == 600
    row = order_row(order.order_id)
    assert row.refunded_cents == 1000 and row.status == "refunded"
    assert Refund.get(order.order_id, "rf_crashed").status == "succeeded"
    assert sorted(m["amount"] for m in stripe.refunds_of(order.payment_intent_id)) == [400, 600]


def test_concurrent_refunds_never_refund_more_than_was_paid(cast, stripe):
    """Six sellers' requests at once for 400 of 1000: each that succeeds is at Stripe and booked, the rest are
    409 (in progress, or more than is left); Stripe and the order agree."""
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from chalicelib.errors import ConflictError
    from chalicelib.services import refunds as refunds_service

    order = paid_order(stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}])
    seller = SimpleNamespace(user_id=cast["seller"]["id"], is_staff=False)
    barrier = threading.Barrier(6)

    def call(_):
        barrier.wait()
        try:
            refunds_service.create(seller, order.order_id, amount_cents=400, item_ids=None, reason="at once")
            return 201
        except ConflictError as exc:
            return exc.code

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(call, range(6)))
    assert 201 in results and set(results) <= {201, "refund_in_progress", "refund_exceeds_remaining"}
    at_stripe = sum(m["amount"] for m in stripe.refunds_of(order.payment_intent_id))
    row = order_row(order.order_id)
    assert row.refunded_cents == at_stripe == 400 * results.count(201) <= 1000
    assert row.pending_refund_id is None and row.items[0].refunded_cents == row.refunded_cents


def test_a_retry_of_a_request_that_died_after_stripe_refunded_resumes_it(api, cast, stripe, monkeypatch):
    """The function dies after Stripe refunded (a 5xx is not stored by the idempotency layer): the client's retry
    with the same Idempotency-Key sends Stripe the same ``refund:<id>`` key, gets the same refund, books it once."""
    from chalicelib.services import refunds as refunds_service

    order = paid_order(stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}])
    real_book = refunds_service.book

    def die(*args, **kwargs):
        raise RuntimeError("the Lambda timed out")

    monkeypatch.setattr(refunds_service, "book", die)
    body = {"amount_cents": 350, "reason": "retry me"}
    crashed = refund(api, cast["seller"], order.order_id, body, "flaky")
    assert crashed.status_code == 500
    assert len(stripe.refunds_of(order.payment_intent_id)) == 1 and order_row(order.order_id).refunded_cents == 0

    monkeypatch.setattr(refunds_service, "book", real_book)
    retried = refund(api, cast["seller"], order.order_id, body, "flaky")
    assert retried.status_code == 201, retried.body
    (made,) = stripe.refunds_of(order.payment_intent_id)
    assert made["metadata"]["refund_id"] == retried.data["refund"]["id"] and made["amount"] == 350
    row = order_row(order.order_id)
    assert row.refunded_cents == 350 and row.pending_refund_id is None


def test_an_order_changed_between_read_and_claim_is_read_again_not_refused(api, cast, stripe, monkeypatch):
    """A print-lab status (or any other write) lands on the order between the refund's read and its claim: the
    claim's version condition fails, and the refund reads the order again and goes through (it was a 409 before)."""
    from chalicelib.services import refunds as refunds_service

    order = paid_order(stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}])
    real_claim = refunds_service._claim
    raced = []

    def claim_after_another_write(order_read, refund_row, **kwargs):
        if not raced:
            raced.append(True)
            other = order_row(order_read.order_id)
            other.items[0].lab_order_id = "lab_raced"  # as a lab callback writes it
            other.save()
        return real_claim(order_read, refund_row, **kwargs)

    monkeypatch.setattr(refunds_service, "_claim", claim_after_another_write)
    r = refund(api, cast["seller"], order.order_id, {"amount_cents": 300, "reason": "raced"}, "race1")
    assert r.status_code == 201, r.body
    assert raced and [m["amount"] for m in stripe.refunds_of(order.payment_intent_id)] == [300]
    row = order_row(order.order_id)
    assert row.refunded_cents == 300 and row.pending_refund_id is None
    assert row.items[0].lab_order_id == "lab_raced"  # the other write is kept


def test_a_claim_that_keeps_losing_is_409_and_a_real_error_is_not_taken_for_a_race(cast, stripe, monkeypatch):
    from types import SimpleNamespace

    from pynamodb.exceptions import TransactWriteError

    from chalicelib.errors import ConflictError
    from chalicelib.services import refunds as refunds_service

    order = paid_order(stripe, cast["buyer"], [{"seller": cast["seller"], "price": 1000}])
    seller = SimpleNamespace(user_id=cast["seller"]["id"], is_staff=False)
    real_claim = refunds_service._claim
    claims = []

    def always_raced(order_read, refund_row, **kwargs):
        claims.append(1)
        other = order_row(order_read.order_id)
        other.save()  # another write on the order, every time
        return real_claim(order_read, refund_row, **kwargs)

    monkeypatch.setattr(refunds_service, "_claim", always_raced)
    with pytest.raises(ConflictError) as raised:
        refunds_service.create(seller, order.order_id, amount_cents=100, item_ids=None, reason="busy")
    assert raised.value.code == "refund_in_progress" and len(claims) == refunds_service.MAX_ATTEMPTS
    assert stripe.refunds_of(order.payment_intent_id) == [] and order_row(order.order_id).pending_refund_id is None

    def broken(*args, **kwargs):
        raise TransactWriteError("ValidationException: no cancellation reasons")

    monkeypatch.setattr(refunds_service, "_claim", real_claim)
    monkeypatch.setattr(refunds_service.jobs, "transaction", broken)
    with pytest.raises(TransactWriteError):  # a bug surfaces as itself, not as 5 retries and a 409
        refunds_service.create(seller, order.order_id, amount_cents=100, item_ids=None, reason="bug")
    assert stripe.refunds_of(order.payment_intent_id) == []
