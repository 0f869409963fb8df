"""Price sheet rules as plain functions (no moto): currency, price, items."""

from __future__ import annotations

import pytest

from chalicelib.services.price_sheets import (
    MAX_ITEMS,
    MAX_PRICE_CENTS,
    Offer,
    OfferItem,
    currency_problem,
    flatten_item,
    item_problems,
    price_problem,
)


def digital(sku="dl", price=100):
    return {
        "sku": sku,
        "kind": "digital",
        "label": "L",
        "price_cents": price,
        "digital": {"variant": "large", "license": "personal"},
        "print": None,
    }


def printed(sku="p", price=100):
    block = {"width_in": 8.0, "height_in": 10.0, "paper": "glossy", "frame": "oak", "fulfilment": "self"}
    return {"sku": sku, "kind": "print", "label": "P", "price_cents": price, "digital": None, "print": block}


@pytest.mark.parametrize("value", ["eur", "usd", "jpy", "chf"])
def test_iso_currencies_pass(value):
    assert currency_problem(value) is None


@pytest.mark.parametrize("value", ["EUR", "Eur", "xyz", "eu", "euro", "", None, 978])
def test_other_currencies_fail(value):
    assert currency_problem(value)


@pytest.mark.parametrize("value", [1, 1500, MAX_PRICE_CENTS])
def test_prices_in_range_pass(value):
    assert price_problem(value) is None


@pytest.mark.parametrize("value", [0, -1, MAX_PRICE_CENTS + 1, 1.5, 10.0, True, False, "100", None])
def test_other_prices_fail(value):
    assert price_problem(value)


def test_a_good_sheet_has_no_problems():
    assert item_problems([digital(), printed()]) == {}


def test_item_count_bounds():
    assert "items" in item_problems([])
    assert "items" in item_problems([digital(f"s{i}") for i in range(MAX_ITEMS + 1)])
    assert item_problems([digital(f"s{i}") for i in range(MAX_ITEMS)]) == {}


def test_duplicate_skus_name_the_later_item():
    assert item_problems([digital("a"), printed("b"), digital("a")]) == {"items.2.sku": "duplicates item 0"}


def test_the_kind_needs_its_own_block_and_not_the_other():
    missing = {**digital(), "digital": None}
    both = {**digital(), "print": printed()["print"]}
    wrong = {**printed(), "print": None, "digital": digital()["digital"]}
    assert set(item_problems([missing])) == {"items.0.digital"}
    assert set(item_problems([both])) == {"items.0.print"}
    assert set(item_problems([wrong])) == {"items.0.print", "items.0.digital"}


def test_flatten_keeps_only_the_kinds_block():
    assert flatten_item(printed()) == {
        "sku": "p",
        "kind": "print",
        "label": "P",
        "price_cents": 100,
        "width_in": 8.0,
        "height_in": 10.0,
        "paper": "glossy",
        "frame": "oak",
        "fulfilment": "self",
    }
    assert flatten_item(digital())["variant"] == "large" and "paper" not in flatten_item(digital())


def test_offer_finds_items_by_sku():
    offer = Offer("eur", "u_s", None, "ps_1", [OfferItem("a", "digital", "A", 100), OfferItem("b", "print", "B", 200)])
    assert offer.item("b").price_cents == 200 and offer.item("c") is None
