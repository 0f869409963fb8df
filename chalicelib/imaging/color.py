"""Pixel formats and colour: everything that comes in leaves as 8-bit sRGB ``RGB``.

* Palette, bilevel and 16-bit images become 8-bit ``L``/``RGB``/``RGBA`` before resampling (resizing a
  palette image would fall back to nearest-neighbour).
* Transparency is flattened onto white: every variant is a JPEG (see ``chalicelib.imaging.process``).
* An embedded ICC profile that is not sRGB (Display P3 from phones, Adobe RGB, a CMYK press profile) is
  converted to sRGB with LittleCMS, so colours look the same in browsers that ignore profiles; the
  outputs then carry no profile (untagged means sRGB on the web). A CMYK JPEG without a profile gets
  Pillow's plain CMYK conversion. A profile LittleCMS cannot read is ignored, with a warning.
"""

from __future__ import annotations

import functools
import logging
from io import BytesIO

from PIL import Image, ImageCms

logger = logging.getLogger(__name__)

WHITE = (255, 255, 255)
_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})  # 16-bit PNG greyscale


def prepare_for_resampling(image: Image.Image) -> Image.Image:
    """``image`` in a mode Pillow resamples well: ``L``, ``LA``, ``RGB``, ``RGBA`` or ``CMYK``."""
    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        if mode in ("L", "RGB") and "transparency" in image.info:
            return image.convert(mode + "A")
        return image
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        return image.convert("RGBA" if has_alpha else "RGB")
    if mode == "1":
        return image.convert("L")
    if mode in _SIXTEEN_BIT_MODES:
        # convert("L") would clip everything above 255; scale the 16-bit range down instead.
        return image.convert("I").point(lambda value: value * (1 / 257)).convert("L")
    return image.convert("RGB")


def to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """``image`` (as returned by ``prepare_for_resampling``) as opaque sRGB ``RGB``."""
    if image.mode in ("RGBA", "LA"):
        image = flatten(image)
    if icc_profile and not _is_srgb(icc_profile):
        transform = _transform_to_srgb(icc_profile, image.mode)
        if transform is not None:
            converted = ImageCms.applyTransform(image, transform)
            assert converted is not None  # None only with inPlace=True
            return converted
    return image if image.mode == "RGB" else image.convert("RGB")


def flatten(image: Image.Image) -> Image.Image:
    """An ``RGBA``/``LA`` image composited onto white; opaque images just lose the alpha band."""
    alpha = image.getchannel("A")
    colour_mode = image.mode[:-1]
    if alpha.getextrema()[0] == 255:
        return image.convert(colour_mode)
    background = Image.new(colour_mode, image.size, WHITE if colour_mode == "RGB" else 255)
    background.paste(image.convert(colour_mode), mask=alpha)
    return background


@functools.lru_cache(maxsize=16)
def _is_srgb(icc_profile: bytes) -> bool:
    try:
        description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(BytesIO(icc_profile)))
    except (ImageCms.PyCMSError, OSError, ValueError):
        return False
    return "srgb" in description.lower()


@functools.lru_cache(maxsize=16)
def _transform_to_srgb(icc_profile: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """A LittleCMS transform from the embedded profile to sRGB, built once per profile and mode.

    Built without LittleCMS's one-pixel cache: that cache is written on every call, and the same
    transform converts two strips of an image at once on two threads.
    """
    try:
        source = ImageCms.ImageCmsProfile(BytesIO(icc_profile))
        return ImageCms.buildTransform(
            source,
            _srgb_profile(),
            mode,
            "RGB",
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            flags=ImageCms.Flags.NOCACHE,
        )
    except (ImageCms.PyCMSError, OSError, ValueError) as e:
        logger.warning("Ignoring unusable ICC profile (%d bytes, %s): %s", len(icc_profile), mode, e)
        return None


@functools.cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
