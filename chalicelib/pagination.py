"""Opaque, tamper-proof cursors: DynamoDB's LastEvaluatedKey, signed with HMAC and bound to its listing.

A cursor minted for one listing (e.g. "events:mine:<user>") is refused by every other listing, so a client
cannot page through somebody else's data by forging or swapping cursors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from chalicelib.errors import ValidationError


def _secret() -> bytes:
    from chalicelib.services.tokens import _key

    return hashlib.sha256(b"cursor:" + _key().encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(scope: str, last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    payload = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    sig = hmac.new(_secret(), scope.encode() + b"|" + payload, hashlib.sha256).digest()[:16]
    return f"{_b64(payload)}.{_b64(sig)}"


def decode(scope: str, cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    invalid = ValidationError("The cursor is invalid.", code="invalid_cursor", details={"cursor": "invalid"})
    try:
        payload_text, sig_text = cursor.split(".", 1)
        payload, sig = _unb64(payload_text), _unb64(sig_text)
    except (ValueError, UnicodeError):
        raise invalid from None
    # Only the exact text minted is a cursor: base64 decoding ignores the spare bits of the last character, so
    # without this a changed last character could decode to the same bytes and pass the signature check.
    if _b64(payload) != payload_text or _b64(sig) != sig_text:
        raise invalid
    expected = hmac.new(_secret(), scope.encode() + b"|" + payload, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(sig, expected):
        raise invalid
    try:
        value = json.loads(payload)
    except ValueError:
        raise invalid from None
    if not isinstance(value, dict):
        raise invalid
    return value


def page(scope: str, result_iter: Any, limit: int) -> tuple[list[Any], str | None]:
    """Drain one page from a PynamoDB ResultIterator built with ``limit``; return (items, next cursor)."""
    items = list(result_iter)
    next_key = result_iter.last_evaluated_key if len(items) >= limit else None
    return items, encode(scope, next_key)
