"""Avatars: a user's profile picture is one of their own ready photos, shown as its thumb."""

from __future__ import annotations

from chalicelib import storage
from chalicelib.models.photos import READY
from chalicelib.services import photos


def is_ready_photo_of(photo_id: str, user_id: str) -> bool:
    photo = photos.get_photo(photo_id)
    return photo is not None and photo.owner_id == user_id and photo.status == READY


def avatar_thumb_url(photo_id: str) -> str | None:
    photo = photos.get_photo(photo_id)
    if photo is None or photo.status != READY:
        return None
    return storage.signed_get(storage.variant_key(photo_id, "thumb"))
