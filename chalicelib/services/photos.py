"""Photos: presigned uploads, the photo view with signed URLs, edits, listings, search, user tags, deletion."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import storage
from chalicelib.config import get_settings
from chalicelib.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from chalicelib.models import photos as tags_store
from chalicelib.models.base import at_epoch, epoch, iso, new_id, update_existing
from chalicelib.models.photos import PENDING, READY, Photo, PhotoTag
from chalicelib.models.search import SearchEntry
from chalicelib.services import notifications, photos_access
from chalicelib.services.entitlements import Decision

ACCEPTED_TYPES = {
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heic",
    "image/gif": "gif",
}
VIDEO_TYPES = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"}  # docs/video.md
UPLOAD_TYPES = {**ACCEPTED_TYPES, **VIDEO_TYPES}  # what POST /photos/uploads takes (GET /config lists them)
PENDING_UPLOAD_TTL = 24 * 3600  # a row whose upload never arrives disappears (DynamoDB TTL)
_WORD = re.compile(r"[#]?[\w'-]+", re.UNICODE)
# Every distinct word of a caption is indexed. The bound comes from the API's limits: a caption has at most
# 2,000 characters, so at most 667 distinct words of two or more characters, plus 30 keyword tags; that is
# at most 28 BatchWriteItem calls of 25 rows (``_index_terms`` writes only what changed).
MAX_CAPTION_CHARS = 2000
MAX_TERMS = (MAX_CAPTION_CHARS + 1) // 3 + 30
TAGS_IN_VIEW = 20  # tagged users shown in GET /photos/{id}; the rest page through GET /photos/{id}/tags


# ---- text --------------------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def hashtags(caption: str | None) -> list[str]:
    return [w[1:] for w in _WORD.findall(_norm(caption or "")) if w.startswith("#") and len(w) > 1]


def keywords_for(caption: str | None, tags: Iterable[str]) -> list[str]:
    seen = dict.fromkeys(_norm(t).strip().lstrip("#") for t in tags)
    seen.update(dict.fromkeys(hashtags(caption)))
    return [k[:40] for k in seen if k][:30]


def search_terms(caption: str | None, keywords: Iterable[str]) -> set[str]:
    words = {w.lstrip("#").strip("'-") for w in _WORD.findall(_norm(caption or ""))}
    words |= {_norm(k) for k in keywords}
    return {w[:40] for w in words if len(w) >= 2}


def _index_terms(photo: Photo, old: set[str], new: set[str]) -> None:
    """Make the photo's search rows go from ``old`` to ``new``: rows of removed terms are deleted, rows of added
    terms written, in batches of 25 (every term, up to ``MAX_TERMS``: the caption's own limit bounds it)."""
    sort_key = f"{iso(photo.created_at)}#{photo.photo_id}"
    with SearchEntry.batch_write() as batch:
        for term in sorted(old - new):
            batch.delete(SearchEntry(pk=f"photo:{term}", sk=sort_key))
        for term in sorted(new - old):
            batch.save(SearchEntry(pk=f"photo:{term}", sk=sort_key, entity_id=photo.photo_id))


def reindex_search() -> int:
    """Operator backfill (``python -m chalicelib.cli reindex-photo-search``), never on a request path: write the
    search rows of every ready photo again (idempotent puts), for photos indexed when only 40 terms were.
    Returns how many photos it covered. A Scan: the one place that walks the whole table."""
    count = 0
    for photo in Photo.scan(Photo.status == READY):
        _index_terms(photo, set(), set(photo.search_terms or ()))
        count += 1
    return count


# ---- uploads -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileSpec:
    filename: str
    content_type: str
    size: int
    caption: str | None = None
    tags: tuple[str, ...] = ()
    access: str | None = None  # verified creators: premium from the start (services/premium), default free
    price_cents: int | None = None
    currency: str | None = None
    published: bool = True  # False: a draft (owner and staff only) until PATCHed published


def _upload_pricing(principal: Any, files: list[FileSpec]) -> list[Any]:
    """The pricing each file is stored with, by the rule PATCH applies (``premium.access_change`` from free):
    any access other than free needs a verified creator (403 ``creator_not_verified``); bad prices 400."""
    from chalicelib.payments import stripe_gateway
    from chalicelib.services import accounts, premium

    asked = [
        {
            k: v
            for k, v in (("access", f.access), ("price_cents", f.price_cents), ("currency", f.currency))
            if v is not None
        }
        for f in files
    ]
    if any(a and a != {"access": "free"} for a in asked):
        accounts.require_verified_creator(principal)
    pricing, problems = [], {}
    for i, fields in enumerate(asked):
        try:
            pricing.append(
                premium.access_change(
                    premium.Pricing(),
                    fields,
                    purchase_count=0,
                    currencies=stripe_gateway.STRIPE_CURRENCIES,
                    min_charge=stripe_gateway.min_charge,
                    max_cents=get_settings().creator_price_max_cents,
                )
            )
        except ValidationError as exc:
            problems.update({f"files.{i}.{k}": v for k, v in (exc.details or {}).items()})
    if problems:
        raise ValidationError("Some files' access or price is not valid.", details=problems)
    return pricing


def create_uploads(principal: Any, files: list[FileSpec], event_id: str | None = None) -> list[tuple[Photo, dict]]:
    s = get_settings()
    problems = {}
    for i, f in enumerate(files):
        video = f.content_type.lower() in VIDEO_TYPES
        if video and event_id is not None:  # event uploads stay photos (prints, archives, face search)
            problems[f"files.{i}.content_type"] = "events take photos only: use JPEG, PNG, WebP, HEIC/HEIF or GIF"
        elif not video and f.content_type.lower() not in ACCEPTED_TYPES:
            problems[f"files.{i}.content_type"] = "use JPEG, PNG, WebP, HEIC/HEIF or GIF, or an MP4, MOV or WebM video"
        limit = s.max_video_bytes if video else s.max_upload_bytes
        if not 0 < f.size <= limit:
            problems[f"files.{i}.size"] = f"must be between 1 and {limit} bytes"
    if problems:
        raise ValidationError("Some files cannot be uploaded.", details=problems)
    if event_id is not None:
        from chalicelib.services import events as events_service

        events_service.require_contributor(principal, event_id)
    pricing = _upload_pricing(principal, files)
    created = []
    with Photo.batch_write() as batch:
        for f, price in zip(files, pricing, strict=True):
            photo_id = new_id("p_")
            kind = "video" if f.content_type.lower() in VIDEO_TYPES else None  # photo: missing
            key = storage.upload_key(photo_id, kind or "photo")
            photo = Photo(
                photo_id=photo_id,
                owner_id=principal.user_id,
                event_id=event_id,
                status=PENDING,
                caption=f.caption,
                keywords=keywords_for(f.caption, f.tags),
                filename=f.filename,
                content_type=f.content_type.lower(),
                declared_size=f.size,
                upload_key=key,
                kind=kind,
                access=None if price.access == "free" else price.access,  # locked before it is ever ready
                price_cents=price.price_cents,
                currency=price.currency,
                published=None if f.published else False,  # missing means published
            )
            photo.expires_at = at_epoch(epoch() + PENDING_UPLOAD_TTL)
            batch.save(photo)
            created.append((photo, storage.presigned_upload(key, photo.content_type, f.size)))
    return created


# ---- reading -----------------------------------------------------------------------------------------------


def get_photo(photo_id: str) -> Photo | None:
    try:
        photo = Photo.get(photo_id)
    except Photo.DoesNotExist:
        return None
    if photo.status == PENDING and photo.expires_at is not None and photo.expires_at.timestamp() < epoch():
        return None  # expired upload slot, awaiting TTL deletion
    return photo


def _event_of(photo: Photo):
    if not photo.event_id:
        return None
    from chalicelib.services import events as events_service

    return events_service.get_event(photo.event_id)


def readable(principal: Any, photo_id: str) -> tuple[Photo, Any, Decision]:
    """The photo, its event and the entitlement decision; 404 when the caller may not see it at all."""
    photo = get_photo(photo_id)
    if photo is None:
        raise NotFoundError("No such photo.")
    event = _event_of(photo)
    decision = photos_access.decide_one(principal, photo, event)
    if not decision.visible:
        raise NotFoundError("No such photo.")
    return photo, event, decision


def readable_photo(principal: Any, photo_id: str) -> tuple[Photo, Any, frozenset[str]]:
    """The photo, its event and the caller's variants; 404 when the caller may not see it at all."""
    photo, event, decision = readable(principal, photo_id)
    return photo, event, decision.variants


def original_filename(photo: Photo) -> str:
    return photos_access.original_filename(photo)


def photo_view(
    photo: Photo,
    variants: frozenset[str],
    principal: Any,
    owners: dict[str, Any] | None = None,
    user_tags: list[str] | None = None,
    *,
    locked: bool = False,
) -> dict[str, Any]:
    owner = (owners or {}).get(photo.owner_id)
    access = photos_access.item_of(photo).access
    kind = photo.kind if photo.kind in ("photo", "video") else "photo"
    view = {
        "id": photo.photo_id,
        "status": photo.status,
        "rejection_reason": photo.rejection_reason,
        "width": photo.width,
        "height": photo.height,
        "caption": photo.caption,
        "tags": list(photo.keywords or []),
        "owner": {
            "id": photo.owner_id,
            "username": getattr(owner, "username", None),
            "display_name": getattr(owner, "display_name", None),
        },
        "event_id": photo.event_id,
        "like_count": int(photo.like_count or 0),
        "comment_count": int(photo.comment_count or 0),
        "created_at": iso(photo.created_at),
        "taken_at": photo.taken_at,
        "taken_at_local": None if not photo.taken_at else not photo.taken_at.endswith("Z"),
        "taken_at_offset": photo.taken_at_offset,
        "camera_model": photo.camera_model,
        "visibility": photo.visibility,
        "published": photos_access.is_published(photo),
        "access": access,
        "price_cents": int(photo.price_cents) if access == "paid" and photo.price_cents is not None else None,
        "currency": (photo.currency or "eur") if access == "paid" else None,
        "kind": kind,
        "duration_s": float(photo.duration_s) if kind == "video" and photo.duration_s is not None else None,
        "locked": locked,
        "urls": photos_access.view_urls(photo, variants, locked=locked),
    }
    if user_tags is not None:
        view["user_tags"] = user_tags
        view["user_tag_count"] = max(int(photo.tag_count or 0), len(user_tags))
    if principal is not None and principal.user_id == photo.owner_id and photo.gps_lat is not None:
        view["location"] = {"lat": photo.gps_lat, "lon": photo.gps_lon}  # owner-only
    return view


def views(
    principal: Any,
    photos: list[Photo],
    events: dict[str, Any] | None = None,
    *,
    roles: dict[str, str | None] | None = None,
    discovery: bool = False,
) -> list[dict[str, Any]]:
    """Views of exactly the photos the entitlement decision lets the caller see (others silently dropped), with
    one batch read of owners. ``events``/``roles``: what the caller already read (e.g. the listed event).
    ``discovery``: a listing that finds photos, so unlisted ones are left out (see entitlements).
    Upload slots whose file never arrived (``pending_upload``) are not listed, even to their uploader."""
    from chalicelib.services.accounts import users_by_ids

    decisions = photos_access.decide(principal, photos, events=events, roles=roles, discovery=discovery)
    visible = [(p, decisions[p.photo_id]) for p in photos if decisions[p.photo_id].visible and p.status != PENDING]
    owners = users_by_ids([p.owner_id for p, _ in visible])
    # A deleted account's photos are forgotten at once, before the deletion job removes them.
    return [photo_view(p, d.variants, principal, owners, locked=d.locked) for p, d in visible if p.owner_id in owners]


def photos_by_ids(ids: list[str]) -> list[Photo]:
    if not ids:
        return []
    found = {p.photo_id: p for p in Photo.batch_get(list(dict.fromkeys(ids)))}
    return [found[i] for i in ids if i in found]


def view_one(principal: Any, photo_id: str) -> dict[str, Any]:
    """The photo with the first ``TAGS_IN_VIEW`` tagged users (``user_tag_count`` says how many in all; the rest
    page through ``GET /photos/{id}/tags``)."""
    from chalicelib.services.accounts import users_by_ids

    photo, _, decision = readable(principal, photo_id)
    tagged = [t.user_id for t in tags_store.tags_of_photo(photo_id, TAGS_IN_VIEW)]
    users = users_by_ids([photo.owner_id, *tagged])
    if photo.owner_id not in users:
        raise NotFoundError("No such photo.")  # the owner's account is deleted; the job removes the photo
    user_tags = [users[u].username for u in tagged if u in users]
    return photo_view(photo, decision.variants, principal, users, user_tags, locked=decision.locked)


# ---- editing and deleting ------------------------------------------------------------------------------------


def _require_owner(principal: Any, photo: Photo) -> None:
    if principal.user_id != photo.owner_id and not principal.is_staff:
        raise ForbiddenError("Only the photo's owner can do this.")


def update_photo(principal: Any, photo_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    photo, event, _ = readable_photo(principal, photo_id)
    _require_owner(principal, photo)
    actions = []
    caption = fields.get("caption", photo.caption)
    if "caption" in fields or "tags" in fields:
        tags = fields.get("tags", [k for k in (photo.keywords or []) if k not in hashtags(photo.caption)])
        keywords = keywords_for(caption, tags)
        actions += [Photo.caption.set(caption) if caption else Photo.caption.remove(), Photo.keywords.set(keywords)]
    if "visibility" in fields:
        if photo.event_id:
            raise ValidationError(
                "An event photo follows its event's visibility.", details={"visibility": "not for event photos"}
            )
        actions.append(Photo.visibility.set(fields["visibility"]))
    was_published = photos_access.is_published(photo)
    publishing = "published" in fields and fields["published"] != was_published
    unbought = Photo.purchase_count.does_not_exist() | (Photo.purchase_count == 0)
    condition = None
    unpublishing = publishing and not fields["published"]
    if publishing:
        actions.append(Photo.published.remove() if fields["published"] else Photo.published.set(False))
    if any(f in fields for f in ("access", "price_cents", "currency")):
        pricing_actions = _pricing_actions(principal, photo, fields)
        if pricing_actions:
            actions += pricing_actions
            # Bought meanwhile: the edit fails rather than change what a buyer paid for.
            condition = unbought
    if unpublishing:
        # A draft is hidden from everyone but its owner, its buyers included: not once it has any (pay-per-view
        # or a paid order's digital item).
        if int(photo.purchase_count or 0) > 0 or photo.sold_at is not None:
            raise _has_buyers()
        condition = unbought & Photo.sold_at.does_not_exist()
    if not actions:
        return view_one(principal, photo_id)
    old_terms = set(photo.search_terms or ())
    if condition is not None:
        try:
            _update_unbought(photo, actions, condition)
        except ConflictError as exc:
            if unpublishing and exc.code == "already_purchased":
                raise _has_buyers() from exc
            raise
    elif not update_existing(photo, actions):
        raise NotFoundError("No such photo.")
    if photo.status == READY:
        refresh_listing_state(photo, event)
        _index_terms(photo, old_terms, set(photo.search_terms or ()))
        if "visibility" in fields:  # post_count counts public posts (services/discovery)
            from chalicelib.services import discovery

            discovery.on_visibility_changed(photo, fields["visibility"])
        if publishing:
            _on_published_changed(photo, event, was_published)
    return view_one(principal, photo_id)


def _on_published_changed(photo: Photo, event: Any, was_published: bool) -> None:
    """A ready draft published: what readiness does for a published photo (the event's members are notified,
    a creator's post counted: the ``photo.ready`` consumers, idempotent), once per photo; a published photo
    made a draft leaves its creator's ``post_count``."""
    from chalicelib import jobs
    from chalicelib.services import discovery

    if photos_access.is_published(photo):
        payload = {"photo_id": photo.photo_id, "owner_id": photo.owner_id, "event_id": photo.event_id}
        jobs.publish("photo.ready", f"photo.published:{photo.photo_id}", payload)  # once: notifications
        if photo.post_counted is None and photo.event_id is None:  # published again after being a draft
            discovery.on_photo_ready({"photo_id": photo.photo_id}, None, 1)
    elif was_published:
        discovery.on_unpublished(photo)


def _pricing_actions(principal: Any, photo: Photo, fields: dict[str, Any]) -> list:
    """Update actions for ``access``/``price_cents``/``currency`` (services/premium): the owner, a verified
    creator, only (403 ``creator_not_verified``); nothing when they are unchanged."""
    from chalicelib.payments import stripe_gateway
    from chalicelib.services import accounts, premium

    if principal.user_id != photo.owner_id:
        raise ForbiddenError("Only the creator who posted it can set its access.")
    accounts.require_verified_creator(principal)
    current = premium.stored(photo)
    new = premium.access_change(
        current,
        fields,
        purchase_count=int(photo.purchase_count or 0),
        currencies=stripe_gateway.STRIPE_CURRENCIES,
        min_charge=stripe_gateway.min_charge,
        max_cents=get_settings().creator_price_max_cents,
    )
    if new == current:
        return []
    if new.access == "paid" and new.price_cents is not None and new.currency is not None:
        return [Photo.access.set("paid"), Photo.price_cents.set(new.price_cents), Photo.currency.set(new.currency)]
    return [Photo.access.set(new.access), Photo.price_cents.remove(), Photo.currency.remove()]


def _has_buyers() -> ConflictError:
    return ConflictError("This item has been bought: it can no longer be made a draft.", code="photo_has_buyers")


def _update_unbought(photo: Photo, actions: list, condition: Any) -> None:
    from pynamodb.exceptions import UpdateError

    from chalicelib.models.base import condition_failed

    try:
        photo.update(actions=actions, condition=Photo.photo_id.exists() & condition)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        if get_photo(photo.photo_id) is None:
            raise NotFoundError("No such photo.") from exc
        raise ConflictError(
            "This item has been bought: its access and price can no longer change.", code="already_purchased"
        ) from exc


def listed_terms(photo: Photo) -> set[str]:
    """The search terms a photo is found by: none while it is a draft (it has no search rows then)."""
    return search_terms(photo.caption, photo.keywords or []) if photos_access.is_published(photo) else set()


def listing_actions(photo: Photo, event: Any) -> list:
    """Update actions for the derived attributes: the search terms and the public-listing flag (neither on a
    draft, so the public indexes and search never hold one)."""
    terms = listed_terms(photo)
    return [
        Photo.search_terms.set(terms) if terms else Photo.search_terms.remove(),
        Photo.public_bucket.set("public") if photos_access.is_public(photo, event) else Photo.public_bucket.remove(),
    ]


def refresh_listing_state(photo: Photo, event: Any) -> bool:
    """Recompute the derived attributes of a stored photo; False if it was deleted meanwhile."""
    return update_existing(photo, listing_actions(photo, event))


def delete_photo(principal: Any, photo_id: str, *, audited: bool = True) -> None:
    """The owner, the event's owner or staff (staff deleting someone else's photo is audited, unless the caller
    records its own entry: ``audited=False``, a report's resolution)."""
    photo, event, _ = readable_photo(principal, photo_id)
    event_owner = event is not None and event.owner_id == principal.user_id
    if principal.user_id != photo.owner_id and not principal.is_staff and not event_owner:
        raise ForbiddenError("Only the photo's owner can delete it.")
    purge([photo])
    if audited and not event_owner:
        from chalicelib.services import audit

        audit.staff_action(
            principal, photo.owner_id, "content.remove", "photo", photo_id,
            audit_id=audit.removal_id("photo", photo_id),
        )  # fmt: skip


def purge(photos: list[Photo]) -> None:
    """Remove photos with every stored file, tag and index row; their likes, comments and live subscriptions
    (which grow with the photo's popularity) go in a background job (``photos.purged``)."""
    if not photos:
        return
    import hashlib

    from chalicelib import jobs

    ids = sorted(p.photo_id for p in photos)
    # Only photos with likes or comments have rows to clear (the counters change in the rows' transactions);
    # live subscriptions expire by TTL and are never served for a photo that is gone.
    engaged = [[p.photo_id, int(p.like_count or 0), int(p.comment_count or 0)] for p in photos]
    engaged = [row for row in engaged if row[1] or row[2]]
    if engaged:
        event_id = "photos.purged:" + hashlib.sha256(",".join(ids).encode()).hexdigest()[:32]
        jobs.publish("photos.purged", event_id, {"photos": engaged})
    from chalicelib.models import creators
    from chalicelib.services import user_stats

    for photo in photos:  # out of the creator's post_count first (and never counted by a late photo.ready)
        if photo.status == READY:
            creators.uncount_post(photo.photo_id, photo.owner_id)
            if photo.owner_counted is not False:
                user_stats.uncount_photo(photo.photo_id, photo.owner_id)  # and out of the owner's photo_count
    storage.delete_media([k for p in photos for k in storage.all_variant_keys(p.photo_id)])
    storage.delete_keys(get_settings().uploads_bucket, [p.upload_key for p in photos])
    with SearchEntry.batch_write() as batch:
        for photo in photos:
            for term in photo.search_terms or ():
                batch.delete(SearchEntry(pk=f"photo:{term}", sk=f"{iso(photo.created_at)}#{photo.photo_id}"))
    with PhotoTag.batch_write() as batch:
        for photo in photos:
            for tag in PhotoTag.query(photo.photo_id):
                batch.delete(tag)
    with Photo.batch_write() as batch:
        for photo in photos:
            batch.delete(photo)


# ---- background jobs (chalicelib/jobs/registry.py): each run does at most ``limit`` photos --------------------

PURGE_BATCH = 100  # one BatchGetItem of photos


def _purge_some(keys: list[str]) -> None:
    for start in range(0, len(keys), PURGE_BATCH):
        purge(photos_by_ids(keys[start : start + PURGE_BATCH]))


def on_event_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``event.deleted``: the event's photos and their files (re-reading from the start finds what is left)."""
    keys = [p.photo_id for p in Photo.by_event.query(payload["event_id"], limit=limit)]
    _purge_some(keys)
    return {} if len(keys) >= limit else None


def on_user_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``user.deleted``: the user's photos with their files, then the user's tags on other people's photos."""
    user_id = payload["user_id"]
    if (cursor or {}).get("phase") != "tags":
        keys = [p.photo_id for p in Photo.by_owner.query(user_id, limit=limit)]
        _purge_some(keys)
        return {"phase": "photos" if len(keys) >= limit else "tags"}
    tags = list(PhotoTag.by_user.query(user_id, limit=limit))
    for tag in tags:  # one transaction each, so the photo's tag_count goes down with its row (a rerun finds none)
        tags_store.remove_tag(tag.photo_id, tag.user_id)
    return {"phase": "tags"} if len(tags) >= limit else None


def on_event_visibility_changed(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``event.visibility_changed``: recompute each photo's public-listing state from the event as it is now
    (so a late or repeated job converges on the latest visibility). The cursor is the index's page key."""
    from chalicelib.services import events as events_service

    event = events_service.get_event(payload["event_id"])
    if event is None:
        return None
    page = Photo.by_event.query(event.event_id, limit=limit, last_evaluated_key=(cursor or {}).get("key"))
    keys = [p.photo_id for p in page]
    for photo in photos_by_ids(keys):
        if photo.status == READY:
            refresh_listing_state(photo, event)
    last = page.last_evaluated_key
    return {"key": last} if len(keys) >= limit and last else None


# ---- listings and search -------------------------------------------------------------------------------------


ORDERINGS = ("recent", "oldest", "popular")


@dataclass(frozen=True)
class CreatedWindow:
    """``created_after`` < created_at < ``created_before`` (either may be open): a key condition on the
    ``created_at`` indexes, never a filter after the read. Not with ``ordering=popular`` (those indexes are keyed
    by likes)."""

    after: datetime | None = None
    before: datetime | None = None

    def __bool__(self) -> bool:
        return self.after is not None or self.before is not None

    @property
    def scope(self) -> str:
        return f"{iso_us(self.after)}~{iso_us(self.before)}"

    def condition(self) -> Any:
        """The range key condition (strict bounds: one microsecond in, the attribute's precision), or None;
        ``EMPTY`` when no instant fits."""
        tick = timedelta(microseconds=1)
        low = self.after + tick if self.after is not None else None
        high = self.before - tick if self.before is not None else None
        if low is not None and high is not None:
            return Photo.created_at.between(low, high) if low <= high else EMPTY
        if low is not None:
            return Photo.created_at >= low
        if high is not None:
            return Photo.created_at <= high
        return None


EMPTY = object()  # a window no photo can be in


def check_listing(ordering: str, window: CreatedWindow) -> None:
    if window and ordering == "popular":
        raise ValidationError(
            "created_after and created_before need ordering=recent or oldest.",
            details={"ordering": "popular cannot be combined with created_after/created_before"},
        )
    if window.after is not None and window.before is not None and window.after >= window.before:
        raise ValidationError(
            "created_after must be before created_before.", details={"created_after": "not before created_before"}
        )


def iso_us(dt: datetime | None) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if dt is not None else ""


class _NoResults(list):
    """An empty page (a query result's shape: iterable with no last key)."""

    last_evaluated_key = None


def list_query(
    owner_id: str | None,
    event_id: str | None,
    ordering: str,
    limit: int,
    last_key: dict | None,
    window: CreatedWindow | None = None,
):
    """One page of photo keys: of the event, else of the owner, else the public ones; newest first (``recent``),
    oldest first (``oldest``) or most liked first (``popular``), within ``window`` (a key condition)."""
    window = window or CreatedWindow()
    check_listing(ordering, window)
    popular = ordering == "popular"
    if event_id:
        index, key = (Photo.by_event_popular if popular else Photo.by_event), event_id
    elif owner_id:
        index, key = (Photo.by_owner_popular if popular else Photo.by_owner), owner_id
    else:
        index, key = (Photo.public_popular if popular else Photo.public_recent), "public"
    condition = window.condition()
    if condition is EMPTY:
        return _NoResults()
    return index.query(
        key,
        range_key_condition=condition,
        scan_index_forward=ordering == "oldest",
        limit=limit,
        last_evaluated_key=last_key,
    )


def search_query(term: str, limit: int, last_key: dict | None):
    return SearchEntry.query(f"photo:{term}", scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def parse_query(q: str) -> list[str]:
    terms = sorted(search_terms(q, []), key=len, reverse=True)
    if not terms:
        raise ValidationError("Give at least one word of two or more characters.", details={"q": "no words"})
    return terms[:5]


def matches_all(photo: Photo, terms: list[str]) -> bool:
    have = set(photo.search_terms or ())
    return all(t in have for t in terms)


# ---- user tags -----------------------------------------------------------------------------------------------


def add_tag(principal: Any, photo_id: str, username: str) -> dict[str, Any]:
    from chalicelib.models.users import user_by_login

    photo, event, _ = readable_photo(principal, photo_id)
    if photo.status != READY:
        raise ConflictError("The photo is not processed yet.", code="photo_not_ready")
    target = user_by_login(username) if "@" not in username else None
    if target is None:
        raise NotFoundError("No such user.")
    allowed = principal.user_id in (photo.owner_id, target.user_id) or principal.is_staff
    if not allowed and event is not None:
        from chalicelib.services import events as events_service

        allowed = events_service.member_role(event, principal.user_id) is not None
    if not allowed:
        raise ForbiddenError("Only the owner and event members can tag people in this photo.")
    from types import SimpleNamespace

    from chalicelib.services.blocks import blocked_among

    if blocked_among(principal.user_id, {target.user_id, photo.owner_id} - {principal.user_id}):
        raise ForbiddenError("You cannot tag this user here.", code="blocked")
    as_target = SimpleNamespace(user_id=target.user_id, is_staff=target.role in ("staff", "admin"))
    if not photos_access.decide_one(as_target, photo, event).visible:
        raise ForbiddenError(
            "That user cannot see this photo, so they cannot be tagged in it.", code="cannot_see_photo"
        )
    if int(photo.tag_count or 0) >= tags_store.MAX_TAGS:  # the transaction re-checks it
        raise _too_many_tags()
    tag = PhotoTag(photo_id=photo_id, user_id=target.user_id, tagged_by=principal.user_id)
    tags_store.add_tag(tag)
    notifications.notify(
        target.user_id, "tagged", actor_id=principal.user_id, target={"kind": "photo", "id": photo_id}, dedupe=photo_id
    )
    return {
        "photo_id": photo_id,
        "user": {"id": target.user_id, "username": target.username},
        "tagged_by": principal.user_id,
        "created_at": iso(tag.created_at),
    }


def _too_many_tags() -> ConflictError:
    limit = tags_store.MAX_TAGS
    return ConflictError(
        f"A photo can have at most {limit} people tagged.",
        code="too_many_tags",
        details={"username": f"at most {limit} tags per photo"},
    )


def remove_tag(principal: Any, photo_id: str, user_id: str) -> None:
    """The tagged user may always remove their tag (even from a photo they can no longer see); the photo's
    owner and staff may remove any tag, the tagger the tags they made."""
    if principal.user_id == user_id:
        tags_store.remove_tag(photo_id, user_id)
        return
    photo, _, _ = readable_photo(principal, photo_id)
    try:
        tag = PhotoTag.get(photo_id, user_id)
    except PhotoTag.DoesNotExist:
        raise NotFoundError("That user is not tagged in this photo.") from None
    if principal.user_id not in (tag.tagged_by, photo.owner_id) and not principal.is_staff:
        raise ForbiddenError("You cannot remove this tag.")
    if not tags_store.remove_tag(photo_id, user_id):
        raise NotFoundError("That user is not tagged in this photo.")


def tags_page(
    principal: Any, photo_id: str, limit: int, last_key: dict | None
) -> tuple[list[dict[str, Any]], Any, int]:
    """A page of the users tagged in a photo the caller may see: (items, the query result, rows read)."""
    from chalicelib.services.accounts import users_by_ids
    from chalicelib.services.social import avatar_urls

    readable_photo(principal, photo_id)
    results = tags_store.tags_of_photo(photo_id, limit, last_key)
    rows = list(results)
    users = users_by_ids([t.user_id for t in rows])
    avatars = avatar_urls(users.values())
    items = [
        {
            "user": {
                "id": t.user_id,
                "username": users[t.user_id].username,
                "display_name": users[t.user_id].display_name,
                "avatar_url": avatars.get(t.user_id),
            },
            "tagged_by": t.tagged_by,
            "created_at": iso(t.created_at),
        }
        for t in rows
        if t.user_id in users
    ]
    return items, results, len(rows)


def tagged_query(user_id: str, limit: int, last_key: dict | None):
    return PhotoTag.by_user.query(user_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)
