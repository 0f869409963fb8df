"""The cart: lines of (photo, sku, quantity), always shown and bought at today's prices.

Prices come from the galleries area's ``chalicelib.services.price_sheets``:
- ``offers_for(buyer_user_id, photos) -> {photo_id: offer}`` for a page of photos (an offer has ``currency``
  and ``items``, or is the list of items itself), and
- ``priced_item(buyer_user_id, photo, sku) -> item | None`` for one line (None: not for sale to this buyer).
An item names ``sku, kind, label, price_cents, currency`` and its ``digital`` (variant, license) or ``print``
(width_in, height_in, paper, frame, fulfilment) details, ``price_sheet_id`` and ``client_id``; attributes or
dict keys both work (:func:`normalize`).

Rules: quantity 1..99 per line; adding the same photo and sku again adds to the line's quantity, and a sum
above 99 is ``409 quantity_limit`` (nothing changes; the client may add fewer); at most 100 lines
(``409 cart_full``); one currency per cart (``409 currency_mismatch``); lines from several photographers are
fine. ``subtotal_cents`` counts the lines that are not saved for later and still for sale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import ConflictError, NotFoundError, ValidationError
from chalicelib.models.base import UpdateError, condition_failed, now
from chalicelib.models.cart import MAX_CART_LINES, MAX_QUANTITY, CartItem, cart_of, get_line, line_id
from chalicelib.models.photos import READY, Photo


@dataclass(frozen=True)
class Priced:
    """One sku of one photo at today's price, for this buyer."""

    photo_id: str
    seller_id: str
    sku: str
    kind: str  # digital | print
    label: str
    unit_price_cents: int
    currency: str
    price_sheet_id: str | None = None
    client_id: str | None = None
    variant: str | None = None
    license: str | None = None
    width_in: float | None = None
    height_in: float | None = None
    paper: str | None = None
    frame: str | None = None
    fulfilment: str | None = None


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def normalize(item: Any, photo: Photo, currency: str | None = None) -> Priced:
    digital = _get(item, "digital")
    printed = _get(item, "print")

    def detail(name: str, nested: Any) -> Any:
        value = _get(nested, name)
        return value if value is not None else _get(item, name)

    price = _get(item, "price_cents")
    if price is None:
        price = _get(item, "unit_price_cents")
    return Priced(
        photo_id=photo.photo_id,
        seller_id=_get(item, "seller_id") or photo.owner_id,
        sku=str(_get(item, "sku")),
        kind=str(_get(item, "kind")),
        label=str(_get(item, "label") or _get(item, "sku")),
        unit_price_cents=int(price),
        currency=str(_get(item, "currency") or currency or "").lower(),
        price_sheet_id=_get(item, "price_sheet_id"),
        client_id=_get(item, "client_id"),
        variant=detail("variant", digital),
        license=detail("license", digital),
        width_in=detail("width_in", printed),
        height_in=detail("height_in", printed),
        paper=detail("paper", printed),
        frame=detail("frame", printed),
        fulfilment=detail("fulfilment", printed),
    )


def _price_sheets() -> Any:
    from chalicelib.services import price_sheets  # type: ignore[attr-defined,unused-ignore]

    return price_sheets


def price_one(buyer_id: str, photo: Photo, sku: str) -> Priced | None:
    item = _price_sheets().priced_item(buyer_id, photo, sku)
    return normalize(item, photo) if item is not None else None


def price_page(buyer_id: str, photos: list[Photo]) -> dict[tuple[str, str], Priced]:
    """(photo_id, sku) -> today's price of every sku offered to the buyer for these photos (one batch)."""
    if not photos:
        return {}
    offers = _price_sheets().offers_for(buyer_id, photos) or {}
    by_id = {p.photo_id: p for p in photos}
    out: dict[tuple[str, str], Priced] = {}
    for photo_id, offer in offers.items():
        photo = by_id.get(photo_id)
        if photo is None or offer is None:
            continue
        items = offer if isinstance(offer, list) else (_get(offer, "items") or [])
        for item in items:
            priced = normalize(item, photo, _get(offer, "currency") if not isinstance(offer, list) else None)
            out[(photo_id, priced.sku)] = priced
    return out


def _photos(ids: Iterable[str]) -> dict[str, Photo]:
    from chalicelib.services import photos

    return {p.photo_id: p for p in photos.photos_by_ids(list(dict.fromkeys(ids)))}


def seller_views(seller_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    from chalicelib.services.accounts import users_by_ids

    ids = list(dict.fromkeys(seller_ids))
    users = users_by_ids(ids) if ids else {}
    return {
        i: {
            "id": i,
            "username": users[i].username if i in users else None,
            "display_name": users[i].display_name if i in users else None,
        }
        for i in ids
    }


# ---- views -------------------------------------------------------------------------------------------------


def line_view(line: CartItem, priced: Priced | None, sellers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    unit = priced.unit_price_cents if priced else None
    seller_id = priced.seller_id if priced else None
    return {
        "id": line.item_id,
        "photo_id": line.photo_id,
        "sku": line.sku,
        "label": priced.label if priced else None,
        "kind": priced.kind if priced else None,
        "quantity": int(line.quantity),
        "unit_price_cents": unit,
        "line_total_cents": unit * int(line.quantity) if unit is not None else None,
        "currency": priced.currency if priced else None,
        "saved_for_later": bool(line.saved_for_later),
        "available": priced is not None,
        "seller": sellers.get(seller_id) if seller_id else None,
        "added_at": line.created_at,
    }


def view(user_id: str) -> dict[str, Any]:
    """GET /cart: every line at today's prices (one Query, one BatchGet of photos, one pricing batch, one
    BatchGet of sellers)."""
    lines = cart_of(user_id)
    photos = _photos(line.photo_id for line in lines if line.photo_id)
    prices = price_page(user_id, [p for p in photos.values() if p.status == READY])
    priced = {line.item_id: prices.get((line.photo_id or "", line.sku or "")) for line in lines}
    sellers = seller_views(p.seller_id for p in priced.values() if p is not None)
    items = [line_view(line, priced[line.item_id], sellers) for line in lines]
    counted = [i for i in items if not i["saved_for_later"] and i["available"]]
    currencies = [i["currency"] for i in items if i["currency"]]
    return {
        "items": items,
        "subtotal_cents": sum(i["line_total_cents"] for i in counted),
        "currency": currencies[0] if currencies else None,
    }


# ---- changes -----------------------------------------------------------------------------------------------


def _buyable(user_id: str, photo_id: str, sku: str) -> tuple[Photo, Priced]:
    photo = _photos([photo_id]).get(photo_id)
    if photo is None or photo.status != READY:
        raise NotFoundError("No such photo.", code="not_found")
    priced = price_one(user_id, photo, sku)
    if priced is None:
        raise NotFoundError("This photo is not for sale to you with that sku.", code="not_for_sale")
    return photo, priced


def add(user_id: str, photo_id: str, sku: str, quantity: int) -> dict[str, Any]:
    _, priced = _buyable(user_id, photo_id, sku)
    item_id = line_id(photo_id, sku)
    lines = cart_of(user_id)
    others = [line for line in lines if line.item_id != item_id]
    currencies = {line.currency for line in others if getattr(line, "currency", None)}
    if currencies and priced.currency not in currencies:
        raise ConflictError(
            f"Your cart is in {', '.join(sorted(currencies))}; this item is in {priced.currency}.",
            code="currency_mismatch",
        )
    if len(others) >= MAX_CART_LINES and len(others) == len(lines):
        raise ConflictError(f"A cart holds at most {MAX_CART_LINES} lines.", code="cart_full")
    at = now()
    row = CartItem(user_id=user_id, item_id=item_id)
    try:
        row.update(
            actions=[
                CartItem.quantity.add(quantity),
                CartItem.photo_id.set(photo_id),
                CartItem.sku.set(sku),
                CartItem.currency.set(priced.currency),
                CartItem.saved_for_later.set(CartItem.saved_for_later | False),
                CartItem.created_at.set(CartItem.created_at | at),
                CartItem.updated_at.set(at),
            ],
            condition=CartItem.quantity.does_not_exist() | (CartItem.quantity <= MAX_QUANTITY - quantity),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            raise ConflictError(
                f"A line holds at most {MAX_QUANTITY} of an item.",
                code="quantity_limit",
                details={"quantity": f"at most {MAX_QUANTITY} in all"},
            ) from None
        raise
    line = get_line(user_id, item_id)
    assert line is not None
    return line_view(line, priced, seller_views([priced.seller_id]))


def change(user_id: str, item_id: str, quantity: int | None, saved_for_later: bool | None) -> dict[str, Any]:
    if quantity is None and saved_for_later is None:
        raise ValidationError("Send quantity or saved_for_later.", details={"body": "nothing to change"})
    line = get_line(user_id, item_id)
    if line is None:
        raise NotFoundError("No such cart item.")
    actions: list[Any] = [CartItem.updated_at.set(now())]
    if quantity is not None:
        actions.append(CartItem.quantity.set(quantity))
    if saved_for_later is not None:
        actions.append(CartItem.saved_for_later.set(saved_for_later))
    try:
        line.update(actions=actions, condition=CartItem.item_id.exists())
    except UpdateError as exc:
        if condition_failed(exc):
            raise NotFoundError("No such cart item.") from None
        raise
    photo = _photos([line.photo_id or ""]).get(line.photo_id or "")
    priced = price_one(user_id, photo, line.sku or "") if photo is not None and photo.status == READY else None
    return line_view(line, priced, seller_views([priced.seller_id] if priced else []))


def remove(user_id: str, item_id: str) -> None:
    line = get_line(user_id, item_id)
    if line is None:
        raise NotFoundError("No such cart item.")
    line.delete()
