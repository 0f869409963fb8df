"""The ``preview`` variant: what a caller a premium item is locked for sees. A strong blur (nothing of the
picture can be recovered: it is made from a small copy, so its detail is gone before the blur) plus the
watermark, at most ``PREVIEW_SIDE`` pixels on the longest side. Photos get it from the processor; videos get
one of their poster frame (``preview_poster``)."""

from __future__ import annotations

from PIL import Image, ImageFilter

from .watermark import apply_watermark, clean_text

PREVIEW_SIDE = 640
WORK_SIDE = 64  # the blur is computed at this size: cheap, and what it keeps is only colour regions
BLUR_RADIUS = 3
SMOOTH_FACTOR = 4


def make_preview(image: Image.Image, watermark_text: str = "Lightbox") -> Image.Image:
    """A blurred, watermarked RGB copy of ``image`` (any mode), at most PREVIEW_SIDE on its longest side."""
    rgb = image.convert("RGB")
    scale = PREVIEW_SIDE / max(rgb.size)
    size = (max(1, round(rgb.width * min(1.0, scale))), max(1, round(rgb.height * min(1.0, scale))))
    work_scale = WORK_SIDE / max(rgb.size)
    work = (max(1, round(rgb.width * work_scale)), max(1, round(rgb.height * work_scale)))
    small = rgb.reduce(max(1, max(rgb.size) // (WORK_SIDE * 4)))  # box-average down first: fast on 12 MP
    small = small.resize(work, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(BLUR_RADIUS))
    # The smoothing pass that hides the upscale's blocks runs at a quarter of the final size (16x fewer
    # pixels than blurring the final image, the same look once upscaled): a few ms per photo.
    quarter = (max(1, size[0] // SMOOTH_FACTOR), max(1, size[1] // SMOOTH_FACTOR))
    smooth = small.resize(quarter, Image.Resampling.BICUBIC).filter(
        ImageFilter.GaussianBlur(BLUR_RADIUS * 2 / SMOOTH_FACTOR)
    )
    blurred = smooth.resize(size, Image.Resampling.BICUBIC)
    return apply_watermark(blurred, clean_text(watermark_text))
