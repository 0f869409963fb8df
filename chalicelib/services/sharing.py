"""Share links: one variant of one photo, with an expiry, an optional password and an optional download cap.

The token is shown once; only its SHA-256 is stored. Downloads are counted with a conditional update, so
concurrent downloads can never exceed the cap.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from chalicelib import storage
from chalicelib.errors import ConflictError, ForbiddenError, GoneError, NotFoundError, UnauthorizedError
from chalicelib.models.base import UpdateError, at_epoch, condition_failed, epoch, iso
from chalicelib.models.photos import READY, ShareLink
from chalicelib.services import passwords, photos, ratelimit

MAX_LIFETIME = 30 * 24 * 3600


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
    token = secrets.token_urlsafe(24)
    valid_until = epoch() + expires_in
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
    try:
        link = ShareLink.get(_hash(token), consistent_read=True)
    except ShareLink.DoesNotExist:
        raise NotFoundError("No such share link.") from None
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
    if photo is None or photo.status != READY or user_by_id(photo.owner_id) is None:
        raise gone  # a deleted account's links stop at once, before its deletion job removes the photo
    condition = (ShareLink.revoked == False) & (ShareLink.valid_until > epoch())  # noqa: E712 - a PynamoDB condition, not a comparison
    if link.max_downloads is not None:
        condition &= ShareLink.downloads < link.max_downloads
    try:
        link.update(actions=[ShareLink.downloads.add(1)], condition=condition)
    except UpdateError as exc:
        if condition_failed(exc):
            raise gone from exc
        raise
    name = photos.original_filename(photo) if link.variant == "original" else None
    url = storage.signed_get(storage.variant_key(photo.photo_id, link.variant), ttl=300, download_name=name)
    return {
        "url": url,
        "variant": link.variant,
        "expires_at": iso(at_epoch(int(link.valid_until))),
        "downloads_left": None if link.max_downloads is None else int(link.max_downloads - link.downloads),
    }


def revoke(principal: Any, token: str) -> None:
    try:
        link = ShareLink.get(_hash(token))
    except ShareLink.DoesNotExist:
        raise NotFoundError("No such share link.") from None
    if link.owner_id != principal.user_id and not principal.is_staff:
        raise NotFoundError("No such share link.")
    link.update(actions=[ShareLink.revoked.set(True)])


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
        "id": link.token_hash[:16],
        "photo_id": link.photo_id,
        "variant": link.variant,
        "expires_at": iso(at_epoch(int(link.valid_until))),
        "downloads": int(link.downloads or 0),
        "max_downloads": None if link.max_downloads is None else int(link.max_downloads),
        "password_protected": bool(link.password_hash),
        "created_at": iso(link.created_at),
    }
