"""Invoices: one PDF per (order, seller), numbered per seller without gaps, showing refunds once made.

Who may read: the buyer, any seller of the order, staff; anyone else gets 404 (the order's existence is
private). Before payment: 409 ``not_paid``.

Several sellers: an order with items of several sellers has one invoice per seller (each seller invoices their
own items). A seller always gets their own; the buyer and staff choose with ``?seller_id=`` and otherwise get the
invoice of the order's first seller (the seller of its first item). ``seller_id`` of someone who sold nothing in
the order is 404.

Numbers: the first time an invoice of (order, seller) is rendered, the seller's counter moves from n to n+1 in ONE
transaction that also records n+1 in ``Order.invoice_numbers[seller_id]`` if none is there
(``models.delivery.take_invoice_number``). Concurrent first requests: one transaction wins, the other re-reads
the order and finds the number; two orders of one seller at once: the loser re-reads the counter and takes the
next. A number is only ever taken together with the order that holds it, so there are no gaps and no doubles.

Order-level amounts (tax, shipping) are split between sellers in proportion to their items' totals
(``delivery_rules.allocate``: integers that sum to the order's amount). A refund shows the part allocated to
this seller's items (``Refund.allocations``); a refund without allocations (the whole order, e.g. from the
Stripe dashboard) is split like tax.

Rendering uses fpdf2 (imported here, lazily: ~0.5 s and Pillow, which only this route of the API needs) with
its core font Helvetica, so text is Latin-1: other characters are shown as ``?``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.models import delivery as store
from chalicelib.models.orders import Order, OrderLine
from chalicelib.services.delivery_rules import allocate, format_money, latin1

MAX_NUMBER_ATTEMPTS = 50  # each failed attempt means another order of the seller took a number meanwhile


@dataclass(frozen=True)
class RefundLine:
    at: datetime
    amount_cents: int
    reason: str | None


@dataclass(frozen=True)
class Invoice:
    number: int
    order: Order
    seller_id: str
    seller_name: str
    buyer_name: str
    buyer_email: str | None
    items: list[OrderLine]
    subtotal_cents: int
    tax_cents: int
    shipping_cents: int
    total_cents: int
    refunds: list[RefundLine]

    @property
    def label(self) -> str:
        return f"{self.number:06d}"

    @property
    def refunded_cents(self) -> int:
        return sum(r.amount_cents for r in self.refunds)


def sellers_of(order: Order) -> list[str]:
    """The order's sellers, in the order of their first item."""
    ids = [str(i.seller_id) for i in order.items] + [str(s) for s in order.seller_ids or []]
    return list(dict.fromkeys(ids))


def choose_seller(order: Order, principal: Any, seller_id: str | None) -> str:
    """Whose invoice the caller gets (see the module docstring); 404 for callers who may not read the order."""
    sellers = sellers_of(order)
    caller = principal.user_id
    is_buyer = caller == order.buyer_id
    if not (is_buyer or principal.is_staff or caller in sellers):
        raise NotFoundError("No such order.")
    if not (is_buyer or principal.is_staff):
        if seller_id not in (None, caller):
            raise NotFoundError("No such invoice.")
        return str(caller)
    chosen = seller_id or (sellers[0] if sellers else None)
    if chosen is None or chosen not in sellers:
        raise NotFoundError("No such invoice.")
    return chosen


def invoice_number(order: Order, seller_id: str) -> int:
    """The invoice number of (order, seller), taken from the seller's counter the first time (no gaps)."""
    for _ in range(MAX_NUMBER_ATTEMPTS):
        existing = (order.invoice_numbers.as_dict() if order.invoice_numbers else {}).get(seller_id)
        if existing is not None:
            return int(existing)
        last = store.invoice_counter(seller_id)
        if store.take_invoice_number(order, seller_id, last):
            return last + 1
        fresh = store.get_order(order.order_id)
        if fresh is None:
            raise NotFoundError("No such order.")
        order = fresh
    raise ConflictError("The invoice number could not be taken; retry.", code="invoice_busy")


def build(order: Order, seller_id: str) -> Invoice:
    from chalicelib.services.accounts import users_by_ids

    if order.paid_at is None:
        raise ConflictError("The order is not paid yet: it has no invoice.", code="not_paid")
    number = invoice_number(order, seller_id)
    sellers = sellers_of(order)
    per_seller = [sum(int(i.line_total_cents) for i in order.items if i.seller_id == s) for s in sellers]
    index = sellers.index(seller_id)
    items = [i for i in order.items if i.seller_id == seller_id]
    item_ids = {i.item_id for i in items}
    tax = allocate(int(order.tax_cents or 0), per_seller)[index]
    shipping = allocate(int(order.shipping_cents or 0), per_seller)[index]
    refunds = []
    for refund in store.refunds_of(order.order_id):
        if refund.status != "succeeded":
            continue
        allocations = refund.allocations.as_dict() if refund.allocations else {}
        if allocations:
            amount = sum(int(v) for k, v in allocations.items() if k in item_ids)
        else:
            amount = allocate(int(refund.amount_cents), per_seller)[index]
        if amount:
            refunds.append(RefundLine(refund.created_at, amount, refund.reason))
    users = users_by_ids([order.buyer_id, seller_id])
    seller, buyer = users.get(seller_id), users.get(order.buyer_id)
    subtotal = per_seller[index]
    return Invoice(
        number=number,
        order=order,
        seller_id=seller_id,
        seller_name=_name(seller, "Former Lightbox seller"),
        buyer_name=_name(buyer, "Former Lightbox member"),
        buyer_email=buyer.email if buyer is not None else None,
        items=items,
        subtotal_cents=subtotal,
        tax_cents=tax,
        shipping_cents=shipping,
        total_cents=subtotal + tax + shipping,
        refunds=refunds,
    )


def _name(user: Any, fallback: str) -> str:
    if user is None:
        return fallback
    return f"{user.display_name} (@{user.username})" if user.display_name else f"@{user.username}"


def invoice_for(principal: Any, order_id: str, seller_id: str | None) -> Invoice:
    order = store.get_order(order_id)
    if order is None:
        raise NotFoundError("No such order.")
    return build(order, choose_seller(order, principal, seller_id))


# ---- the PDF -----------------------------------------------------------------------------------------------


def render(invoice: Invoice, *, compress: bool = True) -> bytes:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    order = invoice.order
    money = lambda cents: format_money(int(cents), order.currency)  # noqa: E731
    pdf = FPDF(format="A4")
    pdf.set_compression(compress)
    pdf.set_creation_date(order.paid_at)  # the same invoice renders to the same bytes
    pdf.set_title(latin1(f"Invoice {invoice.label}"))
    pdf.set_author("Lightbox")
    pdf.add_page()

    def line(text: str, size: float = 10, style: str = "", h: float = 6) -> None:
        pdf.set_font("Helvetica", style=style, size=size)
        pdf.cell(0, h, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def row(cells: list[tuple[float, str, str]], style: str = "") -> None:
        pdf.set_font("Helvetica", style=style, size=10)
        for width, text, align in cells:
            pdf.cell(width, 7, latin1(text), border="B", align=align)
        pdf.ln(7)

    line("INVOICE", size=18, style="B", h=10)
    line(f"Invoice no. {invoice.label}", style="B")
    line(f"Date: {order.paid_at.strftime('%Y-%m-%d') if order.paid_at else ''}")
    line(f"Order: {order.order_id}")
    pdf.ln(4)
    line("Seller", style="B")
    line(invoice.seller_name)
    pdf.ln(2)
    line("Billed to", style="B")
    line(invoice.buyer_name)
    if invoice.buyer_email:
        line(invoice.buyer_email)
    address = order.shipping_address
    if address is not None:
        parts = [address.name, address.line1, address.line2, f"{address.postal_code} {address.city}", address.country]
        for part in parts:
            if part:
                line(str(part))
    pdf.ln(4)
    widths = (95.0, 15.0, 40.0, 40.0)
    row(
        [(widths[0], "Item", "L"), (widths[1], "Qty", "R"), (widths[2], "Unit price", "R"), (widths[3], "Amount", "R")],
        style="B",
    )
    for item in invoice.items:
        text = f"{item.title} - {item.label}" if item.title else item.label
        row(
            [
                (widths[0], text[:60], "L"),
                (widths[1], str(int(item.quantity)), "R"),
                (widths[2], money(item.unit_price_cents), "R"),
                (widths[3], money(item.line_total_cents), "R"),
            ]
        )
    pdf.ln(2)

    def total(label: str, cents: int, style: str = "") -> None:
        pdf.set_font("Helvetica", style=style, size=10)
        pdf.cell(sum(widths[:3]), 6, latin1(label), align="R")
        pdf.cell(widths[3], 6, latin1(money(cents)), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    total("Subtotal", invoice.subtotal_cents)
    total("Tax", invoice.tax_cents)
    if invoice.shipping_cents:
        total("Shipping", invoice.shipping_cents)
    total("Total", invoice.total_cents, style="B")
    pdf.ln(4)
    line("Payment", style="B")
    paid_at = order.paid_at.strftime("%Y-%m-%d %H:%M:%S UTC") if order.paid_at else ""
    line(f"Paid {money(invoice.total_cents)} by card on {paid_at}")
    if order.payment_intent_id:
        line(f"Stripe PaymentIntent: {order.payment_intent_id}")
    if invoice.refunds:
        pdf.ln(4)
        line("Refunds", style="B")
        for refund in invoice.refunds:
            reason = f" ({refund.reason})" if refund.reason else ""
            line(f"{refund.at.strftime('%Y-%m-%d')}: refunded {money(refund.amount_cents)}{reason}")
        total("Total refunded", invoice.refunded_cents)
        total("Net paid", invoice.total_cents - invoice.refunded_cents, style="B")
    return bytes(pdf.output())
