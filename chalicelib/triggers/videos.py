"""The video processor: S3 ObjectCreated under ``VIDEO_UPLOAD_PREFIX`` -> the video queue -> this handler, one
message per invocation (batch size 1: a video can take minutes).

It is the photo processor's loop (``uploads.handle_batch``/``process_object``: leases, redelivery of finished
items, transient errors retried, the last delivery marking the item rejected) with its own step:

1. the upload's size against what was declared and ``max_video_bytes`` (no download if it is over);
2. the file streamed to local disk (``/tmp``, the function's ephemeral storage), never held in memory;
3. ``chalicelib.video.process.render``: probe, stream, poster and its sizes, blurred poster, preview clip, each
   ffmpeg run under time, memory and output-size limits (each output capped by its own size and by what is free
   in ``/tmp``; a full disk is a rejection, not a retry); ``VideoRejected`` -> ``rejected`` with the reason;
4. every file put in the media bucket at its variant key, then ``uploads.mark_ready`` (the photo path's ready
   transition: search rows, the ``photo.ready`` job, a row deleted meanwhile has its files removed).
Nothing is written to the media bucket before every variant exists, so a rejection leaves no media behind. The
raw upload (which carries the phone's metadata) is deleted once processed or rejected.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import time
from typing import Any

from chalicelib import storage
from chalicelib.config import get_settings
from chalicelib.logs import get_logger
from chalicelib.models.photos import Photo
from chalicelib.resources import VIDEO_QUEUE_MAX_RECEIVES, VIDEO_TIMEOUT_SECONDS, VIDEO_UPLOAD_PREFIX
from chalicelib.triggers import uploads

log = get_logger(__name__)
LEASE_SECONDS = VIDEO_TIMEOUT_SECONDS + 60
DEADLINE_MARGIN_SECONDS = 60  # left for uploading the variants and marking the row ready
VARIANT_ORDER = ("thumb", "medium", "large", "poster", "preview_poster", "preview", "stream")


def handle_batch(records: list[dict[str, Any]], context: Any = None) -> dict[str, Any]:
    """``context``: the Lambda context, whose remaining time bounds the ffmpeg runs (locally: the full timeout)."""
    budget = VIDEO_TIMEOUT_SECONDS
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        budget = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + budget - DEADLINE_MARGIN_SECONDS
    process = functools.partial(
        uploads.process_object,
        prefix=VIDEO_UPLOAD_PREFIX,
        work=functools.partial(process_claimed, deadline=deadline),
        lease_seconds=LEASE_SECONDS,
    )
    return uploads.handle_batch(
        records, process=process, prefix=VIDEO_UPLOAD_PREFIX, max_receives=VIDEO_QUEUE_MAX_RECEIVES
    )


def process_claimed(photo: Photo, key: str, *, deadline: float) -> None:
    from chalicelib.video import VideoRejected
    from chalicelib.video.process import render, stream_cap

    settings = get_settings()
    head = storage.head_upload(key)
    if head is None:
        return  # gone already (deleted mid-flight)
    size = int(head["ContentLength"])
    limit = min(int(photo.declared_size), settings.max_video_bytes)
    if size > limit:
        uploads.reject(photo, f"The file is {size} bytes, larger than the {limit} bytes allowed for it.")
        return
    workdir = tempfile.mkdtemp(prefix="video-")
    try:
        source = os.path.join(workdir, "source")
        storage.download_upload(key, source)
        try:
            rendered = render(
                source,
                workdir,
                watermark_text=uploads._watermark_text(photo),
                max_seconds=settings.max_video_seconds,
                timeout_seconds=settings.video_timeout_seconds,
                memory_mib=settings.video_memory_mib,
                max_output_bytes=stream_cap(size),  # and never more than /tmp has free (process._room)
                preset=settings.video_preset,
                deadline=deadline,
            )
        except VideoRejected as exc:
            uploads.reject(photo, exc.reason)
            return
        os.unlink(source)
        for name in VARIANT_ORDER:
            path, content_type = rendered.files[name]
            storage.put_media_file(storage.variant_key(photo.photo_id, name), path, content_type)
        uploads.mark_ready(
            photo,
            [
                Photo.kind.set("video"),
                Photo.width.set(rendered.width),
                Photo.height.set(rendered.height),
                Photo.duration_s.set(rendered.duration_s),
                Photo.format.set(rendered.info.video_codec),
                Photo.variant_keys.set(list(VARIANT_ORDER)),
            ],
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    storage.delete_upload(key)
    log.info(
        "video ready",
        extra={"fields": {"photo_id": photo.photo_id, "seconds": rendered.duration_s, "size": size}},
    )
