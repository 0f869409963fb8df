"""Capture time: a UTC instant when EXIF recorded the camera's offset, else wall-clock time marked as local."""

from __future__ import annotations

import pytest
from PIL import Image

from chalicelib.imaging import process_image

from . import fixtures

OFFSET_TIME, OFFSET_TIME_ORIGINAL, OFFSET_TIME_DIGITIZED = 0x9010, 0x9011, 0x9012


def capture(**exif_options: object) -> tuple[str | None, str | None]:
    result = process_image(fixtures.oriented_jpeg(1, 64, 48, **exif_options))
    return result.taken_at, result.taken_at_offset


@pytest.mark.parametrize(
    ("taken_at", "offsets", "expected"),
    [
        ("2024:06:01 14:30:05", {OFFSET_TIME_ORIGINAL: "+02:00"}, ("2024-06-01T12:30:05Z", "+02:00")),
        ("2024:06:01 14:30:05", {OFFSET_TIME: "-05:30"}, ("2024-06-01T20:00:05Z", "-05:30")),
        ("2024:01:01 00:30:00", {OFFSET_TIME_ORIGINAL: "+01:00"}, ("2023-12-31T23:30:00Z", "+01:00")),
        ("2024:06:01 14:30:05", {OFFSET_TIME_ORIGINAL: "+00:00"}, ("2024-06-01T14:30:05Z", "+00:00")),
        # the capture time's own offset wins over OffsetTime (which belongs to the file's modification time)
        (
            "2024:06:01 14:30:05",
            {OFFSET_TIME_ORIGINAL: "+09:00", OFFSET_TIME: "+01:00"},
            ("2024-06-01T05:30:05Z", "+09:00"),
        ),
        # no offset, a blank one, or nonsense: the wall-clock time, without a zone
        ("2024:06:01 14:30:05", {}, ("2024-06-01T14:30:05", None)),
        ("2024:06:01 14:30:05", {OFFSET_TIME_ORIGINAL: "   :  "}, ("2024-06-01T14:30:05", None)),
        ("2024:06:01 14:30:05", {OFFSET_TIME_ORIGINAL: "+25:00"}, ("2024-06-01T14:30:05", None)),
        (None, {OFFSET_TIME_ORIGINAL: "+02:00"}, (None, None)),
    ],
)
def test_the_capture_time_is_utc_when_the_offset_is_known(taken_at, offsets, expected) -> None:
    assert capture(taken_at=taken_at, offsets=offsets) == expected


def test_the_digitized_time_uses_its_own_offset() -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769).update({0x9004: "2024:06:01 14:30:05", OFFSET_TIME_DIGITIZED: "-03:00"})
    data = fixtures.encode(fixtures.quadrants(64, 48), "JPEG", exif=exif)
    result = process_image(data)
    assert (result.taken_at, result.taken_at_offset) == ("2024-06-01T17:30:05Z", "-03:00")
