"""Helpers of the wallet, tip and pay-per-view tests (tests/api/test_wallet.py, test_tips.py, test_ppv.py)."""

from __future__ import annotations

import contextlib
import json
import urllib.error


def idem(key: str) -> dict:
    return {"Idempotency-Key": key}


def make_creator(make_user, name: str, *, verified: bool = True) -> dict:
    """A creator account, approved by staff (``creator_verification: approved``) unless ``verified=False``."""
    from chalicelib.models.users import User

    user = make_user(name, role="creator")
    if verified:
        User.get(user["id"]).update(actions=[User.creator_verification.set("approved")])
    return user


def make_staff(make_user, name: str = "staffer") -> dict:
    from chalicelib.models.users import User

    user = make_user(name)
    User.get(user["id"]).update(actions=[User.role.set("staff")])
    return user


def paid_photo(owner_id: str, price: int = 500, currency: str = "eur", access: str = "paid") -> str:
    """A ready public photo of the creator, sold pay-per-view at ``price`` (written as PATCH /photos leaves it)."""
    from chalicelib.models.base import new_id
    from chalicelib.models.photos import Photo

    photo = Photo(
        photo_id=new_id("p_"),
        owner_id=owner_id,
        status="ready",
        visibility="public",
        content_type="image/jpeg",
        declared_size=100,
        upload_key="uploads/x",
        filename="premium.jpg",
        original_format="jpeg",
        variant_keys=["thumb", "medium", "large", "watermarked", "original", "preview"],
        caption="Premium",
        access=access,
        price_cents=price if access == "paid" else None,
        currency=currency if access == "paid" else None,
    )
    photo.save()
    return photo.photo_id


def deposit(api, staff: dict, user: dict, amount: int, key: str, reason: str = "welcome credit", currency="eur"):
    return api.post(
        f"/staff/wallets/{user['id']}/deposits",
        {"amount_cents": amount, "reason": reason, "currency": currency},
        token=staff["access"],
        headers=idem(key),
    )


def balance(api, user: dict, currency: str = "eur") -> int:
    r = api.get(f"/wallet?currency={currency}", token=user["access"])
    assert r.status_code == 200, r.body
    return r.data["balance_cents"]


def pay_in_browser(stripe_server, pi: str, pm: str = "pm_card_visa") -> None:
    """What Stripe.js does: the PaymentIntent is confirmed with Stripe directly, not through our API."""
    stripe_server.post(f"/v1/payment_intents/{pi}", {"payment_method": pm})
    with contextlib.suppress(urllib.error.HTTPError):  # a declined card
        stripe_server.post(f"/v1/payment_intents/{pi}/confirm")


def event(event_id: str, type_: str, obj_id: str, **obj) -> str:
    return json.dumps({"id": event_id, "object": "event", "type": type_, "data": {"object": {"id": obj_id, **obj}}})


def deliver(api, stripe_server, payload: str):
    return api.call("POST", "/webhooks/stripe", headers=stripe_server.sign(payload), raw=payload)


def charge_of(stripe_server, pi_id: str) -> str:
    pi = stripe_server.get(f"/v1/payment_intents/{pi_id}")
    charge = pi["latest_charge"]
    return charge if isinstance(charge, str) else charge["id"]


def ledger_balanced(api, staff: dict) -> bool:
    r = api.get("/staff/ledger/check", token=staff["access"])
    assert r.status_code == 200, r.body
    return r.data["balanced"]
