"""Creator discovery: the public creator card (``GET /creators/{id}``), a creator's posts
(``GET /creators/{id}/posts``) and the ``post_count`` it shows.

- the card: one GetItem of the user and one of the profile (plan and counters, ``models/creators.py``);
- the posts: a page of the creator's ``Photo.by_owner`` index, newest first, through the entitlement decision
  as a discovery listing (``photos.views``): premium items the caller is not entitled to come back
  ``locked`` with their preview only, private ones are left out;
- ``post_count``: the creator's public posts (ready, visibility public, outside any event: what a stranger
  sees in their posts, locked or not), counted once per photo by the ``photo.ready`` consumer below (a mark
  on the photo and the counter in one transaction), uncounted when it is made private (the mark cleared in
  the same way, so making it public again counts it again) and when the photo is purged.
"""

from __future__ import annotations

from typing import Any

from chalicelib.errors import NotFoundError
from chalicelib.models import creators as store
from chalicelib.models.photos import READY


def _creator(user_id: str) -> Any:
    from chalicelib.services.accounts import users_by_ids

    user = users_by_ids([user_id]).get(user_id)
    if user is None or user.role != "creator":
        raise NotFoundError("No such creator.")
    return user


def creator_view(user_id: str) -> dict[str, Any]:
    user = _creator(user_id)
    profile = store.profile(user_id)
    plan = None
    if profile is not None and profile.plan_price_cents is not None:
        plan = {"price_cents": int(profile.plan_price_cents), "currency": profile.plan_currency or "eur"}
    return {
        "user_id": user.user_id,
        "username": user.username,
        "display_name": user.display_name,
        "verified": bool(user.creator_verified),
        "plan": plan,
        "subscriber_count": max(0, int(profile.subscriber_count or 0)) if profile else 0,
        "post_count": max(0, int(profile.post_count or 0)) if profile else 0,
    }


def posts_query(user_id: str, limit: int, last_key: dict | None) -> Any:
    """A page of the creator's media keys, newest first (404 for someone who is not a creator)."""
    from chalicelib.services import photos

    _creator(user_id)
    return photos.list_query(user_id, None, "recent", limit, last_key)


def is_public_post(photo: Any) -> bool:
    """What ``post_count`` counts (``models/creators.count_post`` checks the same in its condition): drafts not."""
    published = getattr(photo, "published", None) is not False
    return photo.event_id is None and (photo.visibility or "public") == "public" and published


def on_photo_ready(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``photo.ready`` (and a post made public): count the photo in its creator's ``post_count`` if it is a
    public post (once: a redelivery, or a photo deleted meanwhile, changes nothing; a private one or an event
    photo is not counted). Only creators have a profile to count in."""
    from chalicelib.services import photos
    from chalicelib.services.accounts import users_by_ids

    photo = photos.get_photo(payload["photo_id"])
    if photo is None or photo.status != READY or photo.post_counted is not None or not is_public_post(photo):
        return None
    owner = users_by_ids([photo.owner_id]).get(photo.owner_id)
    if owner is not None and owner.role == "creator":
        store.count_post(photo.photo_id, photo.owner_id)
    return None


def on_visibility_changed(photo: Any, visibility: str) -> None:
    """A ready post made public joins its creator's ``post_count`` (once); made private, leaves it."""
    from chalicelib.models.creators import unpublish_post

    if photo.event_id is not None:  # ``photo``: the row as read before the edit
        return
    if visibility == "public" and photo.post_counted is None:
        on_photo_ready({"photo_id": photo.photo_id}, None, 1)
    elif visibility == "private" and photo.post_counted is True:
        unpublish_post(photo.photo_id, photo.owner_id)


def on_unpublished(photo: Any) -> None:
    """A counted post made a draft leaves its creator's ``post_count`` (published again, the ``photo.ready``
    consumer counts it again)."""
    from chalicelib.models.creators import unpublish_post

    if photo.event_id is None and photo.post_counted is True:
        unpublish_post(photo.photo_id, photo.owner_id)
