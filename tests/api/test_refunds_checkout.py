"""Refunds and disputes on orders bought through checkout (cart, POST /orders, confirm): what the buyer sees."""

from __future__ import annotations

from chalicelib.services import disputes
from tests import refunds_support
from tests.checkout_kit import DIGITAL, add, checkout, confirm, seed_photo, shop  # noqa: F401 (fixture)
from tests.refunds_support import idem

stripe_fixture = refunds_support.stripe_fixture  # the fixture


def bought(api, make_user, shop):  # noqa: F811 (the fixture)
    seller, buyer = make_user("phil", role="photographer"), make_user("cora")
    photo_id = seed_photo(seller["id"])
    shop.offer(photo_id, DIGITAL)
    assert add(api, buyer["access"], photo_id, "dl-large").status_code == 201
    order_id = checkout(api, buyer["access"]).data["order"]["id"]
    assert confirm(api, buyer["access"], order_id, "pm_card_visa").status_code == 200
    return seller, buyer, order_id


def item_of(api, buyer, order_id):
    r = api.get(f"/orders/{order_id}", token=buyer["access"])
    assert r.status_code == 200
    return r.data, r.data["items"][0]


def test_a_refunded_download_stops(api, make_user, shop, stripe):  # noqa: F811
    seller, buyer, order_id = bought(api, make_user, shop)
    order, item = item_of(api, buyer, order_id)
    assert order["status"] == "paid" and item["download_url"]

    r = api.post(
        f"/sales/orders/{order_id}/refunds",
        {"item_ids": [item["id"]], "reason": "requested_by_customer"},
        token=seller["access"],
        headers=idem("r1"),
    )
    assert r.status_code == 201 and r.data["refund"]["amount_cents"] == 1500
    order, item = item_of(api, buyer, order_id)
    assert order["status"] == "refunded" and order["refunded_cents"] == 1500
    assert item["status"] == "refunded" and item.get("download_url") is None


def test_a_dispute_suspends_the_download_and_a_won_one_restores_it(api, make_user, shop, stripe):  # noqa: F811
    seller, buyer, order_id = bought(api, make_user, shop)
    order, _ = item_of(api, buyer, order_id)
    dispute = stripe.dispute(stripe.client.v1.payment_intents.list().data[0].id)
    disputes.sync(dispute["id"])
    order, item = item_of(api, buyer, order_id)
    assert order["status"] == "disputed" and item.get("download_url") is None
    stripe.resolve(dispute["id"], "won")
    disputes.sync(dispute["id"])
    order, item = item_of(api, buyer, order_id)
    assert order["status"] == "paid" and item["download_url"]


def test_the_ledger_books_a_refund_and_a_lost_dispute_and_stays_balanced(api, make_user, shop, stripe):  # noqa: F811
    """refund.succeeded and dispute.closed (lost) reach the ledger's consumers through the jobs queue, once."""
    from tests.api.test_ledger import admin_token
    from tests.jobs import drain

    seller, buyer, order_id = bought(api, make_user, shop)
    drain()
    before = api.get("/earnings", token=seller["access"]).data
    r = api.post(
        f"/sales/orders/{order_id}/refunds",
        {"amount_cents": 500, "reason": "partial"},
        token=seller["access"],
        headers=idem("l1"),
    )
    assert r.status_code == 201
    dispute = stripe.dispute(stripe.client.v1.payment_intents.list().data[0].id)
    disputes.sync(dispute["id"])
    stripe.resolve(dispute["id"], "lost")
    disputes.sync(dispute["id"])
    disputes.sync(dispute["id"])  # a replay
    drain()
    after = api.get("/earnings", token=seller["access"]).data
    assert after["pending_cents"] < before["pending_cents"] and after["pending_cents"] == 0
    check = api.get("/staff/ledger/check", token=admin_token(api)).data
    assert check["balanced"] is True
