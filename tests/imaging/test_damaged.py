"""Damaged files (see ``fixtures.DAMAGED``): each is either processed whole, variants and a clean original, or
refused with a reason. Nothing in between: no exception other than ``ImageRejected`` escapes."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageFile, ImageOps

from chalicelib.imaging import ImageRejected, process_image
from chalicelib.imaging.original import MalformedStructure, _clean_jpeg, _clean_png, clean_original

from . import fixtures

CASES = sorted(fixtures.DAMAGED)


def outcome(data: bytes) -> tuple[str, object]:
    try:
        result = process_image(data)
        return fixtures.READY, (result, clean_original(data))
    except ImageRejected as exc:
        return fixtures.REJECTED, exc.reason


@pytest.mark.parametrize("name", CASES)
def test_a_damaged_file_is_processed_whole_or_refused_with_a_reason(name: str) -> None:
    expected, make = fixtures.DAMAGED[name]
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # truncated scans are refused, never served half grey
    status, detail = outcome(make())
    assert status == expected, (name, detail)
    if status == fixtures.REJECTED:
        assert isinstance(detail, str) and detail, name
        return
    result, original = detail  # type: ignore[misc]
    image = Image.open(io.BytesIO(original.data))
    image.load()
    exif = image.getexif()
    assert set(exif) <= {0x0112}, (name, dict(exif))  # at most the orientation tag
    assert 0x8825 not in exif and "xmp" not in image.info and "comment" not in image.info, name
    assert b"52.3701" not in original.data and b"GPS" not in original.data, name
    assert ImageOps.exif_transpose(image).size == (result.width, result.height), name  # upright as the variants


@pytest.mark.parametrize(
    "name",
    ["jpeg_junk_between_segments", "jpeg_truncated_app1", "jpeg_truncated_app14", "jpeg_segment_length_0"],
)
def test_a_decodable_jpeg_with_malformed_segments_gets_a_clean_reencoded_original(name: str) -> None:
    data = fixtures.DAMAGED[name][1]()
    with pytest.raises(MalformedStructure):
        _clean_jpeg(data)
    original = clean_original(data)  # before: ValueError("malformed JPEG segment"), after every variant was written
    assert original.format == "jpeg" and original.content_type == "image/jpeg"
    served = Image.open(io.BytesIO(original.data))
    assert not served.getexif() and served.size == (process_image(data).width, process_image(data).height)


def test_the_junk_between_segments_case_is_shown_upright() -> None:
    original = clean_original(fixtures.DAMAGED["jpeg_junk_between_segments"][1]())
    colours = fixtures.quadrant_colours(original.data)  # orientation 6 applied to the pixels
    assert all(fixtures.close_to(colours[q], fixtures.QUADRANTS[q]) for q in fixtures.QUADRANTS), colours


def test_nothing_after_the_end_of_a_jpeg_is_kept_and_the_rest_stays_lossless() -> None:
    data = fixtures.DAMAGED["jpeg_trailer_after_eoi"][1]()
    original = clean_original(data)
    first_image = fixtures.oriented_jpeg(6, 300, 200)
    scan = first_image[first_image.index(b"\xff\xda") :]
    assert original.data.endswith(scan)  # the scan data is copied byte for byte, up to EOI
    assert original.data.count(b"\xff\xd8") == 1  # the appended JPEG (with its GPS EXIF) is gone


def test_a_png_with_a_bad_crc_or_no_iend_is_reencoded_as_png() -> None:
    for name in ("png_bad_crc_idat", "png_missing_iend"):
        data = fixtures.DAMAGED[name][1]()
        with pytest.raises(MalformedStructure):
            _clean_png(data)
        original = clean_original(data)
        assert original.format == "png", name
        assert Image.open(io.BytesIO(original.data)).size == (300, 200)


def test_a_png_keeps_only_its_rendering_chunks() -> None:
    data = fixtures.DAMAGED["png_trailer_after_iend"][1]()
    cleaned = clean_original(data).data
    assert cleaned.endswith(b"IEND\xaeB`\x82") and b"tEXt" not in cleaned and b"52.3701" not in cleaned


def test_a_well_formed_jpeg_is_still_cleaned_losslessly() -> None:
    data = fixtures.oriented_jpeg(6, 300, 200)
    cleaned = clean_original(data).data
    assert cleaned.endswith(data[data.index(b"\xff\xda") :])
    assert dict(Image.open(io.BytesIO(cleaned)).getexif()) == {0x0112: 6}
