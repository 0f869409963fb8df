"""The tiled, rotated, semi-transparent text mark on the ``watermarked`` variant.

The mark is white text with a soft dark halo, so it reads on light and dark photos alike. Its overlay is
built once per (text, width, height) and kept (``lru_cache``, about 4 bytes per pixel: 12.6 MB for
2048 x 1536): most photos of an event share a handful of sizes, and applying a cached overlay is one
masked paste. The text is rendered with Pillow's bundled font (``ImageFont.load_default``), which
covers Latin scripts; glyphs it lacks show as boxes.
"""

from __future__ import annotations

import functools
import math

from PIL import Image, ImageDraw, ImageFont

ANGLE_DEGREES = 30
FILL_OPACITY = 0.42
HALO_OPACITY = 0.28
_FONT_SCALE = 0.045  # font size as a fraction of the longest side
_MAX_TEXT_FRACTION = 0.6  # a single mark never spans more than this fraction of the longest side
_MIN_FONT_PX = 8
_MAX_TEXT_CHARS = 100


def apply_watermark(image: Image.Image, text: str) -> Image.Image:
    """A copy of ``image`` (``RGB``) with the text tiled over all of it."""
    overlay = watermark_overlay(clean_text(text), image.width, image.height)
    marked = image.copy()
    marked.paste(overlay, (0, 0), overlay)
    return marked


@functools.lru_cache(maxsize=4)
def watermark_overlay(text: str, width: int, height: int) -> Image.Image:
    """The mark for a ``width`` x ``height`` image, as ``RGBA`` (colour and opacity of every pixel).

    One rotated stamp of the text is composited at every point of a brick lattice that is rotated with
    it, so rows of text run along the angle and cover the image edge to edge.
    """
    stamp, pitch_x, pitch_y = _stamp(text, _font_size(text, max(width, height)))
    angle = math.radians(ANGLE_DEGREES)
    cos, sin = math.cos(angle), math.sin(angle)
    reach = math.hypot(width, height) / 2 + max(stamp.size)
    rows, columns = math.ceil(reach / pitch_y), math.ceil(reach / pitch_x) + 1
    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    for row in range(-rows, rows + 1):
        for column in range(-columns, columns + 1):
            dx, dy = column * pitch_x + (row % 2) * pitch_x / 2, row * pitch_y
            # The lattice point rotated counter-clockwise on screen (y grows downwards).
            left = round(width / 2 + dx * cos + dy * sin - stamp.width / 2)
            top = round(height / 2 - dx * sin + dy * cos - stamp.height / 2)
            _composite_clipped(overlay, stamp, left, top)
    return overlay


@functools.lru_cache(maxsize=4)
def _stamp(text: str, size: int) -> tuple[Image.Image, int, int]:
    """The text once, haloed and rotated (``RGBA``), with the lattice pitch along and across rows."""
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = (round(edge) for edge in font.getbbox(text))
    text_width, text_height = max(1, right - left), max(1, bottom - top)
    # Bitmap fonts (a Pillow built without FreeType) cannot be stroked: their halo is the bare glyphs.
    stroke = max(1, round(size / 14)) if isinstance(font, ImageFont.FreeTypeFont) else 0
    margin = stroke + 2
    canvas = (text_width + 2 * margin, text_height + 2 * margin)
    origin = (margin - left, margin - top)
    stamp = Image.new("RGBA", canvas, (0, 0, 0, 0))
    for colour, opacity, stroke_width in ((0, HALO_OPACITY, stroke), (255, FILL_OPACITY, 0)):
        mask = Image.new("L", canvas, 0)
        ImageDraw.Draw(mask).text(origin, text, font=font, fill=255, stroke_width=stroke_width, stroke_fill=255)
        layer = Image.new("RGBA", canvas, (colour, colour, colour, 0))
        layer.putalpha(mask.point(lambda value, opacity=opacity: round(value * opacity)))
        stamp = Image.alpha_composite(stamp, layer)
    rotated = stamp.rotate(ANGLE_DEGREES, resample=Image.Resampling.BICUBIC, expand=True)
    pitch_x = text_width + max(text_height * 2, round(text_width * 0.5))
    return rotated, pitch_x, text_height * 3


def _composite_clipped(base: Image.Image, stamp: Image.Image, left: int, top: int) -> None:
    """Alpha-composite ``stamp`` onto ``base`` at ``(left, top)``, clipping what falls outside."""
    if left >= base.width or top >= base.height or left + stamp.width <= 0 or top + stamp.height <= 0:
        return
    source = (max(0, -left), max(0, -top))
    base.alpha_composite(stamp, dest=(max(0, left), max(0, top)), source=source)


def clean_text(text: str) -> str:
    """The mark's text with whitespace collapsed and length capped; ``ValueError`` when blank."""
    cleaned = " ".join(text.split())[:_MAX_TEXT_CHARS]
    if not cleaned:
        raise ValueError("watermark_text must contain visible characters")
    return cleaned


def _font_size(text: str, longest_side: int) -> int:
    """A font size proportional to the image, shrunk when the text would be too wide."""
    size = max(_MIN_FONT_PX, round(longest_side * _FONT_SCALE))
    font = ImageFont.load_default(size=size)
    length = font.getlength(text)
    limit = longest_side * _MAX_TEXT_FRACTION
    if length > limit and isinstance(font, ImageFont.FreeTypeFont):
        size = max(_MIN_FONT_PX, math.floor(size * limit / length))
    return size
