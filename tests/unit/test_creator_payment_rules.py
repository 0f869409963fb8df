"""Pure rules of wallet payments: ids derived from the request, bounds, and what a purchase row grants."""

from __future__ import annotations

import pytest

from chalicelib.errors import ValidationError
from chalicelib.services import creator_payments as cp
from chalicelib.services import purchases
from chalicelib.services.entitlements import FULL


def test_ids_are_derived_from_payer_target_and_key():
    a = cp.payment_id_for("tip", "u1", "k", "cre1")
    assert a == cp.payment_id_for("tip", "u1", "k", "cre1") and a.startswith("tip_")
    assert a != cp.payment_id_for("tip", "u2", "k", "cre1")  # another payer's same key
    assert a != cp.payment_id_for("tip", "u1", "k", "cre2")  # another creator
    assert a != cp.payment_id_for("tip", "u1", "k2", "cre1")
    assert cp.payment_id_for("purchase", "u1", "k", "p1").startswith("ppv_")
    assert cp.payment_id_for("top_up", "u1", None) != cp.payment_id_for("top_up", "u1", None)  # no key: new
    assert cp.refund_id_for(a) == f"rf_{a}"


def test_bounds():
    cp.check_amount(50, 50, 100)
    cp.check_amount(100, 50, 100)
    for bad in (0, -1, 49, 101):
        with pytest.raises(ValidationError) as exc:
            cp.check_amount(bad, 50, 100)
        assert exc.value.code == "amount_out_of_range"
    cp.check_currency("eur")
    with pytest.raises(ValidationError) as exc:
        cp.check_currency("xxx")
    assert exc.value.code == "currency_unsupported"


class Row:
    def __init__(self, items, ppv_id=None):
        self.items, self.ppv_id = items, ppv_id


def test_a_ppv_entry_grants_full_and_checkout_entries_their_variant():
    checkout = {"o1:it1": {"sku": "dl-large", "variant": "large", "state": "active"}}
    assert purchases.active_variants(Row(checkout)) == {"large"}
    ppv = {"ppv:ppv_1": {"kind": "ppv", "state": "active", "purchase_id": "ppv_1"}}
    assert purchases.active_variants(Row({**checkout, **ppv}, "ppv_1")) == FULL | {"large"}
    assert "original" not in purchases.active_variants(Row(ppv, "ppv_1"))
    assert purchases.holds_ppv(Row(ppv, "ppv_1"))
    refunded = {"ppv:ppv_1": {"kind": "ppv", "state": "refunded", "purchase_id": "ppv_1"}}
    assert purchases.active_variants(Row(refunded)) == frozenset()
    assert (
        not purchases.holds_ppv(Row(refunded)) and not purchases.holds_ppv(Row(ppv)) and not purchases.holds_ppv(None)
    )
