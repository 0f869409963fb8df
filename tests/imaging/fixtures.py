"""Every test image, generated in code at test time (no binary fixtures in the repository).

Photos are drawn *upright* with four coloured quadrants (red top-left, green top-right, blue
bottom-left, yellow bottom-right) and then stored in whatever orientation the EXIF tag claims, so a test
can tell from pixel colours alone whether the processor showed them the right way up.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Iterator

from PIL import Image

RED, GREEN, BLUE, YELLOW, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 255, 255)
QUADRANTS = {"top_left": RED, "top_right": GREEN, "bottom_left": BLUE, "bottom_right": YELLOW}

TAKEN_AT_EXIF = "2024:06:01 14:30:05"
TAKEN_AT_ISO = "2024-06-01T14:30:05"
MAKE, MODEL = "Canon", "Canon EOS R5"
# 52 deg 22' 12.36" N, 4 deg 53' 30.12" W
GPS_EXIF = {1: "N", 2: (52.0, 22.0, 12.36), 3: "W", 4: (4.0, 53.0, 30.12)}
GPS_DECIMAL = (52.37010, -4.89170)
XMP_PACKET = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="52,22.206N"/>'
    b"</rdf:RDF></x:xmpmeta>"
)

# The transpose that *stores* an upright picture so that EXIF orientation N shows it upright again
# (the inverse of what a viewer applies).
_STORE_FOR_ORIENTATION = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def quadrants(width: int, height: int) -> Image.Image:
    """The upright test picture: four solid quadrants."""
    image = Image.new("RGB", (width, height), YELLOW)
    half_w, half_h = width // 2, height // 2
    image.paste(RED, (0, 0, half_w, half_h))
    image.paste(GREEN, (half_w, 0, width, half_h))
    image.paste(BLUE, (0, half_h, half_w, height))
    return image


def exif_block(
    orientation: int = 1,
    *,
    gps: bool = True,
    taken_at: str | None = TAKEN_AT_EXIF,
    make: str | None = MAKE,
    model: str | None = MODEL,
    offsets: dict[int, str] | None = None,
) -> Image.Exif:
    """``offsets``: EXIF offset tags to write, e.g. ``{0x9011: "+02:00"}`` (OffsetTimeOriginal) or ``0x9010``."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if taken_at:
        exif.get_ifd(0x8769)[0x9003] = taken_at
    for tag, value in (offsets or {}).items():
        exif.get_ifd(0x8769)[tag] = value
    if gps:
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd[0] = b"\x02\x02\x00\x00"
        gps_ifd.update(GPS_EXIF)
    return exif


def oriented_jpeg(orientation: int, width: int = 300, height: int = 200, **exif_options: object) -> bytes:
    """A JPEG that shows :func:`quadrants` upright once EXIF ``orientation`` is applied.

    It also carries GPS, capture time, camera, an XMP packet with a GPS position, and a comment.
    """
    stored = quadrants(width, height)
    transpose = _STORE_FOR_ORIENTATION[orientation]
    if transpose is not None:
        stored = stored.transpose(transpose)
    return encode(
        stored,
        "JPEG",
        quality=95,
        exif=exif_block(orientation, **exif_options),
        xmp=XMP_PACKET,
        comment=b"shot at 52.3701,-4.8917",
    )


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_with_alpha(width: int = 200, height: int = 100) -> bytes:
    """Left half opaque red, right half fully transparent (with blue colour values under the alpha)."""
    image = Image.new("RGBA", (width, height), (0, 0, 255, 0))
    image.paste((255, 0, 0, 255), (0, 0, width // 2, height))
    return encode(image, "PNG")


def heic(orientation: int = 6, width: int = 320, height: int = 240) -> bytes:
    """A HEIC as an iPhone writes it: EXIF orientation (turned into a HEIF rotation) and camera tags."""
    import pillow_heif

    stored = quadrants(width, height)
    transpose = _STORE_FOR_ORIENTATION[orientation]
    if transpose is not None:
        stored = stored.transpose(transpose)
    exif = exif_block(orientation, make="Apple", model="iPhone 15 Pro")
    buffer = io.BytesIO()
    pillow_heif.from_pillow(stored).save(buffer, quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def cmyk_jpeg(width: int = 120, height: int = 80) -> bytes:
    """A CMYK JPEG (Adobe-style, inverted on disk) whose left half is pure red ink mix, right half cyan."""
    image = Image.new("CMYK", (width, height), (255, 0, 0, 0))  # cyan
    image.paste((0, 255, 255, 0), (0, 0, width // 2, height))  # magenta + yellow = red
    return encode(image, "JPEG", quality=95)


def swapped_primaries_jpeg(width: int = 200, height: int = 100) -> bytes:
    """A JPEG tagged with an ICC profile whose red and green primaries are swapped.

    Its stored pixels are green on the left and red on the right, so a colour-managed viewer shows red on
    the left and green on the right. Ignoring the profile would show the opposite.
    """
    image = Image.new("RGB", (width, height), RED)
    image.paste(GREEN, (0, 0, width // 2, height))
    profile = matrix_icc_profile("Swapped red/green test", red=_SRGB_GREEN, green=_SRGB_RED, blue=_SRGB_BLUE)
    return encode(image, "JPEG", quality=95, icc_profile=profile)


def srgb_tagged_jpeg(width: int = 200, height: int = 100) -> bytes:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(quadrants(width, height), "JPEG", quality=95, icc_profile=profile)


def one_pixel(fmt: str = "PNG") -> bytes:
    return encode(Image.new("RGB", (1, 1), RED), fmt)


def truncated_jpeg() -> bytes:
    data = oriented_jpeg(1, 800, 600)
    return data[: len(data) * 6 // 10]


def random_bytes(size: int = 4096) -> bytes:
    # Deterministic noise that no magic number matches (the first byte is not 0xFF, 0x89, 'G', 'R' ...).
    seed = 0x2545F491
    out = bytearray()
    while len(out) < size:
        seed = (seed * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        out += seed.to_bytes(8, "little")
    out[0] = 0x07
    return bytes(out[:size])


def animated_gif() -> bytes:
    """Two frames: red, then blue. Only the first may be used."""
    frames = [Image.new("RGB", (64, 48), colour) for colour in (RED, BLUE)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def grey_png_16bit(value: int = 32768) -> bytes:
    return encode(Image.new("I;16", (40, 30), value), "PNG")


def palette_png_with_transparency() -> bytes:
    image = Image.new("P", (40, 30), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0, 0, 0] * 254)
    image.paste(1, (20, 0, 40, 30))
    return encode(image, "PNG", transparency=1)


def png_bomb_header(width: int = 40_000, height: int = 40_000) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` but whose data is a few bytes."""
    return _png(width, height, [zlib.compress(b"\x00" * 64)])


def png_bomb(width: int = 12_000, height: int = 9_000) -> bytes:
    """A real, complete, 108-megapixel black PNG that compresses to about 100 kB."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + one byte per greyscale pixel
    chunks = [compressor.compress(row * 500) for _ in range(height // 500)]
    chunks.append(compressor.compress(row * (height % 500)) + compressor.flush())
    return _png(width, height, [b"".join(chunks)])


def gif_bomb_header() -> bytes:
    """A GIF whose logical screen claims 65535 x 65535 pixels."""
    frame = encode(Image.new("L", (2, 2)), "GIF")
    return frame[:6] + struct.pack("<HH", 65535, 65535) + frame[10:]


def _png(width: int, height: int, idat: list[bytes]) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    chunks = [chunk(b"IHDR", header), *(chunk(b"IDAT", data) for data in idat), chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def jpeg_markers(data: bytes) -> Iterator[int]:
    """The marker codes of a JPEG's header segments, up to the start of scan."""
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        yield marker
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return
        position += 2 + struct.unpack(">H", data[position + 2 : position + 4])[0]


# --- A minimal ICC v2 matrix/TRC RGB profile, enough for LittleCMS -----------------------------------

_SRGB_RED = (0.4361, 0.2225, 0.0139)
_SRGB_GREEN = (0.3851, 0.7169, 0.0971)
_SRGB_BLUE = (0.1431, 0.0606, 0.7141)
_D50 = (0.9642, 1.0, 0.8249)


def matrix_icc_profile(
    description: str,
    *,
    red: tuple[float, float, float],
    green: tuple[float, float, float],
    blue: tuple[float, float, float],
    gamma: float = 2.2,
) -> bytes:
    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(values: tuple[float, float, float]) -> bytes:
        return b"XYZ \0\0\0\0" + b"".join(s15(v) for v in values)

    def curve() -> bytes:
        return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"

    ascii_text = description.encode("ascii") + b"\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text + b"\0" * (4 + 4 + 2 + 1 + 67)
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(_D50)),
        (b"rXYZ", xyz(red)),
        (b"gXYZ", xyz(green)),
        (b"bXYZ", xyz(blue)),
        (b"rTRC", curve()),
        (b"gTRC", curve()),
        (b"bTRC", curve()),
        (b"cprt", b"text\0\0\0\0none\0"),
    ]
    data_start = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for signature, payload in tags:
        body += b"\0" * (-(data_start + len(body)) % 4)
        table += signature + struct.pack(">II", data_start + len(body), len(payload))
        body += payload
    size = data_start + len(body)
    header = (
        struct.pack(">I", size)
        + b"\0" * 4
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 28
        + b"".join(s15(v) for v in _D50)
        + b"\0" * 48
    )
    assert len(header) == 128
    return header + table + body


# --- Looking at what the processor produced ----------------------------------------------------------


def open_variant(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def colour_at(data: bytes, x_fraction: float, y_fraction: float) -> tuple[int, int, int]:
    """The colour of an encoded image at a point given as fractions of its width and height."""
    image = open_variant(data).convert("RGB")
    x = min(image.width - 1, int(image.width * x_fraction))
    y = min(image.height - 1, int(image.height * y_fraction))
    return image.getpixel((x, y))


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def quadrant_colours(data: bytes) -> dict[str, tuple[int, int, int]]:
    """The colour at the centre of each quadrant of an encoded image."""
    points = {
        "top_left": (0.25, 0.25),
        "top_right": (0.75, 0.25),
        "bottom_left": (0.25, 0.75),
        "bottom_right": (0.75, 0.75),
    }
    return {name: colour_at(data, x, y) for name, (x, y) in points.items()}


# --- Damaged files: what real uploads look like after buggy cameras, editors and transfers --------------

READY, REJECTED = "ready", "rejected"


def _jpeg_segments(data: bytes) -> dict[int, tuple[int, int]]:
    """The first position and length of each header marker of a well-formed JPEG."""
    found: dict[int, tuple[int, int]] = {}
    position = 2
    for marker in jpeg_markers(data):
        length = struct.unpack(">H", data[position + 2 : position + 4])[0]
        found.setdefault(marker, (position, length))
        position += 2 + length
    return found


def _after_app0(data: bytes, inserted: bytes) -> bytes:
    position, length = _jpeg_segments(data)[0xE0]
    return data[: position + 2 + length] + inserted + data[position + 2 + length :]


def _png_chunk(data: bytes, kind: bytes) -> tuple[int, int]:
    position = 8
    while position + 8 <= len(data):
        length = struct.unpack(">I", data[position : position + 4])[0]
        if data[position + 4 : position + 8] == kind:
            return position, length
        position += 12 + length
    raise KeyError(kind)


def _bad_crc(data: bytes, kind: bytes) -> bytes:
    position, length = _png_chunk(data, kind)
    end = position + 12 + length
    return data[: end - 4] + bytes(b ^ 0xFF for b in data[end - 4 : end]) + data[end:]


def _png_with_text() -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "shot at 52.3701,-4.8917")
    return encode(quadrants(300, 200), "PNG", pnginfo=info)


def _sideways_jpeg() -> bytes:
    """Orientation 6 (stored sideways) with GPS, XMP and a comment: what a phone writes."""
    return oriented_jpeg(6, 300, 200)


def _start_of_scan(data: bytes) -> int:
    position, length = _jpeg_segments(data)[0xDA]
    return position + 2 + length


def _jpeg_junk_between_segments() -> bytes:
    data = _sideways_jpeg()
    position, _ = _jpeg_segments(data)[0xDB]
    return data[:position] + b"\x00\x13junk from a buggy editor" + data[position:]


def _jpeg_truncated_app1() -> bytes:
    """The EXIF segment's length says more than it holds: its tail (and the next header) are missing."""
    data = _sideways_jpeg()
    position, length = _jpeg_segments(data)[0xE1]
    return data[: position + 4 + length // 2] + data[position + 2 + length :]


def _jpeg_with_trailer() -> bytes:
    """A second JPEG after EOI, as phones append (MPF depth maps, previews), with its own EXIF and GPS."""
    return _sideways_jpeg() + oriented_jpeg(1, 40, 30)


# name -> (what the processor must end with, the file). Decided: a file Pillow decodes without
# LOAD_TRUNCATED_IMAGES ends ready (served re-encoded when its bytes cannot be cleaned losslessly); a file
# that needs it (scan data cut short) is rejected as corrupt or truncated, never served half grey.
DAMAGED: dict[str, tuple[str, Callable[[], bytes]]] = {
    "jpeg_junk_after_soi": (REJECTED, lambda: _sideways_jpeg()[:2] + b"\x00junk" + _sideways_jpeg()[2:]),
    "jpeg_junk_between_segments": (READY, _jpeg_junk_between_segments),
    "jpeg_truncated_app1": (READY, _jpeg_truncated_app1),
    "jpeg_truncated_app14": (READY, lambda: _after_app0(_sideways_jpeg(), b"\xff\xee\x00\x0eAdobe\x00d")),
    "cmyk_jpeg_app14_overrun": (
        REJECTED,
        lambda: cmyk_jpeg()[:4] + struct.pack(">H", _jpeg_segments(cmyk_jpeg())[0xEE][1] + 4) + cmyk_jpeg()[6:],
    ),
    "jpeg_truncated_app2": (READY, lambda: _after_app0(_sideways_jpeg(), b"\xff\xe2\x00\x20ICC_PROFILE\x00\x01\x01")),
    "jpeg_truncated_app13": (READY, lambda: _after_app0(_sideways_jpeg(), b"\xff\xed\x00\x40Photoshop 3.0\x00")),
    "jpeg_segment_length_0": (READY, lambda: _after_app0(_sideways_jpeg(), b"\xff\xe5\x00\x00")),
    "jpeg_segment_length_1": (READY, lambda: _after_app0(_sideways_jpeg(), b"\xff\xe5\x00\x01")),
    "jpeg_segment_length_past_end": (REJECTED, lambda: _after_app0(_sideways_jpeg(), b"\xff\xe5\xff\xff")),
    "jpeg_trailer_after_eoi": (READY, _jpeg_with_trailer),
    "jpeg_truncated_scan": (REJECTED, truncated_jpeg),
    "jpeg_missing_eoi": (REJECTED, lambda: _sideways_jpeg()[:-2]),
    "jpeg_header_then_garbage": (
        REJECTED,
        lambda: _sideways_jpeg()[: _start_of_scan(_sideways_jpeg())] + random_bytes(3000) + b"\xff\xd9",
    ),
    "jpeg_header_only": (REJECTED, lambda: _sideways_jpeg()[: _start_of_scan(_sideways_jpeg())]),
    "jpeg_magic_only": (REJECTED, lambda: b"\xff\xd8\xff"),
    "png_bad_crc_idat": (READY, lambda: _bad_crc(encode(quadrants(300, 200), "PNG"), b"IDAT")),
    "png_bad_crc_text": (REJECTED, lambda: _bad_crc(_png_with_text(), b"tEXt")),
    "png_bad_crc_ihdr": (REJECTED, lambda: _bad_crc(encode(quadrants(300, 200), "PNG"), b"IHDR")),
    "png_truncated_idat": (
        REJECTED,
        lambda: (lambda d, c: d[: c[0] + 8 + c[1] // 2])(
            encode(quadrants(300, 200), "PNG"), _png_chunk(encode(quadrants(300, 200), "PNG"), b"IDAT")
        ),
    ),
    "png_missing_iend": (READY, lambda: _png_with_text()[:-12]),
    "png_trailer_after_iend": (READY, lambda: _png_with_text() + b"tEXtGPS 52.3701,-4.8917"),
    "png_header_then_garbage": (
        REJECTED,
        lambda: encode(quadrants(300, 200), "PNG")[:33] + _chunk(b"IDAT", random_bytes(2000)) + _chunk(b"IEND", b""),
    ),
    "png_magic_only": (REJECTED, lambda: b"\x89PNG\r\n\x1a\n"),
    "gif_truncated": (REJECTED, lambda: animated_gif()[:100]),
    "webp_truncated": (REJECTED, lambda: encode(quadrants(300, 200), "WEBP")[:300]),
    "heic_truncated": (REJECTED, lambda: heic(6, 320, 240)[:2000]),
    "random_bytes": (REJECTED, random_bytes),
    "zero_bytes": (REJECTED, lambda: b""),
}


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
