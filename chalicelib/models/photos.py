"""Photos, user tags and share links.

Access patterns:
- photo by id ................................ Photos GetItem(photo_id)
- photos of an owner, newest / most liked .... GSI by_owner (owner_id, created_at) /
                                               by_owner_popular (owner_id, like_count)
- photos of an event, newest / most liked .... GSI by_event (event_id, created_at) /
                                               by_event_popular (event_id, like_count)
- public photos, newest / most liked ......... GSI public_recent / public_popular (public_bucket = "public", sparse:
                                               set on published public photos only, never on drafts)
- photos created in a window ................. the created_at indexes above with a key condition on created_at
- users tagged in a photo, a page ............ PhotoTags Query(photo_id) (at most ``MAX_TAGS`` rows per photo:
                                               ``Photo.tag_count`` changes with the tag in one transaction)
- photos a user is tagged in ................. PhotoTags GSI by_user (user_id, created_at)
- share link by token ........................ ShareLinks GetItem(sha256(token))
- share link by its listed id (revoke) ....... ShareLinks GetItem(id): the id is sha256(token), the key
- my share links ............................. ShareLinks GSI by_owner (owner_id, created_at)
Pending uploads carry a TTL (``expires_at``) that is removed once the upload is processed.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.models.base import cancellation_codes, keys_only_index, now, register, table_meta

PENDING, PROCESSING, READY, REJECTED = "pending_upload", "processing", "ready", "rejected"
VARIANTS = ("thumb", "medium", "large", "watermarked", "original", "preview", "poster", "preview_poster", "stream")
# photo: thumb medium large watermarked original preview (blurred + watermarked, for callers a premium item is
# locked for). video: thumb medium large (sizes of the poster frame), poster (the frame, JPEG), preview (a short
# watermarked clip, MP4), preview_poster (the frame blurred + watermarked), stream (H.264/AAC MP4), original.
KINDS = ("photo", "video")
MAX_TAGS = 50  # users tagged in one photo


@register
class Photo(Model):
    Meta = table_meta("photos")

    photo_id = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute()
    event_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default=PENDING)
    rejection_reason = UnicodeAttribute(null=True)
    caption = UnicodeAttribute(null=True)
    keywords: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]  # pynamodb types `of` as the item type; it takes the item's Attribute class
    search_terms = UnicodeSetAttribute(null=True)
    visibility = UnicodeAttribute(default="public")  # photos outside events: public | private
    # False: a draft, seen by its owner and staff only, with no public_bucket and no search rows (so the public
    # indexes and search never hold it); missing or True: published.
    published = BooleanAttribute(null=True)
    public_bucket = UnicodeAttribute(null=True)  # "public" when anyone may see it: sparse GSIs
    filename = UnicodeAttribute(null=True)
    content_type = UnicodeAttribute()
    declared_size = NumberAttribute()
    upload_key = UnicodeAttribute()
    width = NumberAttribute(null=True)
    height = NumberAttribute(null=True)
    format = UnicodeAttribute(null=True)  # what was uploaded (sniffed)
    original_format = UnicodeAttribute(null=True)  # what the served original is: jpeg | png
    taken_at = UnicodeAttribute(null=True)  # "...Z" (UTC) when the offset is known, else camera-local, no "Z"
    taken_at_offset = UnicodeAttribute(null=True)  # the camera's UTC offset from EXIF, "+02:00"
    camera_model = UnicodeAttribute(null=True)
    gps_lat = NumberAttribute(null=True)  # owner-only
    gps_lon = NumberAttribute(null=True)
    variant_keys: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]  # pynamodb types `of` as the item type; it takes the item's Attribute class
    like_count = NumberAttribute(default=0)
    tag_count = NumberAttribute(null=True)  # users tagged (PhotoTags rows); missing means 0
    access = UnicodeAttribute(null=True)  # free (missing) | subscribers | paid: restricts public policy
    price_cents = NumberAttribute(null=True)  # access == paid: the pay-per-view price
    currency = UnicodeAttribute(null=True)  # of price_cents (lowercase ISO 4217)
    purchase_count = NumberAttribute(null=True)  # pay-per-view purchases (ADDed when booked): price frozen once > 0
    sold_at = UTCDateTimeAttribute(null=True)  # first paid order of a digital item of it (never unset): no drafting
    kind = UnicodeAttribute(null=True)  # photo (missing) | video
    duration_s = NumberAttribute(null=True)  # ready videos
    # In its creator's ``post_count``: missing (not yet), True (counted), False (uncounted on deletion: never
    # counted again). Changes with the counter in one transaction (models/creators.py count_post/uncount_post).
    post_counted = BooleanAttribute(null=True)
    # In its owner's ``User.photo_count`` (the staff users listing): the same three states as ``post_counted``
    # (services/user_stats.py count_photo/uncount_photo).
    owner_counted = BooleanAttribute(null=True)
    comment_count = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute(default=now)
    processed_at = UTCDateTimeAttribute(null=True)
    lease_until = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)

    by_owner = keys_only_index("photos", "by_owner", "owner_id", "created_at", UTCDateTimeAttribute)
    by_owner_popular = keys_only_index("photos", "by_owner_popular", "owner_id", "like_count", NumberAttribute)
    by_event = keys_only_index("photos", "by_event", "event_id", "created_at", UTCDateTimeAttribute)
    by_event_popular = keys_only_index("photos", "by_event_popular", "event_id", "like_count", NumberAttribute)
    public_recent = keys_only_index("photos", "public_recent", "public_bucket", "created_at", UTCDateTimeAttribute)
    public_popular = keys_only_index("photos", "public_popular", "public_bucket", "like_count", NumberAttribute)


class TagsByUser(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_user"
        projection = KeysOnlyProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


@register
class PhotoTag(Model):
    """A user tagged in a photo; one per (photo, user)."""

    Meta = table_meta("photo_tags")

    photo_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)
    tagged_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute(default=now)
    by_user = TagsByUser()


class SharesByOwner(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_owner"
        projection = AllProjection()

    owner_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


@register
class ShareLink(Model):
    """A share link; the token itself is never stored, only its SHA-256."""

    Meta = table_meta("share_links")

    token_hash = UnicodeAttribute(hash_key=True)
    photo_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    variant = UnicodeAttribute()
    valid_until = NumberAttribute()
    password_hash = UnicodeAttribute(null=True)
    max_downloads = NumberAttribute(null=True)
    downloads = NumberAttribute(default=0)
    revoked = BooleanAttribute(default=False)
    created_at = UTCDateTimeAttribute(default=now)
    expires_at = TTLAttribute(null=True)
    by_owner = SharesByOwner()


_FAILED = "ConditionalCheckFailed"


def add_tag(tag: PhotoTag) -> None:
    """Save the tag and count it, atomically: 409 ``already_tagged`` if it exists, 409 ``too_many_tags`` at
    ``MAX_TAGS``, 404 if the photo is gone or not ready."""
    count_ok = Photo.tag_count.does_not_exist() | (Photo.tag_count < MAX_TAGS)
    try:
        with TransactWrite(connection=Photo._get_connection().connection) as tx:
            tx.save(tag, condition=PhotoTag.user_id.does_not_exist())
            tx.update(
                Photo(photo_id=tag.photo_id),
                actions=[Photo.tag_count.add(1)],
                condition=Photo.photo_id.exists() & (Photo.status == READY) & count_ok,
            )
    except TransactWriteError as exc:
        codes = cancellation_codes(exc)  # PynamoDB's order: puts, then updates
        if codes[:1] == [_FAILED]:
            raise ConflictError("That user is already tagged in this photo.", code="already_tagged") from exc
        if codes[1:2] == [_FAILED]:
            if _ready(tag.photo_id):
                raise ConflictError(
                    f"A photo can have at most {MAX_TAGS} people tagged.",
                    code="too_many_tags",
                    details={"username": f"at most {MAX_TAGS} tags per photo"},
                ) from exc
            raise NotFoundError("No such photo.") from exc
        raise


def _ready(photo_id: str) -> bool:
    try:
        return Photo.get(photo_id, consistent_read=True, attributes_to_get=["status"]).status == READY
    except Photo.DoesNotExist:
        return False


def remove_tag(photo_id: str, user_id: str) -> bool:
    """Delete the tag and uncount it, atomically; False if there was no such tag."""
    try:
        with TransactWrite(connection=Photo._get_connection().connection) as tx:
            tx.delete(PhotoTag(photo_id=photo_id, user_id=user_id), condition=PhotoTag.user_id.exists())
            tx.update(Photo(photo_id=photo_id), actions=[Photo.tag_count.add(-1)], condition=Photo.photo_id.exists())
    except TransactWriteError as exc:
        codes = cancellation_codes(exc)  # deletes, then updates
        if codes[:1] == [_FAILED]:
            return False
        if codes[1:2] == [_FAILED]:  # the photo is gone: drop a leftover tag row on its own
            PhotoTag(photo_id=photo_id, user_id=user_id).delete()
            return True
        raise
    return True


def tags_of_photo(photo_id: str, limit: int, last_key: dict | None = None):
    """A page of the users tagged in a photo (by user id)."""
    return PhotoTag.query(photo_id, limit=limit, last_evaluated_key=last_key)
