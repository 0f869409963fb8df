"""Disputes (chargebacks): ``charge.dispute.created`` and ``charge.dispute.closed``, order-independent.

Both handlers do the same thing: re-read the dispute from Stripe and move the order to the state that the
dispute's *current* status implies, from whatever the order records (docs/refunds.md, "Disputes"):

- open (``needs_response``, ``under_review``, ``warning_*``): the order is ``disputed`` (its status before is
  kept in ``status_before_dispute``), its digital downloads are suspended (purchase entries ``suspended``),
  each seller gets an ``order_disputed`` notification, ``dispute.opened`` is published.
- won (``won``, ``warning_closed``): the order's status before the dispute and its downloads come back,
  ``dispute.closed`` (status won) is published.
- lost: booked as a refund of the disputed amount (a Refund row, source ``dispute``, in the same transaction as
  the order change), entitlement ends for the items it covers, ``dispute.closed`` (status lost) is published.

A closed dispute never reopens, so a ``created`` event delivered after the ``closed`` one changes nothing; a
``closed`` event that arrives first publishes ``dispute.opened`` too (in the same transaction), so consumers
always see the pair. Replays change nothing: the order records ``dispute_id`` and ``dispute_status`` and each
domain event has a fixed id (``dispute:<id>:opened``, ``dispute:<id>:closed``).
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TransactWriteError

from chalicelib import jobs
from chalicelib.errors import ConflictError
from chalicelib.logs import get_logger
from chalicelib.models.base import iso, now
from chalicelib.models.orders import Order, Refund, set_seller_orders_status_in
from chalicelib.services import notifications, refunds

log = get_logger(__name__)

OPEN = ("warning_needs_response", "warning_under_review", "needs_response", "under_review")
WON = ("won", "warning_closed")
LOST = ("lost",)


def phase(stripe_status: str) -> str | None:
    """Our dispute state for a Stripe dispute status: open, won, lost (None: a status we do not know)."""
    if stripe_status in OPEN:
        return "open"
    if stripe_status in WON:
        return "won"
    if stripe_status in LOST:
        return "lost"
    return None


def on_dispute_created(event: dict[str, Any]) -> None:
    sync(str(event["data"]["object"]["id"]))


def on_dispute_closed(event: dict[str, Any]) -> None:
    sync(str(event["data"]["object"]["id"]))


def _payload(order: Order, dispute: dict[str, Any], lines: dict[str, int], status: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "order_id": order.order_id,
        "dispute_id": dispute["id"],
        "currency": dispute["currency"],
        "amount_cents": int(dispute["amount"]),
        "at": iso(now()),
        "lines": refunds.lines_of(order, lines),
    }
    if status is not None:
        payload["status"] = status
    return payload


def _disputed_lines(order: Order, amount: int) -> dict[str, int]:
    left = refunds.remaining(order)
    return refunds.allocate(min(amount, sum(v for _, v in left)), left)


def _recorded(order: Order, dispute_id: str) -> str | None:
    return order.dispute_status if order.dispute_id == dispute_id else None


def _open(
    order: Order, dispute: dict[str, Any], was: str | None = None, lines: dict[str, int] | None = None
) -> list[tuple[str, str, dict[str, Any]]]:
    """Record the dispute on the order (in memory) and return its ``dispute.opened`` event. ``was``: the
    order's status before this change, when the change already set another."""
    was = was or order.status
    order.status_before_dispute = was if was != "disputed" else order.status_before_dispute
    order.dispute_id = dispute["id"]
    if lines is None:
        lines = _disputed_lines(order, int(dispute["amount"]))
    return [("dispute.opened", f"dispute:{dispute['id']}:opened", _payload(order, dispute, lines))]


def sync(dispute_id: str) -> str | None:
    """Bring the order of a dispute to the state of the dispute as Stripe has it now. Returns that state."""
    from chalicelib.payments import stripe_refunds

    dispute = stripe_refunds.dispute(dispute_id)
    pi_id = dispute["payment_intent"] or (
        stripe_refunds.charge(dispute["charge"])["payment_intent"] if dispute["charge"] else None
    )
    order = refunds.order_of_payment_intent(pi_id)
    target = phase(dispute["status"])
    if order is None and target is not None:
        from chalicelib.services import creator_payments

        if creator_payments.on_dispute(pi_id, dispute, target):  # a tip, purchase, top-up or subscription's
            return target
    if order is None or target is None:
        log.info("dispute for no order of ours, or of an unknown status", extra={"fields": {"dispute_id": dispute_id}})
        return None
    if target == "lost":
        _lose(order.order_id, dispute)
        return target
    for _ in range(refunds.MAX_ATTEMPTS):
        order = refunds.get_order(order.order_id)
        current = _recorded(order, dispute_id)
        if current in ("won", "lost") or current == target:
            refunds.finish(order)  # a replay: nothing to change; repair entitlement if a crash came between
            return current
        events = _open(order, dispute) if current is None else []
        was = str(order.status)
        if target == "open":
            order.status = "disputed"
        else:  # won
            order.status = order.status_before_dispute or order.status
            lines = _disputed_lines(order, int(dispute["amount"]))
            events.append(("dispute.closed", f"dispute:{dispute_id}:closed", _payload(order, dispute, lines, "won")))
        order.dispute_status = target
        order.updated_at = now()
        rows = []
        try:
            with jobs.transaction() as tx:
                tx.save(order)
                if str(order.status) != was:  # the sellers' listings (GET /sales/orders?status=) follow the order
                    set_seller_orders_status_in(tx, order, str(order.status))
                for event_type, event_id, payload in events:
                    rows.append(jobs.publish_in(tx, event_type, event_id, payload))
        except TransactWriteError:
            continue
        for row in rows:
            jobs.dispatch(row)
        _after(order, dispute, opened=current is None)
        return target
    raise ConflictError("The order changed concurrently; retry.")


def _lose(order_id: str, dispute: dict[str, Any]) -> None:
    """Book a lost dispute as a refund of the disputed amount (capped at what is left), once."""
    dispute_id = dispute["id"]
    order = refunds.get_order(order_id)
    if _recorded(order, dispute_id) in ("won", "lost"):
        refunds.finish(order)
        return
    opened = _recorded(order, dispute_id) is None

    def mutate(order: Order, was: str) -> list[tuple[str, str, dict[str, Any]]]:
        lines = refunds.as_map(row.allocations)  # book() has just set the allocation it books
        events = _open(order, dispute, was, lines) if _recorded(order, dispute_id) is None else []
        if order.status == "disputed":  # the refund's status went to status_before_dispute
            order.status = order.status_before_dispute
        order.dispute_status = "lost"
        events.append(("dispute.closed", f"dispute:{dispute_id}:closed", _payload(order, dispute, lines, "lost")))
        return events

    left = sum(v for _, v in refunds.remaining(order))
    row = Refund(
        order_id=order_id,
        refund_id=f"rf_{dispute_id}",
        amount_cents=min(int(dispute["amount"]), left),
        currency=order.currency,
        allocations={},
        reason=f"dispute lost ({dispute.get('reason') or 'unknown reason'})",
        source="dispute",
        status="pending",
    )
    refunds.book(order_id, row.refund_id, new=row, event=None, mutate=mutate)
    _after(refunds.get_order(order_id), dispute, opened=opened)


def _after(order: Order, dispute: dict[str, Any], *, opened: bool) -> None:
    if opened:
        for seller_id in order.seller_ids or []:
            notifications.notify(
                str(seller_id),
                "order_disputed",
                actor_id=None,
                target={"kind": "order", "id": order.order_id, "dispute_id": dispute["id"]},
                dedupe=dispute["id"],
            )
    refunds.finish(order)
