"""The ffmpeg commands that make a video's served files, as argument lists (``bench/bench_video.py`` runs the
same lists bare to measure the overhead of the pipeline around them).

Every output: no global or stream metadata (``-map_metadata -1``: a phone's GPS ``location`` tag, device make
and model, creation time), no chapters, ``-fflags +bitexact`` (no encoder tag), rotation applied to the pixels
(ffmpeg's autorotate turns the display matrix into a transpose and writes none), yuv420p (what every player
decodes), ``-movflags +faststart`` (the index before the data, so a player starts before the download ends).
"""

from __future__ import annotations

from .models import VideoInfo

STREAM_BOX = (1920, 1080)  # longest x shortest side; never upscaled
PREVIEW_BOX = (854, 480)  # "480p"
POSTER_LONGEST = 1920
PREVIEW_SECONDS = 10
STREAM_CRF = 23
PREVIEW_CRF = 30
MAX_FPS = 60
PREVIEW_FPS = 30
AUDIO_BITRATE = "128k"
_CLEAN = ["-map_metadata", "-1", "-map_chapters", "-1", "-fflags", "+bitexact"]


def _h264_mp4(preset: str, crf: int, seconds: int, out: str) -> list[str]:
    """The encoder and muxer half shared by the stream and the preview: x264, faststart MP4, no metadata."""
    return ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-t", str(seconds), "-movflags", "+faststart",
            *_CLEAN, "-f", "mp4", "-y", out]  # fmt: skip


def fit(width: int, height: int, box: tuple[int, int]) -> tuple[int, int]:
    """``(width, height)`` scaled to fit ``box`` turned the same way (landscape or portrait), even, never larger."""
    longest, shortest = box
    limit = (longest, shortest) if width >= height else (shortest, longest)
    scale = min(1.0, limit[0] / width, limit[1] / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def poster_time(info: VideoInfo) -> float:
    """One second in, or 10% in for a video shorter than 10 s (its first frame is often black)."""
    return round(min(1.0, info.duration_s * 0.1), 3)


def poster_args(source: str, info: VideoInfo, out: str, at: float | None = None) -> list[str]:
    width, height = fit(*info.display_size, (POSTER_LONGEST, POSTER_LONGEST))
    return [
        *(["-ss", f"{poster_time(info) if at is None else at:.3f}"]),
        "-f",
        info.container,
        "-i",
        source,
        "-map",
        "0:v:0",
        "-frames:v",
        "1",
        "-vf",
        f"scale={width}:{height}:flags=bicubic,format=yuvj420p",
        "-q:v",
        "2",
        *_CLEAN,
        "-f",
        "image2",
        "-y",
        out,
    ]


def preview_args(source: str, watermark_png: str, info: VideoInfo, out: str, preset: str) -> list[str]:
    """At most ``PREVIEW_SECONDS`` from the start, at most 480p and 30 fps, the watermark over it, no audio."""
    width, height = fit(*info.display_size, PREVIEW_BOX)
    return [
        "-t",
        str(PREVIEW_SECONDS),
        "-f",
        info.container,
        "-i",
        source,
        "-i",
        watermark_png,
        "-filter_complex",
        f"[0:v:0]scale={width}:{height}:flags=bicubic,fps={PREVIEW_FPS},format=yuv420p[v];"
        "[v][1:v]overlay=0:0:format=auto,format=yuv420p[out]",
        "-map",
        "[out]",
        "-an",
        "-sn",
        "-dn",
        *_h264_mp4(preset, PREVIEW_CRF, PREVIEW_SECONDS, out),
    ]


def stream_args(source: str, info: VideoInfo, out: str, preset: str, max_seconds: int) -> list[str]:
    """H.264 High + AAC-LC stereo, at most 1080p and 60 fps, the first video and (if any) first audio stream."""
    width, height = fit(*info.display_size, STREAM_BOX)
    audio = ["-map", "0:a:0?", "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ac", "2"] if info.audio_codec else ["-an"]
    return [
        "-f",
        info.container,
        "-i",
        source,
        "-map",
        "0:v:0",
        *audio,
        "-sn",
        "-dn",
        "-vf",
        f"scale={width}:{height}:flags=bicubic,format=yuv420p",
        "-fpsmax",
        str(MAX_FPS),
        "-profile:v",
        "high",
        *_h264_mp4(preset, STREAM_CRF, max_seconds, out),
    ]
