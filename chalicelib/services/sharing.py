"""Share links: one variant of one photo, with an expiry, an optional password and an optional download cap.

The token is shown once; only its SHA-256 is stored. Downloads are counted with a conditional update, so
concurrent downloads can never exceed the cap.

A token is ``<valid_until hex>.<random>.<HMAC>``: its expiry is signed into it, so once DynamoDB's TTL has removed
the row (a week after expiry), a validly signed token whose expiry has passed still answers ``410``, while a
token we never signed answers ``404``. The row, while it exists, is the authority (revocation, downloads).

Redemption decides through the entitlement check like every other read: the link is a grant of exactly its
variant (:func:`chalicelib.services.photos_access.download`), which also signs the URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from chalicelib.errors import ConflictError, ForbiddenError, GoneError, NotFoundError, UnauthorizedError
from chalicelib.models.base import UpdateError, at_epoch, condition_failed, epoch, iso
from chalicelib.models.photos import READY, ShareLink
from chalicelib.services import passwords, photos, photos_access, ratelimit

MAX_LIFETIME = 30 * 24 * 3600
MAX_TOKEN_LENGTH = 128


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _mac(payload: str) -> str:
    from chalicelib.services.tokens import _key

    key = hashlib.sha256(b"share-link:" + _key().encode()).digest()
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _mint(valid_until: int) -> str:
    payload = f"{valid_until:x}.{secrets.token_urlsafe(18)}"
    return f"{payload}.{_mac(payload)}"


def signed_expiry(token: str) -> int | None:
    """The expiry signed into a token, or None when we did not sign it (garbage, forged, or an old-style token)."""
    payload, _, mac = token.rpartition(".")
    expiry_hex, _, _ = payload.partition(".")
    if not payload or not mac or not hmac.compare_digest(mac.encode(), _mac(payload).encode()):  # bytes: any input
        return None
    try:
        return int(expiry_hex, 16)
    except ValueError:
        return None


def create(
    principal: Any,
    photo_id: str,
    variant: str,
    expires_in: int,
    password: str | None,
    max_downloads: int | None,
    base_url: str,
) -> dict[str, Any]:
    photo, _, variants = photos.readable_photo(principal, photo_id)
    if photo.owner_id != principal.user_id and not principal.is_staff:
        raise ForbiddenError("Only the photo's owner can share it.")
    if photo.status != READY:
        raise ConflictError("The photo is not processed yet.", code="photo_not_ready")
    if not photos_access.is_published(photo):
        raise ConflictError("Publish the photo before sharing it.", code="photo_not_published")
    valid_until = epoch() + expires_in
    token = _mint(valid_until)
    link = ShareLink(
        token_hash=_hash(token),
        photo_id=photo_id,
        owner_id=principal.user_id,
        variant=variant,
        valid_until=valid_until,
        max_downloads=max_downloads,
        password_hash=passwords.hash_password(password) if password else None,
    )
    link.expires_at = at_epoch(valid_until + 7 * 24 * 3600)  # kept a week past expiry so it answers 410
    link.save(condition=ShareLink.token_hash.does_not_exist())
    return {
        "token": token,
        "url": f"{base_url}/photos/share/{token}",
        "expires_at": iso(at_epoch(valid_until)),
        "variant": variant,
        "max_downloads": max_downloads,
        "password_protected": bool(password),
    }


def redeem(token: str, password: str | None) -> dict[str, Any]:
    gone = GoneError("This share link has expired, was revoked or is used up.", code="share_link_gone")
    link = _link(token)
    if link is None:
        expiry = signed_expiry(token) if len(token) <= MAX_TOKEN_LENGTH else None
        if expiry is not None and expiry <= epoch():
            raise gone  # its row expired and DynamoDB's TTL removed it
        raise NotFoundError("No such share link.")
    if link.revoked or link.valid_until <= epoch():
        raise gone
    if link.password_hash:
        if not password:
            raise UnauthorizedError("This link needs a password.", code="password_required")
        guesses = [ratelimit.window_key(f"share:{link.token_hash[:32]}")]
        ratelimit.reserve(guesses)  # 5 wrong passwords per link per window, then 429
        if not passwords.verify(link.password_hash, password):
            raise ForbiddenError("The password is wrong.", code="invalid_password")
        ratelimit.release(guesses, reset_first=True)
    from chalicelib.models.users import user_by_id

    photo = photos.get_photo(link.photo_id)
    if photo is None or user_by_id(photo.owner_id) is None:
        raise gone  # a deleted account's links stop at once, before its deletion job removes the photo
    try:
        url = photos_access.download(None, photo, link.variant, share=frozenset({link.variant}))
    except NotFoundError:
        raise gone from None
    condition = (ShareLink.revoked == False) & (ShareLink.valid_until > epoch())  # noqa: E712 - a PynamoDB condition, not a comparison
    if link.max_downloads is not None:
        condition &= ShareLink.downloads < link.max_downloads
    try:
        link.update(actions=[ShareLink.downloads.add(1)], condition=condition)
    except UpdateError as exc:
        if condition_failed(exc):
            raise gone from exc
        raise
    return {
        "url": url,
        "variant": link.variant,
        "expires_at": iso(at_epoch(int(link.valid_until))),
        "downloads_left": None if link.max_downloads is None else int(link.max_downloads - link.downloads),
    }


def _link(token: str) -> ShareLink | None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        return ShareLink.get(_hash(token), consistent_read=True)
    except ShareLink.DoesNotExist:
        return None


LINK_ID_LENGTH = 64  # link_view's `id`: the row's key, sha256(token) in hex (no way back to the token)


def _link_by_id(link_id: str) -> ShareLink | None:
    """The link whose listed `id` this is: a GetItem on its key (whoever owns it: the caller checks)."""
    if len(link_id) != LINK_ID_LENGTH or any(c not in "0123456789abcdef" for c in link_id):
        return None
    try:
        return ShareLink.get(link_id, consistent_read=True)
    except ShareLink.DoesNotExist:
        return None


def revoke(principal: Any, token: str) -> None:
    """By the token, or by the `id` GET /photos/share-links lists (the token itself is never stored); either
    way one GetItem, any link of the caller's however old, and 404 for anyone else's (staff may revoke any)."""
    link = _link(token) or _link_by_id(token)
    if link is None:
        raise NotFoundError("No such share link.")
    if link.owner_id != principal.user_id and not principal.is_staff:
        raise NotFoundError("No such share link.")
    link.update(actions=[ShareLink.revoked.set(True)])
    from chalicelib.services import audit

    audit.staff_action(
        principal, link.owner_id, "share_link.revoke", "share_link", link.token_hash, {"photo_id": link.photo_id},
        audit_id=f"share_link.revoke:{link.token_hash}",
    )  # fmt: skip


def mine_query(user_id: str, limit: int, last_key: dict | None):
    return ShareLink.by_owner.query(
        user_id,
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=last_key,
        filter_condition=(ShareLink.revoked == False)  # noqa: E712 - a PynamoDB condition, not a comparison
        & (ShareLink.valid_until > epoch()),
    )


def link_view(link: ShareLink) -> dict[str, Any]:
    return {
        "id": link.token_hash,
        "photo_id": link.photo_id,
        "variant": link.variant,
        "expires_at": iso(at_epoch(int(link.valid_until))),
        "downloads": int(link.downloads or 0),
        "max_downloads": None if link.max_downloads is None else int(link.max_downloads),
        "password_protected": bool(link.password_hash),
        "created_at": iso(link.created_at),
    }
