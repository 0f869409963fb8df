"""The print-item state machine (pure: no AWS, no I/O), shared by the lab's callbacks and the seller's PATCH.

A print item moves forward only::

    lab:   pending -> submitted -> in_production -> shipped -> delivered
    self:  pending ------------->  in_production -> shipped -> delivered

and may end in ``failed`` (the lab cancelled it) from any state before ``shipped``. ``refunded`` (set by refunds)
and ``failed`` and ``delivered`` are terminal.

Two callers, two rules:
- :func:`lab_step` (callbacks arrive at least once and out of order): a reported status that is *after* the
  current one applies, even if it skips a step (a lost ``in_production`` before ``shipped``); one that is not
  after it (a replay, a late ``in_production`` after ``shipped``) changes nothing.
- :func:`seller_step` (a person clicking): the next step only, the same status again is a no-op (a retried
  request), anything else (backwards, skipping, a lab item, a terminal item) is an illegal transition.

:func:`order_done` is the rule for an order becoming ``fulfilled``.
"""

from __future__ import annotations

from collections.abc import Iterable

LAB_PATH = ("pending", "submitted", "in_production", "shipped", "delivered")
SELF_PATH = ("pending", "in_production", "shipped", "delivered")
TERMINAL = frozenset({"delivered", "failed", "refunded"})
FAILABLE = frozenset({"pending", "submitted", "in_production"})
SELLER_TARGETS = ("in_production", "shipped", "delivered")
DONE = {"digital": frozenset({"available"}), "print": frozenset({"delivered"})}
SETTLED = frozenset({"refunded"})  # items that no longer count, either way


class IllegalTransition(Exception):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"cannot move from {current} to {target}")
        self.current = current
        self.target = target


def path_of(fulfilment: str | None) -> tuple[str, ...]:
    return SELF_PATH if fulfilment == "self" else LAB_PATH


def lab_step(current: str, reported: str, fulfilment: str | None = "lab") -> str | None:
    """The status a lab callback moves an item to, or None when it changes nothing (not after ``current``)."""
    if current in TERMINAL:
        return None
    if reported == "failed":
        return "failed" if current in FAILABLE else None
    path = path_of(fulfilment)
    if reported not in path or current not in path:
        return None
    return reported if path.index(reported) > path.index(current) else None


def seller_step(current: str, target: str, fulfilment: str | None) -> str | None:
    """The status a seller's change moves a self-fulfilled item to; None for the same status again (nothing to
    do). Raises :class:`IllegalTransition` for anything but the next step of the self path."""
    if fulfilment != "self" or target not in SELLER_TARGETS:
        raise IllegalTransition(current, target)
    if target == current:
        return None
    if current not in SELF_PATH or current in TERMINAL:
        raise IllegalTransition(current, target)
    position = SELF_PATH.index(current)
    if position + 1 >= len(SELF_PATH) or SELF_PATH[position + 1] != target:
        raise IllegalTransition(current, target)
    return target


def order_done(items: Iterable[tuple[str, str]]) -> bool:
    """True when every item (``(kind, status)``) is done: digital ``available``, prints ``delivered``; refunded
    items are left out, and an order whose items were all refunded is not ``fulfilled`` (it is ``refunded``)."""
    counted = [(kind, status) for kind, status in items if status not in SETTLED]
    return bool(counted) and all(status in DONE.get(kind, frozenset()) for kind, status in counted)
