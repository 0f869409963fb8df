"""Reading orders: who may see one, the contract's order shape, listings, and the buyer's live updates.

``order_view(order, principal)`` and ``notify_changed(order)`` are the shared entry points: every area that
changes an order (fulfilment, refunds, disputes, print lab, archives) calls ``notify_changed`` after its write.

Who sees an order: its buyer, staff, and each seller of it (one GetItem of their SellerOrders row); anyone else
gets 404. A seller sees only their own items of it. ``download_url`` (buyer only) is signed afresh on each read
for every digital item that is ``available`` and whose purchase entry is still active (not refunded, not
suspended by a dispute): one BatchGet of photos and one of purchases per read, however many items.
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib import pagination
from chalicelib.errors import NotFoundError
from chalicelib.logs import get_logger
from chalicelib.models.base import iso
from chalicelib.models.orders import (
    Order,
    OrderLine,
    get_order,
    get_seller_order,
    orders_by_ids,
    orders_of_buyer,
    orders_of_seller,
    purchases_of,
)

log = get_logger(__name__)


def _address(order: Order) -> dict[str, Any] | None:
    a = order.shipping_address
    if a is None:
        return None
    return {
        "name": a.name,
        "line1": a.line1,
        "line2": a.line2,
        "city": a.city,
        "postal_code": a.postal_code,
        "country": a.country,
    }


def download_name(photo: Any, line: OrderLine) -> str:
    """The file name a download is saved as: the uploaded file's name, else the title, else the photo id."""
    ext = "png" if line.variant == "original" and getattr(photo, "original_format", None) == "png" else "jpg"
    stem = ""
    if getattr(photo, "filename", None):
        stem = str(photo.filename).rsplit(".", 1)[0]
    elif line.title:
        stem = line.title
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.")[:80] or photo.photo_id
    suffix = "" if line.variant == "original" else f"-{line.variant}"
    return f"{stem}{suffix}.{ext}"


def _downloads(order: Order, lines: list[OrderLine]) -> dict[str, str]:
    """item_id -> a fresh short-lived URL of each downloadable digital item."""
    wanted = [i for i in lines if i.kind == "digital" and i.status == "available" and i.variant]
    if not wanted or order.status in ("awaiting_payment", "cancelled"):
        return {}
    from chalicelib.services import downloads, purchases
    from chalicelib.services import photos as photos_service

    photo_ids = list(dict.fromkeys(i.photo_id for i in wanted))
    held = purchases_of(order.buyer_id, photo_ids)
    photos = {p.photo_id: p for p in photos_service.photos_by_ids(photo_ids)}
    out = {}
    for line in wanted:
        photo = photos.get(line.photo_id)
        if photo is None or photo.status != "ready" or line.variant not in (photo.variant_keys or []):
            continue
        if not purchases.active_entry(held.get(line.photo_id), order.order_id, line.item_id):
            continue
        out[line.item_id] = downloads.download_link(order, line)  # counted, re-checked, then 302 to S3
    return out


def line_view(line: OrderLine, download_url: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": line.item_id,
        "photo_id": line.photo_id,
        "seller_id": line.seller_id,
        "client_id": line.client_id,
        "title": line.title,
        "sku": line.sku,
        "kind": line.kind,
        "label": line.label,
        "quantity": int(line.quantity),
        "unit_price_cents": int(line.unit_price_cents),
        "line_total_cents": int(line.line_total_cents),
        "refunded_cents": int(line.refunded_cents or 0),
        "status": line.status,
    }
    if line.kind == "digital":
        out["digital"] = {"variant": line.variant, "license": line.license}
    else:
        out["print"] = {
            "width_in": line.width_in,
            "height_in": line.height_in,
            "paper": line.paper,
            "frame": line.frame,
            "fulfilment": line.fulfilment,
        }
    if line.tracking is not None and any((line.tracking.carrier, line.tracking.number, line.tracking.url)):
        out["tracking"] = {"carrier": line.tracking.carrier, "number": line.tracking.number, "url": line.tracking.url}
    if download_url:
        out["download_url"] = download_url
    return out


def order_view(order: Order, principal: Any = None) -> dict[str, Any]:
    """The contract's order shape as ``principal`` may see it (None: the buyer's own view, e.g. for pushes).
    Call only after :func:`readable` (or for the buyer)."""
    viewer = getattr(principal, "user_id", None)
    is_buyer = principal is None or viewer == order.buyer_id
    is_staff = bool(getattr(principal, "is_staff", False))
    lines = list(order.items)
    if not is_buyer and not is_staff:
        lines = [i for i in lines if i.seller_id == viewer]
    urls = _downloads(order, lines) if is_buyer else {}
    whole = is_buyer or is_staff
    # A seller sees their own part of the order: their lines, totals over those lines, and the buyer's address
    # only when they ship a print themselves (another seller's items and spend are not theirs to see).
    mine = sum(int(i.line_total_cents) for i in lines)
    mine_refunded = sum(int(i.refunded_cents or 0) for i in lines)
    out: dict[str, Any] = {
        "id": order.order_id,
        "status": order.status,
        "buyer_id": order.buyer_id,
        "items": [line_view(i, urls.get(i.item_id)) for i in lines],
        "seller_ids": list(order.seller_ids or []) if whole else [viewer],
        "currency": order.currency,
        "subtotal_cents": int(order.subtotal_cents) if whole else mine,
        "tax_cents": int(order.tax_cents or 0) if whole else 0,
        "shipping_cents": int(order.shipping_cents or 0) if whole else 0,
        "total_cents": int(order.total_cents) if whole else mine,
        "refunded_cents": int(order.refunded_cents or 0) if whole else mine_refunded,
        "payment_intent_id": order.payment_intent_id if whole else None,
        "payment_status": order.payment_status,
        "created_at": iso(order.created_at),
        "paid_at": iso(order.paid_at),
        "expires_at": iso(order.expires_at) if order.status == "awaiting_payment" else None,
        "cancelled_at": iso(order.cancelled_at),
    }
    address = _address(order)
    ships_itself = any(i.kind == "print" and i.fulfilment == "self" for i in lines)
    if address is not None and (whole or ships_itself):
        out["shipping_address"] = address
    if is_buyer and order.archive_status:
        from chalicelib.services.archives import archive_view

        archive = archive_view(order)
        if archive is not None:
            out["archive"] = archive
    if order.dispute_status:
        out["dispute"] = {"status": order.dispute_status}
    return out


def readable(principal: Any, order_id: str) -> Order:
    """The order if the caller is its buyer, one of its sellers, or staff; 404 otherwise (existence is private)."""
    order = get_order(order_id)
    if order is None:
        raise NotFoundError("No such order.")
    if principal.user_id == order.buyer_id or principal.is_staff:
        return order
    if principal.user_id in (order.seller_ids or []) and get_seller_order(principal.user_id, order_id) is not None:
        return order
    raise NotFoundError("No such order.")


def own(principal: Any, order_id: str, consistent: bool = False) -> Order:
    """The caller's own order as its buyer; 404 for anyone else (sellers and staff included)."""
    order = get_order(order_id, consistent=consistent)
    if order is None or order.buyer_id != principal.user_id:
        raise NotFoundError("No such order.")
    return order


def notify_changed(order: Order) -> None:
    """Push ``{"type": "order.updated", "order": ...}`` to the buyer's live connections (best effort)."""
    from chalicelib.realtime import push

    try:
        push.send_to_user(order.buyer_id, {"type": "order.updated", "order": order_view(order)})
    except Exception:  # a push never fails the change it reports
        log.warning("order.updated push failed", extra={"order_id": order.order_id}, exc_info=True)


# ---- listings ----------------------------------------------------------------------------------------------


def buyer_orders(principal: Any, status: str | None, limit: int, cursor: str | None) -> tuple[list[Order], str | None]:
    """The buyer's orders, newest first (the by_buyer index, then one BatchGet of the page)."""
    scope = f"orders:buyer:{principal.user_id}:{status or ''}"
    keys, next_cursor = pagination.page(
        scope, orders_of_buyer(principal.user_id, status, limit, pagination.decode(scope, cursor)), limit
    )
    found = orders_by_ids([k.order_id for k in keys])
    return [found[k.order_id] for k in keys if k.order_id in found], next_cursor


def seller_orders(
    principal: Any, status: str | None, client_id: str | None, limit: int, cursor: str | None
) -> tuple[list[Order], str | None]:
    scope = f"orders:seller:{principal.user_id}:{status or ''}:{client_id or ''}"
    rows, next_cursor = pagination.page(
        scope,
        orders_of_seller(principal.user_id, status, client_id, limit, pagination.decode(scope, cursor)),
        limit,
    )
    found = orders_by_ids([r.order_id for r in rows])
    return [found[r.order_id] for r in rows if r.order_id in found], next_cursor


def payment_view(order: Order) -> dict[str, Any]:
    """One entry of GET /payments for an order."""
    return {
        "id": order.order_id,
        "kind": "order",
        "amount_cents": int(order.total_cents),
        "currency": order.currency,
        "status": order.status,
        "created_at": iso(order.created_at),
        "ref": order.order_id,
    }


def payments(principal: Any, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The caller's payment history: their orders for now (tips, subscriptions, top-ups join here)."""
    orders, next_cursor = buyer_orders(principal, None, limit, cursor)
    return [payment_view(o) for o in orders], next_cursor
