"""Gathering the facts for the entitlement decision, one read per grant source per page, and applying it.

:mod:`chalicelib.services.entitlements` decides; this module reads. For a page of photos:
- ownership and staff ...... no read (the principal and ``Photo.owner_id``)
- the photos' events ....... one BatchGetItem, skipped when the caller already has them
- event roles .............. one BatchGetItem of the caller's memberships in those events (skipped for staff,
                             anonymous callers, events the caller owns, and roles already known)
- public policy ............ no read (the events above and ``Photo.visibility``)
- share link ............... no read here: redemption read the link and passes the grant in
- ``GRANT_SOURCES`` ........ client assignment, purchase, subscription register a function that
                             answers for the whole page with at most one Query or BatchGetItem

Every signed URL of a photo variant is made here (``sign``), after the decision: photo views, share-link
redemption (``download``), avatars, and next the purchase downloads.

Listing an event's photos (``event_listing``) picks the index by who the caller is: the event's own index for
anyone who may read the event (owner, members, staff; anyone for public and unlisted events); for a caller who
may not, each of ``LISTING_SOURCES`` may offer an index of exactly the photos it grants (next: a client's
assignments in that event), else 404.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib import storage
from chalicelib.errors import NotFoundError
from chalicelib.models.photos import READY, Photo
from chalicelib.services import entitlements as ent
from chalicelib.services.entitlements import Caller, Decision, EventPolicy, Facts, Grants, Item

# A grant source: (caller, the page's photos) -> grants per photo id, with at most one Query or BatchGetItem.
GrantSource = Callable[[Caller, list[Photo]], Mapping[str, Grants]]
GRANT_SOURCES: list[GrantSource] = []


def _purchased(caller: Caller, photos: list[Photo]) -> Mapping[str, Grants]:
    """Purchase (checkout): the variants of the caller's active purchase entries, one BatchGetItem."""
    from chalicelib.services import purchases

    return purchases.grants(caller, photos)


GRANT_SOURCES.append(_purchased)


@dataclass(frozen=True)
class PhotoIndex:
    """One page of photo keys: ``query(limit, last_key)`` returns a PynamoDB result iterator over items with a
    ``photo_id`` (and ``last_evaluated_key``)."""

    name: str  # part of the cursor's scope: a cursor of one index is refused by another
    query: Callable[[int, dict | None], Any]


# A listing source: (caller, event, ordering) -> an index of the event's photos it grants the caller, or None.
ListingSource = Callable[[Caller, Any, str], PhotoIndex | None]
LISTING_SOURCES: list[ListingSource] = []


def _client_assignments(caller: Caller, photos: list[Photo]) -> Mapping[str, Grants]:
    from chalicelib.services import clients  # client galleries: one BatchGetItem of (caller, photo) rows

    return clients.assigned_grants(caller, photos)


def _client_listing(caller: Caller, event: Any, ordering: str) -> PhotoIndex | None:
    from chalicelib.services import clients  # a client's assignments in a private event: one Query

    return clients.assigned_listing(caller, event, ordering)


GRANT_SOURCES.append(_client_assignments)


def _subscribed(caller: Caller, photos: list[Photo]) -> Mapping[str, Grants]:
    """Subscription: one BatchGetItem of the caller's rows for the owners of the page's ``subscribers`` items."""
    from chalicelib.services import subscriptions

    return subscriptions.grants(caller, photos)


GRANT_SOURCES.append(_subscribed)
LISTING_SOURCES.append(_client_listing)


def caller_of(principal: Any) -> Caller:
    if principal is None:
        return ent.ANONYMOUS
    return Caller(user_id=principal.user_id, is_staff=bool(principal.is_staff))


def item_of(photo: Photo) -> Item:
    access = getattr(photo, "access", None) or "free"
    return Item(
        photo_id=photo.photo_id,
        owner_id=photo.owner_id,
        status=photo.status,
        event_id=photo.event_id,
        visibility=photo.visibility or "public",
        access=access if access in ent.ACCESS_POLICIES else "paid",  # unknown: the most restrictive
        published=is_published(photo),
    )


def is_published(photo: Photo) -> bool:
    """Not a draft (``published`` missing means published: photos from before drafts)."""
    return getattr(photo, "published", None) is not False


def policy_of(event: Any) -> EventPolicy:
    return EventPolicy(
        visibility=event.visibility,
        viewer_variants=event.viewer_variants or "full",
        public_variants=event.public_variants or "full",
    )


def _privileged(caller: Caller, photo: Photo) -> bool:
    return caller.is_staff or (caller.user_id is not None and caller.user_id == photo.owner_id)


def decide(
    principal: Any,
    photos: list[Photo],
    *,
    events: Mapping[str, Any] | None = None,
    roles: Mapping[str, str | None] | None = None,
    share: Mapping[str, frozenset[str]] | None = None,
    discovery: bool = False,
) -> dict[str, Decision]:
    """The decision for each photo of a page. ``events`` and ``roles`` (by event id) are what the caller
    already read; ``share``: variants granted by a share link presented with the request, by photo id."""
    caller = caller_of(principal)
    undecided = [p for p in photos if not _privileged(caller, p) and p.status == READY]
    wanted = {p.event_id for p in undecided if p.event_id}
    known_events = dict(events or {})
    missing = [e for e in wanted if e not in known_events]
    if missing:
        from chalicelib.services import events as events_service

        known_events.update(events_service.events_by_ids(missing))
    known_roles = dict(roles or {})
    need_roles = [known_events[e] for e in wanted if e in known_events and e not in known_roles]
    if need_roles and caller.user_id is not None:
        from chalicelib.services import events as events_service

        known_roles.update(events_service.roles_in(need_roles, caller))
    grants: dict[str, Grants] = {}
    if undecided and caller.user_id is not None:
        for source in GRANT_SOURCES:
            for photo_id, grant in source(caller, undecided).items():
                grants[photo_id] = grants.get(photo_id, ent.NO_GRANTS) | grant
    for photo_id, variants in (share or {}).items():
        grants[photo_id] = grants.get(photo_id, ent.NO_GRANTS) | Grants(share=frozenset(variants))
    facts = {}
    for p in photos:
        event = known_events.get(p.event_id) if p.event_id else None
        facts[p.photo_id] = Facts(
            event=policy_of(event) if event is not None else None,
            role=known_roles.get(p.event_id) if p.event_id else None,
            grants=grants.get(p.photo_id, ent.NO_GRANTS),
        )
    return ent.decide_page(caller, [item_of(p) for p in photos], facts, discovery=discovery)


def decide_one(principal: Any, photo: Photo, event: Any = None, **kwargs: Any) -> Decision:
    events = {photo.event_id: event} if photo.event_id and event is not None else None
    return decide(principal, [photo], events=events, **kwargs)[photo.photo_id]


def is_public(photo: Photo, event: Any = None) -> bool:
    """Whether anonymous callers may discover it: decides the photo's place in the public listings."""
    return ent.is_public(item_of(photo), policy_of(event) if event is not None else None)


# ---- signed URLs -------------------------------------------------------------------------------------------


def original_filename(photo: Photo) -> str:
    return f"{photo.photo_id}.{'png' if photo.original_format == 'png' else 'jpg'}"


def sign(photo: Photo, variant: str, ttl: int | None = None, download_name: str | None = None) -> str:
    """A signed GET of one stored variant. Call only with a variant the decision allowed. ``download_name``:
    the file name the browser saves it as (purchase downloads); originals default to ``original_filename``."""
    name = download_name or (original_filename(photo) if variant == "original" else None)
    key = storage.variant_key(photo.photo_id, variant)
    if ttl is None:
        return storage.signed_get(key, download_name=name)
    return storage.signed_get(key, download_name=name, ttl=ttl)


def urls(photo: Photo, variants: Iterable[str]) -> dict[str, str]:
    """Signed URLs of the allowed variants that exist (none before the photo is ready)."""
    if photo.status != READY:
        return {}
    return {v: sign(photo, v) for v in sorted(set(variants) & set(photo.variant_keys or []))}


def view_urls(photo: Photo, variants: Iterable[str], *, locked: bool = False) -> dict[str, str]:
    """``urls`` of a photo view. Locked (a premium item the caller is not entitled to): the decision allowed
    only ``PREVIEW``, and a video's blurred frame ``preview_poster`` is shown under the name ``poster`` (its
    clean poster is never signed for that caller). Whoever may play a video also gets its preview clip."""
    if not locked and "stream" in variants and photo.kind == "video":  # a photo's preview is only for locked
        variants = {*variants, "preview"}  # a ready video's urls are poster, preview and stream for whoever plays it
    signed = urls(photo, variants)
    if locked:
        signed = {k: v for k, v in signed.items() if k in ent.PREVIEW}
        if "preview_poster" in signed:
            signed["poster"] = signed.pop("preview_poster")
    return signed


def download(principal: Any, photo: Photo, variant: str, *, share: frozenset[str] | None = None, ttl: int = 300) -> str:
    """A short-lived URL of one variant, if the decision allows it (a share link passes its grant in);
    404 otherwise. Share links and (next) purchase downloads come through here."""
    decision = decide_one(principal, photo, share={photo.photo_id: share} if share else None)
    if variant not in decision.variants or variant not in (photo.variant_keys or []) or photo.status != READY:
        raise NotFoundError("No such photo.")
    return sign(photo, variant, ttl=ttl)


# ---- listing an event's photos -----------------------------------------------------------------------------


def event_listing(
    principal: Any, event_id: str, ordering: str, window: Any = None
) -> tuple[Any, str | None, PhotoIndex]:
    """(event, caller's role, the index to page through) for ``GET /events/{id}/photos``; 404 when the caller
    may not read the event and no listing source grants them any of its photos. ``window``: a
    ``photos.CreatedWindow`` (the event's own index only; the listing sources have no created_at key)."""
    from chalicelib.services import events as events_service
    from chalicelib.services import photos

    event = events_service.get_event(event_id)
    if event is None:
        raise NotFoundError("No such event.")
    caller = caller_of(principal)
    role = events_service.member_role(event, caller.user_id)
    if event.visibility != "private" or role is not None or caller.is_staff:

        def query(limit: int, last: dict | None) -> Any:
            return photos.list_query(None, event_id, ordering, limit, last, window)

        return event, role, PhotoIndex(f"event:{ordering}:{window.scope if window else ''}", query)
    for source in LISTING_SOURCES:
        index = source(caller, event, ordering)
        if index is not None:
            if window:
                from chalicelib.errors import ValidationError

                raise ValidationError(
                    "This listing cannot be filtered by creation time.",
                    details={"created_after": "not for this listing"},
                )
            return event, role, index
    raise NotFoundError("No such event.")


# ---- avatars -----------------------------------------------------------------------------------------------
# A user's profile picture is one of their own ready photos, shown to everyone as its thumb; a premium item
# (access not free) as its preview only (a video's: its blurred frame), the same for everyone, so an avatar
# never hands out what a lock withholds.


def is_ready_photo_of(photo_id: str, user_id: str) -> bool:
    from chalicelib.services import photos

    photo = photos.get_photo(photo_id)
    return photo is not None and photo.owner_id == user_id and photo.status == READY and is_published(photo)


def avatar_thumb_url(photo_id: str) -> str | None:
    """One user's avatar (one GetItem); listings use ``avatar_urls``."""
    from chalicelib.services import photos

    photo = photos.get_photo(photo_id)
    return _avatar(photo) if photo is not None else None


def _avatar(photo: Photo) -> str | None:
    if photo.status != READY or not is_published(photo):  # everyone sees an avatar: never a draft
        return None
    if item_of(photo).access == "free":
        return sign(photo, "thumb")
    variant = "preview_poster" if photo.kind == "video" else "preview"
    return sign(photo, variant) if variant in (photo.variant_keys or ()) else None


def avatar_urls(wanted: Mapping[str, str]) -> dict[str, str]:
    """Avatar URLs (user id -> avatar photo id; thumb, or preview when premium) with one BatchGetItem;
    not-ready ones left out."""
    from chalicelib.services import photos

    if not wanted:
        return {}
    found = {p.photo_id: p for p in photos.photos_by_ids(list(dict.fromkeys(wanted.values())))}
    out = {}
    for user_id, photo_id in wanted.items():
        photo = found.get(photo_id)
        url = _avatar(photo) if photo is not None else None
        if url is not None:
            out[user_id] = url
    return out
