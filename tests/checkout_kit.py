"""Shared pieces of the checkout tests: ready photos, a stand-in price sheet, and buying.

The stand-in replaces ``chalicelib.services.price_sheets`` (the galleries area's module, written in parallel)
with the interface checkout calls: ``offers_for(buyer_user_id, photos)`` and ``priced_item(buyer_user_id,
photo, sku)``. Only tests use it; once the real module is merged these tests keep it (they test checkout, not
price sheets) and the end-to-end test covers the real one.
"""

from __future__ import annotations

import copy
import sys
import types
from typing import Any

import pytest

DIGITAL = {
    "sku": "dl-large",
    "kind": "digital",
    "label": "Web size, personal use",
    "price_cents": 1500,
    "digital": {"variant": "large", "license": "personal"},
}
ORIGINAL = {
    "sku": "dl-original",
    "kind": "digital",
    "label": "Full resolution, commercial",
    "price_cents": 4000,
    "digital": {"variant": "original", "license": "commercial"},
}
PRINT = {
    "sku": "print-8x10",
    "kind": "print",
    "label": "8x10 in lustre print",
    "price_cents": 2500,
    "print": {"width_in": 8, "height_in": 10, "paper": "lustre", "frame": "none", "fulfilment": "lab"},
}
ADDRESS = {"name": "Ana Buyer", "line1": "1 Main St", "city": "Lisbon", "postal_code": "1000-001", "country": "PT"}


class Shop:
    """Which skus each photo offers, at what price and in which currency (to any buyer but its owner)."""

    def __init__(self) -> None:
        self.offers: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    def offer(self, photo_id: str, *items: dict[str, Any], currency: str = "eur", client_id: str | None = None):
        self.offers[photo_id] = {
            "currency": currency,
            "items": [{**copy.deepcopy(i), "currency": currency, "client_id": client_id} for i in items],
        }

    def set_price(self, photo_id: str, sku: str, price_cents: int) -> None:
        for item in self.offers[photo_id]["items"]:
            if item["sku"] == sku:
                item["price_cents"] = price_cents

    def withdraw(self, photo_id: str) -> None:
        self.offers.pop(photo_id, None)

    # the interface of chalicelib.services.price_sheets
    def offers_for(self, buyer_user_id: str, photos: list[Any]) -> dict[str, dict[str, Any]]:
        self.calls.append("offers_for")
        return {
            p.photo_id: copy.deepcopy(self.offers[p.photo_id])
            for p in photos
            if p.photo_id in self.offers and p.owner_id != buyer_user_id
        }

    def priced_item(self, buyer_user_id: str, photo: Any, sku: str) -> dict[str, Any] | None:
        self.calls.append("priced_item")
        offer = self.offers.get(photo.photo_id)
        if offer is None or photo.owner_id == buyer_user_id:
            return None
        return next((copy.deepcopy(i) for i in offer["items"] if i["sku"] == sku), None)


@pytest.fixture
def shop(monkeypatch) -> Shop:
    import chalicelib.services

    shop = Shop()
    module = types.ModuleType("chalicelib.services.price_sheets")
    module.offers_for = shop.offers_for  # type: ignore[attr-defined]
    module.priced_item = shop.priced_item  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "chalicelib.services.price_sheets", module)
    monkeypatch.setattr(chalicelib.services, "price_sheets", module, raising=False)
    return shop


def seed_photo(owner_id: str, caption: str = "Sunset over the bay", filename: str | None = "sunset.jpg") -> str:
    """A ready photo written straight into the table, as the processor leaves it."""
    from chalicelib.models.base import new_id
    from chalicelib.models.photos import Photo

    photo = Photo(
        photo_id=new_id("p_"),
        owner_id=owner_id,
        status="ready",
        visibility="private",
        content_type="image/jpeg",
        declared_size=100,
        upload_key="uploads/x",
        filename=filename,
        original_format="jpeg",
        variant_keys=["thumb", "medium", "large", "watermarked", "original"],
        caption=caption,
    )
    photo.save()
    return photo.photo_id


def add(api, token: str, photo_id: str, sku: str, quantity: int = 1):
    return api.post("/cart/items", {"photo_id": photo_id, "sku": sku, "quantity": quantity}, token=token)


def checkout(api, token: str, key: str = "order-1", address: dict | None = None):
    body = {"shipping_address": address} if address else {}
    return api.post("/orders", body, token=token, headers={"Idempotency-Key": key})


def confirm(api, token: str, order_id: str, payment_method_id: str | None = None):
    body = {"payment_method_id": payment_method_id} if payment_method_id else {}
    return api.post(f"/orders/{order_id}/confirm", body, token=token)


def card(stripe_server, number: str) -> str:
    """A PaymentMethod of a localstripe test card number (e.g. 3-D Secure: 4000002760003184)."""
    pm = stripe_server.post(
        "/v1/payment_methods",
        {"type": "card", "card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2034", "card[cvc]": "123"},
    )
    return pm["id"]
