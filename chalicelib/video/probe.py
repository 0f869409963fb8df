"""What an uploaded file is, before anything is decoded.

1. The leading bytes (``sniff_container``): an ISO BMFF file (MP4, MOV) or an EBML one (WebM, Matroska); anything
   else is refused by name (a JPEG labelled ``video/mp4``, a ZIP archive renamed ``.mov``) without running ffmpeg.
   ffmpeg is then told which demuxer to use (``-f mov`` / ``-f matroska``): it never guesses a format, so a file
   cannot steer it into a playlist or concat demuxer that would read other files or URLs.
2. ``ffmpeg -i`` (there is no ffprobe in the wheel) prints the container's header: duration, streams, codecs,
   size, display rotation. A file whose header does not parse (truncated before its index, garbage) is refused.
3. The header is checked against the limits: a video stream, a supported codec, at most ``MAX_PIXELS``, at most
   ``max_video_seconds``. A header that gives no duration (a browser's MediaRecorder WebM) is measured by
   reading the packets without decoding them.
"""

from __future__ import annotations

import re

from . import ffmpeg
from .models import FfmpegFailed, VideoInfo, VideoRejected

VIDEO_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "prores"})
MAX_PIXELS = 8192 * 4320  # 8K; a larger frame is refused before it is decoded
PROBE_TIMEOUT_SECONDS = 30
_ISO_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_EBML = b"\x1a\x45\xdf\xa3"
_IMAGE_BRANDS = frozenset({b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis", b"crx "})

_DURATION = re.compile(r"^\s*Duration:\s*(N/A|(\d+):(\d\d):(\d\d(?:\.\d+)?))", re.M)
_STREAM = re.compile(r"^\s*Stream #0:(\d+)[^:]*:\s*(Video|Audio):\s*([A-Za-z0-9_]+)(.*)$", re.M)
_SIZE = re.compile(r",\s*(\d{1,6})x(\d{1,6})[\s,\[]")
_FPS = re.compile(r",\s*(\d+(?:\.\d+)?)\s*fps")
_ROTATION = re.compile(r"rotation of (-?\d+(?:\.\d+)?) degrees", re.I)
_TIME = re.compile(r"time=\s*(\d+):(\d\d):(\d\d(?:\.\d+)?)")


def sniff_container(head: bytes) -> str:
    """``"mov"`` or ``"matroska"`` (ffmpeg's demuxer names) from the first bytes, or ``VideoRejected``."""
    if head[4:8] in _ISO_BOXES:
        if head[4:8] == b"ftyp" and head[8:12] in _IMAGE_BRANDS:
            raise VideoRejected("The file is not a video (found: a HEIF/AVIF image). Upload an MP4, MOV or WebM video.")
        return "mov"
    if head.startswith(_EBML):
        return "matroska"
    from chalicelib.imaging.sniff import describe_unknown, sniff_format

    image = sniff_format(head)
    found = f"{image.upper()} image" if image else describe_unknown(head)
    raise VideoRejected(f"The file is not a video (found: {found}). Upload an MP4, MOV or WebM video.")


def _seconds(h: str, m: str, s: str) -> float:
    return int(h) * 3600 + int(m) * 60 + float(s)


def parse(stderr: str, container: str) -> VideoInfo | None:
    """The first video stream's facts from ``ffmpeg -i`` output; ``None`` if the header has no video stream."""
    duration_match = _DURATION.search(stderr)
    duration = _seconds(*duration_match.groups()[1:4]) if duration_match and duration_match.group(1) != "N/A" else -1.0
    video = None
    audio_codec = None
    for match in _STREAM.finditer(stderr):
        kind, codec, rest = match.group(2), match.group(3).lower(), match.group(4)
        if kind == "Video" and video is None:
            if "(attached pic)" in rest:  # cover art, not the video
                continue
            size = _SIZE.search(rest + " ")
            if size is None:
                continue
            fps_match = _FPS.search(rest)
            # The stream's side data (its display matrix) follows it, up to the next stream.
            following = stderr[match.end() :]
            next_stream = _STREAM.search(following)
            rotation_match = _ROTATION.search(following[: next_stream.start()] if next_stream else following)
            rotation = round(float(rotation_match.group(1))) % 360 if rotation_match else 0
            video = (
                codec,
                int(size.group(1)),
                int(size.group(2)),
                rotation,
                float(fps_match.group(1)) if fps_match else None,
            )
        elif kind == "Audio" and audio_codec is None:
            audio_codec = codec
    if video is None:
        return None
    codec, width, height, rotation, fps = video
    return VideoInfo(
        container=container,
        duration_s=duration,
        width=width,
        height=height,
        video_codec=codec,
        rotation=rotation if rotation in (0, 90, 180, 270) else 0,
        audio_codec=audio_codec,
        fps=fps,
    )


def probe(path: str, head: bytes, *, max_seconds: int, timeout: float, memory_mib: int) -> VideoInfo:
    container = sniff_container(head)
    result = ffmpeg.run(
        ["-f", container, "-i", path],
        timeout=min(timeout, PROBE_TIMEOUT_SECONDS),
        memory_mib=memory_mib,
        max_output_bytes=1,
    )
    if result.timed_out:  # a header ffmpeg cannot read in 30 s is hostile or broken, not slow
        raise VideoRejected("The file is corrupt or not a supported video (its header could not be read in time).")
    if result.killed_by_signal or "Cannot allocate memory" in result.stderr:
        raise VideoRejected("The video needs more memory than allowed to process. Try a smaller video.")
    if "Input #0" not in result.stderr:
        raise VideoRejected("The file is corrupt or truncated: it is not a readable MP4, MOV or WebM video.")
    info = parse(result.stderr, container)
    if info is None:
        raise VideoRejected("The file has no video stream.")
    if info.video_codec not in VIDEO_CODECS:
        raise VideoRejected(
            f"The video codec {info.video_codec} is not supported. Use H.264, HEVC, VP8, VP9, AV1 or MPEG-4."
        )
    if info.width * info.height > MAX_PIXELS or min(info.width, info.height) < 2:
        raise VideoRejected(f"The video's frame size {info.width}x{info.height} is not supported (at most 8K).")
    if info.duration_s < 0:
        info = _measured(path, info, max_seconds=max_seconds, timeout=timeout, memory_mib=memory_mib)
    if info.duration_s > max_seconds:
        raise VideoRejected(f"The video is {info.duration_s:.0f} seconds long; the limit is {max_seconds} seconds.")
    if info.duration_s <= 0:
        raise VideoRejected("The video has no frames.")
    return info


def _measured(path: str, info: VideoInfo, *, max_seconds: int, timeout: float, memory_mib: int) -> VideoInfo:
    """The duration of a file whose header has none: its packets copied to nowhere (no decoding), stopping
    just past the limit."""
    result = ffmpeg.run(
        [
            "-f",
            info.container,
            "-i",
            path,
            "-map",
            "0:v:0",
            "-c",
            "copy",
            "-t",
            str(max_seconds + 1),
            "-f",
            "null",
            "-",
        ],
        timeout=timeout,
        memory_mib=memory_mib,
        max_output_bytes=1,
    )
    if result.timed_out:
        raise FfmpegFailed("measuring the duration timed out", result.stderr)
    times = _TIME.findall(result.stderr)
    if not times:
        raise VideoRejected("The file is corrupt or truncated: its length cannot be read.")
    return VideoInfo(**{**info.__dict__, "duration_s": _seconds(*times[-1])})
