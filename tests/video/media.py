"""Small real videos made at test time with the bundled ffmpeg (lavfi testsrc/sine), and ways to look inside
what the pipeline made: ``ffmpeg -i`` facts and the MP4's top-level boxes."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

from chalicelib.video import ffmpeg, probe

LOCATION = "+48.8584+002.2945/"  # a phone's GPS tag (ISO 6709), which must not survive


def make(path: Path, *args: str) -> bytes:
    subprocess.run(
        [ffmpeg.executable(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args, str(path)],
        check=True,
        timeout=60,
    )
    return path.read_bytes()


def testsrc(seconds: float = 2, size: str = "160x120", rate: int = 10) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}:duration={seconds}"]


def sine(seconds: float = 2) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]


X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def library(directory: Path) -> dict[str, bytes]:
    """Every sample, by name."""
    d = directory
    files: dict[str, bytes] = {}
    files["mp4"] = make(
        d / "a.mp4",
        *testsrc(3),
        *sine(3),
        *X264,
        "-c:a",
        "aac",
        "-metadata",
        f"location={LOCATION}",
        "-metadata",
        "make=Apple",
        "-metadata",
        "model=iPhone 15",
        "-movflags",
        "use_metadata_tags",
    )
    files["webm"] = make(
        d / "a.webm",
        *testsrc(2),
        *sine(2),
        "-c:v",
        "libvpx-vp9",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-c:a",
        "libopus",
    )
    files["mov_no_audio"] = make(d / "silent.mov", *testsrc(2), *X264, "-f", "mov")
    files["rotated"] = make(d / "rotated.mp4", "-display_rotation", "90", "-i", str(d / "a.mp4"), "-c", "copy")
    files["faststart_source"] = make(d / "fs.mp4", *testsrc(6), *X264, "-g", "5", "-movflags", "+faststart")
    files["truncated_index"] = files["mp4"][: len(files["mp4"]) // 2]  # moov (at the end) is cut off
    files["truncated_data"] = files["faststart_source"][: len(files["faststart_source"]) * 2 // 5]
    files["two_hours"] = make(
        d / "long.mp4", "-f", "lavfi", "-i", "color=c=blue:size=16x16:rate=1:duration=7200", *X264, "-g", "600"
    )
    files["png_codec"] = make(d / "png.mov", *testsrc(1), "-c:v", "png", "-f", "mov")
    files["audio_only"] = make(d / "audio.mp4", *sine(1), "-c:a", "aac")
    return files


def jpeg() -> bytes:
    from tests.pipeline import jpeg as make_jpeg

    return make_jpeg(64, 48)


def zip_bomb() -> bytes:
    """20 MB of zeros deflated to ~20 kB (a real bomb nests these): to be uploaded as ``bomb.mov``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("movie.mov", b"\0" * (20 * 1024 * 1024))
    return buffer.getvalue()


def facts(path: Path) -> tuple[probe.VideoInfo | None, str]:
    """What ``ffmpeg -i`` says about a file: the parsed facts and its whole report (metadata included)."""
    result = subprocess.run(
        [ffmpeg.executable(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, text=True, timeout=30
    )
    return probe.parse(result.stderr, "mov"), result.stderr


def top_level_boxes(data: bytes) -> list[str]:
    """The ISO BMFF top-level box types in file order (``moov`` before ``mdat`` is faststart)."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        boxes.append(kind)
        if size < 8:
            break
        offset += size
    return boxes
