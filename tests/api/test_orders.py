"""Orders and payment against a real localstripe: checkout, confirm (card, decline, 3-D Secure), exactly-once
fulfilment, downloads, cancel, expiry, who may read an order."""

from __future__ import annotations

import threading
import urllib.parse

import pytest

from tests import checkout_kit
from tests.checkout_kit import ADDRESS, DIGITAL, ORIGINAL, PRINT, add, card, checkout, confirm, seed_photo

shop = checkout_kit.shop  # the stand-in price sheet (fixture)


@pytest.fixture
def world(api, make_user, shop, stripe_server):
    seller = make_user("seller1", role="photographer")
    other_seller = make_user("seller2", role="photographer")
    buyer = make_user("buyer1")
    p1 = seed_photo(seller["id"], caption="Sunset over the bay", filename="sunset.jpg")
    p2 = seed_photo(other_seller["id"], caption="Harbour at night", filename=None)
    shop.offer(p1, DIGITAL, ORIGINAL, PRINT, client_id="cl_1")
    shop.offer(p2, DIGITAL)
    return {"seller": seller, "other_seller": other_seller, "buyer": buyer, "p1": p1, "p2": p2, "shop": shop}


def _fill(api, world, *, prints: bool = False):
    token = world["buyer"]["access"]
    assert add(api, token, world["p1"], "dl-large").status_code == 201
    assert add(api, token, world["p2"], "dl-large", 2).status_code == 201
    if prints:
        assert add(api, token, world["p1"], "print-8x10", 3).status_code == 201
    return token


def test_checkout_then_card_payment_fulfils(api, world, stripe_server):
    from chalicelib.models.jobs import JobEvent
    from chalicelib.models.orders import Purchase, SellerOrder

    token = _fill(api, world, prints=True)
    assert checkout(api, token, key="no-address").status_code == 400  # a print needs a shipping address
    assert api.get("/cart", token=token).data["subtotal_cents"] == 1500 + 2 * 1500 + 3 * 2500

    r = checkout(api, token, address=ADDRESS)
    assert r.status_code == 201, r.body
    order, payment = r.data["order"], r.data["payment"]
    assert order["status"] == "awaiting_payment"
    assert order["total_cents"] == 12000 and order["currency"] == "eur"
    assert sorted((i["sku"], i["quantity"]) for i in order["items"]) == [
        ("dl-large", 1),
        ("dl-large", 2),
        ("print-8x10", 3),
    ]
    assert payment["publishable_key"] == stripe_server.publishable_key
    assert payment["client_secret"] and payment["payment_intent_id"].startswith("pi_")
    pi = stripe_server.get(f"/v1/payment_intents/{payment['payment_intent_id']}")
    assert pi["amount"] == 12000 and pi["currency"] == "eur" and pi["metadata"]["order_id"] == order["id"]
    assert api.get("/cart", token=token).data["items"] == []  # the bought lines left the cart
    line = next(i for i in order["items"] if i["kind"] == "print")
    assert line["print"] == {"width_in": 8, "height_in": 10, "paper": "lustre", "frame": "none", "fulfilment": "lab"}
    assert line["title"] == "Sunset over the bay" and line["client_id"] == "cl_1"

    # today's price changes later: the order keeps its snapshot
    world["shop"].set_price(world["p1"], "dl-large", 9999)
    r = confirm(api, token, order["id"], "pm_card_visa")
    assert r.status_code == 200, r.body
    paid = r.data
    assert paid["status"] == "paid" and paid["paid_at"] and paid["payment"]["status"] == "succeeded"
    assert paid["total_cents"] == 12000
    by_kind = {(i["photo_id"], i["sku"]): i for i in paid["items"]}
    assert by_kind[(world["p1"], "dl-large")]["status"] == "available"
    assert by_kind[(world["p1"], "print-8x10")]["status"] == "pending"

    def fetched(download_url: str) -> str:
        """download_url is the counted download route (signed); it answers 302 to a fresh S3 URL."""
        link = urllib.parse.urlparse(download_url)
        r = api.get(f"{link.path}?{link.query}")
        assert r.status_code == 302, r.body
        return r.headers["Location"]

    url = fetched(by_kind[(world["p1"], "dl-large")]["download_url"])
    query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    assert "photos/" + world["p1"] + "/large" in url
    assert query["response-content-disposition"] == ['attachment; filename="sunset-large.jpg"']
    assert by_kind[(world["p1"], "print-8x10")].get("download_url") is None
    harbour = fetched(by_kind[(world["p2"], "dl-large")]["download_url"])
    assert 'filename="Harbour-at-night-large.jpg"' in urllib.parse.unquote(harbour)

    # a second read signs afresh; the event, the seller rows and the purchases are there
    assert api.get(f"/orders/{order['id']}", token=token).data["status"] == "paid"
    event = JobEvent.get(f"order.paid:{order['id']}")
    assert event.payload["total_cents"] == 12000 and len(event.payload["lines"]) == 3
    assert {s.status for s in SellerOrder.query(world["seller"]["id"])} == {"paid"}
    entries = Purchase.get(world["buyer"]["id"], world["p1"]).items.as_dict()
    assert [e["variant"] for e in entries.values()] == ["large"]

    # confirming again changes nothing
    again = confirm(api, token, order["id"])
    assert again.status_code == 200 and again.data["status"] == "paid"
    assert api.get("/cart", token=token).data["items"] == []


def test_purchase_grants_the_bought_variant(api, world, stripe_server):
    token = _fill(api, world)
    buyer = world["buyer"]
    before = api.get(f"/photos/{world['p1']}", token=token)
    assert before.status_code == 404  # a private photo of somebody else
    order = checkout(api, token).data["order"]
    confirm(api, token, order["id"], "pm_card_visa")
    after = api.get(f"/photos/{world['p1']}", token=token)
    assert after.status_code == 200, after.body
    assert "large" in after.data["urls"] and "original" not in after.data["urls"]
    assert buyer["id"] != world["seller"]["id"]


def test_same_idempotency_key_is_the_same_order(api, world, stripe_server):
    token = _fill(api, world)
    first = checkout(api, token, key="k-1")
    second = checkout(api, token, key="k-1")
    assert first.status_code == second.status_code == 201
    assert second.data == first.data
    assert api.get("/orders", token=token).data["items"][0]["id"] == first.data["order"]["id"]
    assert len(api.get("/orders", token=token).data["items"]) == 1
    assert checkout(api, token, key="k-2").status_code == 409  # the cart is empty now
    assert checkout(api, token, key="k-2").data["error"]["code"] == "cart_empty"
    r = api.post("/orders", {}, token=token)
    assert r.status_code == 400 and "Idempotency-Key" in r.data["error"]["details"]


def test_decline_leaves_the_order_awaiting_payment_and_it_can_be_retried(api, world, stripe_server):
    token = _fill(api, world)
    order = checkout(api, token).data["order"]
    r = confirm(api, token, order["id"], "pm_card_chargeCustomerFail")
    assert r.status_code == 402 and r.data["error"]["code"] == "card_declined"
    now = api.get(f"/orders/{order['id']}", token=token).data
    assert now["status"] == "awaiting_payment" and now["paid_at"] is None
    r = confirm(api, token, order["id"], "pm_card_visa")
    assert r.status_code == 200 and r.data["status"] == "paid"


def test_three_d_secure_then_confirm_fulfils(api, world, stripe_server):
    token = _fill(api, world)
    created = checkout(api, token).data
    order_id = created["order"]["id"]
    r = confirm(api, token, order_id, card(stripe_server, "4000002760003184"))
    assert r.status_code == 200, r.body
    assert r.data["status"] == "awaiting_payment"
    assert r.data["payment"]["status"] == "requires_action" and r.data["payment"]["client_secret"]
    # the buyer's browser finishes 3-D Secure with Stripe.js (localstripe's _authenticate)
    stripe_server.authenticate(created["payment"]["payment_intent_id"], r.data["payment"]["client_secret"])
    done = confirm(api, token, order_id)
    assert done.status_code == 200 and done.data["status"] == "paid"


def test_failed_three_d_secure_stays_unpaid(api, world, stripe_server):
    token = _fill(api, world)
    created = checkout(api, token).data
    r = confirm(api, token, created["order"]["id"], card(stripe_server, "4000002760003184"))
    stripe_server.authenticate(created["payment"]["payment_intent_id"], r.data["payment"]["client_secret"], False)
    after = confirm(api, token, created["order"]["id"])
    assert after.status_code == 200 and after.data["status"] == "awaiting_payment"
    assert after.data["payment"]["status"] != "succeeded"


def test_concurrent_confirm_and_webhook_fulfil_once(api, world, stripe_server):
    import json

    from chalicelib.models.orders import get_order
    from chalicelib.services import checkout as checkout_service

    token = _fill(api, world)
    created = checkout(api, token).data
    order_id, pi_id = created["order"]["id"], created["payment"]["payment_intent_id"]
    stripe_server.post(f"/v1/payment_intents/{pi_id}", {"payment_method": "pm_card_visa"})
    stripe_server.post(f"/v1/payment_intents/{pi_id}/confirm")  # Stripe.js confirmed in the browser

    version_before = get_order(order_id, consistent=True).version
    published = []
    original = checkout_service.jobs.dispatch
    results: dict[str, object] = {}
    barrier = threading.Barrier(2)

    from chalicelib.services import stripe_webhooks, tokens

    principal = tokens.authenticate(token)
    payload = json.dumps({"id": "evt_race", "type": "payment_intent.succeeded", "data": {"object": {"id": pi_id}}})
    signature = stripe_server.sign(payload)["Stripe-Signature"]

    # Chalice's test client keeps one current request per app, so the two run the services the routes call
    def via_confirm():
        barrier.wait()
        results["confirm"] = checkout_service.confirm(principal, order_id, None)[0]

    def via_webhook():
        barrier.wait()
        results["webhook"] = stripe_webhooks.handle(payload.encode(), signature)

    def counting_dispatch(row, **kw):
        published.append(row.event_id)
        return original(row, **kw)

    checkout_service.jobs.dispatch = counting_dispatch
    try:
        threads = [threading.Thread(target=via_confirm), threading.Thread(target=via_webhook)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        checkout_service.jobs.dispatch = original
    assert results["confirm"].status == "paid"
    assert results["webhook"] == {"received": True}
    assert published == [f"order.paid:{order_id}"]  # one of them won; the other found the order paid
    order = get_order(order_id, consistent=True)
    assert order.status == "paid" and order.version == version_before + 1  # one change


def test_who_may_read_an_order(api, world, make_user, stripe_server):
    token = _fill(api, world)
    order = checkout(api, token).data["order"]
    confirm(api, token, order["id"], "pm_card_visa")
    stranger = make_user("stranger")
    assert api.get(f"/orders/{order['id']}", token=stranger["access"]).status_code == 404
    assert confirm(api, stranger["access"], order["id"]).status_code == 404
    assert api.post(f"/orders/{order['id']}/cancel", token=stranger["access"]).status_code == 404
    assert api.get("/orders/ord_nope", token=token).status_code == 404
    seller_view = api.get(f"/orders/{order['id']}", token=world["seller"]["access"])
    assert seller_view.status_code == 200
    assert {i["photo_id"] for i in seller_view.data["items"]} == {world["p1"]}  # only their items
    assert all(i.get("download_url") is None for i in seller_view.data["items"])
    # their part of the order only: totals over their lines, no other seller, no address (they ship nothing)
    mine = sum(i["line_total_cents"] for i in seller_view.data["items"])
    assert seller_view.data["total_cents"] == seller_view.data["subtotal_cents"] == mine < order["total_cents"]
    assert seller_view.data["seller_ids"] == [world["seller"]["id"]] and not seller_view.data.get("shipping_address")
    sales = api.get("/sales/orders", token=world["seller"]["access"]).data["items"]
    assert [o["id"] for o in sales] == [order["id"]]
    assert (
        api.get("/sales/orders?client_id=cl_1", token=world["seller"]["access"]).data["items"][0]["id"] == order["id"]
    )
    assert api.get("/sales/orders?client_id=cl_2", token=world["seller"]["access"]).data["items"] == []
    assert api.get("/sales/orders?status=cancelled", token=world["seller"]["access"]).data["items"] == []
    assert api.get("/sales/orders", token=stranger["access"]).data["items"] == []
    assert api.get("/orders", token=stranger["access"]).data["items"] == []


def test_listings_and_payment_history(api, world, stripe_server):
    token = world["buyer"]["access"]
    ids = []
    for n in range(3):
        assert add(api, token, world["p1"], "dl-large").status_code == 201
        ids.append(checkout(api, token, key=f"k{n}").data["order"]["id"])
    confirm(api, token, ids[0], "pm_card_visa")
    page = api.get("/orders?limit=2", token=token).data
    assert [o["id"] for o in page["items"]] == [ids[2], ids[1]] and page["next_cursor"]
    rest = api.get(f"/orders?limit=2&cursor={page['next_cursor']}", token=token).data
    assert [o["id"] for o in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    assert [o["id"] for o in api.get("/orders?status=paid", token=token).data["items"]] == [ids[0]]
    assert api.get("/orders?status=nope", token=token).status_code == 400
    assert api.get("/orders?cursor=forged.cursor", token=token).status_code == 400
    history = api.get("/payments", token=token).data["items"]
    assert [(p["id"], p["kind"], p["amount_cents"], p["currency"]) for p in history][-1] == (
        ids[0],
        "order",
        1500,
        "eur",
    )
    assert {p["status"] for p in history} == {"paid", "awaiting_payment"}


def test_cancel_before_payment(api, world, stripe_server):
    token = _fill(api, world)
    created = checkout(api, token).data
    order_id = created["order"]["id"]
    r = api.post(f"/orders/{order_id}/cancel", token=token)
    assert r.status_code == 200 and r.data["status"] == "cancelled" and r.data["cancelled_at"]
    assert stripe_server.get(f"/v1/payment_intents/{created['payment']['payment_intent_id']}")["status"] == "canceled"
    assert api.post(f"/orders/{order_id}/cancel", token=token).status_code == 409
    assert confirm(api, token, order_id, "pm_card_visa").status_code == 409
    paid = _paid_order(api, world, stripe_server, key="k-paid")
    assert api.post(f"/orders/{paid}/cancel", token=token).status_code == 409


def _paid_order(api, world, stripe_server, key: str) -> str:
    token = world["buyer"]["access"]
    add(api, token, world["p2"], "dl-large")
    order_id = checkout(api, token, key=key).data["order"]["id"]
    assert confirm(api, token, order_id, "pm_card_visa").data["status"] == "paid"
    return order_id


def test_expiry_cancels_stale_orders_but_fulfils_one_paid_meanwhile(api, world, stripe_server):
    from datetime import timedelta

    from chalicelib.models.base import now
    from chalicelib.models.orders import Order, get_order
    from chalicelib.services.checkout import on_orders_expire

    token = world["buyer"]["access"]
    made = []
    for n in range(3):
        add(api, token, world["p1"], "dl-large")
        made.append(checkout(api, token, key=f"x{n}").data)
    stale, paid_meanwhile, fresh = made
    for created in (stale, paid_meanwhile):
        Order(order_id=created["order"]["id"]).update(
            actions=[Order.expires_at.set(now() - timedelta(minutes=1))], add_version_condition=False
        )
    pi = paid_meanwhile["payment"]["payment_intent_id"]
    stripe_server.post(f"/v1/payment_intents/{pi}", {"payment_method": "pm_card_visa"})
    stripe_server.post(f"/v1/payment_intents/{pi}/confirm")

    assert on_orders_expire({"period": 1, "minutes": 5}, None, 1) is not None  # bounded: a continuation
    assert on_orders_expire({"period": 1, "minutes": 5}, {}, 10) is None
    assert get_order(stale["order"]["id"]).status == "cancelled"
    assert stripe_server.get(f"/v1/payment_intents/{stale['payment']['payment_intent_id']}")["status"] == "canceled"
    assert get_order(paid_meanwhile["order"]["id"]).status == "paid"
    assert get_order(fresh["order"]["id"]).status == "awaiting_payment"
    assert on_orders_expire({"period": 2, "minutes": 5}, None, 10) is None  # nothing left to do, nothing undone


def test_stripe_down_after_the_order_row_retry_finishes_it(api, world, stripe_server, monkeypatch):
    from chalicelib.config import get_settings
    from chalicelib.models.orders import Order

    token = _fill(api, world)
    monkeypatch.setenv("LIGHTBOX_STRIPE_API_BASE", "http://127.0.0.1:9")  # nothing listens there
    get_settings.cache_clear()
    r = checkout(api, token, key="flaky")
    assert r.status_code == 502 and r.data["error"]["code"] == "payment_provider_error"
    [row] = list(Order.by_buyer.query(world["buyer"]["id"]))
    assert row.status == "awaiting_payment"
    monkeypatch.setenv("LIGHTBOX_STRIPE_API_BASE", stripe_server.url)
    get_settings.cache_clear()
    again = checkout(api, token, key="flaky")
    assert again.status_code == 201, again.body
    assert again.data["order"]["id"] == row.order_id and again.data["payment"]["client_secret"]
    assert confirm(api, token, row.order_id, "pm_card_visa").data["status"] == "paid"


def test_order_updates_are_pushed_to_the_buyer(api, world, stripe_server, live):
    import app as app_module
    from tests.realtime import connect

    token = _fill(api, world)
    connection_id, _ = connect(app_module, token)
    order = checkout(api, token).data["order"]
    confirm(api, token, order["id"], "pm_card_visa")
    frames = live.of_type(connection_id, "order.updated")
    assert frames and frames[-1]["order"]["id"] == order["id"] and frames[-1]["order"]["status"] == "paid"


def test_bad_input(api, world, stripe_server):
    token = _fill(api, world)
    order = checkout(api, token).data["order"]
    assert confirm(api, token, order["id"], "not-a-pm").status_code == 400
    r = api.post(f"/orders/{order['id']}/confirm", {"payment_method_id": 5}, token=token)
    assert r.status_code == 400
    add(api, token, world["p1"], "print-8x10")
    bad = {**ADDRESS, "country": "Portugal"}
    r = checkout(api, token, key="addr", address=bad)
    assert r.status_code == 400 and "shipping_address.country" in r.data["error"]["details"]
    r = api.post("/orders", {"shipping_address": {"name": "x"}}, token=token, headers={"Idempotency-Key": "a2"})
    assert r.status_code == 400
    assert api.post("/orders", {}, headers={"Idempotency-Key": "anon"}).status_code == 401
    assert confirm(api, token, order["id"], "pm_does_not_exist").status_code == 404


def test_checkout_and_fulfilment_cost_does_not_grow_with_the_cart(api, make_user, shop, stripe_server, counter):
    """AWS calls of POST /orders and of a confirm that fulfils, for carts of 1 and of 20 photos: the same calls
    (batches and transactions, never one call per item; 20 lines still fit one BatchWrite of 25)."""
    import collections

    seller = make_user("costseller", role="photographer")

    def run(n: int, tag: str) -> tuple[collections.Counter, collections.Counter]:
        buyer = make_user(f"costbuyer{tag}")
        token = buyer["access"]
        api.post("/payment-methods/setup", token=token)  # the Stripe customer exists: first-use costs aside
        for _ in range(n):
            photo = seed_photo(seller["id"])
            shop.offer(photo, DIGITAL)
            assert add(api, token, photo, "dl-large").status_code == 201
        created, calls = counter.measure(lambda: checkout(api, token, key=f"cost-{tag}"))
        assert created.status_code == 201, created.body
        order_calls = collections.Counter(c for c in calls if c.startswith("dynamodb."))
        paid, calls = counter.measure(lambda: confirm(api, token, created.data["order"]["id"], "pm_card_visa"))
        assert paid.data["status"] == "paid" and len(paid.data["items"]) == n
        assert all(i["download_url"] for i in paid.data["items"])
        return order_calls, collections.Counter(c for c in calls if c.startswith("dynamodb."))

    one, twenty = run(1, "a"), run(20, "b")
    assert one == twenty
    order_calls, confirm_calls = one
    assert order_calls["dynamodb.TransactWriteItems"] == 1 and order_calls["dynamodb.BatchWriteItem"] == 1
    assert confirm_calls["dynamodb.TransactWriteItems"] == 2  # the paid order + event; the purchase rows


def test_purchases_consumer_writes_what_a_crash_left_out_and_repeat_purchases_add_up(
    api, world, stripe_server, monkeypatch
):
    from chalicelib.models.orders import Purchase
    from chalicelib.services import purchases
    from tests.jobs import drain

    token = world["buyer"]["access"]
    add(api, token, world["p1"], "dl-large")
    first = checkout(api, token, key="c1").data["order"]["id"]

    def crash(order):
        raise RuntimeError("died right after the commit")

    original = purchases.record
    monkeypatch.setattr(purchases, "record", crash)
    assert confirm(api, token, first, "pm_card_visa").data["status"] == "paid"
    assert Purchase.count(world["buyer"]["id"]) == 0
    monkeypatch.setattr(purchases, "record", original)
    drain()  # the purchases consumer of order.paid
    assert list(Purchase.get(world["buyer"]["id"], world["p1"]).items.as_dict()) == [f"{first}:it001"]
    drain()  # nothing twice

    add(api, token, world["p1"], "dl-original")  # the same photo again, another variant
    second = checkout(api, token, key="c2").data["order"]["id"]
    confirm(api, token, second, "pm_card_visa")
    entries = Purchase.get(world["buyer"]["id"], world["p1"]).items.as_dict()
    assert {k: v["variant"] for k, v in entries.items()} == {f"{first}:it001": "large", f"{second}:it001": "original"}
    view = api.get(f"/orders/{first}", token=token).data
    assert view["items"][0]["download_url"]


def test_the_fee_is_the_one_at_payment_even_if_the_ledger_books_later(api, world, stripe_server, monkeypatch):
    from chalicelib.config import get_settings
    from tests.api.test_ledger import balances
    from tests.jobs import drain

    token = world["buyer"]["access"]
    add(api, token, world["p1"], "dl-large")  # 1500
    order_id = checkout(api, token).data["order"]["id"]
    monkeypatch.setenv("LIGHTBOX_PLATFORM_FEE_BPS", "1000")
    get_settings.cache_clear()
    assert confirm(api, token, order_id, "pm_card_visa").data["status"] == "paid"
    monkeypatch.setenv("LIGHTBOX_PLATFORM_FEE_BPS", "2500")  # the fee changes before the queued sale is booked
    get_settings.cache_clear()
    try:
        drain()
    finally:
        monkeypatch.delenv("LIGHTBOX_PLATFORM_FEE_BPS")
        get_settings.cache_clear()
    b = balances()
    assert b["platform:fees:eur"] == 150 and b[f"seller:{world['seller']['id']}:pending:eur"] == 1350


def test_staff_read_any_order_without_downloads(api, world, make_user, stripe_server):
    from chalicelib.models.users import User

    token = _fill(api, world)
    order_id = checkout(api, token).data["order"]["id"]
    confirm(api, token, order_id, "pm_card_visa")
    staff = make_user("orderstaff")
    User.get(staff["id"]).update(actions=[User.role.set("staff")])
    r = api.get(f"/orders/{order_id}", token=staff["access"])
    assert r.status_code == 200 and len(r.data["items"]) == 2
    assert all(i.get("download_url") is None for i in r.data["items"])
    assert confirm(api, staff["access"], order_id).status_code == 404  # confirming is the buyer's


def test_a_photo_bought_in_a_paid_order_cannot_be_made_a_draft(api, world, make_user, stripe_server):
    """Paying marks each photo of a digital item ``sold_at`` in the purchase rows' own transaction (a print
    does not); its owner then gets 409 ``photo_has_buyers`` on drafting it, so the buyer keeps the download. A
    repeat purchase and the ``order.paid`` job's rerun keep the first mark."""
    from chalicelib.models.photos import Photo
    from tests.jobs import drain

    seller, token = world["seller"], world["buyer"]["access"]
    printed = seed_photo(seller["id"], caption="Print only")
    world["shop"].offer(printed, PRINT)
    assert add(api, token, world["p1"], "dl-large").status_code == 201
    assert add(api, token, printed, "print-8x10").status_code == 201
    order = checkout(api, token, key="sold-1", address=ADDRESS).data["order"]["id"]
    assert confirm(api, token, order, "pm_card_visa").data["status"] == "paid"
    first = Photo.get(world["p1"], consistent_read=True).sold_at
    assert first is not None and Photo.get(printed, consistent_read=True).sold_at is None
    assert Photo.get(world["p2"], consistent_read=True).sold_at is None  # not in this order

    drain()  # the order.paid job records the purchases again
    again = make_user("buyer2")["access"]
    assert add(api, again, world["p1"], "dl-large").status_code == 201
    second = checkout(api, again, key="sold-2").data["order"]["id"]
    assert confirm(api, again, second, "pm_card_visa").data["status"] == "paid"
    assert Photo.get(world["p1"], consistent_read=True).sold_at == first

    r = api.patch(f"/photos/{world['p1']}", {"published": False}, token=seller["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "photo_has_buyers", r.body
    r = api.patch(f"/photos/{printed}", {"published": False}, token=seller["access"])
    assert r.status_code == 200, r.body


def test_a_sold_mark_that_failed_is_made_by_the_order_paid_job(api, world, stripe_server, monkeypatch):
    """A repeat purchase (the buyer's Purchase row exists, from before ``sold_at``) whose inline mark fails:
    the marks go before the entries, so the ``order.paid`` job's rerun still finds an entry to write and marks
    the photo (a mark after the entries would be lost for good)."""
    from chalicelib.models.orders import Purchase
    from chalicelib.models.photos import Photo
    from chalicelib.services import purchases
    from tests.jobs import drain

    buyer, token = world["buyer"], world["buyer"]["access"]
    Purchase(
        buyer_id=buyer["id"], photo_id=world["p1"], items={"o_old:it1": {"sku": "dl-large", "state": "active"}}
    ).save()
    real = purchases.mark_sold
    failures = []

    def flaky(photo_ids):
        if photo_ids and not failures:
            failures.append(photo_ids)
            raise RuntimeError("throttled")
        return real(photo_ids)

    monkeypatch.setattr(purchases, "mark_sold", flaky)
    assert add(api, token, world["p1"], "dl-large").status_code == 201
    order = checkout(api, token, key="flaky-mark").data["order"]["id"]
    assert confirm(api, token, order, "pm_card_visa").data["status"] == "paid"
    assert failures == [[world["p1"]]] and Photo.get(world["p1"], consistent_read=True).sold_at is None
    drain()
    assert Photo.get(world["p1"], consistent_read=True).sold_at is not None
    entries = Purchase.get(buyer["id"], world["p1"], consistent_read=True).items.as_dict()
    assert "o_old:it1" in entries and len(entries) == 2  # the new order's entry too
