"""Saved cards: a SetupIntent for the caller's Stripe customer, listing, removing (only one's own), and paying
an order with a saved card; GET /payments and the Stripe customer made once."""

from __future__ import annotations

import threading

from tests import checkout_kit

shop = checkout_kit.shop  # the stand-in price sheet (fixture)


def _customer(user_id: str) -> str | None:
    from chalicelib.models.users import User

    return User.get(user_id, consistent_read=True).stripe_customer_id


def test_setup_list_delete(api, make_user, stripe_server):
    alice, bob = make_user("alice"), make_user("bob")
    assert api.get("/payment-methods", token=alice["access"]).data == {"items": []}
    r = api.post("/payment-methods/setup", token=alice["access"])
    assert r.status_code == 200, r.body
    assert r.data["client_secret"].startswith("seti_") and r.data["publishable_key"] == stripe_server.publishable_key
    customer = _customer(alice["id"])
    assert customer and stripe_server.get(f"/v1/customers/{customer}")["email"] == alice["email"]
    assert api.post("/payment-methods/setup", token=alice["access"]).status_code == 200
    assert _customer(alice["id"]) == customer  # one customer per user

    # Stripe.js confirmCardSetup saves the card on the customer
    saved = stripe_server.post("/v1/payment_methods/pm_card_visa/attach", {"customer": customer})
    cards = api.get("/payment-methods", token=alice["access"]).data["items"]
    assert cards == [
        {"id": saved["id"], "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": cards[0]["exp_year"]}
    ]

    api.post("/payment-methods/setup", token=bob["access"])
    assert api.delete(f"/payment-methods/{saved['id']}", token=bob["access"]).status_code == 404
    assert api.delete("/payment-methods/pm_nope", token=bob["access"]).status_code == 404
    assert api.delete(f"/payment-methods/{saved['id']}", token=alice["access"]).status_code == 204
    assert api.get("/payment-methods", token=alice["access"]).data == {"items": []}
    assert api.get("/payment-methods").status_code == 401


def test_concurrent_first_use_makes_one_customer(api, make_user, stripe_server):
    from chalicelib.services import checkout

    user = make_user("racer")
    barrier = threading.Barrier(4)
    seen = []

    def first_use():
        barrier.wait()
        seen.append(checkout.ensure_customer(user["id"]))

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1 and seen[0] == _customer(user["id"])


def test_pay_with_a_saved_card_and_not_with_someone_elses(api, make_user, stripe_server, shop):
    from tests.checkout_kit import DIGITAL, add, checkout, confirm, seed_photo

    seller, buyer, other = make_user("pmseller", role="photographer"), make_user("pmbuyer"), make_user("pmother")
    photo = seed_photo(seller["id"])
    shop.offer(photo, DIGITAL)
    api.post("/payment-methods/setup", token=other["access"])
    theirs = stripe_server.post("/v1/payment_methods/pm_card_visa/attach", {"customer": _customer(other["id"])})
    add(api, buyer["access"], photo, "dl-large")
    order = checkout(api, buyer["access"]).data["order"]
    assert confirm(api, buyer["access"], order["id"], theirs["id"]).status_code == 404
    api.post("/payment-methods/setup", token=buyer["access"])
    mine = stripe_server.post("/v1/payment_methods/pm_card_visa/attach", {"customer": _customer(buyer["id"])})
    r = confirm(api, buyer["access"], order["id"], mine["id"])
    assert r.status_code == 200 and r.data["status"] == "paid"
    history = api.get("/payments", token=buyer["access"]).data
    assert history["items"][0]["id"] == order["id"] and history["items"][0]["status"] == "paid"
    assert api.get("/payments?limit=0", token=buyer["access"]).status_code == 400
