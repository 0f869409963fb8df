"""The refund allocation rule (services/refunds.py ``allocate`` and ``fit``): pure, no moto."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.services.refunds import ORDER_BUCKET, allocate, fit

buckets_st = st.lists(st.integers(min_value=0, max_value=1_000_000), min_size=1, max_size=30).map(
    lambda lefts: [(f"it{i}", left) for i, left in enumerate(lefts)]
)


@given(buckets_st, st.data())
def test_shares_sum_to_the_amount_and_never_exceed_what_is_left(buckets, data):
    total = sum(left for _, left in buckets)
    amount = data.draw(st.integers(min_value=0, max_value=total))
    shares = allocate(amount, buckets)
    assert sum(shares.values()) == amount
    left = dict(buckets)
    assert all(0 < cents <= left[key] for key, cents in shares.items())
    assert allocate(amount, buckets) == shares  # deterministic
    if amount == total:
        assert shares == {k: v for k, v in buckets if v}  # everything left: each bucket exactly


@given(buckets_st, st.data())
def test_refunding_in_steps_never_overshoots(buckets, data):
    """Partial refunds one after the other, each allocated over what is left, end at zero exactly."""
    left = dict(buckets)
    for _ in range(5):
        rest = sum(left.values())
        if rest == 0:
            break
        amount = data.draw(st.integers(min_value=1, max_value=rest))
        for key, cents in allocate(amount, list(left.items())).items():
            left[key] -= cents
            assert left[key] >= 0
    final = allocate(sum(left.values()), list(left.items()))
    assert all(final.get(k, 0) == v for k, v in left.items())


def test_proportional_with_largest_remainder_ties_to_the_first():
    assert allocate(100, [("a", 300), ("b", 100)]) == {"a": 75, "b": 25}
    assert allocate(1, [("a", 100), ("b", 100)]) == {"a": 1}
    assert allocate(2, [("a", 1), ("b", 1), ("c", 1)]) == {"a": 1, "b": 1}
    assert allocate(10, [("a", 0), ("b", 5), ("c", 5)]) == {"b": 5, "c": 5}
    assert allocate(0, [("a", 5)]) == {}


def test_more_than_is_left_or_negative_is_refused():
    with pytest.raises(ValueError):
        allocate(11, [("a", 5), ("b", 5)])
    with pytest.raises(ValueError):
        allocate(-1, [("a", 5)])
    with pytest.raises(ValueError):
        allocate(1, [])


def test_fit_keeps_a_plan_that_still_fits_and_else_spills_over():
    left = [("it1", 500), ("it2", 500), (ORDER_BUCKET, 100)]
    assert fit(300, {"it1": 300}, left) == {"it1": 300}
    # a refund booked meanwhile left it1 only 100: the plan's bucket takes that, the rest spreads over the others
    assert fit(300, {"it1": 300}, [("it1", 100), ("it2", 500), (ORDER_BUCKET, 100)]) == {
        "it1": 100,
        "it2": 167,
        ORDER_BUCKET: 33,
    }
    assert fit(1100, {}, left) == {"it1": 500, "it2": 500, ORDER_BUCKET: 100}  # no plan: over everything
