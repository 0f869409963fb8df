"""The digital archive of an order: one zip of every paid, not refunded digital item, built by a background job,
streamed from S3 to S3 without holding the files in memory.

- ``POST /orders/{id}/archive`` (buyer): the item set is every digital line ``available`` while the order's
  downloads are not suspended by an open dispute; none: 409 ``nothing_to_archive`` (unpaid: 409 ``not_paid``).
  Its fingerprint (``delivery_rules.archive_fingerprint``) goes to ``Order.archive_items`` with
  ``archive_status = building`` and the event ``order.archive_requested`` in ONE transaction (version-locked:
  concurrent requests give one build). Asking again while ``building`` or ``ready`` for the same item set
  changes nothing; a refund changes the set, so the old zip stops showing and a new request builds a new one.
- The job (``on_archive_requested``) re-reads the order, does nothing if the order now wants another item set,
  streams each item's variant (the one the item names: ``large`` or ``original``) in chunks into ``zipfile``
  (ZIP_STORED: JPEGs do not compress) writing to :class:`S3MultipartWriter` (parts of ``archive_part_bytes``,
  >= 5 MiB), and marks the archive ready if the order still wants that set. The key is derived from the order
  and the fingerprint (``archives/<order_id>/<fingerprint>.zip``), so a rerun overwrites the same object.
  Memory stays at about one part plus one chunk whatever the archive's size (bench/bench_archive.py).
- ``archive_view(order)`` is the order's ``archive`` field: None, ``{"status": "building"}`` or
  ``{"status": "ready", "url": <signed GET, archive_url_ttl>}``; None whenever the zip no longer matches the
  order's current item set (after a refund) or downloads are suspended.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from chalicelib import aws, storage
from chalicelib.config import get_settings
from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.logs import get_logger
from chalicelib.models import delivery as store
from chalicelib.models.base import TransactWriteError, new_id, now
from chalicelib.models.orders import Order, OrderLine
from chalicelib.resources import ARCHIVE_EXPIRY_DAYS, ARCHIVE_PREFIX  # the worker may write only there
from chalicelib.services.delivery_rules import archive_fingerprint, safe_stem, unique_names

log = get_logger(__name__)
READ_CHUNK = 1024 * 1024  # bytes read from a source object at a time
BUILD_TIMEOUT = timedelta(hours=1)  # a build not done by then (its job failed for good) may be asked for again
# A ready zip is shown for a day less than S3 keeps it (the media bucket's lifecycle rule), then built anew.
SHOWN_FOR = timedelta(days=ARCHIVE_EXPIRY_DAYS - 1)
EVENT = "order.archive_requested"


def downloads_suspended(order: Order) -> bool:
    return order.status == "disputed" or order.dispute_status == "open"


def archive_lines(order: Order) -> list[OrderLine]:
    """The digital items an archive of this order holds now (decided from the order alone: no reads)."""
    if order.paid_at is None or downloads_suspended(order):
        return []
    return [i for i in order.items if i.kind == "digital" and i.status == "available" and i.variant]


def fingerprint_of(order: Order) -> str | None:
    lines = archive_lines(order)
    return archive_fingerprint((i.item_id, str(i.variant)) for i in lines) if lines else None


def archive_key(order_id: str, fingerprint: str) -> str:
    return f"{ARCHIVE_PREFIX}{order_id}/{fingerprint}.zip"


def current_state(order: Order) -> str | None:
    """``building`` or ``ready`` if the order's archive matches its current item set and is still good; else
    None (nothing asked, a refund changed the set, a dispute is open, the build died, the zip expired)."""
    current = fingerprint_of(order)
    if current is None or order.archive_items != current:
        return None
    age = now() - order.archive_at if order.archive_at is not None else timedelta(0)
    if order.archive_status == "building" and age < BUILD_TIMEOUT:
        return "building"
    if order.archive_status == "ready" and order.archive_key and age < SHOWN_FOR:
        return "ready"
    return None


def archive_view(order: Order) -> dict[str, Any] | None:
    """The order's ``archive`` field (for ``services.orders.order_view``): signs a fresh URL when ready."""
    state = current_state(order)
    if state != "ready":
        return {"status": "building"} if state == "building" else None
    url = storage.signed_get(
        order.archive_key, ttl=get_settings().archive_url_ttl, download_name=f"lightbox-order-{order.order_id}.zip"
    )
    return {"status": "ready", "url": url}


def order_out(order: Order, principal: Any) -> dict[str, Any]:
    """The order as the contract shows it (checkout's ``order_view`` once it is there) with its archive."""
    import importlib

    try:
        orders = importlib.import_module("chalicelib.services.orders")
    except ModuleNotFoundError:  # until checkout's services/orders.py is merged: the fields this area owns
        return {
            "id": order.order_id,
            "status": order.status,
            "currency": order.currency,
            "archive": archive_view(order),
        }
    view = dict(orders.order_view(order, principal))
    view["archive"] = archive_view(order)
    return view


def request_archive(principal: Any, order_id: str) -> dict[str, Any]:
    from chalicelib import jobs

    for _ in range(5):
        order = store.get_order(order_id)
        if order is None or order.buyer_id != principal.user_id:
            raise NotFoundError("No such order.")
        if order.paid_at is None:
            raise ConflictError("The order is not paid yet.", code="not_paid")
        fingerprint = fingerprint_of(order)
        if fingerprint is None:
            raise ConflictError("The order has no digital item to download.", code="nothing_to_archive")
        if current_state(order) is not None:
            return order_out(order, principal)  # building or ready for the same item set: nothing to do
        payload = {"order_id": order_id, "fingerprint": fingerprint}
        try:
            with jobs.transaction() as tx:
                tx.update(
                    order,
                    actions=[
                        Order.archive_status.set("building"),
                        Order.archive_items.set(fingerprint),
                        Order.archive_key.remove(),
                        Order.archive_at.set(now()),
                        Order.updated_at.set(now()),
                    ],
                )
                row = jobs.publish_in(tx, EVENT, f"{EVENT}:{order_id}:{new_id()}", payload)
        except TransactWriteError:
            continue  # the order changed meanwhile (another request, a payment step): look again
        jobs.dispatch(row)
        fresh = store.get_order(order_id)
        return order_out(fresh or order, principal)
    raise ConflictError("The order is changing; retry.", code="order_busy")


# ---- the build job -----------------------------------------------------------------------------------------


class S3MultipartWriter:
    """A write-only, non-seekable file object that uploads what it is given as an S3 multipart upload, holding at
    most one part (``part_bytes``, >= 5 MiB: S3's minimum for every part but the last) in memory. ``close()``
    completes the upload; ``abort()`` (or an exception inside ``with``) discards it."""

    def __init__(self, bucket: str, key: str, part_bytes: int, content_type: str = "application/zip") -> None:
        self.s3 = aws.client("s3")
        self.bucket, self.key, self.part_bytes = bucket, key, part_bytes
        self.upload_id = self.s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)["UploadId"]
        self.parts: list[dict[str, Any]] = []
        self.buffer = bytearray()
        self.position = 0
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.buffer += data
        self.position += len(data)
        while len(self.buffer) >= self.part_bytes:
            chunk = bytes(self.buffer[: self.part_bytes])
            del self.buffer[: self.part_bytes]
            self._upload(chunk)
        return len(data)

    def tell(self) -> int:
        return self.position

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:  # parts go out when full; zipfile calls flush between entries
        return None

    def _upload(self, chunk: bytes) -> None:
        number = len(self.parts) + 1
        response = self.s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=chunk
        )
        self.parts.append({"PartNumber": number, "ETag": response["ETag"]})

    def close(self) -> None:
        if self.closed:
            return
        if self.buffer or not self.parts:
            self._upload(bytes(self.buffer))
            self.buffer = bytearray()
        self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self.parts}
        )
        self.closed = True

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)

    def __enter__(self) -> S3MultipartWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()


def _chunks(bucket: str, key: str) -> tuple[int, Iterator[bytes]]:
    body = aws.client("s3").get_object(Bucket=bucket, Key=key)
    return int(body["ContentLength"]), body["Body"].iter_chunks(chunk_size=READ_CHUNK)


def write_zip(target: S3MultipartWriter, sources: list[tuple[str, str]], *, bucket: str) -> int:
    """Stream ``(zip member name, source key)`` objects of ``bucket`` into a zip written to ``target``. Returns
    the bytes read from the sources."""
    total = 0
    with zipfile.ZipFile(target, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, key in sources:
            size, chunks = _chunks(bucket, key)
            info = zipfile.ZipInfo(name, date_time=now().timetuple()[:6])
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = size  # lets zipfile choose ZIP64 for a member over 2 GiB
            with archive.open(info, mode="w") as member:
                for chunk in chunks:
                    member.write(chunk)
                    total += len(chunk)
    return total


def members(order: Order, lines: list[OrderLine]) -> list[tuple[str, str]]:
    """(file name in the zip, S3 key) of each line: named after the photo's title (else its id), unique."""
    from chalicelib.services.photos import photos_by_ids

    photos = {p.photo_id: p for p in photos_by_ids([i.photo_id for i in lines])}
    wanted, keys = [], []
    for line in lines:
        photo = photos.get(line.photo_id)
        variant = str(line.variant)
        if photo is None or variant not in (photo.variant_keys or []):
            log.warning(
                "archive item has no stored file", extra={"fields": {"order_id": order.order_id, "item": line.item_id}}
            )
            continue
        ext = "png" if variant == "original" and photo.original_format == "png" else "jpg"
        wanted.append((safe_stem(line.title or getattr(photo, "caption", None), line.photo_id), ext))
        keys.append(storage.variant_key(line.photo_id, variant))
    return list(zip(unique_names(wanted), keys, strict=True))


def build_archive(order: Order, fingerprint: str) -> str:
    settings = get_settings()
    key = archive_key(order.order_id, fingerprint)
    sources = members(order, archive_lines(order))
    with S3MultipartWriter(settings.media_bucket, key, settings.archive_part_bytes) as target:
        read = write_zip(target, sources, bucket=settings.media_bucket)
    log.info("archive built", extra={"fields": {"order_id": order.order_id, "files": len(sources), "bytes": read}})
    return key


def mark_ready(order_id: str, fingerprint: str, key: str) -> bool:
    """Set the archive ready if the order still wants this item set (no version condition: the condition on
    ``archive_items`` is the one that matters, and a concurrent status change must not undo the build)."""
    from chalicelib.models.base import UpdateError, condition_failed

    try:
        store.unlocked(order_id).update(
            actions=[
                Order.archive_status.set("ready"),
                Order.archive_key.set(key),
                Order.archive_at.set(now()),
                Order.updated_at.set(now()),
            ],
            condition=(Order.archive_items == fingerprint),
            add_version_condition=False,
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def on_archive_requested(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``order.archive_requested`` consumer ``archives``: builds the zip (one run: the worker's timeout bounds it;
    100 x 8 MB takes seconds in-region) unless the order now wants another item set."""
    order = store.get_order(payload["order_id"])
    fingerprint = payload["fingerprint"]
    if order is None or order.archive_items != fingerprint or fingerprint_of(order) != fingerprint:
        return None  # superseded (a newer request, a refund) or gone
    if current_state(order) == "ready":
        return None  # a redelivered job: already built
    key = build_archive(order, fingerprint)
    mark_ready(order.order_id, fingerprint, key)
    return None
