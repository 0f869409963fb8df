"""The buyer's receipt email and each seller's ``order_paid`` notification: the ``receipts`` consumer of
``order.paid`` (chalicelib/jobs/registry.py).

Exactly once, though the job may run twice (a redelivered SQS message, a replayed event):
- the receipt: a conditional put of the mark ``receipt:<order_id>`` before sending; if the send fails the mark is
  deleted again and the error re-raised, so the job's retry sends it (a crash between the send and the end of the
  job leaves the mark: the retry sends nothing; at most once across crashes, exactly once otherwise);
- the seller notifications: ``notifications.notify`` keyed by the order id (a stored row per (type, cause)).

The email never carries a signed file URL: links expire, emails do not. It links the order page
(``<web app>/orders/<id>``), where every read signs download links afresh.
"""

from __future__ import annotations

from typing import Any

from chalicelib.config import get_settings
from chalicelib.logs import get_logger
from chalicelib.models import delivery as store
from chalicelib.models.orders import Order
from chalicelib.services.delivery_rules import format_money
from chalicelib.services.invoices import sellers_of

log = get_logger(__name__)


def order_url(order_id: str) -> str:
    return f"{get_settings().web_base_url}/orders/{order_id}"


def receipt_text(order: Order, buyer_name: str | None, sellers: dict[str, str]) -> tuple[str, str]:
    """(subject, plain text) of the receipt: every line with quantity, unit price and line total; subtotal, tax,
    shipping (if any) and total; the order page's link."""
    money = lambda cents: format_money(int(cents or 0), order.currency)  # noqa: E731
    lines = [f"Hello {buyer_name}," if buyer_name else "Hello,", "", "Thank you for your order. Your receipt:", ""]
    for item in order.items:
        title = f"{item.title} - " if item.title else ""
        seller = sellers.get(item.seller_id)
        lines.append(f"- {title}{item.label}" + (f" (by {seller})" if seller else ""))
        lines.append(f"  {int(item.quantity)} x {money(item.unit_price_cents)} = {money(item.line_total_cents)}")
    lines += ["", f"Subtotal: {money(order.subtotal_cents)}", f"Tax: {money(order.tax_cents)}"]
    if order.shipping_cents:
        lines.append(f"Shipping: {money(order.shipping_cents)}")
    lines.append(f"Total: {money(order.total_cents)}")
    paid = order.paid_at.strftime("%Y-%m-%d %H:%M UTC") if order.paid_at else None
    lines += ["", f"Order {order.order_id}" + (f", paid {paid}" if paid else "") + "."]
    has_digital = any(i.kind == "digital" for i in order.items)
    lines += [
        "",
        "Your order, its downloads and invoices: " if has_digital else "Your order and its invoices: ",
        order_url(order.order_id),
        "",
        "Download links are made fresh each time you open the order page.",
    ]
    return f"Your Lightbox receipt for order {order.order_id}", "\n".join(lines)


def send_receipt(order: Order) -> bool:
    """Email the buyer's receipt unless it was sent; True if this call sent it."""
    from chalicelib.services import mailer
    from chalicelib.services.accounts import users_by_ids

    users = users_by_ids([order.buyer_id, *sellers_of(order)])
    buyer = users.get(order.buyer_id)
    if buyer is None:  # the account was deleted meanwhile: nobody to send it to
        return False
    mark = f"receipt:{order.order_id}"
    if not store.claim_mark(mark):
        return False
    sellers = {sid: u.display_name or u.username for sid, u in users.items() if sid != order.buyer_id}
    subject, text = receipt_text(order, buyer.display_name, sellers)
    try:
        mailer.send(buyer.email, subject, text)
    except Exception:
        store.release_mark(mark)  # not sent: the job's retry sends it
        raise
    return True


def notify_sellers(order: Order) -> int:
    from chalicelib.services import notifications

    sent = 0
    for seller_id in sellers_of(order):
        items = [i for i in order.items if i.seller_id == seller_id]
        target = {
            "order_id": order.order_id,
            "items": len(items),
            "amount_cents": sum(int(i.line_total_cents) for i in items),
            "currency": order.currency,
        }
        if notifications.notify(seller_id, "order_paid", actor_id=order.buyer_id, target=target, dedupe=order.order_id):
            sent += 1
    return sent


def on_order_paid(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``order.paid`` consumer ``receipts``: one receipt and one notification per seller (at most
    ``MAX_SELLERS_PER_ORDER``: bounded), each once."""
    order = store.get_order(payload["order_id"])
    if order is None or order.paid_at is None:
        log.warning("order.paid for an order that is not paid", extra={"fields": {"order_id": payload["order_id"]}})
        return None
    send_receipt(order)
    notify_sellers(order)
    return None
