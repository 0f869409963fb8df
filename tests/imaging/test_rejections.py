"""Refused uploads: each ends in ``ImageRejected`` with a reason a person can act on."""

from __future__ import annotations

import pytest

from chalicelib.imaging import ImageRejected, process_image

from . import fixtures


def rejection(data: bytes, **options: object) -> str:
    with pytest.raises(ImageRejected) as caught:
        process_image(data, **options)
    assert str(caught.value) == caught.value.reason
    return caught.value.reason


def test_random_bytes_named_jpg_are_not_an_image() -> None:
    reason = rejection(fixtures.random_bytes())
    assert reason.startswith("The file is not a supported image (found: unrecognised data)")
    assert "JPEG, PNG, WebP, HEIC or GIF" in reason


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b"%PDF-1.7\n" + b"\x00" * 100, "PDF document"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 100, "AVIF image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "SVG, XML or HTML text"),
        (b"\xff\xd8\x00junk" + b"\x00" * 100, "a JPEG start followed by junk"),
    ],
)
def test_other_formats_are_named_in_the_reason(data: bytes, found: str) -> None:
    assert f"(found: {found})" in rejection(data)


def test_an_empty_file_is_refused() -> None:
    assert rejection(b"") == "The file is empty"


def test_a_truncated_jpeg_is_refused() -> None:
    assert rejection(fixtures.truncated_jpeg()) == "The file is corrupt or truncated"


@pytest.mark.parametrize(
    "data",
    [
        fixtures.encode(fixtures.quadrants(400, 300), "PNG"),
        fixtures.encode(fixtures.quadrants(400, 300), "WEBP"),
        fixtures.heic(6, 640, 480),
        fixtures.animated_gif(),
    ],
    ids=["png", "webp", "heic", "gif"],
)
def test_other_truncated_images_are_refused(data: bytes) -> None:
    assert rejection(data[: len(data) // 2]) == "The file is corrupt or truncated"


def test_a_jpeg_header_with_garbage_after_it_is_refused() -> None:
    assert rejection(b"\xff\xd8\xff\xe0" + fixtures.random_bytes(2000)) == "The file is corrupt or truncated"


def test_a_decompression_bomb_is_refused_from_its_header(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import ImageFile

    decoded: list[object] = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self) or real_load(self))
    reason = rejection(fixtures.png_bomb_header(40_000, 40_000))  # 1.6 gigapixels in 100 bytes
    assert decoded == []  # refused from the header: no pixel was decoded
    assert reason.startswith("The image is too large:")
    assert "exceeds the 100 megapixel limit" in reason


def test_a_real_highly_compressed_bomb_is_refused_before_decoding() -> None:
    data = fixtures.png_bomb(12_000, 9_000)
    assert len(data) < 500_000
    reason = rejection(data)
    assert reason == "The image is too large: 12000x9000 pixels exceeds the 100 megapixel limit"


def test_a_gif_claiming_a_huge_screen_is_refused() -> None:
    assert rejection(fixtures.gif_bomb_header()).startswith("The image is too large:")


def test_the_pixel_limit_is_configurable() -> None:
    reason = rejection(fixtures.oriented_jpeg(1, 300, 200), max_pixels=50_000)
    assert reason == "The image is too large: 300x200 pixels exceeds the 0.05 megapixel limit"


def test_a_file_larger_than_declared_is_refused() -> None:
    data = fixtures.oriented_jpeg(1)
    reason = rejection(data, declared_size=len(data) - 100)
    assert reason == f"The file is {len(data):,} bytes, larger than the {len(data) - 100:,} bytes declared for it"


@pytest.mark.parametrize("extra", [0, 1, 10_000])
def test_a_file_up_to_its_declared_size_is_accepted(extra: int) -> None:
    data = fixtures.oriented_jpeg(1)
    assert process_image(data, declared_size=len(data) + extra).width == 300


def test_a_file_over_the_byte_limit_is_refused() -> None:
    data = fixtures.oriented_jpeg(1)
    assert rejection(data, max_bytes=len(data) - 1).startswith("The file is too large:")
    assert rejection(b"\xff" * (3 * 1024 * 1024), max_bytes=2 * 1024 * 1024) == (
        "The file is too large: 3 MB exceeds the 2 MB limit"
    )
