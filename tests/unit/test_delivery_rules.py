"""Pure delivery rules: money formatting, splitting an amount between sellers, archive fingerprints and names."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.services.delivery_rules import (
    allocate,
    archive_fingerprint,
    format_money,
    latin1,
    safe_stem,
    unique_names,
)


def test_format_money_uses_each_currencys_minor_units():
    assert format_money(1234, "eur") == "EUR 12.34"
    assert format_money(5, "usd") == "USD 0.05"
    assert format_money(-500, "gbp") == "-GBP 5.00"
    assert format_money(123456789, "eur") == "EUR 1,234,567.89"
    assert format_money(1200, "jpy") == "JPY 1,200"
    assert format_money(1234, "kwd") == "KWD 1.234"
    assert format_money(0, "eur") == "EUR 0.00"


@given(st.integers(min_value=-(10**12), max_value=10**12), st.lists(st.integers(0, 10**9), min_size=1, max_size=20))
def test_allocate_splits_exactly_and_in_proportion(total, weights):
    parts = allocate(total, weights)
    assert sum(parts) == total and len(parts) == len(weights)
    whole = sum(weights)
    if whole and total >= 0:
        for part, weight in zip(parts, weights, strict=True):
            exact = total * weight / whole
            assert abs(part - exact) < 1 + 1e-9  # each share within a cent of its exact value


def test_allocate_examples():
    assert allocate(1001, [3000, 1000]) == [751, 250]
    assert allocate(100, [0, 0]) == [50, 50]
    assert allocate(0, [1, 2]) == [0, 0]
    assert allocate(10, []) == []


def test_fingerprint_is_order_independent_and_changes_with_the_item_set():
    a = archive_fingerprint([("i1", "large"), ("i2", "original")])
    assert a == archive_fingerprint([("i2", "original"), ("i1", "large")])
    assert a != archive_fingerprint([("i1", "large")])
    assert a != archive_fingerprint([("i1", "original"), ("i2", "original")])


def test_names_are_safe_and_unique():
    assert safe_stem("../../etc/passwd", "p1") == "etc_passwd"
    assert safe_stem("  .hidden ", "p1") == "hidden"
    assert safe_stem("\x00\u202e", "p1") == "p1"
    assert safe_stem(None, "p1") == "p1"
    assert safe_stem("Café au lait", "p1") == "Café au lait"
    assert unique_names([("a", "jpg"), ("A", "jpg"), ("a", "png"), ("a", "jpg")]) == [
        "a.jpg",
        "A (2).jpg",
        "a.png",
        "a (3).jpg",
    ]


def test_latin1_replaces_what_a_core_pdf_font_cannot_show():
    assert latin1("Café") == "Café"
    assert latin1("東京 €") == "?? ?"
