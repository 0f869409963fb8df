"""The one entitlement check: which variants of a photo may this caller see?

Every grant source answers the same question, and the caller gets the union:
- ownership (photo owner, event owner) and staff ........ everything, original included
- event contributors .................................... everything, original included
- event viewers ......................................... per the event's ``viewer_variants`` policy
- anyone, for public/unlisted events and public photos .. per the event's ``public_variants`` policy
- a share link .......................................... exactly the variant it was made for
Later grant sources (client assignment, purchase, subscription) add themselves to ``GRANTS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.models.photos import READY, Photo

ALL = frozenset({"thumb", "medium", "large", "watermarked", "original"})
FULL = frozenset({"thumb", "medium", "large", "watermarked"})
WATERMARKED = frozenset({"thumb", "watermarked"})
POLICY = {"full": FULL, "watermarked": WATERMARKED}

# Extra grant sources: fn(principal, photo, event) -> set of variants.
GRANTS: list[Callable[[Any, Photo, Any], frozenset[str]]] = []


def _event_role(event: Any, user_id: str | None) -> str | None:
    from chalicelib.services import events as events_service

    return events_service.member_role(event, user_id)


_UNKNOWN: Any = object()


def variants_for(principal: Any, photo: Photo, event: Any = None, role: str | None = _UNKNOWN) -> frozenset[str]:
    """``role``: the caller's role in the photo's event when already known (see ``variants_for_many``)."""
    user_id = getattr(principal, "user_id", None)
    if user_id is not None and (user_id == photo.owner_id or principal.is_staff):
        return ALL
    granted: set[str] = set()
    if photo.event_id:
        if event is None:
            return frozenset()
        if role is _UNKNOWN:
            role = _event_role(event, user_id)
        if role in ("owner", "contributor"):
            return ALL
        if role == "viewer":
            granted |= POLICY.get(event.viewer_variants or "full", FULL)
        if event.visibility in ("public", "unlisted"):
            granted |= POLICY.get(event.public_variants or "full", FULL)
    elif photo.visibility == "public":
        granted |= FULL
    for grant in GRANTS:
        granted |= grant(principal, photo, event)
    if photo.status != READY:
        return frozenset()  # only the owner sees a photo before it is processed
    return frozenset(granted)


def _roles(principal: Any, photos: list[Photo], events: dict[str, Any]) -> dict[str, str | None]:
    involved = [events[e] for e in {p.event_id for p in photos if p.event_id} if e in events]
    if not involved or getattr(principal, "user_id", None) is None:
        return {}
    from chalicelib.services import events as events_service

    return events_service.roles_in(involved, principal)


def variants_for_many(
    principal: Any, photos: list[Photo], events: dict[str, Any], *, discovery: bool = False
) -> dict[str, frozenset[str]]:
    """``variants_for`` for a page of photos, with the caller's roles in all their events read in one batch.

    ``discovery``: for listings that find photos (search, by owner, tagged-in, the feed) rather than open a
    known event or link, a photo must also be *listed* for the caller: public, or the caller's own, or in an
    event the caller belongs to. An unlisted event's photos are readable by link but never discovered.
    """
    roles = _roles(principal, photos, events)
    result = {}
    for p in photos:
        event = events.get(p.event_id)
        variants = variants_for(principal, p, event, role=roles.get(p.event_id))
        if discovery and variants and not _listed(principal, p, event, roles.get(p.event_id)):
            variants = frozenset()
        result[p.photo_id] = variants
    return result


def _listed(principal: Any, photo: Photo, event: Any, role: str | None) -> bool:
    user_id = getattr(principal, "user_id", None)
    if user_id is not None and (user_id == photo.owner_id or principal.is_staff):
        return True
    return role is not None or is_public(photo, event)


def is_public(photo: Photo, event: Any = None) -> bool:
    """Whether anonymous callers may see it: decides the photo's place in the public listings."""
    if photo.event_id:
        return event is not None and event.visibility == "public"
    return photo.visibility == "public"
