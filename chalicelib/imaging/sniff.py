"""Content sniffing: which image format a byte string really is, by its magic bytes only.

File names and declared content types are chosen by the client and mean nothing here. ``sniff_format``
answers for the five accepted formats; ``describe_unknown`` names what a refused file looks like so the
rejection reason can tell the user something useful ("found: PDF document").
"""

from __future__ import annotations

# ISO BMFF (HEIF) brands that carry HEVC-coded still images: what iPhones write, plus the generic
# HEIF structural brands ``mif1``/``msf1`` when a HEVC brand is among the compatible brands.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_HEIF_STRUCTURAL_BRANDS = frozenset({b"mif1", b"msf1"})

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sniff_format(data: bytes) -> str | None:
    """The accepted format ``data`` is encoded in, judged by its leading bytes alone.

    Returns ``"jpeg"``, ``"png"``, ``"webp"``, ``"heic"`` or ``"gif"``, or ``None`` for anything else
    (including AVIF, which shares HEIF's container but is not accepted). Nothing is decoded.
    """
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(_PNG_SIGNATURE):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    brands = _ftyp_brands(data)
    if brands and _is_heic(brands):
        return "heic"
    return None


def describe_unknown(data: bytes) -> str:
    """A short human name for content ``sniff_format`` refused, for rejection reasons."""
    if not data:
        return "an empty file"
    head = data[:64]
    brands = _ftyp_brands(data)
    if brands:
        if brands[0] in (b"avif", b"avis") or b"avif" in brands[1:]:
            return "AVIF image"
        if brands[0] in (b"crx ",):
            return "Canon RAW (CR3)"
        if brands[0] in (b"qt  ",):
            return "QuickTime video"
        return "MP4/MOV video"
    for magic, name in _OTHER_MAGIC:
        if head.startswith(magic):
            return name
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"<"):
        return "SVG, XML or HTML text"
    if all(32 <= byte < 127 or byte in (9, 10, 13) for byte in head):
        return "text"
    return "unrecognised data"


_OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"II*\x00", "TIFF or camera RAW image"),
    (b"MM\x00*", "TIFF or camera RAW image"),
    (b"BM", "BMP image"),
    (b"%PDF", "PDF document"),
    (b"8BPS", "Photoshop document"),
    (b"\x00\x00\x01\x00", "ICO icon"),
    (b"\xff\x0a", "JPEG XL image"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL image"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"RIFF", "RIFF media (not WebP)"),
    (b"\xff\xd8", "a JPEG start followed by junk"),  # no marker after SOI: no decoder reads it
)


def _ftyp_brands(data: bytes) -> list[bytes]:
    """The major brand then the compatible brands of an ISO BMFF ``ftyp`` box, or ``[]``."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return []
    box_size = int.from_bytes(data[0:4], "big")
    if box_size < 16 or box_size > 4096:
        return []
    box = data[8 : min(box_size, len(data))]
    major = box[0:4]
    compatible = [box[i : i + 4] for i in range(8, len(box) - 3, 4)]
    return [major, *compatible]


def _is_heic(brands: list[bytes]) -> bool:
    major, compatible = brands[0], brands[1:]
    if major in _HEIC_BRANDS:
        return True
    return major in _HEIF_STRUCTURAL_BRANDS and any(brand in _HEIC_BRANDS for brand in compatible)
