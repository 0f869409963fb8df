"""``process_image``: validate an upload by its content and render its served variants.

Validation, in order, each failure an ``ImageRejected`` with a reason for the uploader:

1. size: not empty, not over ``max_bytes``, not over the size the upload declared;
2. format: JPEG, PNG, WebP, HEIC/HEIF or GIF by magic bytes (names and content types are ignored);
3. pixels: width x height from the header, checked against ``max_pixels`` before anything is decoded,
   so a decompression bomb costs a few header bytes;
4. integrity: a file that fails to decode (corrupt, truncated) is refused rather than served half grey.
   Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES`` stays off on purpose: a JPEG whose scan data is cut short,
   or a PNG whose IDAT is, is rejected; damage that Pillow decodes through (junk between JPEG segments, a
   truncated APP segment, a PNG IDAT with a wrong CRC) is accepted, and ``imaging.original`` re-encodes
   the served original of such a file instead of copying its bytes.

Variants (longest side; never upscaled, so a 1x1 upload gives 1x1 variants):
``thumb`` 256, ``medium`` 1024, ``large`` 2048, ``watermarked`` = ``large`` plus the tiled mark, and
``preview`` (``imaging.preview``: a strong blur of ``medium`` plus the mark, at most 640 px) that callers a
premium item is locked for see.
Every variant is a baseline JPEG (quality 85, optimised Huffman tables, 4:2:0) in sRGB with no ICC
profile, EXIF, XMP, GPS or comment. Transparent images (PNG, WebP, HEIC, GIF with alpha) are flattened
onto white: one format for every variant keeps storage keys, caching and clients simple, and photos,
which is what Lightbox serves, have no alpha. GIF and animated WebP contribute their first frame.

Speed (see ``bench/bench_processor.py``), on the path most uploads take (a camera or phone JPEG):

* ``Image.draft`` makes libjpeg decode at the smallest DCT scale (1/1, 1/2, 1/4, 1/8) that is still at
  least the ``large`` size, so a 24 MP photo is decoded as 6 MP and never exists at full size in memory;
* the one real resample (decoded size -> ``large``) runs as two horizontal strips on two threads
  (Pillow releases the GIL while resampling; ``box`` lets the filter reach across the cut, so the
  strips join into the full resize, identical but for float rounding of one level on a few pixels);
* ``medium`` and ``thumb`` are chained from ``large`` (``large -> medium -> thumb``), never from the
  original; orientation, colour conversion and alpha flattening happen on the strips of ``large``,
  never on the original;
* the watermark overlay is built once per process per (text, size);
* the encodes of ``large`` and ``watermarked`` run on the second thread while the first draws the mark
  and makes ``medium``, ``thumb`` and the ``preview`` (blurred from ``medium`` at 64 px, so it costs a few
  ms: ``bench/bench_preview.py``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import struct
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from io import BytesIO
from typing import TypeVar

from PIL import Image

from .color import prepare_for_resampling, to_srgb
from .metadata import TRANSPOSE_FOR_ORIENTATION, read_metadata
from .models import ImageRejected, ProcessedImage, Variant
from .preview import make_preview
from .sniff import describe_unknown, sniff_format
from .watermark import apply_watermark, clean_text

logger = logging.getLogger(__name__)

T = TypeVar("T")

VARIANT_SIZES: dict[str, int] = {"thumb": 256, "medium": 1024, "large": 2048}
# Sizes are "about" these: a variant may come out up to 1/16 smaller when that saves a resampling pass. A
# 4000 px JPEG decodes at DCT scale 1/2 straight to a 2000 px "large" and halves to a 1000 px "medium" with a
# box reduce, instead of decoding all 12 MP and resampling to exactly 2048 and 1024.
SNAP = 15 / 16
CONTENT_TYPE = "image/jpeg"
JPEG_OPTIONS: dict[str, object] = {"quality": 85, "optimize": True, "subsampling": "4:2:0"}
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_PIXELS = 100_000_000

# The downscaling filter. At the ~2:1 reductions made here Pillow's bicubic scores 43 dB PSNR against its
# Lanczos-3 (no visible difference) at two thirds of the cost. Factors of 2 * REDUCING_GAP or more are
# first box-reduced by an integer factor (Image.reduce), as Pillow's own ``reducing_gap`` does.
RESAMPLE = Image.Resampling.BICUBIC
REDUCING_GAP = 2.0
_PARALLEL_MIN_PIXELS = 512 * 512  # below this, splitting a resize costs more than it saves

_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "heic": "HEIF"}
# What Pillow and its plugins raise on malformed input (besides DecompressionBombError).
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    RuntimeError,
)


def process_image(
    data: bytes,
    *,
    declared_size: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    watermark_text: str = "Lightbox",
    preview: bool = True,
) -> ProcessedImage:
    """Validate ``data`` as an image and render its variants; raises ``ImageRejected`` with a reason.

    ``declared_size`` is the byte count the upload was announced with (or a cap on it): a file larger
    than that is refused; a smaller one is fine (S3 never stores a partial upload).
    ``watermark_text`` must contain a visible character (``ValueError`` otherwise: a caller bug, not
    the uploader's). Pillow itself refuses images over twice ``PIL.Image.MAX_IMAGE_PIXELS`` (about
    179 MP) whatever ``max_pixels`` says. ``preview=False`` leaves the ``preview`` variant out (benchmarks).
    """
    watermark_text = clean_text(watermark_text)
    _check_size(data, declared_size, max_bytes)
    image_format = sniff_format(data)
    if image_format is None:
        raise ImageRejected(
            f"The file is not a supported image (found: {describe_unknown(data)}). "
            "Upload a JPEG, PNG, WebP, HEIC or GIF photo."
        )

    image = _open(data, image_format, max_pixels)
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(_too_many_pixels(f"{width}x{height} pixels", max_pixels))
    nominal = _fit(width, height, VARIANT_SIZES["large"])
    if image_format == "jpeg":  # decode at the smallest DCT scale that is still >= SNAP x the nominal size
        image.draft(None, (math.ceil(nominal[0] * SNAP), math.ceil(nominal[1] * SNAP)))
    _load(image, image_format, max_pixels)
    large_size = image.size if max(image.size) <= VARIANT_SIZES["large"] else nominal

    metadata = read_metadata(image)
    large = _render_large(image, large_size, TRANSPOSE_FOR_ORIENTATION.get(metadata.orientation))
    del image
    upright = (height, width) if metadata.swaps_axes else (width, height)

    # Two encodes on the worker thread while this one draws the mark and chains the smaller sizes.
    large_job = _background(lambda: _variant("large", large))
    watermarked = apply_watermark(large, watermark_text)
    watermarked_job = _background(lambda: _variant("watermarked", watermarked))
    medium = _medium(large)
    thumb = _shrink(medium, _fit(*medium.size, VARIANT_SIZES["thumb"]))
    variants = {
        "thumb": _variant("thumb", thumb),
        "medium": _variant("medium", medium),
    }
    if preview:  # on this thread: the worker's two large encodes are the longer half
        variants["preview"] = _variant("preview", make_preview(medium, watermark_text))
    variants["large"] = large_job.result()
    variants["watermarked"] = watermarked_job.result()
    return ProcessedImage(
        format=image_format,
        width=upright[0],
        height=upright[1],
        taken_at=metadata.taken_at,
        taken_at_offset=metadata.taken_at_offset,
        camera_model=metadata.camera_model,
        gps=metadata.gps,
        variants=variants,
    )


def _check_size(data: bytes, declared_size: int | None, max_bytes: int) -> None:
    size = len(data)
    if size == 0:
        raise ImageRejected("The file is empty")
    if size > max_bytes:
        raise ImageRejected(f"The file is too large: {_megabytes(size)} exceeds the {_megabytes(max_bytes)} limit")
    if declared_size is not None and size > declared_size:
        raise ImageRejected(f"The file is {size:,} bytes, larger than the {declared_size:,} bytes declared for it")


def _open(data: bytes, image_format: str, max_pixels: int) -> Image.Image:
    """The image opened (header parsed, pixels not decoded) by the plugin for the sniffed format only."""
    if image_format == "heic":
        _register_heif_opener()
    with _decoding(image_format, max_pixels):
        image = Image.open(BytesIO(data), formats=[_PIL_FORMATS[image_format]])
    return image


def _load(image: Image.Image, image_format: str, max_pixels: int) -> None:
    with _decoding(image_format, max_pixels):
        image.load()


@contextlib.contextmanager
def _decoding(image_format: str, max_pixels: int) -> Iterator[None]:
    """Pillow's failures on hostile or broken input, as ``ImageRejected``."""
    try:
        with warnings.catch_warnings():
            # Our own max_pixels check applies; Pillow's warning threshold (89 MP) is not ours.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except Image.DecompressionBombError:
        # Raised by Pillow beyond twice MAX_IMAGE_PIXELS, before our own check sees the size.
        over = 2 * (Image.MAX_IMAGE_PIXELS or 0) / 1_000_000
        raise ImageRejected(_too_many_pixels(f"over {over:.0f} megapixels", max_pixels)) from None
    except _DECODE_ERRORS as e:
        logger.info("Refusing a %s that does not decode: %s", image_format, e)
        raise ImageRejected("The file is corrupt or truncated") from None


def _too_many_pixels(what: str, max_pixels: int) -> str:
    return f"The image is too large: {what} exceeds the {max_pixels / 1_000_000:g} megapixel limit"


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")


@functools.cache
def _register_heif_opener() -> None:
    """Teach Pillow HEIC/HEIF, once, on first use (keeps pillow_heif off the import path)."""
    from pillow_heif import register_heif_opener

    register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def _fit(width: int, height: int, longest: int) -> tuple[int, int]:
    """``(width, height)`` scaled so the longest side is at most ``longest``; never enlarged."""
    if max(width, height) <= longest:
        return width, height
    scale = longest / max(width, height)
    if width >= height:
        return longest, max(1, int(height * scale + 0.5))
    return max(1, int(width * scale + 0.5)), longest


def _render_large(image: Image.Image, size: tuple[int, int], transpose: Image.Transpose | None) -> Image.Image:
    """The decoded original as upright, opaque sRGB ``RGB``, ``size`` before ``transpose``.

    Big images are done as two horizontal strips on two threads, each resampled, colour-converted and
    turned upright; ``box`` lets the filter reach across the cut, so the strips join without a seam.
    """
    icc_profile = image.info.get("icc_profile")
    source = prepare_for_resampling(image)
    factor = int(min(source.width / size[0], source.height / size[1]) / REDUCING_GAP)
    if factor > 1:
        source = source.reduce(factor)
    alpha_mode = source.mode
    if source.mode in ("RGBA", "LA"):  # resample premultiplied, once for both strips (Image.resize would
        source = source.convert(source.mode[:-1] + "a")  # convert the whole image again per strip)
    scale = source.height / size[1]

    def strip(top: int, bottom: int) -> Image.Image:
        part = source
        if source.size != size:
            box = (0, top * scale, source.width, bottom * scale)
            part = source.resize((size[0], bottom - top), RESAMPLE, box=box)
        if part.mode != alpha_mode:
            part = part.convert(alpha_mode)
        part = to_srgb(part, icc_profile)
        part.info.clear()  # nothing of the original's metadata may reach an encoder
        return part if transpose is None else part.transpose(transpose)

    width, height = size
    if source.size == size or width * height < _PARALLEL_MIN_PIXELS or _pool() is None:
        return strip(0, height)
    cut = height // 2
    upper_job = _background(lambda: strip(0, cut))
    lower = strip(cut, height)
    large = Image.new("RGB", (height, width) if transpose in _SWAPPING else size)
    large.paste(upper_job.result(), _upright_corner((0, 0, width, cut), size, transpose))
    large.paste(lower, _upright_corner((0, cut, width, height), size, transpose))
    return large


_SWAPPING = frozenset(
    {Image.Transpose.TRANSPOSE, Image.Transpose.TRANSVERSE, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270}
)


def _upright_corner(
    box: tuple[int, int, int, int], size: tuple[int, int], transpose: Image.Transpose | None
) -> tuple[int, int]:
    """Where the top-left corner of ``box`` (in a ``size`` image) lands once the image is transposed."""
    left, top, right, bottom = box
    width, height = size
    corners = {
        None: (left, top),
        Image.Transpose.FLIP_LEFT_RIGHT: (width - right, top),
        Image.Transpose.FLIP_TOP_BOTTOM: (left, height - bottom),
        Image.Transpose.ROTATE_180: (width - right, height - bottom),
        Image.Transpose.ROTATE_90: (top, width - right),  # counter-clockwise
        Image.Transpose.ROTATE_270: (height - bottom, left),  # clockwise
        Image.Transpose.TRANSPOSE: (top, left),
        Image.Transpose.TRANSVERSE: (height - bottom, width - right),
    }
    return corners[transpose]


def _medium(large: Image.Image) -> Image.Image:
    """Half of ``large`` by a box reduce when that is within SNAP of the medium size, else a resample."""
    longest = VARIANT_SIZES["medium"]
    if longest * SNAP <= max(large.size) // 2 <= longest:
        return large.reduce(2)
    return _shrink(large, _fit(*large.size, longest))


def _shrink(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """An opaque ``RGB`` image resampled down to ``size`` (returned as is when it has that size)."""
    if image.size == size:
        return image
    return image.resize(size, RESAMPLE, reducing_gap=REDUCING_GAP)


def _variant(name: str, image: Image.Image) -> Variant:
    buffer = BytesIO()
    image.save(buffer, "JPEG", **JPEG_OPTIONS)
    return Variant(name=name, data=buffer.getvalue(), content_type=CONTENT_TYPE, width=image.width, height=image.height)


def _background(work: Callable[[], T]) -> Future[T]:
    """``work()`` on the worker thread; run here at once when there is no second CPU.

    Jobs run one at a time in submission order. A job must not wait for another job (one worker).
    """
    pool = _pool()
    if pool is not None:
        return pool.submit(work)
    done: Future[T] = Future()
    done.set_result(work())
    return done


@functools.cache
def _pool() -> ThreadPoolExecutor | None:
    """One worker thread for the process when it may use a second CPU.

    Lambda shows two vCPUs at every memory size but only grants more than one CPU's worth of time above
    1769 MB; below that the threads just take turns, at no measurable cost.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="imaging") if cpus > 1 else None
