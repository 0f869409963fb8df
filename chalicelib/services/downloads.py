"""Counted downloads of paid digital items: ``GET /orders/{order_id}/items/{item_id}/download``.

Each fetch checks the item again (the buyer's, digital, ``available``, downloads not suspended by a dispute,
the purchase grant ``active``), counts it (``ADD`` on the item's row of ``downloads``) and answers ``302`` to a
freshly signed S3 URL of the variant the item names (``photos_access.sign``, ``download_url_ttl``). So what is
counted is a client actually fetching the file, not an order page being read.

A browser cannot send a bearer token with a plain link, so the order view's ``download_url`` is this route with
a short-lived signature: ``?exp=<unix seconds>&sig=<HMAC-SHA256 of "<order_id>:<item_id>:<exp>">``, keyed by
a key derived from the API's signing secret (:func:`download_link`). The route takes either that signature or
the buyer's bearer token. A link that leaks is as good as the S3 URL it replaces for ``download_url_ttl``
seconds, and unlike it stops working the moment the item is refunded.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from chalicelib.config import get_settings
from chalicelib.errors import ConflictError, GoneError, NotFoundError
from chalicelib.models import delivery as store
from chalicelib.models.base import epoch
from chalicelib.models.orders import Order, OrderLine, Purchase
from chalicelib.services.archives import downloads_suspended


def _key() -> bytes:
    from chalicelib import aws

    settings = get_settings()
    secret = aws.secret(settings.jwt_secret, settings.jwt_secret_param)
    return hmac.new(secret.encode(), b"lightbox:download-link:v1", hashlib.sha256).digest()


def link_signature(order_id: str, item_id: str, exp: int) -> str:
    return hmac.new(_key(), f"{order_id}:{item_id}:{exp}".encode(), hashlib.sha256).hexdigest()


def download_link(order: Order, line: OrderLine, base_url: str | None = None) -> str:
    """The ``download_url`` of an item for the order view: this API's counted download route, signed for
    ``download_url_ttl`` seconds. ``base_url``: where clients reach the API (default ``LIGHTBOX_PUBLIC_API_URL``;
    a path relative to the API when neither is known)."""
    settings = get_settings()
    exp = epoch() + settings.download_url_ttl
    base = (base_url or settings.public_api_url or "").rstrip("/")
    sig = link_signature(order.order_id, line.item_id, exp)
    return f"{base}/orders/{order.order_id}/items/{line.item_id}/download?exp={exp}&sig={sig}"


def _check_signature(order_id: str, item_id: str, exp: int | None, sig: str | None) -> None:
    if exp is None or sig is None or not re.fullmatch(r"[0-9a-f]{64}", sig):  # compare_digest raises on non-ASCII
        raise NotFoundError("No such download.")
    if not hmac.compare_digest(link_signature(order_id, item_id, exp), sig):
        raise NotFoundError("No such download.")
    if exp < epoch():
        raise GoneError("This download link has expired; open the order again for a new one.", code="link_expired")


def downloadable_line(order: Order, item_id: str) -> OrderLine:
    """The line if its file may be fetched now; 404/409/410 otherwise (pure but for the purchase read)."""
    line = order.line(item_id)
    if line is None or line.kind != "digital":
        raise NotFoundError("No such item.")
    if line.status == "refunded":
        raise GoneError("This item was refunded: it no longer downloads.", code="refunded")
    if order.paid_at is None or line.status != "available":
        raise ConflictError("This item is not paid yet.", code="not_paid")
    if downloads_suspended(order):
        raise ConflictError("Downloads of this order are suspended while a dispute is open.", code="suspended")
    try:
        purchase = Purchase.get(order.buyer_id, line.photo_id)
    except Purchase.DoesNotExist:
        purchase = None
    grant = (purchase.items.as_dict() if purchase is not None and purchase.items else {}).get(
        f"{order.order_id}:{item_id}"
    )
    if not grant or grant.get("state") != "active":
        state = (grant or {}).get("state")
        if state == "refunded":
            raise GoneError("This item was refunded: it no longer downloads.", code="refunded")
        raise ConflictError("This item cannot be downloaded now.", code="not_entitled")
    return line


def download(principal: Any, order_id: str, item_id: str, *, exp: int | None, sig: str | None) -> str:
    """Check, count, and return a freshly signed URL of the item's file."""
    from chalicelib.services import photos, photos_access

    if principal is None:
        _check_signature(order_id, item_id, exp, sig)
    order = store.get_order(order_id)
    if order is None or (principal is not None and principal.user_id != order.buyer_id):
        raise NotFoundError("No such order.")
    line = downloadable_line(order, item_id)
    photo = photos.get_photo(line.photo_id)
    variant = str(line.variant)
    if photo is None or variant not in (photo.variant_keys or []):
        raise GoneError("The file of this item is no longer stored.", code="file_gone")
    from chalicelib.services.orders import download_name

    store.count_download(order_id, item_id)
    return photos_access.sign(
        photo, variant, ttl=get_settings().download_url_ttl, download_name=download_name(photo, line)
    )


def download_counts(order_id: str) -> dict[str, int]:
    """item id -> how often its file was fetched (for the seller's views)."""
    return store.download_counts(order_id)
