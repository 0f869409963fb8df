"""Checkout: the cart becomes an order, the order gets one PaymentIntent, and a succeeded payment fulfils it
exactly once. Payment methods (Stripe customers, SetupIntents, saved cards) live here too.

Flow (docs/payments.md): ``create_order`` re-prices the cart's lines that are not saved for later, snapshots
them as OrderLines and writes the order with one SellerOrders row per seller in one transaction, removes the
bought lines from the cart, then creates the PaymentIntent (Stripe idempotency key ``order:<id>:pi``).
``confirm`` (the buyer) and the ``payment_intent.*`` webhooks both end in :func:`fulfil`, which re-reads the
PaymentIntent from Stripe and, if it succeeded for the order's amount and currency, marks the order paid and
publishes ``order.paid`` in one transaction conditioned on the order's version: of a concurrent confirm and
webhook one wins, the other finds the order paid and answers the same.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError

from chalicelib import jobs
from chalicelib.config import get_settings
from chalicelib.errors import ConflictError, NotFoundError, ValidationError
from chalicelib.logs import get_logger
from chalicelib.models.base import UpdateError, cancellation_codes, condition_failed, epoch, iso, new_id, now
from chalicelib.models.cart import CartItem, bump_version, cart_header, cart_of, delete_lines, marker_id
from chalicelib.models.orders import (
    MAX_ORDER_ITEMS,
    MAX_SELLERS_PER_ORDER,
    UNPAID,
    Order,
    OrderLine,
    SellerOrder,
    ShippingAddress,
    get_order,
    unpaid_due,
)
from chalicelib.models.users import User, user_by_id
from chalicelib.payments import stripe_gateway as stripe
from chalicelib.services import cart as cart_service
from chalicelib.services import orders as orders_service

log = get_logger(__name__)
MARKER_TTL_SECONDS = 24 * 3600  # as long as an Idempotency-Key is remembered
CANCELLABLE_PI = ("requires_payment_method", "requires_confirmation", "requires_action", "requires_capture")


def _expiry_minutes() -> int:
    return max(1, get_settings().order_expiry_minutes)


# ---- Stripe customers --------------------------------------------------------------------------------------


def ensure_customer(user_id: str) -> str:
    """The user's Stripe customer, created once (Stripe key ``customer:<user_id>``; the id is stored with a
    conditional update, so of two concurrent first uses one id wins and both use it)."""
    user = user_by_id(user_id, consistent=True)
    if user is None:
        raise NotFoundError("No such user.")
    if user.stripe_customer_id:
        return user.stripe_customer_id
    customer = stripe.create_customer(user_id, user.email, idempotency_key=f"customer:{user_id}")
    try:
        user.update(
            actions=[User.stripe_customer_id.set(customer["id"])],
            condition=User.stripe_customer_id.does_not_exist(),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        again = user_by_id(user_id, consistent=True)
        if again is not None and again.stripe_customer_id:
            return again.stripe_customer_id
        raise
    return str(customer["id"])


# ---- creating an order -------------------------------------------------------------------------------------


def _snapshot(index: int, line: CartItem, priced: cart_service.Priced, photo: Any) -> OrderLine:
    quantity = int(line.quantity)
    title = (photo.caption or "").strip()[:200] or None
    return OrderLine(
        item_id=f"it{index:03d}",
        photo_id=priced.photo_id,
        seller_id=priced.seller_id,
        client_id=priced.client_id,
        title=title,
        sku=priced.sku,
        kind=priced.kind,
        label=priced.label,
        quantity=quantity,
        unit_price_cents=priced.unit_price_cents,
        line_total_cents=priced.unit_price_cents * quantity,
        price_sheet_id=priced.price_sheet_id,
        variant=priced.variant if priced.kind == "digital" else None,
        license=priced.license if priced.kind == "digital" else None,
        width_in=priced.width_in if priced.kind == "print" else None,
        height_in=priced.height_in if priced.kind == "print" else None,
        paper=priced.paper if priced.kind == "print" else None,
        frame=priced.frame if priced.kind == "print" else None,
        fulfilment=priced.fulfilment if priced.kind == "print" else None,
        status="pending",
    )


def payment_out(order: Order, pi: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "payment_intent_id": order.payment_intent_id,
        "client_secret": pi.get("client_secret") if pi else None,
        "publishable_key": stripe.publishable_key(),
        "status": pi.get("status") if pi else order.payment_status,
    }


def payable_problem(total_cents: int, currency: str) -> None:
    """Refuse, before anything is written, a total Stripe would not charge: a currency it does not take
    (``409 currency_unsupported``) or an amount below its minimum charge or above its maximum
    (``409 amount_out_of_range``)."""
    if currency not in stripe.STRIPE_CURRENCIES:
        raise ConflictError(
            f"Payments in {currency.upper() or 'this currency'} are not supported.", code="currency_unsupported"
        )
    low, high = stripe.min_charge(currency), stripe.MAX_CHARGE
    if not low <= total_cents <= high:
        raise ConflictError(
            f"An order total must be between {low} and {high} minor units of {currency.upper()}; "
            f"this one is {total_cents}.",
            code="amount_out_of_range",
            details={"total_cents": f"must be between {low} and {high}"},
        )


def create_order(
    principal: Any, shipping_address: dict[str, Any] | None, idempotency_key: str | None
) -> tuple[Order, dict[str, Any]]:
    user_id = principal.user_id
    if idempotency_key:
        try:
            marker = CartItem.get(user_id, marker_id(idempotency_key), consistent_read=True)
        except CartItem.DoesNotExist:
            marker = None
        if marker is not None and marker.order_id:
            order = get_order(marker.order_id, consistent=True)
            if order is not None:  # a retry after the payment step failed: the order exists, finish it
                order, pi = ensure_payment_intent(order)
                return order, payment_out(order, pi)

    header = cart_header(user_id)
    read_version = int(header.cart_version or 0) if header is not None else 0
    lines = cart_of(user_id, consistent=True)
    if header is not None and header.bought_ids and header.bought_at is not None:
        # lines an earlier order bought that it has not deleted yet (it is doing so, or it stopped): not ours
        bought = set(header.bought_ids)
        stale = [line for line in lines if line.item_id in bought and line.created_at <= header.bought_at]
        if stale:
            delete_lines(user_id, [line.item_id for line in stale])
            lines = [line for line in lines if line not in stale]
    lines = [line for line in lines if not line.saved_for_later]
    if not lines:
        raise ConflictError("Your cart has nothing to buy.", code="cart_empty")
    if len(lines) > MAX_ORDER_ITEMS:
        raise ConflictError(
            f"An order holds at most {MAX_ORDER_ITEMS} lines; save some for later.", code="too_many_items"
        )
    photos = cart_service._photos(line.photo_id or "" for line in lines)
    prices = cart_service.price_page(user_id, [p for p in photos.values() if p.status == "ready"])
    priced = {line.item_id: prices.get((line.photo_id or "", line.sku or "")) for line in lines}
    gone = [item_id for item_id, p in priced.items() if p is None]
    if gone:
        raise ConflictError(
            "Some items are no longer for sale; remove them or save them for later.",
            code="item_unavailable",
            details={"item_ids": ", ".join(gone)},
        )
    currencies = {p.currency for p in priced.values() if p is not None}
    if len(currencies) != 1:
        raise ConflictError("A cart is bought in one currency.", code="currency_mismatch")
    has_print = any(p is not None and p.kind == "print" for p in priced.values())
    if has_print and not shipping_address:
        raise ValidationError(
            "Prints need a shipping address.", details={"shipping_address": "required when the cart has prints"}
        )
    sellers = list(dict.fromkeys(p.seller_id for p in priced.values() if p is not None))
    if len(sellers) > MAX_SELLERS_PER_ORDER:
        raise ConflictError(
            f"An order holds items of at most {MAX_SELLERS_PER_ORDER} sellers.", code="too_many_sellers"
        )

    items = []
    for index, line in enumerate(lines, start=1):
        p = priced[line.item_id]
        assert p is not None
        items.append(_snapshot(index, line, p, photos[p.photo_id]))
    subtotal = sum(int(i.line_total_cents) for i in items)
    if subtotal <= 0:
        raise ConflictError("There is nothing to pay for.", code="nothing_to_pay")
    currency = next(iter(currencies))
    payable_problem(subtotal, currency)
    created = now()
    order = Order(
        order_id=new_id("ord_"),
        buyer_id=user_id,
        status="awaiting_payment",
        currency=currency,
        items=items,
        seller_ids=sellers,
        subtotal_cents=subtotal,
        tax_cents=0,
        shipping_cents=0,
        total_cents=subtotal,
        shipping_address=ShippingAddress(**shipping_address) if has_print and shipping_address else None,
        unpaid=UNPAID,
        created_at=created,
        updated_at=created,
        expires_at=created + timedelta(minutes=_expiry_minutes()),
    )
    client_of = {i.seller_id: i.client_id for i in items if i.client_id}
    try:
        _write_order(order, sellers, client_of, idempotency_key, read_version, [line.item_id for line in lines])
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" in cancellation_codes(exc):
            raise ConflictError(
                "Your cart changed while the order was being made; look at it and try again.", code="cart_changed"
            ) from None
        raise
    delete_lines(user_id, [line.item_id for line in lines])
    order, pi = ensure_payment_intent(order)
    return order, payment_out(order, pi)


def _write_order(
    order: Order,
    sellers: list[str],
    client_of: dict[str, str],
    idempotency_key: str | None,
    read_version: int,
    bought_ids: list[str],
) -> None:
    """The order, its SellerOrders rows, the checkout marker and the cart's version bump: one transaction."""
    user_id, created = order.buyer_id, order.created_at
    with jobs.transaction() as tx:
        tx.save(order, condition=Order.order_id.does_not_exist())
        for seller_id in sellers:
            row = SellerOrder(
                seller_id=seller_id,
                order_id=order.order_id,
                buyer_id=user_id,
                status="awaiting_payment",
                client_id=client_of.get(seller_id),
                created_at=created,
            )
            tx.save(row, condition=SellerOrder.order_id.does_not_exist())
        if idempotency_key:
            marker = CartItem(
                user_id=user_id,
                item_id=marker_id(idempotency_key),
                order_id=order.order_id,
                expires_at=created + timedelta(seconds=MARKER_TTL_SECONDS),
            )
            tx.save(marker)
        bump_version(tx, user_id, read_version, bought_ids, created)


def ensure_payment_intent(order: Order) -> tuple[Order, dict[str, Any] | None]:
    """The order's PaymentIntent, created (again) if the order has none yet: Stripe key ``order:<id>:pi``, so a
    retry after a failure gets the same PaymentIntent from Stripe."""
    if order.status == "cancelled" or (order.status != "awaiting_payment" and not order.payment_intent_id):
        raise ConflictError(f"This order is {order.status} and can no longer be paid.", code="order_not_payable")
    if order.payment_intent_id:
        if order.status != "awaiting_payment":
            return order, None  # paid already: a replay of the request that made it
        return order, stripe.retrieve_payment_intent(order.payment_intent_id)
    pi = stripe.create_payment_intent(
        int(order.total_cents),
        order.currency,
        idempotency_key=f"order:{order.order_id}:pi",
        metadata={"order_id": order.order_id},
        customer_id=ensure_customer(order.buyer_id),
    )
    try:
        order.update(
            actions=[
                Order.payment_intent_id.set(pi["id"]),
                Order.payment_status.set(pi["status"]),
                Order.updated_at.set(now()),
            ],
            condition=Order.payment_intent_id.does_not_exist() & (Order.status == "awaiting_payment"),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        # another request stored its PI first (the same one: same Stripe key), or the order was cancelled
        # meanwhile: then the PI just made must not stay payable
        order = get_order(order.order_id, consistent=True) or order
        if order.status != "awaiting_payment" and order.payment_intent_id != pi["id"]:
            stripe.cancel_payment_intent(pi["id"], idempotency_key=f"order:{order.order_id}:cancel-unused")
        return ensure_payment_intent(order)
    return order, pi


# ---- confirming and fulfilling -----------------------------------------------------------------------------


def _charge_id(pi: dict[str, Any]) -> str | None:
    charge = pi.get("latest_charge")
    if isinstance(charge, dict):
        return charge.get("id")
    if isinstance(charge, str):
        return charge
    charges = (pi.get("charges") or {}).get("data") or []
    return charges[-1].get("id") if charges else None


def confirm(principal: Any, order_id: str, payment_method_id: str | None) -> tuple[Order, dict[str, Any]]:
    """POST /orders/{id}/confirm. With a payment method the server sets it on the PaymentIntent and confirms;
    without, it reads the PaymentIntent (Stripe.js confirmed it). Either way it fulfils as the webhook does."""
    order = orders_service.own(principal, order_id, consistent=True)
    if order.status == "cancelled":
        raise ConflictError("This order was cancelled.", code="order_cancelled")
    if order.status != "awaiting_payment":
        return order, {"status": "succeeded"}
    order, pi = ensure_payment_intent(order)
    assert pi is not None and order.payment_intent_id
    if payment_method_id and pi.get("status") in ("requires_payment_method", "requires_confirmation"):
        method = stripe.retrieve_payment_method(payment_method_id)
        owner = method.get("customer")
        if owner and owner != ensure_customer(principal.user_id):
            raise NotFoundError("No such payment method.")
        attempt = next_payment_attempt(order)
        stripe.update_payment_intent(
            order.payment_intent_id,
            idempotency_key=f"order:{order.order_id}:pm:{attempt}",
            payment_method=payment_method_id,
        )
        try:
            pi = stripe.confirm_payment_intent(
                order.payment_intent_id, idempotency_key=f"order:{order.order_id}:confirm:{attempt}"
            )
        except stripe.CardDeclinedError:
            record_payment_status(order.order_id, "requires_payment_method")
            raise
    order = fulfil(order.order_id, pi)
    status = "succeeded" if order.status != "awaiting_payment" else pi.get("status")
    payment: dict[str, Any] = {"status": status}
    if status == "requires_action":
        payment["client_secret"] = pi.get("client_secret")
    return order, payment


def next_payment_attempt(order: Order) -> int:
    """Count one more server-side payment attempt on the unpaid order and return its number: each attempt gets
    its own Stripe idempotency keys (``order:<id>:pm:<n>``, ``order:<id>:confirm:<n>``), so Stripe never replays
    an earlier attempt's decline and going back to an earlier card really sets it again."""
    try:
        order.update(
            actions=[Order.payment_attempts.add(1)],
            condition=Order.status == "awaiting_payment",
            add_version_condition=False,  # a counter: it must not make a concurrent fulfilment lose
        )
    except UpdateError as exc:
        if condition_failed(exc):
            raise ConflictError("This order can no longer be paid.", code="order_not_payable") from None
        raise
    return int(order.payment_attempts)


def record_payment_status(order_id: str, status: str | None) -> None:
    """Remember the PaymentIntent's last status on an unpaid order (informational; never changes its state)."""
    if not status:
        return
    try:
        Order(order_id=order_id).update(
            actions=[Order.payment_status.set(status), Order.updated_at.set(now())],
            condition=(Order.status == "awaiting_payment")
            & (Order.payment_status.does_not_exist() | (Order.payment_status != status)),
            add_version_condition=False,  # informational: it must not make a concurrent fulfilment lose
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


def paid_event(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "buyer_id": order.buyer_id,
        "currency": order.currency,
        "subtotal_cents": int(order.subtotal_cents),
        "total_cents": int(order.total_cents),
        "paid_at": iso(order.paid_at),
        "fee_bps": get_settings().platform_fee_bps,  # the fee at the moment of payment, not when a job runs
        "lines": [
            {
                "item_id": i.item_id,
                "photo_id": i.photo_id,
                "seller_id": i.seller_id,
                "client_id": i.client_id,
                "sku": i.sku,
                "kind": i.kind,
                "quantity": int(i.quantity),
                "amount_cents": int(i.line_total_cents),
                "fulfilment": i.fulfilment,
            }
            for i in order.items
        ],
    }


def fulfil(order_id: str, pi: dict[str, Any] | None = None, _attempt: int = 0) -> Order:
    """Fulfil the order if its PaymentIntent succeeded (re-read from Stripe unless just returned by it), for the
    order's amount and currency. Exactly once: the paid state and ``order.paid`` commit in one transaction
    conditioned on the order's version; a loser re-reads and returns the paid order. Idempotent."""
    order = get_order(order_id, consistent=True)
    if order is None:
        raise NotFoundError("No such order.")
    if order.status != "awaiting_payment" or not order.payment_intent_id:
        if order.status == "cancelled" and pi is not None and pi.get("status") == "succeeded":
            _refund_cancelled(order, pi)
        return order
    if pi is None or pi.get("id") != order.payment_intent_id:
        pi = stripe.retrieve_payment_intent(order.payment_intent_id)
    if pi.get("status") != "succeeded":
        record_payment_status(order_id, pi.get("status"))
        return order if pi.get("status") == order.payment_status else (get_order(order_id, consistent=True) or order)
    if int(pi.get("amount") or 0) != int(order.total_cents) or str(pi.get("currency")).lower() != order.currency:
        log.error("payment does not match the order", extra={"order_id": order_id, "pi": pi.get("id")})
        record_payment_status(order_id, "amount_mismatch")
        return order

    at = now()
    order.status = "paid"
    order.paid_at = at
    order.updated_at = at
    order.unpaid = None
    order.payment_status = "succeeded"
    order.charge_id = _charge_id(pi)
    for line in order.items:
        line.status = "available" if line.kind == "digital" else "pending"
        line.status_at = at
    try:
        with jobs.transaction() as tx:
            tx.save(order)  # conditioned on the version read above
            for seller_id in order.seller_ids or []:
                tx.update(
                    SellerOrder(seller_id=seller_id, order_id=order_id),
                    actions=[SellerOrder.status.set("paid")],
                    condition=SellerOrder.order_id.exists(),
                )
            row = jobs.publish_in(tx, "order.paid", f"order.paid:{order_id}", paid_event(order))
    except TransactWriteError:
        again = get_order(order_id, consistent=True)
        if again is not None and again.status != "awaiting_payment":
            return again  # the concurrent confirm or webhook won
        if _attempt < 2:
            return fulfil(order_id, pi, _attempt + 1)
        raise
    jobs.dispatch(row)
    from chalicelib.services import purchases

    try:
        purchases.record(order)
    except Exception:  # the purchases consumer of order.paid writes them again
        log.warning("purchase entries deferred to the consumer", extra={"order_id": order_id}, exc_info=True)
    orders_service.notify_changed(order)
    return order


def _refund_cancelled(order: Order, pi: dict[str, Any]) -> None:
    """A cancelled order's PaymentIntent succeeded anyway (it was confirmed while the order was being cancelled):
    give the money back in full, once (Stripe key ``order:<id>:auto-refund``). The order never was paid, so
    nothing was booked and nothing is granted; only Stripe holds money to return."""
    pi_id = pi.get("id")
    if not isinstance(pi_id, str) or (pi.get("metadata") or {}).get("order_id") != order.order_id:
        return
    pi = stripe.retrieve_payment_intent(pi_id)  # as Stripe has it now
    if pi.get("status") != "succeeded":
        return
    refund = stripe.refund_payment_intent(
        pi_id, idempotency_key=f"order:{order.order_id}:auto-refund", metadata={"order_id": order.order_id}
    )
    log.warning(
        "a cancelled order's payment succeeded: refunded it",
        extra={"order_id": order.order_id, "payment_intent_id": pi_id, "refund_id": refund.get("id")},
    )


# ---- cancelling and expiring -------------------------------------------------------------------------------


def _cancel_unpaid(order: Order) -> Order:
    """Cancel an unpaid order and its PaymentIntent; a PaymentIntent that succeeded meanwhile fulfils instead.
    Returns the order as it now is."""
    if order.payment_intent_id:
        pi = stripe.retrieve_payment_intent(order.payment_intent_id)
        if pi.get("status") == "succeeded":
            return fulfil(order.order_id, pi)
        if pi.get("status") == "processing":
            return order  # neither cancellable nor paid yet: the webhook decides
        if pi.get("status") in CANCELLABLE_PI:
            stripe.cancel_payment_intent(order.payment_intent_id, idempotency_key=f"order:{order.order_id}:cancel")
    at = now()
    order.status = "cancelled"
    order.cancelled_at = at
    order.updated_at = at
    order.unpaid = None
    order.payment_status = "canceled" if order.payment_intent_id else order.payment_status
    try:
        with jobs.transaction() as tx:
            tx.save(order)
            for seller_id in order.seller_ids or []:
                tx.update(
                    SellerOrder(seller_id=seller_id, order_id=order.order_id),
                    actions=[SellerOrder.status.set("cancelled")],
                    condition=SellerOrder.order_id.exists(),
                )
    except TransactWriteError:
        return get_order(order.order_id, consistent=True) or order
    orders_service.notify_changed(order)
    return order


def cancel(principal: Any, order_id: str) -> Order:
    order = orders_service.own(principal, order_id, consistent=True)
    if order.status != "awaiting_payment":
        raise ConflictError(f"An order that is {order.status} cannot be cancelled.", code="invalid_state")
    order = _cancel_unpaid(order)
    if order.status != "cancelled":
        raise ConflictError(f"The order is {order.status} and was not cancelled.", code="invalid_state")
    return order


def on_orders_expire(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``orders.expire`` sweep consumer: cancel up to ``limit`` unpaid orders past their expiry, oldest first
    (the sparse by_unpaid index); the cursor is the index's last key. A PaymentIntent that succeeded meanwhile
    fulfils its order instead."""
    keys = unpaid_due(now(), limit, (cursor or {}).get("key"))
    count = 0
    for key in keys:
        count += 1
        order = get_order(key.order_id, consistent=True)
        if order is None or order.status != "awaiting_payment":
            continue
        if order.expires_at is not None and order.expires_at > now():
            continue
        try:
            _cancel_unpaid(order)
        except Exception:
            log.warning("order expiry failed; the next sweep retries", extra={"order_id": key.order_id}, exc_info=True)
    last = keys.last_evaluated_key
    return {"key": last, "at": epoch()} if count >= limit and last else None


# ---- payment methods ---------------------------------------------------------------------------------------


def setup_payment_method(principal: Any) -> dict[str, Any]:
    customer_id = ensure_customer(principal.user_id)
    intent = stripe.create_setup_intent(customer_id, idempotency_key=f"setup:{principal.user_id}:{new_id()}")
    return {"client_secret": intent["client_secret"], "publishable_key": stripe.publishable_key()}


def _user_customer(user_id: str) -> str | None:
    user = user_by_id(user_id)
    return user.stripe_customer_id if user is not None else None


def payment_methods(principal: Any) -> list[dict[str, Any]]:
    customer_id = _user_customer(principal.user_id)
    if not customer_id:
        return []
    out = []
    for pm in stripe.list_payment_methods(customer_id):
        card = pm.get("card") or {}
        out.append(
            {
                "id": pm["id"],
                "brand": card.get("brand"),
                "last4": card.get("last4"),
                "exp_month": card.get("exp_month"),
                "exp_year": card.get("exp_year"),
            }
        )
    return out


def delete_payment_method(principal: Any, payment_method_id: str) -> None:
    customer_id = _user_customer(principal.user_id)
    if not customer_id or not payment_method_id.startswith("pm_"):
        raise NotFoundError("No such payment method.")
    method = stripe.retrieve_payment_method(payment_method_id)
    if method.get("customer") != customer_id:
        raise NotFoundError("No such payment method.")
    stripe.detach_payment_method(payment_method_id, idempotency_key=f"detach:{payment_method_id}")
