"""The pricing rules of premium media (services/premium.access_change): pure, no AWS."""

from __future__ import annotations

import pytest

from chalicelib.errors import ConflictError, ValidationError
from chalicelib.services.premium import Pricing, access_change

CURRENCIES = frozenset({"eur", "usd", "jpy"})
MIN = {"eur": 50, "usd": 50, "jpy": 50}


def change(current: Pricing, bought: int = 0, **fields) -> Pricing:
    return access_change(
        current, fields, purchase_count=bought, currencies=CURRENCIES, min_charge=MIN.__getitem__, max_cents=10_000
    )


FREE = Pricing()
PAID = Pricing("paid", 500, "eur")


@pytest.mark.parametrize(
    ("current", "fields", "expected"),
    [
        (FREE, {"access": "subscribers"}, Pricing("subscribers")),
        (FREE, {"access": "paid", "price_cents": 500}, PAID),
        (FREE, {"access": "paid", "price_cents": 50, "currency": "usd"}, Pricing("paid", 50, "usd")),
        (FREE, {"access": "paid", "price_cents": 10_000}, Pricing("paid", 10_000, "eur")),
        (PAID, {"price_cents": 700}, Pricing("paid", 700, "eur")),
        (PAID, {"currency": "usd"}, Pricing("paid", 500, "usd")),
        (PAID, {"access": "free"}, FREE),
        (PAID, {"access": "free", "price_cents": None}, FREE),
        (PAID, {}, PAID),
    ],
)
def test_valid_changes(current, fields, expected):
    assert change(current, **fields) == expected


@pytest.mark.parametrize(
    ("current", "fields", "field"),
    [
        (FREE, {"access": "paid"}, "price_cents"),
        (FREE, {"access": "paid", "price_cents": 49}, "price_cents"),
        (FREE, {"access": "paid", "price_cents": 10_001}, "price_cents"),
        (FREE, {"access": "paid", "price_cents": 500, "currency": "abc"}, "currency"),
        (FREE, {"price_cents": 500}, "price_cents"),
        (FREE, {"currency": "eur"}, "currency"),
        (PAID, {"access": "subscribers", "price_cents": 500}, "price_cents"),
        (FREE, {"access": "premium"}, "access"),
    ],
)
def test_invalid_changes(current, fields, field):
    with pytest.raises(ValidationError) as exc:
        change(current, **fields)
    assert field in (exc.value.details or {})


@pytest.mark.parametrize("fields", [{"price_cents": 600}, {"access": "free"}, {"currency": "usd"}])
def test_a_bought_item_cannot_change(fields):
    with pytest.raises(ConflictError) as exc:
        change(PAID, bought=1, **fields)
    assert exc.value.code == "already_purchased"


def test_a_bought_item_may_be_saved_unchanged():
    assert change(PAID, bought=3, price_cents=500, currency="eur") == PAID
