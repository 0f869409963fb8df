"""What an image's EXIF says: orientation, capture time, camera, position.

Metadata is advisory. A malformed EXIF block never rejects a photo: the affected fields are ``None`` (or
orientation 1) and a warning is logged.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from PIL import Image

logger = logging.getLogger(__name__)

_ORIENTATION = 0x0112
_MAKE = 0x010F
_MODEL = 0x0110
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_OFFSET_TIME, _OFFSET_TIME_ORIGINAL, _OFFSET_TIME_DIGITIZED = 0x9010, 0x9011, 0x9012  # EXIF 2.31, "+02:00"
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")
_GPS_LATITUDE_REF, _GPS_LATITUDE, _GPS_LONGITUDE_REF, _GPS_LONGITUDE = 1, 2, 3, 4

# EXIF orientation -> the transpose that shows the image upright (as in PIL.ImageOps.exif_transpose).
TRANSPOSE_FOR_ORIENTATION: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class Metadata:
    """``taken_at`` is the capture time: a UTC instant ``YYYY-MM-DDTHH:MM:SSZ`` when EXIF recorded the camera's
    UTC offset (``taken_at_offset``, ``+02:00``), else the camera's wall-clock time ``YYYY-MM-DDTHH:MM:SS``
    in an unknown zone (no ``Z``)."""

    orientation: int = 1
    taken_at: str | None = None
    camera_model: str | None = None
    gps: tuple[float, float] | None = None
    taken_at_offset: str | None = None

    @property
    def swaps_axes(self) -> bool:
        """Whether showing the image upright swaps its width and height (orientations 5 to 8)."""
        return self.orientation >= 5


def read_metadata(image: Image.Image) -> Metadata:
    """The EXIF facts of an opened image (JPEG, PNG eXIf, WebP, HEIC); defaults when there are none."""
    try:
        exif = image.getexif()
        if not exif:
            return Metadata()
        exif_ifd = exif.get_ifd(_EXIF_IFD)
        gps_ifd = exif.get_ifd(_GPS_IFD)
    except (OSError, ValueError, SyntaxError, TypeError, KeyError, IndexError) as e:
        logger.warning("Ignoring unreadable EXIF: %s", e)
        return Metadata()
    orientation = exif.get(_ORIENTATION, 1)
    taken_at, offset = _capture_time(exif_ifd)
    return Metadata(
        orientation=orientation if orientation in TRANSPOSE_FOR_ORIENTATION else 1,
        taken_at=taken_at,
        taken_at_offset=offset,
        camera_model=_camera_model(exif.get(_MAKE), exif.get(_MODEL)),
        gps=_coordinates(gps_ifd),
    )


def _capture_time(exif_ifd: dict[int, object]) -> tuple[str | None, str | None]:
    """``(taken_at, offset)`` from DateTimeOriginal (else DateTimeDigitized) and its offset tag (else OffsetTime).

    With an offset the time is converted to UTC (``...Z``); without one it stays wall-clock time, no ``Z``."""
    fallback = _offset(exif_ifd.get(_OFFSET_TIME))
    pairs = ((_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL), (_DATETIME_DIGITIZED, _OFFSET_TIME_DIGITIZED))
    for time_tag, offset_tag in pairs:
        moment = _moment(exif_ifd.get(time_tag))
        if moment is None:
            continue
        offset = _offset(exif_ifd.get(offset_tag)) or fallback
        if offset is None:
            return moment.strftime("%Y-%m-%dT%H:%M:%S"), None
        text, delta = offset
        return (moment - delta).strftime("%Y-%m-%dT%H:%M:%SZ"), text
    return None, None


def _offset(value: object) -> tuple[str, timedelta] | None:
    """EXIF ``+HH:MM`` / ``-HH:MM`` as ``("+HH:MM", timedelta)``; ``None`` when blank or out of range."""
    text = _text(value)
    match = _OFFSET.fullmatch(text) if text else None
    if match is None:
        return None
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3))
    if hours > 14 or minutes >= 60 or (hours == 14 and minutes):
        return None
    delta = timedelta(hours=hours, minutes=minutes) * (-1 if sign == "-" else 1)
    return f"{sign}{hours:02d}:{minutes:02d}", delta


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    cleaned = " ".join(value.replace("\x00", " ").split())
    return cleaned or None


def _moment(value: object) -> datetime | None:
    """EXIF ``YYYY:MM:DD HH:MM:SS`` as a naive datetime; ``None`` when blank or impossible."""
    text = _text(value)
    if text is None:
        return None
    try:
        return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _camera_model(make: object, model: object) -> str | None:
    """``"Make Model"``, without repeating the make when the model already starts with it."""
    make_text, model_text = _text(make), _text(model)
    if make_text and model_text:
        if model_text.lower().startswith(make_text.lower()):
            return model_text
        return f"{make_text} {model_text}"
    return model_text or make_text


def _coordinates(gps_ifd: dict[int, object]) -> tuple[float, float] | None:
    latitude = _degrees(gps_ifd.get(_GPS_LATITUDE), gps_ifd.get(_GPS_LATITUDE_REF), "S")
    longitude = _degrees(gps_ifd.get(_GPS_LONGITUDE), gps_ifd.get(_GPS_LONGITUDE_REF), "W")
    if latitude is None or longitude is None or abs(latitude) > 90 or abs(longitude) > 180:
        return None
    return (round(latitude, 7), round(longitude, 7))


def _degrees(value: object, ref: object, negative_ref: str) -> float | None:
    """Degrees, minutes, seconds rationals and a hemisphere letter as signed decimal degrees."""
    if not isinstance(value, tuple) or not 1 <= len(value) <= 3:
        return None
    try:
        parts = [float(part) for part in value]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not all(math.isfinite(part) and part >= 0 for part in parts):
        return None
    degrees = sum(part / 60**index for index, part in enumerate(parts))
    return -degrees if _text(ref) == negative_ref else degrees
