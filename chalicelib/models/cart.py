"""A buyer's cart: one row per line (photo and sku), at most ``MAX_CART_LINES``; prices are never stored here
(the cart is always shown and bought at today's prices).

Access patterns:
- the caller's cart ............................ CartItems Query(user_id) (at most 100 lines + checkout markers)
- one line ..................................... CartItems GetItem(user_id, item_id)
- add the same photo and sku again ............. one conditional UpdateItem: ``item_id`` is derived from
                                                 (photo_id, sku), so the line is found without a read
- lines bought by an order ..................... BatchWriteItem deletes after the order's transaction
- the order a checkout (Idempotency-Key) made .. CartItems GetItem(user_id, "~checkout:<key hash>"), TTL: a marker
                                                 written in the order's transaction, so a retry after a failed
                                                 payment step finds its order instead of an empty cart
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from pynamodb.attributes import BooleanAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.models.base import now, register, table_meta

MAX_CART_LINES = 100
MAX_QUANTITY = 99
MARKER_PREFIX = "~checkout:"


def line_id(photo_id: str, sku: str) -> str:
    """The one line of a (photo, sku) in a cart: the same pair always lands on the same row."""
    return "ci_" + hashlib.sha256(f"{photo_id}\x00{sku}".encode()).hexdigest()[:20]


def marker_id(idempotency_key: str) -> str:
    return MARKER_PREFIX + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


@register
class CartItem(Model):
    Meta = table_meta("cart_items")

    user_id = UnicodeAttribute(hash_key=True)
    item_id = UnicodeAttribute(range_key=True)
    photo_id = UnicodeAttribute(null=True)
    sku = UnicodeAttribute(null=True)
    quantity = NumberAttribute(default=1)
    currency = UnicodeAttribute(null=True)  # of the price when added: one currency per cart
    saved_for_later = BooleanAttribute(default=False)
    order_id = UnicodeAttribute(null=True)  # checkout markers only
    created_at = UTCDateTimeAttribute(default=now)
    updated_at = UTCDateTimeAttribute(default=now)
    expires_at = TTLAttribute(null=True)  # checkout markers only

    @property
    def is_marker(self) -> bool:
        return self.item_id.startswith(MARKER_PREFIX)


def cart_of(user_id: str) -> list[CartItem]:
    """Every line of the cart (bounded: at most MAX_CART_LINES lines and a few markers), oldest first."""
    rows = [r for r in CartItem.query(user_id) if not r.item_id.startswith(MARKER_PREFIX)]
    return sorted(rows, key=lambda r: (r.created_at, r.item_id))


def get_line(user_id: str, item_id: str) -> CartItem | None:
    if item_id.startswith(MARKER_PREFIX):
        return None
    try:
        return CartItem.get(user_id, item_id)
    except CartItem.DoesNotExist:
        return None


def get_marker(user_id: str, idempotency_key: str) -> CartItem | None:
    try:
        return CartItem.get(user_id, marker_id(idempotency_key))
    except CartItem.DoesNotExist:
        return None


def delete_lines(user_id: str, item_ids: Iterable[str]) -> None:
    with CartItem.batch_write() as batch:
        for item_id in item_ids:
            batch.delete(CartItem(user_id=user_id, item_id=item_id))
