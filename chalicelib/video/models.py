"""What the video pipeline finds and makes."""

from __future__ import annotations

from dataclasses import dataclass, field


class VideoRejected(Exception):
    """The file itself is at fault: not a video, corrupt, too long, too large, an unsupported codec.
    ``reason`` is shown to the uploader (``rejection_reason``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FfmpegFailed(Exception):
    """ffmpeg ended badly for a reason that is not clearly the file's: killed by the time limit or the memory
    limit, or an exit code with no recognised cause. ``stderr`` is its bounded tail."""

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


@dataclass(frozen=True)
class VideoInfo:
    container: str  # the demuxer ffmpeg is told to use: "mov" (MP4/MOV) or "matroska" (WebM/Matroska)
    duration_s: float
    width: int  # coded size, before rotation
    height: int
    video_codec: str
    rotation: int  # display rotation in degrees, 0/90/180/270 (clockwise as ffmpeg reports it, normalised)
    audio_codec: str | None = None
    fps: float | None = None

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as the video is shown (a 90/270 rotation swaps them)."""
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)


@dataclass
class Rendered:
    """Files written into the work directory, by variant name: (path, content type)."""

    info: VideoInfo
    width: int  # of the stream, as displayed
    height: int
    duration_s: float
    files: dict[str, tuple[str, str]] = field(default_factory=dict)
