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

Below the pure rules, the services that apply them (each real change is one conditional write of the order,
``Order.version``, in one transaction with its ``order.item_shipped`` event and, when the order becomes
``fulfilled``, its SellerOrders' status; then ``order.updated`` is pushed to the buyer):
:func:`apply_lab_callback` (``POST /webhooks/print-lab``), :func:`seller_update` (``PATCH
/sales/orders/{o}/items/{i}``), :func:`record_submission` (the adapter, after the lab took an order) and
:func:`on_item_shipped` (the ``order.item_shipped`` consumer: the buyer's shipping email, once per shipment).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.models.orders import Order, OrderLine
    from chalicelib.services.print_lab import LabUpdate

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


# ---- applying changes (DynamoDB, jobs, push) -----------------------------------------------------------------

MAX_ATTEMPTS = 5  # re-reads of an order that changed under us before giving up with 409
SHIPPED_EVENT = "order.item_shipped"
SELLER_ORDER_STATES = ("paid", "partially_refunded", "disputed", "fulfilled")


@dataclass
class _Change:
    changed: bool = False
    shipments: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (event id, payload)


def _line_tracking(tracking: dict[str, str] | None) -> Any:
    from chalicelib.models.orders import Tracking

    if not tracking:
        return None
    return Tracking(carrier=tracking.get("carrier"), number=tracking.get("number"), url=tracking.get("url") or None)


def _shipment(order: Order, item_ids: list[str], tracking: dict[str, str] | None, at: datetime) -> tuple[str, dict]:
    digest = hashlib.sha256(",".join(sorted(item_ids)).encode()).hexdigest()[:20]
    payload = {
        "order_id": order.order_id,
        "buyer_id": order.buyer_id,
        "item_ids": sorted(item_ids),
        "tracking": tracking,
        "at": at.isoformat(),
    }
    return f"{SHIPPED_EVENT}:{order.order_id}:{digest}", payload


def _commit(order_id: str, mutate: Callable[[Order, _Change], None]) -> tuple[Order | None, bool]:
    """Read the order, apply ``mutate`` to it and write it back if it changed, conditional on its version
    (re-read and re-applied on a conflict). Returns (the order, whether it changed)."""
    from chalicelib import jobs
    from chalicelib.errors import ConflictError
    from chalicelib.models.base import TransactWriteError, cancellation_codes
    from chalicelib.models.orders import order_by_id, save_order_in, set_seller_orders_status_in

    for _ in range(MAX_ATTEMPTS):
        order = order_by_id(order_id)
        if order is None:
            return None, False
        change = _Change()
        mutate(order, change)
        if not change.changed:
            return order, False
        fulfilled = order.status == "paid" and order_done((ln.kind, ln.status) for ln in order.items)
        if fulfilled:
            order.status = "fulfilled"
        try:
            with jobs.transaction() as tx:
                save_order_in(tx, order)
                rows = [jobs.publish_in(tx, SHIPPED_EVENT, eid, payload) for eid, payload in change.shipments]
                if fulfilled:
                    set_seller_orders_status_in(tx, order, "fulfilled")
        except TransactWriteError as exc:
            if cancellation_codes(exc)[:1] == ["ConditionalCheckFailed"]:
                continue  # another writer got there first: re-read and re-apply
            raise
        for row in rows:
            jobs.dispatch(row)
        _notify_changed(order)
        return order, True
    raise ConflictError("The order changed concurrently; retry.", code="concurrent_change")


def apply_lab_callback(update: LabUpdate) -> bool:
    """Apply one verified lab callback at most once (``WebhookEvent`` ``print_lab:<event id>``, recorded after it
    took effect). Out of order is safe: a status not after an item's current one leaves it as it is. Returns
    whether anything changed."""
    from chalicelib.logs import get_logger
    from chalicelib.models.orders import record_webhook_event, webhook_event_seen
    from chalicelib.services.print_lab import lab_lines

    key = f"print_lab:{update.event_id}"
    if webhook_event_seen(key):
        return False
    wanted = set(update.item_ids)

    def mutate(order: Order, change: _Change) -> None:
        shipped: list[str] = []
        for line in lab_lines(order):
            if (wanted and line.item_id not in wanted) or line.lab_order_id not in (None, update.lab_order_id):
                continue
            if line.lab_order_id is None:  # the callback beat the adapter storing the lab's answer
                line.lab_order_id = update.lab_order_id
                change.changed = True
            new = lab_step(line.status, update.status, "lab")
            if new is None:
                continue
            if new in ("shipped", "delivered") and line.status not in ("shipped", "delivered"):
                shipped.append(line.item_id)
                if update.tracking:
                    line.tracking = _line_tracking(update.tracking)
            line.status, line.status_at = new, update.at
            change.changed = True
        if shipped:
            change.shipments.append(_shipment(order, shipped, update.tracking, update.at))

    order, changed = _commit(update.merchant_reference, mutate)
    if order is None:
        get_logger(__name__).warning(
            "lab callback for an unknown order", extra={"fields": {"merchant_reference": update.merchant_reference}}
        )
    record_webhook_event(key, update.event_type or update.status)
    return changed


def record_submission(order_id: str, lab_order_id: str | None, item_ids: list[str], *, failed: list[str]) -> None:
    """The lab took ``item_ids`` as ``lab_order_id`` (status ``submitted`` unless a callback moved them on
    already); ``failed`` items could not be sent (photo gone, order rejected)."""
    from chalicelib.models.base import now

    sent, lost = set(item_ids), set(failed)

    def mutate(order: Order, change: _Change) -> None:
        moment = now()
        for line in order.items:
            if line.item_id in sent and line.lab_order_id is None:
                line.lab_order_id = lab_order_id
                change.changed = True
                new = lab_step(line.status, "submitted", "lab")
                if new is not None:
                    line.status, line.status_at = new, moment
            elif line.item_id in lost:
                new = lab_step(line.status, "failed", "lab")
                if new is not None:
                    line.status, line.status_at = new, moment
                    change.changed = True

    _commit(order_id, mutate)


def seller_update(seller_id: str, order_id: str, item_id: str, status: str, tracking: dict[str, str] | None) -> Order:
    """The seller of a self-fulfilled print of a paid order moves it one step (``shipped`` needs tracking).
    Another seller's item, or an unknown one, is 404; an illegal transition 409."""
    from chalicelib.errors import ConflictError, NotFoundError, ValidationError
    from chalicelib.models.base import now

    def mutate(order: Order, change: _Change) -> None:
        line = order.line(item_id)
        if line is None or line.seller_id != seller_id:
            raise NotFoundError("No such order item.")
        if order.status not in SELLER_ORDER_STATES:
            raise ConflictError(f"The order is {order.status}; only paid orders ship.", code="order_not_paid")
        try:
            new = seller_step(line.status, status, line.kind if line.kind != "print" else line.fulfilment)
        except IllegalTransition as exc:
            raise ConflictError(
                f"This item cannot move from {exc.current} to {exc.target}.",
                code="illegal_transition",
                details={"status": line.status, "fulfilment": line.fulfilment or line.kind},
            ) from None
        if status == "shipped" and not (tracking or line.tracking):
            raise ValidationError("Shipping needs tracking.", details={"tracking": "required with status shipped"})
        if new is None:  # the same status again: a retry, or a tracking correction
            if status == "shipped" and tracking and _line_tracking(tracking).as_dict() != line.tracking.as_dict():
                line.tracking = _line_tracking(tracking)
                change.changed = True
            return
        if new == "shipped":
            line.tracking = _line_tracking(tracking)
            change.shipments.append(_shipment(order, [line.item_id], tracking, now()))
        line.status, line.status_at = new, now()
        change.changed = True

    order, _changed = _commit(order_id, mutate)
    if order is None:
        raise NotFoundError("No such order item.")
    return order


# ---- the buyer hears of it ---------------------------------------------------------------------------------


def item_view(line: OrderLine) -> dict[str, Any]:
    from chalicelib.models.base import iso

    view: dict[str, Any] = {
        "id": line.item_id,
        "photo_id": line.photo_id,
        "sku": line.sku,
        "kind": line.kind,
        "label": line.label,
        "quantity": int(line.quantity),
        "unit_price_cents": int(line.unit_price_cents),
        "status": line.status,
        "status_at": iso(line.status_at),
    }
    if line.kind == "print":
        view["fulfilment"] = line.fulfilment
    if line.tracking is not None:
        view["tracking"] = {"carrier": line.tracking.carrier, "number": line.tracking.number, "url": line.tracking.url}
    return view


def _order_view(order: Order) -> dict[str, Any]:
    """The contract's order shape, as far as fulfilment needs it. TODO(coordinator): replace with
    ``chalicelib.services.orders.order_view`` (checkout) once merged; it adds download URLs and the archive."""
    from chalicelib.models.base import iso

    return {
        "id": order.order_id,
        "status": order.status,
        "items": [item_view(ln) for ln in order.items],
        "subtotal_cents": int(order.subtotal_cents),
        "total_cents": int(order.total_cents),
        "refunded_cents": int(order.refunded_cents or 0),
        "currency": order.currency,
        "created_at": iso(order.created_at),
        "paid_at": iso(order.paid_at),
    }


def _notify_changed(order: Order) -> None:
    """Push ``order.updated`` to the buyer's connections (best effort: the change is stored either way).
    TODO(coordinator): switch to ``chalicelib.services.orders.notify_changed`` (checkout) once merged."""
    from chalicelib.logs import get_logger
    from chalicelib.realtime.push import send_to_user

    try:
        send_to_user(order.buyer_id, {"type": "order.updated", "order": _order_view(order)})
    except Exception:
        get_logger(__name__).warning("order.updated not pushed", exc_info=True)


def on_item_shipped(payload: dict[str, Any], cursor: Any, limit: int) -> None:
    """``order.item_shipped`` consumer: the buyer's shipping email with tracking. The event is published once per
    shipment (its id is derived from the order and the items), in the transaction that marks them shipped."""
    from chalicelib.config import get_settings
    from chalicelib.models.orders import order_by_id
    from chalicelib.models.users import user_by_id
    from chalicelib.services import mailer

    user = user_by_id(payload["buyer_id"], consistent=True)
    order = order_by_id(payload["order_id"])
    if user is None or order is None or getattr(user, "deleted", False):
        return None
    wanted = set(payload.get("item_ids") or [])
    labels = [f"- {ln.label} x {int(ln.quantity)}" for ln in order.items if ln.item_id in wanted]
    tracking = payload.get("tracking") or {}
    lines = ["Good news: your prints are on their way.", "", *labels, ""]
    if tracking:
        lines.append(f"Carrier: {tracking.get('carrier') or '-'}")
        lines.append(f"Tracking number: {tracking.get('number') or '-'}")
        if tracking.get("url"):
            lines.append(f"Track it: {tracking['url']}")
    origins = get_settings().app_origins
    if origins:
        lines += ["", f"Your order: {origins[0]}/orders/{order.order_id}"]
    mailer.send(user.email, "Your Lightbox prints have shipped", "\n".join(lines))
    return None
