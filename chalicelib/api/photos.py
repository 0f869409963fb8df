"""/photos/*, /events/{id}/photos: uploads, photo views, listings, search, user tags, share links."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from chalicelib.api.routing import AnyCtx, Ctx, PublicCtx, route
from chalicelib.api.schema_base import Body, CleanText, Out, PageQuery
from chalicelib.config import get_settings
from chalicelib.pagination import decode, encode
from chalicelib.services import photos, photos_access, sharing
from chalicelib.services.photos import FileSpec

TAGS = ("photos",)

Tag = Annotated[str, Field(min_length=1, max_length=40)]


Access = Literal["free", "subscribers", "paid"]
PriceCents = Annotated[int, Field(ge=0, description="For `paid`: the pay-per-view price")]
Currency = Annotated[str, Field(pattern=r"^[a-z]{3}$", description="For `paid`; default eur")]
PUBLISHED = (
    "false: a draft, seen by its owner and staff only (no listing, search, feed or share link) until "
    "PATCH /photos/{id} publishes it"
)
UPLOAD_ACCESS = (
    "Verified creators: who sees the whole item once it is ready (others see its preview); the same rule as "
    "PATCH /photos/{id}, applied before anything is reserved, so a premium item is never public. Default free."
)


class FileIn(Body):
    filename: Annotated[str, Field(min_length=1, max_length=255)]
    content_type: Annotated[str, Field(min_length=3, max_length=100)]
    size: Annotated[int, Field(gt=0, description="Exact size in bytes; the upload policy enforces it")]
    caption: Annotated[CleanText, Field(max_length=2000)] | None = None
    tags: Annotated[list[Tag], Field(max_length=30)] = []
    access: Access | None = Field(None, description=UPLOAD_ACCESS)
    price_cents: PriceCents | None = None
    currency: Currency | None = None
    published: bool = Field(True, description=PUBLISHED)

    def spec(self) -> FileSpec:
        return FileSpec(
            self.filename,
            self.content_type,
            self.size,
            self.caption,
            tuple(self.tags),
            self.access,
            self.price_cents,
            self.currency,
            self.published,
        )


class BulkUploadIn(Body):
    files: Annotated[list[FileIn], Field(min_length=1, max_length=100)]


class SingleUploadIn(Body):
    """Either one file's fields at the top level, or ``files`` with exactly one file."""

    files: Annotated[list[FileIn], Field(min_length=1, max_length=1)] | None = None
    filename: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    content_type: Annotated[str, Field(min_length=3, max_length=100)] | None = None
    size: Annotated[int, Field(gt=0)] | None = None
    caption: Annotated[CleanText, Field(max_length=2000)] | None = None
    tags: Annotated[list[Tag], Field(max_length=30)] = []
    access: Access | None = Field(None, description=UPLOAD_ACCESS)
    price_cents: PriceCents | None = None
    currency: Currency | None = None
    published: bool = Field(True, description=PUBLISHED)

    @model_validator(mode="after")
    def _one_form(self) -> SingleUploadIn:
        flat = any(
            v is not None
            for v in (self.filename, self.content_type, self.size, self.access, self.price_cents, self.currency)
        ) or ("published" in self.model_fields_set)
        if self.files is None and not (self.filename and self.content_type and self.size):
            raise ValueError("give filename, content_type and size (or files with one file)")
        if self.files is not None and flat:
            raise ValueError("give either files or the top-level file fields, not both")
        return self

    def spec(self) -> FileSpec:
        if self.files:
            return self.files[0].spec()
        assert self.filename and self.content_type and self.size  # _one_form checked them
        return FileSpec(
            self.filename,
            self.content_type,
            self.size,
            self.caption,
            tuple(self.tags),
            self.access,
            self.price_cents,
            self.currency,
            self.published,
        )


class PresignedPost(Out):
    url: str
    fields: dict[str, str]


class UploadSlot(Out):
    photo_id: str
    upload: PresignedPost


class UploadsOut(Out):
    uploads: list[UploadSlot]


class PhotoOwner(Out):
    id: str
    username: str | None
    display_name: str | None


class PhotoOut(Out):
    id: str
    status: Literal["pending_upload", "processing", "ready", "rejected"]
    rejection_reason: str | None
    width: int | None
    height: int | None
    caption: str | None
    tags: list[str]
    owner: PhotoOwner
    event_id: str | None
    like_count: int
    comment_count: int
    created_at: str
    taken_at: str | None = Field(
        None,
        description=(
            "Capture time from EXIF. A UTC instant (`2024-06-01T12:30:05Z`) when the camera recorded its UTC "
            "offset (EXIF OffsetTimeOriginal/OffsetTime); otherwise the camera's local wall-clock time without a "
            "zone (`2024-06-01T14:30:05`, no `Z`), which must not be read as UTC: see `taken_at_local`."
        ),
    )
    taken_at_local: bool | None = Field(
        None,
        description=(
            "`true` when `taken_at` is camera-local wall-clock time in an unknown zone, `false` when it is a UTC "
            "instant, `null` when there is no `taken_at`."
        ),
    )
    taken_at_offset: str | None = Field(
        None,
        description="The camera's UTC offset at capture (`+02:00`) when EXIF recorded it, so clients can show "
        "the local time of the place; `null` otherwise.",
    )
    camera_model: str | None = None
    visibility: str
    published: bool = Field(True, description="false: a draft, seen by its owner and staff only")
    access: Literal["free", "subscribers", "paid"] = "free"
    price_cents: int | None = Field(None, description="`paid` items: the pay-per-view price")
    currency: str | None = Field(None, description="`paid` items: the price's currency")
    kind: Literal["photo", "video"] = "photo"
    duration_s: float | None = Field(None, description="Ready videos: the length in seconds")
    locked: bool = Field(
        False,
        description="A premium item the caller is not entitled to: `urls` has only `preview` (and, for a video, "
        "`poster`, its blurred frame)",
    )
    urls: dict[str, str]
    user_tags: list[str] | None = Field(
        default=None, description="The first users tagged (GET /photos/{id} only); the rest: GET /photos/{id}/tags"
    )
    user_tag_count: int | None = None
    location: dict[str, float] | None = None


class PhotoPage(Out):
    items: list[PhotoOut]
    next_cursor: str | None


class PatchPhotoIn(Body):
    """Fields left out stay as they are; ``caption: null`` removes the caption. ``tags`` and ``visibility``
    cannot be null (an explicit null must never be read as "public")."""

    caption: Annotated[CleanText, Field(max_length=2000)] | None = None
    tags: Annotated[list[Tag], Field(max_length=30)] | None = None
    visibility: Literal["public", "private"] | None = None
    access: Access | None = Field(
        None, description="Verified creators: who sees the whole item (others see its preview)"
    )
    price_cents: PriceCents | None = None
    currency: Currency | None = None
    published: bool | None = Field(None, description="false makes it a draft (owner and staff only); true publishes")

    @field_validator("tags", "visibility", "access", "published")
    @classmethod
    def _not_null(cls, value):
        if value is None:
            raise ValueError("may be left out, but not null")
        return value


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # the contract's timestamps are UTC
    return value


class ListQuery(PageQuery):
    owner: Annotated[str, Field(max_length=64)] | None = None
    event_id: Annotated[str, Field(max_length=64)] | None = None
    ordering: Literal["recent", "oldest", "popular"] = Field(
        "recent", description="`recent` newest first, `oldest` oldest first, `popular` most liked first"
    )
    created_after: datetime | None = Field(
        None, description="ISO 8601 (UTC if no offset): only photos created after it (not with `popular`)"
    )
    created_before: datetime | None = Field(
        None, description="ISO 8601 (UTC if no offset): only photos created before it (not with `popular`)"
    )

    _in_utc = field_validator("created_after", "created_before")(_utc)

    def window(self) -> photos.CreatedWindow:
        return photos.CreatedWindow(self.created_after, self.created_before)


class EventPhotosQuery(PageQuery):
    ordering: Literal["recent", "popular"] = "recent"


class SearchQuery(PageQuery):
    q: Annotated[str, Field(min_length=1, max_length=200)]


class TaggedQuery(PageQuery):
    user: Annotated[str, Field(max_length=64)] | None = None


class TagIn(Body):
    username: Annotated[str, Field(min_length=1, max_length=64)]


class TagOut(Out):
    photo_id: str
    user: dict[str, str]
    tagged_by: str
    created_at: str


class TaggedUser(Out):
    id: str
    username: str
    display_name: str | None
    avatar_url: str | None


class PhotoTagOut(Out):
    user: TaggedUser
    tagged_by: str
    created_at: str


class PhotoTagPage(Out):
    items: list[PhotoTagOut]
    next_cursor: str | None


class ShareIn(Body):
    variant: Literal["original", "watermarked"]
    expires_in_seconds: Annotated[int, Field(ge=60, le=sharing.MAX_LIFETIME)]
    password: Annotated[str, Field(min_length=4, max_length=128)] | None = None
    max_downloads: Annotated[int, Field(ge=1, le=1_000_000)] | None = None


class ShareOut(Out):
    token: str
    url: str
    expires_at: str
    variant: str
    max_downloads: int | None
    password_protected: bool


class ShareRedeemQuery(PageQuery):
    password: Annotated[str, Field(max_length=128)] | None = None


class ShareRedeemOut(Out):
    url: str
    variant: str
    expires_at: str
    downloads_left: int | None


class ShareLinkOut(Out):
    id: str = Field(description="Revokes the link: DELETE /photos/share/{id} (the token is shown only once)")
    photo_id: str
    variant: str
    expires_at: str
    downloads: int
    max_downloads: int | None
    password_protected: bool
    created_at: str


class ShareLinkPage(Out):
    items: list[ShareLinkOut]
    next_cursor: str | None


def _uploads(created) -> UploadsOut:
    return UploadsOut(
        uploads=[
            UploadSlot(photo_id=p.photo_id, upload=PresignedPost(url=post["url"], fields=post["fields"]))
            for p, post in created
        ]
    )


def _page(
    ctx: PublicCtx[object, PageQuery], scope: str, query, to_ids, keep=None, discovery: bool = True, known=None
) -> PhotoPage:
    """Run a key-only index query for one page, then read the photos and keep those the entitlement decision
    lets the caller see. ``discovery=False`` only where the caller named the event (its link is the
    permission); ``known``: (events, roles) the handler already read."""
    results = query(decode(scope, ctx.query.cursor))
    keys = list(results)
    cursor = encode(scope, results.last_evaluated_key) if len(keys) >= ctx.query.limit else None
    found = photos.photos_by_ids(to_ids(keys))
    if keep is not None:
        found = [p for p in found if keep(p)]
    events, roles = known or (None, None)
    items = photos.views(ctx.principal, found, events, roles=roles, discovery=discovery)
    return PhotoPage(items=items, next_cursor=cursor)


def _event_page(
    ctx: PublicCtx[None, PageQuery],
    event_id: str,
    ordering: str,
    owner_id: str | None = None,
    window: photos.CreatedWindow | None = None,
) -> PhotoPage:
    """One page of an event's photos through the index that fits the caller (see photos_access.event_listing)."""
    event, role, index = photos_access.event_listing(ctx.principal, event_id, ordering, window)
    return _page(
        ctx,
        f"event-photos:{event_id}:{index.name}:{owner_id}:{_who(ctx)}",
        lambda last: index.query(ctx.query.limit, last),
        lambda keys: [k.photo_id for k in keys],
        keep=(lambda photo: photo.owner_id == owner_id) if owner_id else None,
        discovery=False,
        known=({event_id: event}, {event_id: role}),
    )


def _who(ctx: AnyCtx) -> str:
    return ctx.principal.user_id if ctx.principal else "anonymous"


def _base_url(ctx: AnyCtx) -> str:
    """Where clients reach this API: configured, or API Gateway's own domain and stage, or (locally) Host."""
    configured = get_settings().public_api_url
    if configured:
        return configured.rstrip("/")
    context = ctx.request.context or {}
    domain, stage = context.get("domainName") or "", context.get("stage") or ""
    if domain.endswith(".amazonaws.com") and stage:
        return f"https://{domain}/{stage}"
    headers = ctx.request.headers or {}
    return f"{headers.get('x-forwarded-proto', 'http')}://{headers.get('host', 'localhost')}"


@route(
    "/events/{event_id}/photos/bulk-upload",
    "POST",
    body=BulkUploadIn,
    response=UploadsOut,
    status=201,
    tags=TAGS,
    responses=(403, 404),
    idempotency="accepted",
)
def bulk_upload(ctx: Ctx[BulkUploadIn], event_id: str) -> UploadsOut:
    """Reserve 1-100 photos in an event; one presigned S3 POST per file."""
    return _uploads(photos.create_uploads(ctx.principal, [f.spec() for f in ctx.body.files], event_id))


@route(
    "/photos/uploads",
    "POST",
    body=SingleUploadIn,
    response=UploadsOut,
    status=201,
    tags=TAGS,
    responses=(403,),
    idempotency="accepted",
)
def upload(ctx: Ctx[SingleUploadIn]) -> UploadsOut:
    """Reserve one photo or video (MP4, MOV, WebM: docs/video.md) outside any event (posts, profile pictures);
    verified creators may set ``access``/``price_cents``/``currency`` here so it is locked from the start."""
    return _uploads(photos.create_uploads(ctx.principal, [ctx.body.spec()]))


@route(
    "/events/{event_id}/photos",
    "GET",
    query=EventPhotosQuery,
    response=PhotoPage,
    auth="optional",
    tags=TAGS,
    responses=(404,),
)
def event_photos(ctx: PublicCtx[None, EventPhotosQuery], event_id: str) -> PhotoPage:
    """Exactly the photos of the event that the caller may see, newest (or most liked) first."""
    return _event_page(ctx, event_id, ctx.query.ordering)


@route("/photos", "GET", query=ListQuery, response=PhotoPage, auth="optional", tags=TAGS, responses=(404,))
def list_photos(ctx: PublicCtx[None, ListQuery]) -> PhotoPage:
    """Photos by owner, by event, or public ones; ``ordering=recent|oldest|popular``, ``created_after`` and
    ``created_before`` (key conditions on the index: pages stay full). Drafts: their owner's and staff's only."""
    q = ctx.query
    window = q.window()
    photos.check_listing(q.ordering, window)  # before anything is read
    owner_id = None
    if q.owner:
        from chalicelib.services.accounts import public_profile

        owner_id = ctx.principal.user_id if q.owner == "me" and ctx.principal else public_profile(q.owner).user_id
    if q.event_id:  # with both filters the event's index is read and the owner filtered within the page
        return _event_page(ctx, q.event_id, q.ordering, owner_id, window)
    scope = f"photos:{owner_id}:None:{q.ordering}:{window.scope}:{_who(ctx)}"
    return _page(
        ctx,
        scope,
        lambda last: photos.list_query(owner_id, None, q.ordering, q.limit, last, window),
        lambda keys: [k.photo_id for k in keys],
    )


@route("/photos/search", "GET", query=SearchQuery, response=PhotoPage, auth="optional", tags=TAGS)
def search_photos(ctx: PublicCtx[None, SearchQuery]) -> PhotoPage:
    """Photos whose caption words or keyword tags match every word of ``q``, newest first."""
    terms = photos.parse_query(ctx.query.q)
    return _page(
        ctx,
        f"photo-search:{'+'.join(terms)}:{_who(ctx)}",
        lambda last: photos.search_query(terms[0], ctx.query.limit, last),
        lambda entries: [e.entity_id for e in entries],
        keep=lambda photo: photos.matches_all(photo, terms),
    )


@route(
    "/photos/photos-tagged-in",
    "GET",
    query=TaggedQuery,
    response=PhotoPage,
    auth="optional",
    tags=TAGS,
    responses=(404,),
)
def tagged_in(ctx: PublicCtx[None, TaggedQuery]) -> PhotoPage:
    """Photos a user (default: the caller) is tagged in."""
    from chalicelib.errors import ValidationError
    from chalicelib.services.accounts import public_profile

    if ctx.query.user:
        user_id = public_profile(ctx.query.user).user_id
    elif ctx.principal:
        user_id = ctx.principal.user_id
    else:
        raise ValidationError("Say whose tags to list.", details={"user": "required without a token"})
    return _page(
        ctx,
        f"tagged:{user_id}:{_who(ctx)}",
        lambda last: photos.tagged_query(user_id, ctx.query.limit, last),
        lambda tags: [t.photo_id for t in tags],
    )


@route("/photos/share-links", "GET", query=PageQuery, response=ShareLinkPage, tags=TAGS)
def my_share_links(ctx: Ctx[None, PageQuery]) -> ShareLinkPage:
    """The caller's active (unexpired, unrevoked) share links."""
    scope = f"share-links:{ctx.user_id}"
    results = sharing.mine_query(ctx.user_id, ctx.query.limit, decode(scope, ctx.query.cursor))
    links = list(results)
    return ShareLinkPage(
        items=[sharing.link_view(link) for link in links], next_cursor=encode(scope, results.last_evaluated_key)
    )


@route(
    "/photos/share/{token}",
    "GET",
    query=ShareRedeemQuery,
    response=ShareRedeemOut,
    auth=False,
    tags=TAGS,
    responses=(401, 403, 404, 410),
)
def redeem_share(ctx: PublicCtx[None, ShareRedeemQuery], token: str) -> ShareRedeemOut:
    """Open a share link: a short-lived URL of the shared variant (counts one download)."""
    return ShareRedeemOut(**sharing.redeem(token, ctx.query.password))


@route("/photos/share/{token}", "DELETE", status=204, tags=TAGS, responses=(404,))
def revoke_share(ctx: Ctx, token: str) -> None:
    """Revoke a share link (owner): `{token}` is the link's token, or its `id` from GET /photos/share-links."""
    sharing.revoke(ctx.principal, token)


@route("/photos/{photo_id}", "GET", response=PhotoOut, auth="optional", tags=TAGS, responses=(404,))
def get_photo(ctx: PublicCtx, photo_id: str) -> dict[str, Any]:
    """A photo with signed URLs of exactly the variants the caller may see."""
    return photos.view_one(ctx.principal, photo_id)


@route("/photos/{photo_id}", "PATCH", body=PatchPhotoIn, response=PhotoOut, tags=TAGS, responses=(403, 404, 409))
def patch_photo(ctx: Ctx[PatchPhotoIn], photo_id: str) -> dict[str, Any]:
    """Edit caption, keyword tags, (outside events) visibility, ``published`` (false: a draft), or (verified
    creators) access and price."""
    fields = {name: getattr(ctx.body, name) for name in ctx.body.model_fields_set}
    return photos.update_photo(ctx.principal, photo_id, fields)


@route("/photos/{photo_id}", "DELETE", status=204, tags=TAGS, responses=(403, 404))
def delete_photo(ctx: Ctx, photo_id: str) -> None:
    """Delete a photo and every stored variant."""
    photos.delete_photo(ctx.principal, photo_id)


@route("/photos/{photo_id}/tags", "POST", body=TagIn, response=TagOut, status=201, tags=TAGS, responses=(403, 404, 409))
def add_tag(ctx: Ctx[TagIn], photo_id: str) -> dict[str, Any]:
    """Tag a user in a photo (once per user and photo; at most ``MAX_TAGS`` = 50 per photo, then 409
    ``too_many_tags``)."""
    return photos.add_tag(ctx.principal, photo_id, ctx.body.username)


@route(
    "/photos/{photo_id}/tags",
    "GET",
    query=PageQuery,
    response=PhotoTagPage,
    auth="optional",
    tags=TAGS,
    responses=(404,),
)
def list_tags(ctx: PublicCtx[None, PageQuery], photo_id: str) -> PhotoTagPage:
    """The users tagged in a photo, a page at a time (at most ``MAX_TAGS`` in all)."""
    scope = f"photo-tags:{photo_id}"
    items, results, read = photos.tags_page(ctx.principal, photo_id, ctx.query.limit, decode(scope, ctx.query.cursor))
    cursor = encode(scope, results.last_evaluated_key) if read >= ctx.query.limit else None
    return PhotoTagPage(items=[PhotoTagOut(**i) for i in items], next_cursor=cursor)


@route("/photos/{photo_id}/tags/{user_id}", "DELETE", status=204, tags=TAGS, responses=(403, 404))
def remove_tag(ctx: Ctx, photo_id: str, user_id: str) -> None:
    """Remove a user tag (the tagged user, the tagger, the owner or staff)."""
    photos.remove_tag(ctx.principal, photo_id, user_id)


@route(
    "/photos/{photo_id}/share",
    "POST",
    body=ShareIn,
    response=ShareOut,
    status=201,
    tags=TAGS,
    responses=(403, 404, 409),
)
def share(ctx: Ctx[ShareIn], photo_id: str) -> dict[str, Any]:
    """Create a share link for the original or the watermarked variant."""
    b = ctx.body
    return sharing.create(
        ctx.principal, photo_id, b.variant, b.expires_in_seconds, b.password, b.max_downloads, _base_url(ctx)
    )
