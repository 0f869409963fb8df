"""The served "original": full resolution, without EXIF/XMP/IPTC/GPS or comments.

JPEG and PNG are cleaned losslessly, at the byte level (no re-encoding): metadata segments/chunks are
dropped, the ICC profile is kept so colours don't shift, and a JPEG's EXIF orientation survives as a
minimal EXIF block holding only that tag. Other formats (WebP, HEIC, GIF's first frame) are decoded once,
oriented and re-encoded (JPEG q=92, or PNG when there is transparency).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from PIL import Image, ImageOps

from .sniff import sniff_format

ORIENTATION = 0x0112
_JPEG_KEEP_APP = {0xE0, 0xEE}  # JFIF and Adobe (needed to read CMYK/YCCK correctly)
_PNG_DROP = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}


@dataclass(frozen=True)
class Original:
    data: bytes
    content_type: str
    format: str  # "jpeg" | "png"


def clean_original(data: bytes) -> Original:
    fmt = sniff_format(data)
    if fmt == "jpeg":
        return Original(_clean_jpeg(data), "image/jpeg", "jpeg")
    if fmt == "png":
        return Original(_clean_png(data), "image/png", "png")
    return _reencode(data, fmt)


def _orientation(data: bytes) -> int:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return int(image.getexif().get(ORIENTATION, 1) or 1)
    except (OSError, ValueError, SyntaxError):
        return 1


def _orientation_segment(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    payload = exif.tobytes()
    if not payload.startswith(b"Exif\x00\x00"):
        payload = b"Exif\x00\x00" + payload
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _clean_jpeg(data: bytes) -> bytes:
    orientation = _orientation(data)
    out = [b"\xff\xd8"]
    if orientation != 1:
        out.append(_orientation_segment(orientation))
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError("malformed JPEG segment")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is image data
            out.append(data[pos:])
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out.append(data[pos : pos + 2])
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        segment = data[pos : pos + 2 + length]
        keep = True
        if 0xE0 <= marker <= 0xEF:
            keep = marker in _JPEG_KEEP_APP or (marker == 0xE2 and segment[4:16] == b"ICC_PROFILE\x00")
        elif marker == 0xFE:  # comment
            keep = False
        if keep:
            out.append(segment)
        pos += 2 + length
    return b"".join(out)


def _clean_png(data: bytes) -> bytes:
    out = [data[:8]]
    pos = 8
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if kind not in _PNG_DROP:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    return b"".join(out)


def _reencode(data: bytes, fmt: str | None) -> Original:
    if fmt == "heic":
        from .process import _register_heif_opener

        _register_heif_opener()
    with Image.open(io.BytesIO(data)) as image:
        image.seek(0)
        icc = image.info.get("icc_profile")
        oriented = ImageOps.exif_transpose(image)
        has_alpha = oriented.mode in ("RGBA", "LA", "PA") or (oriented.mode == "P" and "transparency" in oriented.info)
        buffer = io.BytesIO()
        if has_alpha:
            oriented.convert("RGBA").save(buffer, "PNG", optimize=False, icc_profile=icc)
            return Original(buffer.getvalue(), "image/png", "png")
        rgb = oriented.convert("RGB") if oriented.mode != "RGB" else oriented
        rgb.save(buffer, "JPEG", quality=92, icc_profile=icc)
        return Original(buffer.getvalue(), "image/jpeg", "jpeg")
