"""Premium media: the rules for a creator setting ``access`` and ``price_cents`` on a photo or video.

``access_change`` is pure (no I/O): it takes what is stored and what was asked, and answers what to store or
raises the client error. ``photos.update_photo`` applies it in one conditional update (the item must still be
unbought: ``purchase_count`` missing or 0, so a purchase racing the edit makes it fail with 409).
Who may see what once it is set is :mod:`chalicelib.services.entitlements`; see docs/creators.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.errors import ConflictError, ValidationError

ACCESS = ("free", "subscribers", "paid")
DEFAULT_CURRENCY = "eur"


@dataclass(frozen=True)
class Pricing:
    """What a photo's access is: ``price_cents``/``currency`` only for ``paid``."""

    access: str = "free"
    price_cents: int | None = None
    currency: str | None = None


def stored(photo: Any) -> Pricing:
    access = getattr(photo, "access", None) or "free"
    if access != "paid":
        return Pricing(access)
    price = photo.price_cents
    return Pricing("paid", int(price) if price is not None else None, photo.currency or DEFAULT_CURRENCY)


def access_change(
    current: Pricing,
    fields: dict[str, Any],
    *,
    purchase_count: int,
    currencies: frozenset[str],
    min_charge: Any,
    max_cents: int,
) -> Pricing:
    """The pricing after applying ``fields`` (``access``, ``price_cents``, ``currency``, any of them).

    - ``paid`` needs a price between ``min_charge(currency)`` and ``max_cents`` (400 otherwise) in a currency
      Stripe knows (400); the price and currency of an item that is already ``paid`` may be left out;
    - ``price_cents``/``currency`` on an item that ends up not ``paid``: 400;
    - any change to an item bought at least once (``purchase_count > 0``): 409 ``already_purchased`` (buyers
      keep what they paid for; the price they paid stays the item's price).
    """
    access = fields.get("access", current.access)
    if access not in ACCESS:
        raise ValidationError("Unknown access.", details={"access": "free, subscribers or paid"})
    if access != "paid":
        extra = [f for f in ("price_cents", "currency") if fields.get(f) is not None]
        if extra:
            raise ValidationError("Only paid items have a price.", details={f: "only with access: paid" for f in extra})
        new = Pricing(access)
    else:
        currency = fields.get("currency") or (current.currency if current.access == "paid" else None)
        currency = currency or DEFAULT_CURRENCY
        if currency not in currencies:
            raise ValidationError("Unknown currency.", details={"currency": "a lowercase ISO 4217 code"})
        price = fields.get("price_cents")
        if price is None and current.access == "paid":
            price = current.price_cents
        if price is None:
            raise ValidationError("A paid item needs a price.", details={"price_cents": "required for paid"})
        low = int(min_charge(currency))
        if not low <= price <= max_cents:
            raise ValidationError(
                "The price is out of range.", details={"price_cents": f"between {low} and {max_cents}"}
            )
        new = Pricing("paid", int(price), currency)
    if new != current and purchase_count > 0:
        raise ConflictError(
            "This item has been bought: its access and price can no longer change.", code="already_purchased"
        )
    return new
