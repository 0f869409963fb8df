"""The ``preview`` variant the processor makes for every photo: small, blurred beyond recovery, watermarked."""

from __future__ import annotations

import io

from PIL import Image, ImageChops, ImageFilter, ImageStat

from chalicelib.imaging import process_image

from . import fixtures


def _detail(image: Image.Image) -> float:
    """Mean edge strength: what a blur removes."""
    return ImageStat.Stat(image.convert("L").filter(ImageFilter.FIND_EDGES)).mean[0]


def test_the_preview_keeps_no_detail_of_the_photo_and_carries_the_mark() -> None:
    noise = Image.merge("RGB", [Image.effect_noise((1600, 1200), 80) for _ in range(3)])
    buffer = io.BytesIO()
    noise.save(buffer, "JPEG", quality=95)
    result = process_image(buffer.getvalue())
    preview = Image.open(io.BytesIO(result.variants["preview"].data)).convert("RGB")
    medium = Image.open(io.BytesIO(result.variants["medium"].data)).convert("RGB")
    assert preview.size == (640, 480) and result.variants["preview"].content_type == "image/jpeg"
    sharp = _detail(medium.resize(preview.size))
    assert _detail(preview) < sharp / 4, (_detail(preview), sharp)
    # The same photo with another mark gives another preview: the watermark is drawn on it.
    other = process_image(buffer.getvalue(), watermark_text="Someone else")
    other_preview = Image.open(io.BytesIO(other.variants["preview"].data)).convert("RGB")
    assert ImageStat.Stat(ImageChops.difference(preview, other_preview)).mean[0] > 1


def test_every_photo_gets_a_preview_and_it_can_be_left_out() -> None:
    data = fixtures.oriented_jpeg(1)
    assert "preview" in process_image(data).variants
    assert "preview" not in process_image(data, preview=False).variants
