"""Refunds: a seller or staff refunds all or part of a paid order, or chosen items; Stripe refunds made elsewhere.

Flow of an API refund (docs/refunds.md):
1. Read the order, check who may refund what (a seller: their own items; staff: any item and the order's
   shipping and tax), compute what is left and allocate the amount over the chosen items (:func:`allocate`).
2. Claim the order (``pending_refund_id``: one API refund of an order in flight at a time) and write the Refund
   row ``pending``, in one transaction.
3. ``Refund.create`` at Stripe with the idempotency key ``refund:<refund_id>`` and metadata
   ``{order_id, refund_id}``.
4. Book it (:func:`book`): the Refund row ``succeeded``, the order's and items' ``refunded_cents``, item and
   order statuses, the sellers' listing rows and the ``refund.succeeded`` outbox row, in ONE transaction.
5. After the commit: the buyer's purchases of fully refunded digital items end (``state: refunded``), the
   buyer's connections get ``order.updated``, the outbox row is dispatched.

So the order changes only after Stripe has the refund. A crash between 3 and 4 is repaired by the
``charge.refunded`` webhook (:func:`on_charge_refunded` finds the refund by its metadata and books the pending
row) or by the next refund of the order once the claim is stale (:func:`reconcile`).

``charge.refunded`` for a refund made in the Stripe dashboard (no Refund row has its id or its metadata) is
booked exactly like an API refund (source ``stripe``, allocated over all of the order's items).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError

from chalicelib import jobs
from chalicelib.errors import ConflictError, ForbiddenError, NotFoundError
from chalicelib.logs import get_logger
from chalicelib.models.base import cancellation_codes, iso, new_id, now
from chalicelib.models.orders import Order, Purchase, Refund, SellerOrder, refund_by_id, refunds_of

log = get_logger(__name__)

ORDER_BUCKET = "_order"  # the part of the total that is no item's: shipping and tax (staff refunds it)
REFUNDABLE_STATES = ("paid", "fulfilled", "partially_refunded")
CLAIM_SECONDS = 60  # longer than the API function's timeout: an older claim belongs to a dead request
STRIPE_APPLIED = ("succeeded", "pending")  # Stripe refund statuses that move money (failed/canceled do not)
MAX_ATTEMPTS = 5
# The cancellations of a claim that lost a race (another write on the order or the refund row; contention):
# read the order again and retry.
_RACED = ("ConditionalCheckFailed", "TransactionConflict")


# ---- pure rules --------------------------------------------------------------------------------------------


def allocate(amount: int, buckets: Sequence[tuple[str, int]]) -> dict[str, int]:
    """Split ``amount`` over ``buckets`` ((key, remaining cents) in order) in proportion to what is left of each.

    Largest remainder: each gets ``floor(amount * remaining / total)``, then the cents still missing go one each
    to the largest fractional parts, ties to the earlier bucket. So the shares sum to ``amount``, no share is
    above its bucket's remaining, the same input always gives the same split, and refunding everything that is
    left refunds each bucket exactly. Buckets with nothing left get nothing (and are left out)."""
    if amount < 0:
        raise ValueError("amount must not be negative")
    live = [(key, left) for key, left in buckets if left > 0]
    total = sum(left for _, left in live)
    if amount > total:
        raise ValueError(f"amount {amount} is more than the {total} left")
    if amount == 0:
        return {}
    shares = [(key, amount * left // total, (amount * left) % total) for key, left in live]
    missing = amount - sum(share for _, share, _ in shares)
    by_fraction = sorted(range(len(shares)), key=lambda i: (-shares[i][2], i))
    bumped = set(by_fraction[:missing])
    result = {key: share + (1 if i in bumped else 0) for i, (key, share, _) in enumerate(shares)}
    return {key: cents for key, cents in result.items() if cents > 0}


def remaining(order: Order) -> list[tuple[str, int]]:
    """What is left to refund: each item in the order's order, then the order's own part (shipping and tax)."""
    items = [(line.item_id, max(0, int(line.line_total_cents) - int(line.refunded_cents or 0))) for line in order.items]
    items_refunded = sum(int(line.refunded_cents or 0) for line in order.items)
    extra_total = int(order.total_cents) - sum(int(line.line_total_cents) for line in order.items)
    extra_refunded = int(order.refunded_cents or 0) - items_refunded
    return [*items, (ORDER_BUCKET, max(0, extra_total - extra_refunded))]


def fit(amount: int, planned: dict[str, int], left: Sequence[tuple[str, int]]) -> dict[str, int]:
    """The allocation to book: ``planned`` when it still fits what is left, else ``amount`` re-allocated over the
    planned buckets and then, for what they cannot take, over all the others (a refund booked meanwhile)."""
    left_of = dict(left)
    if planned and sum(planned.values()) == amount and all(c <= left_of.get(k, 0) for k, c in planned.items()):
        return dict(planned)
    first = [(k, v) for k, v in left if k in planned] if planned else list(left)
    take = min(amount, sum(v for _, v in first))
    result = allocate(take, first)
    rest = [(k, v - result.get(k, 0)) for k, v in left]
    more = min(amount - take, sum(v for _, v in rest))
    for key, cents in allocate(more, rest).items():
        result[key] = result.get(key, 0) + cents
    return result


def as_map(value: Any) -> dict[str, Any]:
    """A raw MapAttribute's value as a plain dict (a loaded row holds a MapAttribute, a new one a dict)."""
    if value is None:
        return {}
    return dict(value.as_dict()) if hasattr(value, "as_dict") else dict(value)


def order_status_after(order: Order) -> str:
    return "refunded" if int(order.refunded_cents) >= int(order.total_cents) else "partially_refunded"


def entitlement_state(order: Order, line: Any) -> str:
    """The purchase entry's state an order item should have: refunded, suspended (open dispute) or active."""
    if line.status == "refunded":
        return "refunded"
    if order.status == "disputed":
        return "suspended"
    return "active"


# ---- reading and permissions ---------------------------------------------------------------------------------


def get_order(order_id: str) -> Order:
    try:
        return Order.get(order_id, consistent_read=True)
    except Order.DoesNotExist:
        raise NotFoundError("Order not found.") from None


def _scope(order: Order, principal: Any, item_ids: Sequence[str] | None) -> list[str]:
    """The buckets this caller refunds: the chosen items, or all the caller may refund (staff: the whole order)."""
    staff = bool(principal.is_staff)
    if not staff and principal.user_id not in (order.seller_ids or []):
        if principal.user_id == order.buyer_id:
            raise ForbiddenError("Only the seller or staff can refund an order.")
        raise NotFoundError("Order not found.")
    mine = [line.item_id for line in order.items if staff or line.seller_id == principal.user_id]
    if item_ids is None:
        return [*mine, ORDER_BUCKET] if staff else mine
    known = {line.item_id for line in order.items}
    unknown = [i for i in item_ids if i not in known]
    if unknown:
        raise NotFoundError("No such item in this order.", details={"item_ids": unknown})
    foreign = [i for i in item_ids if i not in mine]
    if foreign:
        raise ForbiddenError("You can refund only your own items.", details={"item_ids": foreign})
    return list(dict.fromkeys(item_ids))


def _check_refundable(order: Order) -> None:
    if order.status == "disputed":
        raise ConflictError(
            "The order is disputed; it cannot be refunded until the dispute closes.", code="order_disputed"
        )
    if order.status not in REFUNDABLE_STATES and order.status != "refunded":
        raise ConflictError(f"An order that is {order.status} cannot be refunded.", code="order_not_refundable")


# ---- the API refund --------------------------------------------------------------------------------------------


def refund_id_for(order_id: str, user_id: str, request_key: str | None) -> str:
    """The refund's id: derived from the caller's ``Idempotency-Key`` (so a retry of a request that died after
    Stripe refunded resumes the same refund, and Stripe's key ``refund:<id>`` answers it again), else new."""
    if not request_key:
        return new_id("rf_")
    digest = hashlib.sha256(f"{order_id}\n{user_id}\n{request_key}".encode()).hexdigest()[:24]
    return f"rf_{digest}"


def create(
    principal: Any,
    order_id: str,
    *,
    amount_cents: int | None,
    item_ids: Sequence[str] | None,
    reason: str,
    request_key: str | None = None,
) -> Refund:
    refund_id = refund_id_for(order_id, principal.user_id, request_key)
    for attempt in range(MAX_ATTEMPTS):
        order = get_order(order_id)
        scope = _scope(order, principal, item_ids)
        earlier = refund_by_id(order_id, refund_id)
        if earlier is not None and earlier.status == "succeeded":
            return earlier  # this very request already refunded (its stored response had expired)
        if earlier is not None and earlier.status == "pending" and order.pending_refund_id == refund_id:
            return _send(order, earlier)  # this very request died after claiming: resume it
        if earlier is not None:
            raise ConflictError("This refund failed; send a new Idempotency-Key to try again.", code="refund_failed")
        _check_refundable(order)
        if order.pending_refund_id:
            if order.pending_refund_at and order.pending_refund_at > now() - timedelta(seconds=CLAIM_SECONDS):
                raise ConflictError(
                    "Another refund of this order is being made; retry shortly.", code="refund_in_progress"
                )
            reconcile(order_id)
            order = get_order(order_id)
            _check_refundable(order)
        buckets = [(key, left) for key, left in remaining(order) if key in scope]
        left = sum(v for _, v in buckets)
        if left == 0:
            raise ConflictError("Nothing is left to refund.", code="nothing_to_refund", details={"remaining_cents": 0})
        amount = left if amount_cents is None else amount_cents
        if amount > left:
            raise ConflictError(
                f"Only {left} is left to refund.", code="refund_exceeds_remaining", details={"remaining_cents": left}
            )
        refund = Refund(
            order_id=order_id,
            refund_id=refund_id,
            amount_cents=amount,
            currency=order.currency,
            allocations=allocate(amount, buckets),
            reason=reason,
            source="api",
            status="pending",
            requested_by=principal.user_id,
        )
        if _claim(order, refund, staff=principal.user_id if principal.is_staff else None):
            return _send(order, refund)
        # The order changed since it was read (a print-lab status, a payment step, another refund's claim):
        # read it again after a jittered pause; the checks above then see whatever the other writer did.
        time.sleep(random.uniform(0, 0.02 * 2**attempt))
    raise ConflictError("The order changed meanwhile; retry.", code="refund_in_progress")


def _send(order: Order, refund: Refund) -> Refund:
    """Stripe's refund for a claimed pending row (idempotent at Stripe by ``refund:<refund_id>``), then book it."""
    from chalicelib.payments import stripe_refunds

    try:
        made = stripe_refunds.create_refund(
            order.payment_intent_id or "",
            int(refund.amount_cents),
            refund_id=refund.refund_id,
            order_id=order.order_id,
        )
    except ConflictError:
        _fail(order.order_id, refund.refund_id)  # Stripe refused: nothing was refunded
        raise
    # Other errors: Stripe may or may not have it; the claim stays until a retry, the webhook or a reconcile.
    return book(order.order_id, refund.refund_id, stripe_refund_id=made["id"])


def _claim(order: Order, refund: Refund, *, staff: str | None = None) -> bool:
    """The pending refund row and the order's claim in one transaction; a staff member's refund is audited in it.
    False when the order (or the refund row) changed since they were read: nothing was written."""
    from chalicelib.services import audit

    order.pending_refund_id = refund.refund_id
    order.pending_refund_at = now()
    try:
        with jobs.transaction() as tx:
            tx.save(order)  # the version condition: nobody changed the order since it was read
            tx.save(refund, condition=Refund.refund_id.does_not_exist())
            if staff is not None:
                details = {"refund_id": refund.refund_id, "amount_cents": int(refund.amount_cents)}
                details |= {"currency": refund.currency, "reason": refund.reason}
                audit.add_to(tx, audit.entry(staff, "order.refund", "order", order.order_id, details))
    except TransactWriteError as exc:
        codes = cancellation_codes(exc)
        if not codes or any(c not in (None, "None", *_RACED) for c in codes):
            raise  # not a lost race: a real error, not a 409
        return False
    return True


def _fail(order_id: str, refund_id: str) -> None:
    for _ in range(MAX_ATTEMPTS):
        order = get_order(order_id)
        refund = refund_by_id(order_id, refund_id)
        if refund is None or refund.status != "pending":
            return
        refund.status = "failed"
        try:
            with jobs.transaction() as tx:
                tx.save(refund, condition=Refund.status == "pending")
                if order.pending_refund_id == refund_id:
                    order.pending_refund_id = None
                    order.pending_refund_at = None
                    tx.save(order)
            return
        except TransactWriteError:
            continue


# ---- booking: the one transaction of every refund (API, Stripe dashboard, lost dispute) ---------------------


Mutation = Callable[[Order, str], list[tuple[str, str, dict[str, Any]]]]  # (order, its status before)


def lines_of(order: Order, allocations: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {
            "item_id": line.item_id,
            "seller_id": line.seller_id,
            "photo_id": line.photo_id,
            "amount_cents": allocations[line.item_id],
        }
        for line in order.items
        if allocations.get(line.item_id)
    ]


def _apply(order: Order, refund: Refund, allocations: dict[str, int]) -> None:
    """Add a refund to the order in memory: items' and order's refunded cents, item and order statuses."""
    at = now()
    for line in order.items:
        cents = allocations.get(line.item_id, 0)
        if cents:
            line.refunded_cents = int(line.refunded_cents or 0) + cents
            if line.refunded_cents >= int(line.line_total_cents) and line.status != "refunded":
                line.status = "refunded"
                line.status_at = at
    order.refunded_cents = int(order.refunded_cents or 0) + int(refund.amount_cents)
    if order.status == "disputed":
        order.status_before_dispute = order_status_after(order)
    else:
        order.status = order_status_after(order)
    if order.pending_refund_id == refund.refund_id:
        order.pending_refund_id = None
        order.pending_refund_at = None
    order.updated_at = at


def book(
    order_id: str,
    refund_id: str,
    *,
    stripe_refund_id: str | None = None,
    new: Refund | None = None,
    event: str | None = "refund.succeeded",
    mutate: Mutation | None = None,
) -> Refund:
    """Book a refund once: the pending row ``refund_id`` (or ``new``, a row not written yet) becomes succeeded
    together with the order's amounts and states, the sellers' rows and the outbox row(s), in one transaction.
    A refund already booked is returned as it is. ``mutate`` changes the order further and returns more
    events to publish in the same transaction (a lost dispute)."""
    for _ in range(MAX_ATTEMPTS):
        order = get_order(order_id)
        existing = refund_by_id(order_id, refund_id)
        if existing is not None and existing.status == "succeeded":
            finish(order)
            return existing
        if existing is None and new is None:
            raise NotFoundError("Refund not found.")
        refund = existing if existing is not None else new
        assert refund is not None
        was = str(order.status)
        allocations = fit(int(refund.amount_cents), as_map(refund.allocations), remaining(order))
        refund.allocations = allocations
        refund.status = "succeeded"
        if stripe_refund_id:
            refund.stripe_refund_id = stripe_refund_id
        _apply(order, refund, allocations)
        events = mutate(order, was) if mutate else []
        if event:
            events.insert(0, (event, f"refund:{refund_id}", refund_payload(order, refund)))
        rows = []
        try:
            with jobs.transaction() as tx:
                tx.save(order)
                if existing is not None:
                    tx.save(refund, condition=Refund.status == "pending")
                else:
                    tx.save(refund, condition=Refund.refund_id.does_not_exist())
                if str(order.status) != was:
                    for seller_id in order.seller_ids or []:
                        tx.update(
                            SellerOrder(seller_id=seller_id, order_id=order_id),
                            actions=[SellerOrder.status.set(str(order.status))],
                            condition=SellerOrder.order_id.exists(),
                        )
                for event_type, event_id, payload in events:
                    rows.append(jobs.publish_in(tx, event_type, event_id, payload))
        except TransactWriteError:
            log.info(
                "refund booking raced; re-reading", extra={"fields": {"order_id": order_id, "refund_id": refund_id}}
            )
            continue
        for row in rows:
            jobs.dispatch(row)
        finish(order)
        return refund
    raise ConflictError("The order changed concurrently; retry.", code="refund_in_progress")


def refund_payload(order: Order, refund: Refund) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "refund_id": refund.refund_id,
        "currency": refund.currency,
        "amount_cents": int(refund.amount_cents),
        "at": iso(now()),
        "source": refund.source,
        "lines": lines_of(order, as_map(refund.allocations)),
    }


# ---- after a change: entitlement and the buyer's live view -------------------------------------------------


def finish(order: Order) -> None:
    """Bring the buyer's purchase entries in line with the order and push ``order.updated``. Idempotent: run
    after every booking and again by every replayed webhook (it repairs a crash after the commit)."""
    sync_purchases(order)
    notify_changed(order)


def sync_purchases(order: Order) -> int:
    """Set each digital item's purchase entry to the state its order says (refunded, suspended, active): one
    BatchGet of the order's photos, one conditional update per photo whose entries change. Returns updates."""
    wanted: dict[str, dict[str, str]] = {}
    for line in order.items:
        if line.kind == "digital":
            wanted.setdefault(line.photo_id, {})[f"{order.order_id}:{line.item_id}"] = entitlement_state(order, line)
    if not wanted:
        return 0
    rows = {p.photo_id: p for p in Purchase.batch_get([(order.buyer_id, photo_id) for photo_id in wanted])}
    changed = 0
    for photo_id, entries in wanted.items():
        row = rows.get(photo_id)
        if row is None:
            continue
        held = as_map(row.items)
        actions = [
            Purchase.items[key]["state"].set(state)
            for key, state in entries.items()
            if key in held and (held[key] or {}).get("state") != state
        ]
        if not actions:
            continue
        condition = None
        for key in entries:
            if key in held:
                clause = Purchase.items[key].exists()
                condition = clause if condition is None else condition & clause
        Purchase(buyer_id=order.buyer_id, photo_id=photo_id).update(actions=actions, condition=condition)
        changed += 1
    return changed


def notify_changed(order: Order) -> None:
    """``order.updated`` to the buyer's connections, in checkout's order shape (best effort)."""
    from chalicelib.services import orders as orders_service

    orders_service.notify_changed(order)


# ---- Stripe's view: charge.refunded and reconciling ------------------------------------------------------------


def order_of_payment_intent(payment_intent_id: str | None) -> Order | None:
    """The order a PaymentIntent pays (its metadata ``order_id``, checked against the order's own id)."""
    from chalicelib.payments import stripe_refunds

    if not payment_intent_id:
        return None
    pi = stripe_refunds.payment_intent(payment_intent_id)
    order_id = pi["metadata"].get("order_id")
    if not order_id:
        return None
    try:
        order = Order.get(order_id, consistent_read=True)
    except Order.DoesNotExist:
        return None
    return order if order.payment_intent_id == payment_intent_id else None


def reconcile(order_id: str, *, charge_id: str | None = None) -> list[Refund]:
    """Book every refund Stripe has for the order's charge that is not booked yet, each once and oldest first:
    a pending API row by its metadata ``refund_id``, anything else as a ``stripe`` refund. Then an API refund
    still pending after its claim went stale, which Stripe does not have, is marked failed."""
    from chalicelib.payments import stripe_refunds

    order = get_order(order_id)
    charge_id = (
        charge_id or order.charge_id or stripe_refunds.payment_intent(order.payment_intent_id or "")["latest_charge"]
    )
    if not charge_id:
        return []
    ours = {r.refund_id: r for r in refunds_of(order_id)}
    booked_ids = {r.stripe_refund_id for r in ours.values() if r.stripe_refund_id and r.status == "succeeded"}
    seen_ours: set[str] = set()
    booked: list[Refund] = []
    for made in stripe_refunds.charge_refunds(charge_id):
        if made["id"] in booked_ids or made["status"] not in STRIPE_APPLIED:
            continue
        mine = ours.get(made["metadata"].get("refund_id", ""))
        if mine is not None and mine.source == "api":
            seen_ours.add(mine.refund_id)
            booked.append(book(order_id, mine.refund_id, stripe_refund_id=made["id"]))
            continue
        refund_id = f"rf_{made['id']}"
        row = Refund(
            order_id=order_id,
            refund_id=refund_id,
            amount_cents=int(made["amount"]),
            currency=order.currency,
            allocations={},
            reason="made in the Stripe dashboard",
            source="stripe",
            stripe_refund_id=made["id"],
            status="pending",
        )
        booked.append(book(order_id, refund_id, stripe_refund_id=made["id"], new=row))
    stale = now() - timedelta(seconds=CLAIM_SECONDS)
    for refund in ours.values():
        pending = refund.status == "pending" and refund.source == "api"
        if pending and refund.refund_id not in seen_ours and refund.created_at < stale:
            _fail(order_id, refund.refund_id)
    finish(get_order(order_id))
    return booked


def on_charge_refunded(event: dict[str, Any]) -> None:
    """``charge.refunded``: re-read the charge's refunds from Stripe and book what is not booked yet."""
    from chalicelib.payments import stripe_refunds

    charge_id = str(event["data"]["object"]["id"])
    ch = stripe_refunds.charge(charge_id)
    order = order_of_payment_intent(ch["payment_intent"])
    if order is None:
        log.info("charge.refunded for no order of ours", extra={"fields": {"charge_id": charge_id}})
        return
    if order.paid_at is None:  # checkout's auto-refund of a cancelled order's payment: nothing was booked
        log.info("charge.refunded of an order never paid", extra={"fields": {"charge_id": charge_id}})
        return
    reconcile(order.order_id, charge_id=charge_id)


# ---- views -----------------------------------------------------------------------------------------------------


def refund_view(refund: Refund) -> dict[str, Any]:
    allocations = as_map(refund.allocations)
    return {
        "id": refund.refund_id,
        "order_id": refund.order_id,
        "amount_cents": int(refund.amount_cents),
        "currency": refund.currency,
        "status": refund.status,
        "source": refund.source,
        "reason": refund.reason,
        "items": [{"id": k, "amount_cents": int(v)} for k, v in allocations.items() if k != ORDER_BUCKET],
        "order_cents": int(allocations.get(ORDER_BUCKET, 0)),
        "created_at": iso(refund.created_at),
    }
