"""The cart: quantities, save for later, today's prices, one currency, limits, and bad input."""

from __future__ import annotations

import pytest

from tests import checkout_kit
from tests.checkout_kit import DIGITAL, ORIGINAL, PRINT, add, seed_photo

shop = checkout_kit.shop  # the stand-in price sheet (fixture)


@pytest.fixture
def scene(api, make_user, shop):
    seller = make_user("cartseller", role="photographer")
    usd_seller = make_user("usdseller", role="photographer")
    buyer = make_user("cartbuyer")
    p1, p2 = seed_photo(seller["id"]), seed_photo(seller["id"])
    p_usd = seed_photo(usd_seller["id"])
    shop.offer(p1, DIGITAL, ORIGINAL, PRINT)
    shop.offer(p2, DIGITAL)
    shop.offer(p_usd, DIGITAL, currency="usd")
    return {"seller": seller, "buyer": buyer, "token": buyer["access"], "p1": p1, "p2": p2, "usd": p_usd}


def test_add_merge_change_and_remove(api, scene):
    token = scene["token"]
    r = add(api, token, scene["p1"], "dl-large", 2)
    assert r.status_code == 201, r.body
    line = r.data
    assert line["quantity"] == 2 and line["unit_price_cents"] == 1500 and line["line_total_cents"] == 3000
    assert line["seller"]["id"] == scene["seller"]["id"] and line["seller"]["username"] == "cartseller"
    again = add(api, token, scene["p1"], "dl-large", 3)
    assert again.status_code == 201 and again.data["id"] == line["id"] and again.data["quantity"] == 5
    add(api, token, scene["p1"], "print-8x10")
    cart = api.get("/cart", token=token).data
    assert len(cart["items"]) == 2 and cart["currency"] == "eur"
    assert cart["subtotal_cents"] == 5 * 1500 + 2500

    r = api.patch(f"/cart/items/{line['id']}", {"saved_for_later": True}, token=token)
    assert r.status_code == 200 and r.data["saved_for_later"] is True
    assert api.get("/cart", token=token).data["subtotal_cents"] == 2500  # saved for later does not count
    r = api.patch(f"/cart/items/{line['id']}", {"quantity": 1, "saved_for_later": False}, token=token)
    assert r.data["quantity"] == 1 and api.get("/cart", token=token).data["subtotal_cents"] == 1500 + 2500
    assert api.delete(f"/cart/items/{line['id']}", token=token).status_code == 204
    assert api.delete(f"/cart/items/{line['id']}", token=token).status_code == 404
    assert [i["sku"] for i in api.get("/cart", token=token).data["items"]] == ["print-8x10"]


def test_quantity_over_99_in_all_is_409_and_changes_nothing(api, scene):
    token = scene["token"]
    item_id = add(api, token, scene["p1"], "dl-large", 98).data["id"]
    r = add(api, token, scene["p1"], "dl-large", 2)
    assert r.status_code == 409 and r.data["error"]["code"] == "quantity_limit"
    assert add(api, token, scene["p1"], "dl-large", 1).data["quantity"] == 99
    assert api.get("/cart", token=token).data["items"][0]["id"] == item_id


def test_always_at_todays_prices(api, scene, shop):
    token = scene["token"]
    add(api, token, scene["p1"], "dl-large")
    shop.set_price(scene["p1"], "dl-large", 1800)
    cart = api.get("/cart", token=token).data
    assert cart["items"][0]["unit_price_cents"] == 1800 and cart["subtotal_cents"] == 1800
    shop.withdraw(scene["p1"])
    cart = api.get("/cart", token=token).data
    assert cart["items"][0]["available"] is False and cart["subtotal_cents"] == 0
    r = api.post("/orders", {}, token=token, headers={"Idempotency-Key": "gone"})
    assert r.status_code == 409 and r.data["error"]["code"] == "item_unavailable"


def test_one_currency_per_cart_and_several_sellers(api, scene, make_user, shop):
    token = scene["token"]
    add(api, token, scene["p1"], "dl-large")
    r = add(api, token, scene["usd"], "dl-large")
    assert r.status_code == 409 and r.data["error"]["code"] == "currency_mismatch"
    other = make_user("eurseller", role="photographer")
    p3 = seed_photo(other["id"])
    shop.offer(p3, DIGITAL)
    assert add(api, token, p3, "dl-large").status_code == 201
    sellers = {i["seller"]["id"] for i in api.get("/cart", token=token).data["items"]}
    assert sellers == {scene["seller"]["id"], other["id"]}


def test_not_for_sale_and_other_peoples_lines(api, scene, make_user):
    token = scene["token"]
    r = add(api, token, scene["p2"], "print-8x10")  # p2 offers no print
    assert r.status_code == 404 and r.data["error"]["code"] == "not_for_sale"
    assert add(api, token, "p_missing", "dl-large").status_code == 404
    assert add(api, scene["seller"]["access"], scene["p1"], "dl-large").status_code == 404  # own photo
    item_id = add(api, token, scene["p1"], "dl-large").data["id"]
    intruder = make_user("intruder")
    assert api.patch(f"/cart/items/{item_id}", {"quantity": 2}, token=intruder["access"]).status_code == 404
    assert api.delete(f"/cart/items/{item_id}", token=intruder["access"]).status_code == 404
    assert api.get("/cart", token=intruder["access"]).data == {"items": [], "subtotal_cents": 0, "currency": None}


@pytest.mark.parametrize(
    "body",
    [
        {"photo_id": "p", "sku": "dl-large", "quantity": 0},
        {"photo_id": "p", "sku": "dl-large", "quantity": 100},
        {"photo_id": "p", "sku": "dl-large", "quantity": "2"},
        {"photo_id": "p", "sku": "dl-large", "quantity": 1.5},
        {"sku": "dl-large"},
        {"photo_id": "p", "sku": ""},
        {"photo_id": "p", "sku": "dl-large", "price_cents": 1},
    ],
)
def test_bad_cart_input_is_400(api, scene, body):
    r = api.post("/cart/items", body, token=scene["token"])
    assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", r.body


def test_bad_patch_is_400(api, scene):
    token = scene["token"]
    item_id = add(api, token, scene["p1"], "dl-large").data["id"]
    assert api.patch(f"/cart/items/{item_id}", {}, token=token).status_code == 400
    assert api.patch(f"/cart/items/{item_id}", {"quantity": 0}, token=token).status_code == 400
    assert api.patch(f"/cart/items/{item_id}", {"saved_for_later": "yes"}, token=token).status_code == 400
    assert api.get("/cart").status_code == 401


def test_at_most_100_lines(api, scene, shop, monkeypatch):
    from chalicelib.services import cart as cart_service

    monkeypatch.setattr(cart_service, "MAX_CART_LINES", 2)
    token = scene["token"]
    add(api, token, scene["p1"], "dl-large")
    add(api, token, scene["p1"], "print-8x10")
    r = add(api, token, scene["p2"], "dl-large")
    assert r.status_code == 409 and r.data["error"]["code"] == "cart_full"
    assert add(api, token, scene["p1"], "dl-large").status_code == 201  # an existing line still grows
