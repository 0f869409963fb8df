"""``render``: probe a video file and write its served variants into a work directory.

Order: probe (refuses most bad files in milliseconds) -> stream (the long encode; it also decodes every frame,
so damage after a readable header shows here) -> check the stream against the probe (a file cut short yields
a stream much shorter than its header claimed: refused as truncated) -> poster -> preview. Every run shares
one deadline (``deadline``, a ``time.monotonic()`` value: the Lambda timeout less a margin) and each is capped
by ``timeout_seconds`` too; memory and output size are capped per run (``ffmpeg.run``).

Disk: the work directory is the function's ``/tmp`` (10 GB) and already holds the source (up to 2 GB). Each
output's size limit (``RLIMIT_FSIZE``) is its own cap (the stream: ``max_output_bytes``, see ``stream_cap``; the
poster ``POSTER_MAX_BYTES``; the preview ``PREVIEW_MAX_BYTES``) and never more than what is free in the work
directory less what the outputs still to come need (``_room``), so a render cannot fill the disk. No room left is
refused before ffmpeg runs.

A non-zero exit is the file's fault when ffmpeg says why in the words of a decoder or demuxer ("Invalid data",
"partial file", ...): ``VideoRejected``. A run killed by the time, memory or output-size limit (``SIGXFSZ``), or
one that found the disk full (``ENOSPC``), is refused as too demanding (``VideoRejected``: a redelivery would fail
the same way, after minutes). Anything else is ``FfmpegFailed``, which the handler retries like any unexpected
error.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from io import BytesIO

from . import ffmpeg, probe, transcode
from .models import FfmpegFailed, Rendered, VideoInfo, VideoRejected

_FILE_FAULTS = re.compile(
    r"Invalid data found|partial file|moov atom not found|error reading header|Invalid NAL|"
    r"corrupt|Truncat|End of file|could not find codec parameters|no frame|Decoder .* not found|"
    r"Error while decoding|Conversion failed",
    re.I,
)
TRUNCATED_TOLERANCE = 0.9  # the stream must cover 90% of the duration the header claims (less 1 s)
MiB = 1024 * 1024
STREAM_FACTOR = 2  # the stream may be at most twice the upload ...
STREAM_FLOOR_BYTES = 256 * MiB  # ... or this, for a small upload (a still or low-bitrate source grows at CRF 23)
POSTER_MAX_BYTES = 32 * MiB  # one JPEG frame, at most 1920 px at q 2 (about 1 MB)
PREVIEW_MAX_BYTES = 128 * MiB  # 10 s of at most 480p at CRF 30 (a few MB)
IMAGES_BYTES = 64 * MiB  # thumb/medium/large, preview_poster and the watermark PNG, written by Python
NO_ROOM = "There is not enough disk space to process the video. Try a shorter or smaller video."


def stream_cap(source_bytes: int) -> int:
    """The most the stream rendition of a ``source_bytes`` upload may take (``render``'s ``max_output_bytes``)."""
    return max(source_bytes * STREAM_FACTOR, STREAM_FLOOR_BYTES)


def _room(workdir: str, cap: int, later: int) -> int:
    """``cap``, or less: what is free in ``workdir`` less ``later`` bytes kept for the outputs still to come."""
    free = shutil.disk_usage(workdir).free - later
    if free < min(cap, MiB):
        raise VideoRejected(NO_ROOM)
    return min(cap, free)


def _bytes(n: int) -> str:
    return f"{n / MiB:.0f} MB" if n >= MiB else f"{n} bytes"


def render(
    source: str,
    workdir: str,
    *,
    watermark_text: str,
    max_seconds: int,
    timeout_seconds: float,
    memory_mib: int,
    max_output_bytes: int,
    preset: str,
    deadline: float,
) -> Rendered:
    with open(source, "rb") as handle:
        head = handle.read(64)

    def limit() -> float:
        left = deadline - time.monotonic()
        if left <= 1:
            raise VideoRejected("The video took too long to process. Try a shorter or smaller video.")
        return min(timeout_seconds, left)

    info = probe.probe(source, head, max_seconds=max_seconds, timeout=limit(), memory_mib=memory_mib)
    out = Rendered(info=info, width=0, height=0, duration_s=info.duration_s)

    stream = os.path.join(workdir, "stream.mp4")
    room = _room(workdir, max_output_bytes, POSTER_MAX_BYTES + IMAGES_BYTES + PREVIEW_MAX_BYTES)
    _run(transcode.stream_args(source, info, stream, preset, max_seconds), limit(), memory_mib, room)
    made = _probe_output(stream, limit(), memory_mib)
    if made.duration_s < min(info.duration_s * TRUNCATED_TOLERANCE, info.duration_s - 1):
        raise VideoRejected(
            f"The file is truncated: it plays {made.duration_s:.1f} of the {info.duration_s:.1f} seconds it claims."
        )
    out.width, out.height = made.width, made.height  # ffmpeg wrote the rotation into the pixels
    out.duration_s = round(made.duration_s, 3)
    out.files["stream"] = (stream, "video/mp4")

    poster = os.path.join(workdir, "poster.jpg")
    room = _room(workdir, POSTER_MAX_BYTES, IMAGES_BYTES + PREVIEW_MAX_BYTES)
    _run(transcode.poster_args(source, info, poster), limit(), memory_mib, room)
    if not os.path.exists(poster) or os.path.getsize(poster) == 0:  # seeking past the last frame: take the first
        _run(transcode.poster_args(source, info, poster, at=0), limit(), memory_mib, room)
    if not os.path.exists(poster) or os.path.getsize(poster) == 0:
        raise VideoRejected("No frame of the video could be decoded.")
    out.files["poster"] = (poster, "image/jpeg")
    out.files.update(_poster_variants(poster, workdir, watermark_text))

    watermark = os.path.join(workdir, "watermark.png")
    _watermark_png(watermark, watermark_text, *transcode.fit(*info.display_size, transcode.PREVIEW_BOX))
    preview = os.path.join(workdir, "preview.mp4")
    room = _room(workdir, PREVIEW_MAX_BYTES, 0)
    _run(transcode.preview_args(source, watermark, info, preview, preset), limit(), memory_mib, room)
    out.files["preview"] = (preview, "video/mp4")
    return out


def _run(args: list[str], timeout: float, memory_mib: int, max_output_bytes: int) -> ffmpeg.Result:
    result = ffmpeg.run(args, timeout=timeout, memory_mib=memory_mib, max_output_bytes=max_output_bytes)
    if result.timed_out:
        raise VideoRejected("The video took too long to process. Try a shorter or smaller video.")
    if result.returncode == 0:
        return result
    if result.returncode == -signal.SIGXFSZ:
        raise VideoRejected(
            f"The processed video would be larger than the {_bytes(max_output_bytes)} allowed for it. "
            "Try a shorter or smaller video."
        )
    if "No space left on device" in result.stderr:  # ENOSPC: a retry would fill the disk again, minutes later
        raise VideoRejected(NO_ROOM)
    if result.killed_by_signal or "Cannot allocate memory" in result.stderr:
        raise VideoRejected("The video needs more memory than allowed to process. Try a smaller video.")
    if _FILE_FAULTS.search(result.stderr):
        raise VideoRejected("The file is corrupt or truncated: it could not be decoded.")
    raise FfmpegFailed(f"ffmpeg exited {result.returncode}", result.stderr[-2000:])


def _probe_output(path: str, timeout: float, memory_mib: int) -> VideoInfo:
    result = ffmpeg.run(["-f", "mov", "-i", path], timeout=timeout, memory_mib=memory_mib, max_output_bytes=1)
    info = probe.parse(result.stderr, "mov")
    if info is None:
        raise VideoRejected("The file is corrupt or truncated: no frame of it could be decoded.")
    if info.duration_s < 0:
        raise FfmpegFailed("the stream rendition has no duration", result.stderr[-2000:])
    return info


def _poster_variants(poster: str, workdir: str, watermark_text: str) -> dict[str, tuple[str, str]]:
    """thumb/medium/large of the poster frame (the photo processor's sizes and encoder) and its blurred,
    watermarked ``preview_poster``."""
    from PIL import Image

    from chalicelib import imaging
    from chalicelib.imaging.preview import make_preview
    from chalicelib.imaging.process import JPEG_OPTIONS

    with open(poster, "rb") as handle:
        data = handle.read()
    try:
        result = imaging.process_image(data, watermark_text=watermark_text)
    except imaging.ImageRejected as exc:
        raise VideoRejected(f"The video's frame could not be read: {exc.reason}") from None
    files = {}
    for name in ("thumb", "medium", "large"):
        path = os.path.join(workdir, f"{name}.jpg")
        with open(path, "wb") as handle:
            handle.write(result.variants[name].data)
        files[name] = (path, "image/jpeg")
    with Image.open(BytesIO(data)) as frame:
        blurred = make_preview(frame, watermark_text)
    path = os.path.join(workdir, "preview_poster.jpg")
    blurred.save(path, "JPEG", **JPEG_OPTIONS)
    files["preview_poster"] = (path, "image/jpeg")
    return files


def _watermark_png(path: str, text: str, width: int, height: int) -> None:
    from chalicelib.imaging.watermark import clean_text, watermark_overlay

    watermark_overlay(clean_text(text), width, height).save(path, "PNG")
