"""The served "original": full resolution, without EXIF/XMP/IPTC/GPS or comments.

JPEG and PNG are cleaned losslessly when their structure is sound, at the byte level (no re-encoding):
metadata segments/chunks are dropped, the ICC profile is kept so colours don't shift, and a JPEG's EXIF
orientation survives as a minimal EXIF block holding only that tag. The walk is strict: every segment
must be where its predecessor's length says, and nothing after the end of the image (JPEG ``EOI``, PNG
``IEND``: where phones append secondary images that carry their own EXIF and GPS) is kept.

Real-world files are often malformed in ways decoders shrug off (junk bytes between JPEG segments, a
truncated APP1 or APP14 segment, a zero segment length, a PNG chunk with a wrong CRC). Copying such bytes
verbatim is unsafe (what the walk misreads could hide metadata, or the copy may not decode elsewhere), so
any such file is decoded once and re-encoded instead: JPEG as JPEG (q=95, its own mode), PNG as PNG
(lossless), with the pixels turned upright and no metadata but the ICC profile. Other formats (WebP,
HEIC, GIF's first frame) are always re-encoded that way (JPEG q=92, or PNG when there is transparency).

A file that cannot even be decoded raises ``ImageRejected``; nothing else is expected from here.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings
import zlib
from dataclasses import dataclass

from PIL import Image

from .metadata import TRANSPOSE_FOR_ORIENTATION, read_metadata
from .models import ImageRejected
from .process import _DECODE_ERRORS, _register_heif_opener
from .sniff import sniff_format

logger = logging.getLogger(__name__)

ORIENTATION = 0x0112
_JPEG_KEEP_APP = {0xE0, 0xEE}  # JFIF and Adobe (needed to read CMYK/YCCK correctly)
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RSTn carry no length
# Chunks that only describe how to render the pixels (everything else, text and EXIF included, goes).
_PNG_KEEP = {
    b"IHDR",
    b"PLTE",
    b"IDAT",
    b"IEND",
    b"tRNS",
    b"gAMA",
    b"cHRM",
    b"sRGB",
    b"iCCP",
    b"sBIT",
    b"bKGD",
    b"pHYs",
    b"cICP",
    b"mDCv",
    b"cLLi",
    b"acTL",
    b"fcTL",
    b"fdAT",
}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class MalformedStructure(ValueError):
    """The file's segments or chunks are not laid out as the format says: it cannot be cleaned byte-wise."""


@dataclass(frozen=True)
class Original:
    data: bytes
    content_type: str
    format: str  # "jpeg" | "png"


def clean_original(data: bytes) -> Original:
    """The metadata-free original of an upload ``process_image`` accepted.

    Lossless for well-formed JPEG and PNG, a clean re-encode otherwise; ``ImageRejected`` only when the
    file does not decode at all.
    """
    fmt = sniff_format(data)
    try:
        if fmt == "jpeg":
            return Original(_same_image(_clean_jpeg(data), data), "image/jpeg", "jpeg")
        if fmt == "png":
            return Original(_same_image(_clean_png(data), data), "image/png", "png")
    except MalformedStructure as exc:
        logger.info("Re-encoding a %s original that cannot be cleaned losslessly: %s", fmt, exc)
    return _reencode(data, fmt)


def _header(data: bytes) -> tuple[str, str, tuple[int, int]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(io.BytesIO(data)) as image:
            return str(image.format), image.mode, image.size


def _same_image(cleaned: bytes, data: bytes) -> bytes:
    """``cleaned``, once its header reads as the upload's does (format, mode, size: a cheap parse, no decode)."""
    try:
        same = _header(cleaned) == _header(data)
    except _DECODE_ERRORS as exc:
        raise MalformedStructure(f"the cleaned file does not open: {exc}") from None
    if not same:
        raise MalformedStructure("the cleaned file reads differently from the upload")
    return cleaned


def _orientation(data: bytes) -> int:
    """The EXIF orientation, read the way ``process_image`` reads it for the variants."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                return read_metadata(image).orientation
    except _DECODE_ERRORS:
        return 1


def _orientation_segment(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    payload = exif.tobytes()
    if not payload.startswith(b"Exif\x00\x00"):
        payload = b"Exif\x00\x00" + payload
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _keep_jpeg_segment(marker: int, segment: bytes) -> bool:
    if marker == 0xFE:  # comment
        return False
    if marker == 0xE0:  # JFIF only (a JFXX extension holds a thumbnail, which could carry anything)
        return segment[4:9] == b"JFIF\x00"
    if marker == 0xE2:
        return segment[4:16] == b"ICC_PROFILE\x00"
    if 0xE1 <= marker <= 0xEF:
        return marker in _JPEG_KEEP_APP
    return True


def _scan_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data that starts at ``pos`` ends: the next marker that is not a restart."""
    while True:
        ff = data.find(b"\xff", pos)
        if ff < 0 or ff + 1 >= len(data):
            raise MalformedStructure("no end of image")
        following = data[ff + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:  # a stuffed 0xFF byte, or a restart marker
            pos = ff + 2
            continue
        return ff


def _clean_jpeg(data: bytes) -> bytes:
    """SOI, the kept segments in order, every scan, EOI; ``MalformedStructure`` at the first anomaly."""
    orientation = _orientation(data)
    out = [b"\xff\xd8"]
    if orientation != 1:
        out.append(_orientation_segment(orientation))
    pos, frames = 2, 0
    while True:
        if pos + 2 > len(data) or data[pos] != 0xFF:
            raise MalformedStructure(f"no marker at byte {pos}")
        while pos + 2 < len(data) and data[pos + 1] == 0xFF:  # fill bytes before a marker
            pos += 1
        marker = data[pos + 1]
        if marker == 0xD9:  # end of image: anything after it (trailers, secondary images) is dropped
            out.append(b"\xff\xd9")
            break
        if marker in _JPEG_STANDALONE:
            out.append(data[pos : pos + 2])
            pos += 2
            continue
        if marker in (0x00, 0xD8):
            raise MalformedStructure(f"unexpected marker 0x{marker:02x} at byte {pos}")
        if pos + 4 > len(data):
            raise MalformedStructure("truncated segment header")
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if length < 2 or pos + 2 + length > len(data):
            raise MalformedStructure(f"segment 0x{marker:02x} at byte {pos} has a bad length {length}")
        segment = data[pos : pos + 2 + length]
        if _keep_jpeg_segment(marker, segment):
            out.append(segment)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame
            frames += 1
        pos += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next marker
            if not frames:
                raise MalformedStructure("scan before any frame header")
            end = _scan_end(data, pos)
            out.append(data[pos:end])
            pos = end
    return b"".join(out)


def _clean_png(data: bytes) -> bytes:
    """The signature and the rendering chunks, CRCs checked, up to IEND; ``MalformedStructure`` otherwise."""
    if not data.startswith(_PNG_SIGNATURE):
        raise MalformedStructure("no PNG signature")
    out = [_PNG_SIGNATURE]
    pos = len(_PNG_SIGNATURE)
    while True:
        if pos + 12 > len(data):
            raise MalformedStructure("no IEND chunk")
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise MalformedStructure(f"chunk {kind!r} at byte {pos} overruns the file")
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(data[pos + 4 : end - 4]) != crc:
            raise MalformedStructure(f"chunk {kind!r} at byte {pos} has a bad CRC")
        if kind in _PNG_KEEP:
            out.append(data[pos:end])
        elif not kind[:1].islower():  # an unknown critical chunk cannot be dropped safely
            raise MalformedStructure(f"unknown critical chunk {kind!r}")
        pos = end
        if kind == b"IEND":
            return b"".join(out)


def _reencode(data: bytes, fmt: str | None) -> Original:
    if fmt == "heic":
        _register_heif_opener()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                image.seek(0)
                return _encode_upright(image, fmt)
    except Image.DecompressionBombError:
        raise ImageRejected("The image is too large to process") from None
    except _DECODE_ERRORS as exc:
        logger.info("Refusing a %s whose original does not decode: %s", fmt, exc)
        raise ImageRejected("The file is corrupt or truncated") from None


def _encode_upright(image: Image.Image, fmt: str | None) -> Original:
    icc = image.info.get("icc_profile")
    transpose = TRANSPOSE_FOR_ORIENTATION.get(read_metadata(image).orientation)
    image.load()
    upright = image.transpose(transpose) if transpose is not None else image.copy()
    upright.info.clear()  # nothing of the upload's metadata may reach the encoder
    buffer = io.BytesIO()
    has_alpha = upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        upright.mode == "P" and "transparency" in image.info
    )
    if fmt == "png" or has_alpha:
        if upright.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
            upright = upright.convert("RGBA" if has_alpha else "RGB")
        if upright.mode == "P" and "transparency" in image.info:
            upright.info["transparency"] = image.info["transparency"]
        upright.save(buffer, "PNG", icc_profile=icc)
        return Original(buffer.getvalue(), "image/png", "png")
    if fmt == "jpeg" and upright.mode in ("L", "RGB", "CMYK"):
        upright.save(buffer, "JPEG", quality=95, icc_profile=icc)
        return Original(buffer.getvalue(), "image/jpeg", "jpeg")
    rgb = upright.convert("RGB") if upright.mode != "RGB" else upright
    rgb.save(buffer, "JPEG", quality=92, icc_profile=icc)
    return Original(buffer.getvalue(), "image/jpeg", "jpeg")
