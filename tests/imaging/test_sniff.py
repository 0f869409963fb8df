"""Format detection looks at content only."""

from __future__ import annotations

import pytest
from PIL import Image

from chalicelib.imaging import sniff_format
from chalicelib.imaging.sniff import describe_unknown

from . import fixtures


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (fixtures.oriented_jpeg(1), "jpeg"),
        (fixtures.png_with_alpha(), "png"),
        (fixtures.animated_gif(), "gif"),
        (fixtures.encode(Image.new("RGB", (8, 8)), "WEBP"), "webp"),
        (fixtures.heic(1, 64, 48), "heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "heic"),
    ],
)
def test_accepted_formats_are_recognised_by_magic_bytes(data: bytes, expected: str) -> None:
    assert sniff_format(data) == expected


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (fixtures.random_bytes(), "unrecognised data"),
        (b"", "an empty file"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF document"),
        (b"II*\x00\x08\x00\x00\x00", "TIFF or camera RAW image"),
        (b"BM6\x00\x00\x00\x00\x00", "BMP image"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG, XML or HTML text"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "AVIF image"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "MP4/MOV video"),
        (b"just some words, not a picture", "text"),
    ],
)
def test_everything_else_is_refused_and_named(data: bytes, found: str) -> None:
    assert sniff_format(data) is None
    assert describe_unknown(data) == found


def test_a_heif_container_without_a_hevc_brand_is_not_heic() -> None:
    assert sniff_format(b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1") is None
