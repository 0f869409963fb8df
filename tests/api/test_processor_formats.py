"""Real image files through the real processor handler: presigned POST -> S3 event -> SQS -> process_upload_queue,
then what a client is served. (tests/imaging covers the pure image code in depth.)"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.imaging import fixtures
from tests.pipeline import fetch, post_file, pump, reserve

SERVED = ("thumb", "medium", "large", "watermarked", "preview", "original")


def through_pipeline(api, token: str, data: bytes, content_type: str = "image/jpeg") -> dict:
    photo_id, slot = reserve(api, token, data, content_type=content_type)
    post_file(slot, data, content_type)
    pump()
    return api.get(f"/photos/{photo_id}", token=token).data


def served(photo: dict) -> dict[str, Image.Image]:
    return {name: Image.open(io.BytesIO(fetch(photo["urls"][name]))) for name in SERVED}


def assert_no_metadata(images: dict[str, Image.Image], *, keep_orientation_only: bool = False) -> None:
    for name, image in images.items():
        exif = image.getexif()
        if name == "original" and keep_orientation_only:
            assert set(exif) <= {0x0112}, (name, dict(exif))  # only the orientation tag survives
        else:
            assert not exif, (name, dict(exif))
        assert 0x8825 not in exif and "xmp" not in image.info and "comment" not in image.info, name


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_served_upright_without_metadata(api, make_user, orientation):
    user = make_user(f"orient{orientation}")
    photo = through_pipeline(api, user["access"], fixtures.oriented_jpeg(orientation, 300, 200))
    assert photo["status"] == "ready" and (photo["width"], photo["height"]) == (300, 200)
    assert photo["location"]["lat"]  # GPS kept for the owner only, in the database
    images = served(photo)
    assert_no_metadata(images, keep_orientation_only=True)
    large = images["large"].convert("RGB")
    assert large.size == (300, 200)
    buffer = io.BytesIO()
    large.save(buffer, "PNG")
    colours = fixtures.quadrant_colours(buffer.getvalue())
    assert all(fixtures.close_to(colours[q], fixtures.QUADRANTS[q]) for q in fixtures.QUADRANTS), colours
    from PIL import ImageOps

    upright_original = ImageOps.exif_transpose(images["original"])
    assert upright_original.size == (300, 200)


@pytest.mark.parametrize(
    "kind,content_type,size",
    [
        ("png_with_alpha", "image/png", (200, 100)),
        ("heic", "image/heic", (320, 240)),  # shown 320x240 (stored sideways, orientation 6)
        ("cmyk_jpeg", "image/jpeg", (120, 80)),
        ("one_pixel", "image/png", (1, 1)),
        ("animated_gif", "image/gif", None),
    ],
)
def test_other_formats_are_accepted(api, make_user, kind, content_type, size):
    user = make_user(f"fmt{kind.replace('_', '')[:20]}")
    photo = through_pipeline(api, user["access"], getattr(fixtures, kind)(), content_type)
    assert photo["status"] == "ready", photo
    if size:
        assert (photo["width"], photo["height"]) == size
    images = served(photo)
    assert_no_metadata(images)
    for name in ("thumb", "medium", "large", "watermarked"):
        assert images[name].format == "JPEG" and images[name].mode == "RGB", name


@pytest.mark.parametrize(
    "kind,reason",
    [
        ("truncated_jpeg", "corrupt or truncated"),
        ("random_bytes", "not a supported image"),
        ("png_bomb_header", "too large"),
    ],
)
def test_bad_files_are_rejected_with_a_reason(api, make_user, kind, reason):
    user = make_user(f"bad{kind.replace('_', '')[:20]}")
    photo = through_pipeline(api, user["access"], getattr(fixtures, kind)())
    assert photo["status"] == "rejected" and reason in photo["rejection_reason"], photo
    assert photo["urls"] == {}
