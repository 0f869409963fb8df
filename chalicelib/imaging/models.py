"""What the imaging package hands back: processed images, their variants, and the one refusal."""

from __future__ import annotations

from dataclasses import dataclass, field


class ImageRejected(Exception):
    """The upload is not an acceptable image. ``reason`` is written for the uploader to read."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Variant:
    """One encoded rendition of a photo, ready to store and serve (no EXIF, XMP, GPS or comments)."""

    name: str
    data: bytes = field(repr=False)
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class ProcessedImage:
    """An accepted upload: what it is, what it says about itself, and its served variants.

    ``width``/``height`` are the original's, after EXIF orientation. ``taken_at`` is the capture time: the UTC
    instant ``YYYY-MM-DDTHH:MM:SSZ`` when EXIF recorded the camera's UTC offset (``OffsetTimeOriginal``, else
    ``OffsetTime``; kept as ``taken_at_offset``, ``+02:00``), otherwise the camera's local wall-clock time
    ``YYYY-MM-DDTHH:MM:SS`` without a zone (``taken_at_offset`` is then ``None``). ``gps`` is
    ``(latitude, longitude)`` in decimal degrees and belongs on the owner's private record only; no
    variant carries it. ``variants`` has the keys ``thumb``, ``medium``, ``large``, ``watermarked`` and ``preview``.
    """

    format: str
    width: int
    height: int
    taken_at: str | None
    camera_model: str | None
    gps: tuple[float, float] | None
    variants: dict[str, Variant] = field(repr=False)
    taken_at_offset: str | None = None
