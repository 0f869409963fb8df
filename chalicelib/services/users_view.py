"""How users are shown: the avatar URL (a signed thumb of the avatar photo) and avatar checks.

Photos arrive with the photo pipeline; until a user sets an avatar these answer None.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.errors import ValidationError


def avatar_url(user) -> str | None:
    if not getattr(user, "avatar_photo_id", None):
        return None
    from chalicelib.services import photos_access

    return photos_access.avatar_thumb_url(user.avatar_photo_id)


def avatar_urls(users: Iterable[Any]) -> dict[str, str]:
    """Avatar URLs of a listing's users (user id -> URL), with one BatchGetItem of their avatar photos."""
    from chalicelib.services import photos_access

    wanted = {u.user_id: u.avatar_photo_id for u in users if u is not None and getattr(u, "avatar_photo_id", None)}
    return photos_access.avatar_urls(wanted)


def check_avatar(principal, photo_id: str) -> None:
    from chalicelib.services import photos_access

    if not photos_access.is_ready_photo_of(photo_id, principal.user_id):
        raise ValidationError(
            "The avatar must be one of your own processed photos.",
            details={"avatar_photo_id": "not a ready photo of yours"},
        )
