"""A buyer's cart: one row per line (photo and sku), at most ``MAX_CART_LINES``; prices are never stored here
(the cart is always shown and bought at today's prices).

Access patterns:
- the caller's cart ............................ CartItems Query(user_id) (at most 100 lines + checkout markers)
- one line ..................................... CartItems GetItem(user_id, item_id)
- add the same photo and sku again ............. one conditional UpdateItem: ``item_id`` is derived from
                                                 (photo_id, sku), so the line is found without a read
- lines bought by an order ..................... BatchWriteItem deletes after the order's transaction
- has the cart changed since checkout read it .. CartItems row (user_id, "~cart"): ``cart_version``, bumped with
                                                 a condition on the value read in the order's creating
                                                 transaction (of two concurrent checkouts one wins); it names
                                                 the lines that order bought (``bought_ids``, ``bought_at``) until
                                                 they are deleted, so a checkout in between skips them
- the order a checkout (Idempotency-Key) made .. CartItems GetItem(user_id, "~checkout:<key hash>"), TTL: a marker
                                                 written in the order's transaction, so a retry after a failed
                                                 payment step finds its order instead of an empty cart
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from chalicelib.models.base import now, register, table_meta

MAX_CART_LINES = 100
MAX_QUANTITY = 99
MARKER_PREFIX = "~checkout:"
HEADER_ID = "~cart"  # the cart's version row; every row whose item_id starts with "~" is no line


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
    cart_version = NumberAttribute(null=True)  # the header row only: bumped by each checkout
    bought_ids = ListAttribute(of=UnicodeAttribute, null=True)  # header: the lines the last checkout bought
    bought_at = UTCDateTimeAttribute(null=True)  # header: when (a line added later is a new line)

    @property
    def is_marker(self) -> bool:
        return self.item_id.startswith(MARKER_PREFIX)


def cart_of(user_id: str, consistent: bool = False) -> list[CartItem]:
    """Every line of the cart (bounded: at most MAX_CART_LINES lines, a few markers, the header), oldest first."""
    rows = [r for r in CartItem.query(user_id, consistent_read=consistent) if not r.item_id.startswith("~")]
    return sorted(rows, key=lambda r: (r.created_at, r.item_id))


def cart_header(user_id: str) -> CartItem | None:
    try:
        return CartItem.get(user_id, HEADER_ID, consistent_read=True)
    except CartItem.DoesNotExist:
        return None


def bump_version(tx: Any, user_id: str, read_version: int, bought_ids: list[str], at: Any) -> None:
    """In the order's creating transaction: the cart is at ``read_version`` still (else the transaction fails),
    and now one more, naming the lines this order bought."""
    header = CartItem(user_id=user_id, item_id=HEADER_ID)
    condition = CartItem.cart_version.does_not_exist() if read_version == 0 else CartItem.cart_version == read_version
    tx.update(
        header,
        actions=[
            CartItem.cart_version.set(read_version + 1),
            CartItem.bought_ids.set(bought_ids),  # type: ignore[arg-type]  # pynamodb types it as attributes
            CartItem.bought_at.set(at),
        ],
        condition=condition,
    )


def get_line(user_id: str, item_id: str) -> CartItem | None:
    if item_id.startswith("~"):
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
