"""The upload processor: S3 ObjectCreated -> SQS -> this handler, in batches with partial failures.

Per upload the photo moves ``pending_upload -> processing -> ready | rejected`` through conditional writes:
- a duplicate delivery of a finished photo changes nothing;
- a delivery while another worker holds the lease is retried later (reported as a batch item failure);
- a crash midway leaves ``processing`` with an expired lease, which the next delivery takes over;
- variants are written to fixed keys, so a rerun overwrites rather than duplicates;
- notifications are keyed by their cause, so they are written once; the event's members are notified by a
  background job (``photo.ready``, published once per photo), never inside this 30 s function;
- a photo whose event was deleted before it finished (the presigned POST outlives the event, or a bulk upload
  raced the delete) is purged with its files when it would become ready, never left ready with no event.

Failures are classified, each ending differently:
- the file itself is at fault (not an image, corrupt, truncated, too large): ``ImageRejected`` from the
  imaging package, which turns every decoder error into one. The photo is ``rejected`` with the reason on the
  delivery that meets it; a file that decodes but whose bytes are malformed is served re-encoded (see
  ``imaging.original``), so it ends ``ready``. Nothing is written to the media bucket before both the
  variants and the cleaned original exist, so a rejection leaves no files behind;
- a transient AWS failure (throttling, a 5xx, a timeout, a dropped connection: ``aws.is_transient``) or a
  live lease held by another worker: the message is reported as a batch item failure and redelivered; the
  lease is released first, so the redelivery can take over at once;
- anything else is unexpected (a bug, a misconfigured bucket): logged with its traceback and retried the same
  way, because a fix or a redrive from the dead-letter queue can still save the photo; on the last delivery
  the photo is marked rejected so the uploader is not left watching "processing".
The uploads bucket is only an inbox: once processed (or rejected) the raw upload, which may carry GPS and
other metadata, is deleted; the media bucket keeps a metadata-free original (its lifecycle rule also
expires anything left in the inbox).
Pillow is imported only here (inside the function), never by the API function.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any

from chalicelib import aws, storage
from chalicelib.config import get_settings
from chalicelib.logs import get_logger
from chalicelib.models.base import UpdateError, at_epoch, condition_failed, epoch, now
from chalicelib.models.photos import PENDING, PROCESSING, READY, REJECTED, Photo
from chalicelib.resources import PROCESSOR_TIMEOUT_SECONDS, UPLOAD_PREFIX, UPLOAD_QUEUE_MAX_RECEIVES

log = get_logger(__name__)
LEASE_SECONDS = PROCESSOR_TIMEOUT_SECONDS * 2
REJECTED_RETENTION_SECONDS = 30 * 24 * 3600  # the uploader can read the reason for a month


class Busy(Exception):
    """Another worker holds the lease on this photo; retry the message later."""


def handle_batch(
    records: list[dict[str, Any]],
    *,
    process: Callable[[str, str], None] | None = None,
    prefix: str = UPLOAD_PREFIX,
    max_receives: int = UPLOAD_QUEUE_MAX_RECEIVES,
) -> dict[str, Any]:
    """``records``: the SQS Lambda event's records. Returns the partial-batch-failure response.

    A message that fails on its last delivery (the queue then dead-letters it) first marks its photo
    rejected, so the uploader is told instead of watching "processing" until the row expires.
    ``process``/``prefix``/``max_receives``: the video queue's handler (chalicelib/triggers/videos.py) runs
    the same loop with its own processing step, key prefix and queue.
    """
    process = process or process_object
    failures = []
    for record in records:
        receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1") or 1)
        objects = s3_objects(record.get("body", ""))
        try:
            for bucket, key in objects:
                process(bucket, key)
        except Busy:
            failures.append({"itemIdentifier": record["messageId"]})
        except Exception as exc:  # classified below; only this message is retried
            fields = {"message_id": record.get("messageId"), "receives": receives}
            if aws.is_transient(exc):
                log.warning(f"transient AWS error, to be retried: {exc!r}", extra={"fields": fields})
            else:
                log.exception("upload processing failed unexpectedly", extra={"fields": fields})
            failures.append({"itemIdentifier": record["messageId"]})
            if receives >= max_receives:
                for _, key in objects:
                    try:
                        give_up(key, prefix)
                    except Exception:  # any failure: logged; the message still goes to the dead-letter queue
                        log.exception("could not mark a failed upload rejected", extra={"fields": {"key": key}})
    return {"batchItemFailures": failures}


def give_up(key: str, prefix: str = UPLOAD_PREFIX) -> None:
    photo_id = key[len(prefix) :] if key.startswith(prefix) else None
    try:
        photo = Photo.get(photo_id, consistent_read=True) if photo_id else None
    except Photo.DoesNotExist:
        return
    if photo is None or photo.status not in (PENDING, PROCESSING):
        return
    try:  # reject() moves processing -> rejected
        photo.update(actions=[Photo.status.set(PROCESSING)], condition=Photo.status.is_in(PENDING, PROCESSING))
    except UpdateError as exc:
        if condition_failed(exc):
            return  # finished meanwhile
        raise
    what = "video" if photo.kind == "video" else "photo"
    reject(photo, f"The {what} could not be processed. Try uploading it again.")


def s3_objects(body: str) -> list[tuple[str, str]]:
    try:
        message = json.loads(body)
    except ValueError:
        log.warning("ignoring a non-JSON queue message")
        return []
    if not isinstance(message, dict) or message.get("Event") == "s3:TestEvent":
        return []
    found = []
    for rec in message.get("Records", []):
        if not str(rec.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = rec.get("s3", {})
        key = urllib.parse.unquote_plus(s3.get("object", {}).get("key", ""))
        found.append((s3.get("bucket", {}).get("name", ""), key))
    return found


def _claim(photo: Photo, lease_seconds: int = LEASE_SECONDS) -> bool:
    """Take the processing lease (``photo.lease_until`` is then ours). False if the photo is already finished."""
    t = epoch()
    try:
        photo.update(
            actions=[Photo.status.set(PROCESSING), Photo.lease_until.set(t + lease_seconds)],
            condition=(Photo.status == PENDING) | ((Photo.status == PROCESSING) & (Photo.lease_until < t)),
        )
        return True
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
    photo.refresh(consistent_read=True)
    if photo.status in (READY, REJECTED):
        return False
    raise Busy(photo.photo_id)


def process_object(
    bucket: str,
    key: str,
    *,
    prefix: str = UPLOAD_PREFIX,
    work: Callable[[Photo, str], None] | None = None,
    lease_seconds: int = LEASE_SECONDS,
) -> None:
    """One uploaded object: claim its row, run ``work(photo, key)`` (the photo processing by default), and on a
    redelivery of a finished one repeat only what follows the status change."""
    settings = get_settings()
    if bucket != settings.uploads_bucket or not key.startswith(prefix):
        return
    photo_id = key[len(prefix) :]
    try:
        photo = Photo.get(photo_id, consistent_read=True)
    except Photo.DoesNotExist:
        log.info("upload without a photo row (expired or deleted); removing it", extra={"fields": {"key": key}})
        storage.delete_upload(key)
        return
    if photo.status in (READY, REJECTED) or not _claim(photo, lease_seconds):
        # A redelivery of a finished photo: repeat the (idempotent) steps that follow the status change,
        # in case a crash cut them short, and drop the inbox copy if it survived.
        if photo.status == READY:
            after_ready(photo)
        storage.delete_upload(key)
        return
    lease = int(photo.lease_until or 0)
    try:
        (work or _process_claimed)(photo, key)
    except Exception:
        _release(photo, lease)  # the redelivery need not wait for the lease to run out
        raise


def _release(photo: Photo, lease: int) -> None:
    """Give up our lease on a photo still ``processing`` (best effort: if this fails too, it expires)."""
    try:
        photo.update(
            actions=[Photo.lease_until.set(0)],
            condition=(Photo.status == PROCESSING) & (Photo.lease_until == lease),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            log.warning(f"could not release a processing lease: {exc!r}", extra={"fields": {"photo": photo.photo_id}})


def _process_claimed(photo: Photo, key: str) -> None:
    settings = get_settings()
    photo_id = photo.photo_id
    head = storage.head_upload(key)
    if head is None:
        return  # the object is gone already (a photo deleted mid-flight); nothing to do
    size = int(head["ContentLength"])
    limit = min(int(photo.declared_size), settings.max_upload_bytes)
    if size > limit:
        reject(photo, f"The file is {size} bytes, larger than the {limit} bytes declared for it.")
        return

    from chalicelib import imaging
    from chalicelib.imaging.original import clean_original

    data = storage.read_upload(key)
    watermark_text = _watermark_text(photo)
    try:  # everything is rendered before anything is written: a rejected file leaves no media behind
        result = imaging.process_image(
            data, declared_size=limit, max_bytes=settings.max_upload_bytes, watermark_text=watermark_text
        )
        original = clean_original(data)
    except imaging.ImageRejected as exc:
        reject(photo, exc.reason)
        return
    del data
    for variant in result.variants.values():
        storage.put_media(storage.variant_key(photo_id, variant.name), variant.data, variant.content_type)
    storage.put_media(storage.variant_key(photo_id, "original"), original.data, original.content_type)
    finish(photo, result, original.format)
    storage.delete_upload(key)  # the uploads bucket is an inbox; the cleaned original is the kept copy


def photo_exists(photo_id: str) -> bool:
    try:
        Photo.get(photo_id, consistent_read=True, attributes_to_get=["photo_id"])
        return True
    except Photo.DoesNotExist:
        return False


def _watermark_text(photo: Photo) -> str:
    if photo.event_id:
        from chalicelib.services import events as events_service

        event = events_service.get_event(photo.event_id)
        if event is not None and event.watermark_text:
            return event.watermark_text
    return "Lightbox"


def finish(photo: Photo, result: Any, original_format: str) -> None:
    """Mark the photo ready with everything derived from it in one conditional update. Search rows are
    written first (idempotent puts); notifications after, in ``after_ready``, which a redelivery repeats."""
    gps = result.gps or (None, None)
    mark_ready(
        photo,
        [
            Photo.width.set(result.width),
            Photo.height.set(result.height),
            Photo.format.set(result.format),
            Photo.original_format.set(original_format),
            Photo.variant_keys.set([*result.variants.keys(), "original"]),
            Photo.taken_at.set(result.taken_at) if result.taken_at else Photo.taken_at.remove(),
            Photo.taken_at_offset.set(result.taken_at_offset)
            if result.taken_at_offset
            else Photo.taken_at_offset.remove(),
            Photo.camera_model.set(result.camera_model) if result.camera_model else Photo.camera_model.remove(),
            Photo.gps_lat.set(gps[0]) if gps[0] is not None else Photo.gps_lat.remove(),
            Photo.gps_lon.set(gps[1]) if gps[1] is not None else Photo.gps_lon.remove(),
        ],
    )


def mark_ready(photo: Photo, actions: list[Any]) -> None:
    """``processing -> ready`` with ``actions`` (what processing found) in one conditional update; shared by the
    photo and the video pipelines. Then what follows readiness (``after_ready``)."""
    from chalicelib.services import photos as photos_service

    event = photos_service._event_of(photo)
    if photo.event_id and event is None:
        # The event was deleted (its job may have run before this upload's row existed or was visible to it):
        # the photo goes with the files this run wrote, as the event's deletion would have done. A redelivery
        # then finds no row and only drops the inbox copy.
        log.info("upload of a deleted event; purging it", extra={"fields": {"photo_id": photo.photo_id}})
        photos_service.purge([photo])
        return
    photos_service._index_terms(photo, set(), photos_service.listed_terms(photo))
    try:
        photo.update(
            actions=[
                *photos_service.listing_actions(photo, event),
                Photo.status.set(READY),
                Photo.processed_at.set(now()),
                *actions,
                Photo.expires_at.remove(),
                Photo.lease_until.remove(),
            ],
            condition=Photo.status == PROCESSING,
        )
    except UpdateError as exc:
        if condition_failed(exc):
            _discard(photo)  # deleted while we worked: what we wrote must not outlive it
            return
        raise
    after_ready(photo, event)


def after_ready(photo: Photo, event: Any = None) -> None:
    from chalicelib.services import photos as photos_service

    event = event if event is not None else photos_service._event_of(photo)
    photos_service._index_terms(photo, set(), set(photo.search_terms or ()))
    _publish_ready(photo, event)


def _publish_ready(photo: Photo, event: Any) -> None:
    """However many members the event has, this is one conditional write and one message: the ``photo.ready``
    consumers page through the event's members (``events.on_photo_ready``) and count the creator's post
    (``discovery.on_photo_ready``) in jobs. Published for every ready photo, in an event or not."""
    from chalicelib import jobs

    jobs.publish(
        "photo.ready",
        f"photo.ready:{photo.photo_id}",
        {"photo_id": photo.photo_id, "owner_id": photo.owner_id, "event_id": event.event_id if event else None},
    )


def _discard(photo: Photo) -> None:
    """The photo was deleted mid-processing: remove the files this run wrote, and any search rows."""
    from chalicelib.services import photos as photos_service

    storage.delete_media(storage.all_variant_keys(photo.photo_id))
    photos_service._index_terms(photo, photos_service.search_terms(photo.caption, photo.keywords or []), set())


def reject(photo: Photo, reason: str) -> None:
    from chalicelib.services import notifications

    try:
        photo.update(
            actions=[
                Photo.status.set(REJECTED),
                Photo.rejection_reason.set(reason[:500]),
                Photo.lease_until.remove(),
                Photo.expires_at.set(at_epoch(epoch() + REJECTED_RETENTION_SECONDS)),
            ],
            condition=Photo.status == PROCESSING,
        )
    except UpdateError as exc:
        if condition_failed(exc):
            if not photo_exists(photo.photo_id):
                storage.delete_upload(photo.upload_key)
            return
        raise
    storage.delete_upload(photo.upload_key)
    notifications.notify(
        photo.owner_id,
        "rejected",
        actor_id=None,
        target={"kind": "photo", "id": photo.photo_id, "reason": reason[:500]},
        dedupe=photo.photo_id,
    )
    log.info("upload rejected", extra={"fields": {"photo_id": photo.photo_id, "reason": reason}})
