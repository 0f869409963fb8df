"""The print-item state machine, without AWS."""

from __future__ import annotations

import pytest

from chalicelib.services.fulfilment import IllegalTransition, lab_step, order_done, seller_step


@pytest.mark.parametrize(
    ("current", "reported", "expected"),
    [
        ("pending", "submitted", "submitted"),
        ("submitted", "in_production", "in_production"),
        ("in_production", "shipped", "shipped"),
        ("shipped", "delivered", "delivered"),
        ("submitted", "shipped", "shipped"),  # in_production was lost: skipping forward is fine
        ("pending", "in_production", "in_production"),  # the accepted callback came after in_production
        ("shipped", "in_production", None),  # late: changes nothing
        ("shipped", "shipped", None),  # replay
        ("delivered", "shipped", None),
        ("submitted", "submitted", None),
        ("in_production", "failed", "failed"),
        ("shipped", "failed", None),  # what has shipped cannot fail any more
        ("failed", "shipped", None),
        ("refunded", "shipped", None),
        ("submitted", "bogus", None),
    ],
)
def test_lab_callbacks_only_move_forward(current, reported, expected):
    assert lab_step(current, reported) == expected


def test_self_fulfilled_items_have_no_submitted_step():
    assert lab_step("pending", "submitted", "self") is None
    assert lab_step("pending", "in_production", "self") == "in_production"


@pytest.mark.parametrize(
    ("current", "target"),
    [("pending", "in_production"), ("in_production", "shipped"), ("shipped", "delivered")],
)
def test_seller_moves_one_step_at_a_time(current, target):
    assert seller_step(current, target, "self") == target


def test_seller_repeating_the_current_status_is_a_no_op():
    assert seller_step("shipped", "shipped", "self") is None


@pytest.mark.parametrize(
    ("current", "target", "fulfilment"),
    [
        ("pending", "shipped", "self"),  # skips in_production
        ("pending", "delivered", "self"),
        ("shipped", "in_production", "self"),  # backwards
        ("delivered", "shipped", "self"),
        ("refunded", "shipped", "self"),
        ("failed", "in_production", "self"),
        ("pending", "in_production", "lab"),  # the lab moves lab items
        ("pending", "submitted", "self"),  # not a seller's status
        ("pending", "in_production", None),  # a digital item
    ],
)
def test_illegal_seller_transitions_raise(current, target, fulfilment):
    with pytest.raises(IllegalTransition):
        seller_step(current, target, fulfilment)


def test_an_order_is_done_when_digital_items_are_available_and_prints_delivered():
    assert order_done([("digital", "available"), ("print", "delivered")])
    assert not order_done([("digital", "available"), ("print", "shipped")])
    assert not order_done([("digital", "pending")])
    assert order_done([("digital", "available"), ("print", "refunded")])  # refunded items do not count
    assert not order_done([("print", "refunded")])  # all refunded: that is `refunded`, not fulfilled
    assert not order_done([])
    assert not order_done([("print", "failed")])
