"""Checkout review findings, against a real localstripe: no payment on a cancelled order (and an automatic refund
when one succeeds anyway), totals and currencies Stripe refuses are refused before anything is written, every
server-side payment attempt gets its own Stripe keys, and one cart becomes at most one order."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from tests import checkout_kit
from tests.checkout_kit import DIGITAL, add, card, checkout, confirm, seed_photo

shop = checkout_kit.shop  # the stand-in price sheet (fixture)


@pytest.fixture
def world(api, make_user, shop, stripe_server):
    seller = make_user("seller1", role="photographer")
    buyer = make_user("buyer1")
    photo = seed_photo(seller["id"])
    shop.offer(photo, DIGITAL)
    return {"seller": seller, "buyer": buyer, "token": buyer["access"], "photo": photo, "shop": shop}


def _orders_of(user_id: str) -> list:
    from chalicelib.models.orders import Order

    return list(Order.by_buyer.query(user_id))


def _expire(order_id: str) -> None:
    from chalicelib.models.base import now
    from chalicelib.models.orders import Order
    from chalicelib.services.checkout import on_orders_expire

    Order(order_id=order_id).update(
        actions=[Order.expires_at.set(now() - timedelta(minutes=1))], add_version_condition=False
    )
    on_orders_expire({"period": 1, "minutes": 5}, None, 10)


# ---- 1. no PaymentIntent for a cancelled order; a payment that succeeded anyway is refunded ------------------


def test_retry_after_the_order_expired_creates_no_payment(api, world, stripe_server, monkeypatch):
    from chalicelib.config import get_settings
    from chalicelib.models.orders import get_order

    token = world["token"]
    add(api, token, world["photo"], "dl-large")
    monkeypatch.setenv("LIGHTBOX_STRIPE_API_BASE", "http://127.0.0.1:9")  # Stripe unreachable
    get_settings.cache_clear()
    assert checkout(api, token, key="late").status_code == 502
    [row] = _orders_of(world["buyer"]["id"])
    _expire(row.order_id)  # the sweep cancels it before the client retries
    assert get_order(row.order_id, consistent=True).status == "cancelled"
    monkeypatch.setenv("LIGHTBOX_STRIPE_API_BASE", stripe_server.url)
    get_settings.cache_clear()

    again = checkout(api, token, key="late")
    assert again.status_code == 409, again.body
    assert again.data["error"]["code"] == "order_not_payable"
    order = get_order(row.order_id, consistent=True)
    assert order.status == "cancelled" and order.payment_intent_id is None
    listed = stripe_server.get("/v1/payment_intents")["data"]
    assert [pi for pi in listed if (pi.get("metadata") or {}).get("order_id") == row.order_id] == []


def test_payment_intent_made_while_the_order_was_cancelled_is_not_stored_and_is_cancelled(
    api, world, stripe_server, monkeypatch
):
    from chalicelib.models.orders import get_order
    from chalicelib.services import checkout as checkout_service

    token = world["token"]
    add(api, token, world["photo"], "dl-large")
    original = checkout_service.stripe.create_payment_intent
    made: list[dict] = []

    def fails_once(*args, **kwargs):
        raise checkout_service.stripe.PaymentProviderError()

    monkeypatch.setattr(checkout_service.stripe, "create_payment_intent", fails_once)
    assert checkout(api, token, key="race").status_code == 502
    [row] = _orders_of(world["buyer"]["id"])

    def cancelled_meanwhile(*args, **kwargs):  # the sweep cancels the order while Stripe makes the PI
        pi = original(*args, **kwargs)
        made.append(pi)
        order = get_order(row.order_id, consistent=True)
        checkout_service._cancel_unpaid(order)
        return pi

    monkeypatch.setattr(checkout_service.stripe, "create_payment_intent", cancelled_meanwhile)
    again = checkout(api, token, key="race")
    assert again.status_code == 409 and again.data["error"]["code"] == "order_not_payable"
    assert get_order(row.order_id, consistent=True).payment_intent_id is None
    [pi] = made
    assert stripe_server.get(f"/v1/payment_intents/{pi['id']}")["status"] == "canceled"


def test_cancelled_orders_payment_that_succeeded_anyway_is_refunded_once(api, world, stripe_server):
    from chalicelib.models.orders import Order, Purchase, get_order
    from chalicelib.services import stripe_webhooks

    token = world["token"]
    add(api, token, world["photo"], "dl-large")
    created = checkout(api, token).data
    order_id, pi_id = created["order"]["id"], created["payment"]["payment_intent_id"]
    # the race: the browser's confirm reaches Stripe while the sweep cancels the order (its PI was processing)
    stripe_server.post(f"/v1/payment_intents/{pi_id}", {"payment_method": "pm_card_visa"})
    stripe_server.post(f"/v1/payment_intents/{pi_id}/confirm")
    Order(order_id=order_id).update(
        actions=[Order.status.set("cancelled"), Order.unpaid.remove()], add_version_condition=False
    )

    for n in (1, 2):  # Stripe delivers the event twice
        payload = json.dumps(
            {"id": f"evt_late_{n}", "type": "payment_intent.succeeded", "data": {"object": {"id": pi_id}}}
        )
        assert stripe_webhooks.handle(payload.encode(), stripe_server.sign(payload)["Stripe-Signature"]) == {
            "received": True
        }

    pi = stripe_server.get(f"/v1/payment_intents/{pi_id}")
    charge_id = pi["latest_charge"]["id"] if isinstance(pi["latest_charge"], dict) else pi["latest_charge"]
    charge = stripe_server.get(f"/v1/charges/{charge_id}")
    assert charge["refunded"] is True and charge["amount_refunded"] == 1500
    refunds = [r for r in stripe_server.get("/v1/refunds")["data"] if r["charge"] == charge_id]
    assert len(refunds) == 1 and refunds[0]["metadata"]["order_id"] == order_id
    order = get_order(order_id, consistent=True)
    assert order.status == "cancelled" and order.paid_at is None
    with pytest.raises(Purchase.DoesNotExist):
        Purchase.get(world["buyer"]["id"], world["photo"])


# ---- 2. totals and currencies Stripe refuses --------------------------------------------------------------


def _cart_ids(api, token: str) -> list[str]:
    return [i["id"] for i in api.get("/cart", token=token).data["items"]]


@pytest.mark.parametrize(
    ("currency", "price", "quantity", "code"),
    [
        ("eur", 49, 1, "amount_out_of_range"),  # below Stripe's 0.50 EUR
        ("dkk", 249, 1, "amount_out_of_range"),  # below 2.50 DKK
        ("usd", 1_010_102, 99, "amount_out_of_range"),  # above 99,999,999
        ("irr", 5000, 1, "currency_unsupported"),  # a price-sheet currency Stripe does not take
    ],
)
def test_total_stripe_would_refuse_is_refused_before_anything_is_written(
    api, world, stripe_server, currency, price, quantity, code
):
    token = world["token"]
    world["shop"].offer(world["photo"], {**DIGITAL, "price_cents": price}, currency=currency)
    assert add(api, token, world["photo"], "dl-large", quantity).status_code == 201
    before = _cart_ids(api, token)
    r = checkout(api, token, key=f"k-{currency}")
    assert r.status_code == 409, r.body
    assert r.data["error"]["code"] == code and r.data["error"]["message"]
    assert _cart_ids(api, token) == before  # the cart is kept
    assert _orders_of(world["buyer"]["id"]) == []
    assert stripe_server.get("/v1/payment_intents")["data"] == []


def test_the_minimum_is_the_currencys(api, world, stripe_server):
    token = world["token"]
    world["shop"].offer(world["photo"], {**DIGITAL, "price_cents": 30}, currency="gbp")  # 0.30 GBP is Stripe's min
    add(api, token, world["photo"], "dl-large")
    r = checkout(api, token)
    assert r.status_code == 201, r.body
    assert r.data["order"]["total_cents"] == 30 and r.data["order"]["currency"] == "gbp"


# ---- 3. each server-side payment attempt has its own Stripe keys --------------------------------------------


def test_switching_cards_back_is_a_fresh_attempt(api, world, stripe_server, monkeypatch):
    from chalicelib.models.orders import get_order
    from chalicelib.services import checkout as checkout_service

    keys: list[tuple[str, str]] = []
    for name in ("update_payment_intent", "confirm_payment_intent"):
        original = getattr(checkout_service.stripe, name)

        def recording(*args, _name=name, _original=original, **kwargs):
            keys.append((_name, kwargs["idempotency_key"]))
            return _original(*args, **kwargs)

        monkeypatch.setattr(checkout_service.stripe, name, recording)

    token = world["token"]
    add(api, token, world["photo"], "dl-large")
    order_id = checkout(api, token).data["order"]["id"]
    card_a = "pm_card_chargeCustomerFail"
    card_b = card(stripe_server, "4000000000000341")  # another card that localstripe declines when charged
    for pm in (card_a, card_b, card_a):
        r = confirm(api, token, order_id, pm)
        assert r.status_code == 402 and r.data["error"]["code"] == "card_declined"
    assert get_order(order_id, consistent=True).payment_attempts == 3
    r = confirm(api, token, order_id, "pm_card_visa")
    assert r.status_code == 200 and r.data["status"] == "paid"

    confirms = [k for name, k in keys if name == "confirm_payment_intent"]
    updates = [k for name, k in keys if name == "update_payment_intent"]
    assert confirms == [f"order:{order_id}:confirm:{n}" for n in (1, 2, 3, 4)]
    assert updates == [f"order:{order_id}:pm:{n}" for n in (1, 2, 3, 4)]


# ---- 4. one cart, one order; at most MAX_ORDER_ITEMS lines --------------------------------------------------


def test_two_concurrent_checkouts_of_one_cart_make_one_order(api, world, stripe_server, monkeypatch):
    from chalicelib.errors import ConflictError
    from chalicelib.services import cart as cart_service
    from chalicelib.services import checkout as checkout_service
    from chalicelib.services import tokens

    token = world["token"]
    add(api, token, world["photo"], "dl-large", 2)
    principal = tokens.authenticate(token)
    barrier = threading.Barrier(2, timeout=30)
    original = cart_service.price_page

    def both_have_read_the_cart(*args, **kwargs):
        barrier.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(cart_service, "price_page", both_have_read_the_cart)
    results: dict[str, object] = {}

    def buy(key: str) -> None:
        try:
            results[key] = checkout_service.create_order(principal, None, key)[0].order_id
        except ConflictError as exc:
            results[key] = exc

    threads = [threading.Thread(target=buy, args=(k,)) for k in ("tab-a", "tab-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    made = [v for v in results.values() if isinstance(v, str)]
    refused = [v for v in results.values() if isinstance(v, ConflictError)]
    assert len(made) == 1 and len(refused) == 1, results
    assert refused[0].code == "cart_changed"
    assert [o.order_id for o in _orders_of(world["buyer"]["id"])] == made
    monkeypatch.setattr(cart_service, "price_page", original)
    assert api.get("/cart", token=token).data["items"] == []
    # the same cart can be filled and bought again afterwards
    add(api, token, world["photo"], "dl-large")
    assert checkout(api, token, key="tab-c").status_code == 201


def test_lines_an_earlier_order_left_behind_are_not_bought_again(api, world, stripe_server, monkeypatch):
    from chalicelib.services import checkout as checkout_service

    token = world["token"]
    add(api, token, world["photo"], "dl-large")
    with monkeypatch.context() as patched:
        patched.setattr(checkout_service, "delete_lines", lambda *a, **k: None)  # it stops after its transaction
        assert checkout(api, token, key="first").status_code == 201
    r = checkout(api, token, key="second")
    assert r.status_code == 409 and r.data["error"]["code"] == "cart_empty"
    assert api.get("/cart", token=token).data["items"] == []  # the leftovers are cleaned up
    assert len(_orders_of(world["buyer"]["id"])) == 1


def test_more_than_max_order_items_is_refused(api, world, stripe_server):
    from chalicelib.models.cart import MAX_CART_LINES, CartItem, line_id
    from chalicelib.models.orders import MAX_ORDER_ITEMS

    assert MAX_CART_LINES == MAX_ORDER_ITEMS  # a full cart is one order
    token = world["token"]
    skus = [{**DIGITAL, "sku": f"dl-{n}"} for n in range(MAX_ORDER_ITEMS + 1)]
    world["shop"].offer(world["photo"], *skus)
    # the first lines written as the API writes them (one by one through it took 16 s), the last two through it
    with CartItem.batch_write() as batch:
        for item in skus[: MAX_ORDER_ITEMS - 1]:
            batch.save(
                CartItem(
                    user_id=world["buyer"]["id"], item_id=line_id(world["photo"], item["sku"]),
                    photo_id=world["photo"], sku=item["sku"], currency="eur", quantity=1, saved_for_later=False,
                )
            )  # fmt: skip
    assert add(api, token, world["photo"], skus[MAX_ORDER_ITEMS - 1]["sku"]).status_code == 201  # the 100th
    assert add(api, token, world["photo"], skus[-1]["sku"]).status_code == 409  # cart_full
    # a concurrent add got past the cart's limit
    sku = skus[-1]["sku"]
    CartItem(
        user_id=world["buyer"]["id"], item_id=line_id(world["photo"], sku), photo_id=world["photo"], sku=sku,
        currency="eur", quantity=1,
    ).save()  # fmt: skip
    r = checkout(api, token)
    assert r.status_code == 409, r.body
    assert r.data["error"]["code"] == "too_many_items"
    assert _orders_of(world["buyer"]["id"]) == []
    assert len(api.get("/cart", token=token).data["items"]) == MAX_ORDER_ITEMS + 1
