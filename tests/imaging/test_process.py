"""Accepted uploads: orientation, sizes, metadata, colour, stripping and the watermark, from real files."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image, ImageChops, ImageStat

from chalicelib.imaging import ProcessedImage, process_image
from chalicelib.imaging import process as processor

from . import fixtures
from .fixtures import BLUE, GREEN, QUADRANTS, RED, WHITE, close_to, colour_at, open_variant, quadrant_colours

VARIANT_NAMES = ("thumb", "medium", "large", "watermarked")


@functools.cache
def processed(kind: str, *args: object) -> ProcessedImage:
    """Each fixture is processed once per test session; tests only read the result."""
    return process_image(getattr(fixtures, kind)(*args))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_shown_upright(orientation: int) -> None:
    result = processed("oriented_jpeg", orientation)

    assert (result.width, result.height) == (300, 200)
    sizes = {name: (v.width, v.height) for name, v in result.variants.items()}
    assert sizes == {
        "thumb": (256, 171),
        "medium": (300, 200),
        "large": (300, 200),
        "watermarked": (300, 200),
        "preview": (300, 200),
    }
    for name in ("thumb", "medium", "large"):
        colours = quadrant_colours(result.variants[name].data)
        assert all(close_to(colours[q], QUADRANTS[q]) for q in QUADRANTS), (name, colours)


@pytest.fixture
def two_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The worker thread exists even where the machine has a single CPU, so strips are really used."""
    pool = ThreadPoolExecutor(max_workers=1)
    monkeypatch.setattr(processor, "_pool", lambda: pool)
    yield
    pool.shutdown()


@pytest.mark.usefixtures("two_threads")
@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_resampled_photo_is_upright_in_every_orientation(orientation: int) -> None:
    result = processed("oriented_jpeg", orientation, 2600, 1950)  # resampled in strips, turned per strip

    assert (result.width, result.height) == (2600, 1950)
    for name in ("thumb", "medium", "large"):
        colours = quadrant_colours(result.variants[name].data)
        assert all(close_to(colours[q], QUADRANTS[q]) for q in QUADRANTS), (name, colours)
    large = open_variant(result.variants["large"].data).convert("RGB")
    assert large.size == (2048, 1536)
    # No seam or gap where the strips meet: the quadrant edges are where they should be, and solid.
    for x, y, colour in (
        (5, 5, RED),
        (2042, 5, GREEN),
        (5, 1530, BLUE),
        (2042, 1530, fixtures.YELLOW),
        (1000, 760, RED),
        (1050, 760, GREEN),
        (1000, 776, BLUE),
        (1050, 776, fixtures.YELLOW),
    ):
        assert close_to(large.getpixel((x, y)), colour), (x, y, large.getpixel((x, y)))


def test_a_big_photo_stored_sideways_gets_every_size_upright() -> None:
    result = processed("oriented_jpeg", 6, 4400, 3300)  # stored 3300x4400 sideways, shown 4400x3300

    assert (result.width, result.height) == (4400, 3300)
    for name, (width, height) in {
        "thumb": (256, 192),
        "medium": (1024, 768),
        "large": (2048, 1536),
        "watermarked": (2048, 1536),
    }.items():
        variant = result.variants[name]
        assert (variant.width, variant.height) == (width, height)
        assert open_variant(variant.data).size == (width, height)
    colours = quadrant_colours(result.variants["large"].data)
    assert all(close_to(colours[q], QUADRANTS[q]) for q in QUADRANTS), colours


def test_the_declared_dimensions_of_each_variant_match_its_pixels() -> None:
    result = processed("oriented_jpeg", 8)
    for name in VARIANT_NAMES:
        variant = result.variants[name]
        assert variant.name == name
        assert variant.content_type == "image/jpeg"
        assert open_variant(variant.data).format == "JPEG"
        assert open_variant(variant.data).size == (variant.width, variant.height)


def test_capture_time_camera_and_position_are_read() -> None:
    result = processed("oriented_jpeg", 1)

    assert result.format == "jpeg"
    assert result.taken_at == fixtures.TAKEN_AT_ISO
    assert result.camera_model == "Canon EOS R5"  # the make is not repeated
    assert result.gps == pytest.approx(fixtures.GPS_DECIMAL, abs=1e-5)


def test_missing_or_blank_metadata_is_none() -> None:
    data = fixtures.oriented_jpeg(1, gps=False, taken_at="0000:00:00 00:00:00", make=None, model=None)
    result = process_image(data)

    assert (result.taken_at, result.camera_model, result.gps) == (None, None, None)


@pytest.mark.parametrize(
    ("kind", "args"),
    [
        ("oriented_jpeg", (6,)),
        ("oriented_jpeg", (6, 4400, 3300)),
        ("heic", ()),
        ("swapped_primaries_jpeg", ()),
        ("srgb_tagged_jpeg", ()),
    ],
)
def test_no_variant_keeps_exif_xmp_gps_icc_or_comments(kind: str, args: tuple[object, ...]) -> None:
    result = processed(kind, *args)

    for name in VARIANT_NAMES:
        data = result.variants[name].data
        image = open_variant(data)
        assert not image.getexif(), name
        assert not {"exif", "xmp", "icc_profile", "comment"} & set(image.info), (name, image.info.keys())
        # No APP1 (EXIF/XMP), APP2 (ICC), APP13 (IPTC) or COM segment at all; only JFIF and the image.
        assert not {0xE1, 0xE2, 0xED, 0xFE} & set(fixtures.jpeg_markers(data)), name
        for secret in (b"Exif", b"GPS", b"xmpmeta", b"Canon", b"Apple", b"52.37"):
            assert secret not in data, (name, secret)


def test_a_one_pixel_image_is_never_enlarged() -> None:
    for data in (fixtures.one_pixel("PNG"), fixtures.one_pixel("JPEG")):
        result = process_image(data)
        assert (result.width, result.height) == (1, 1)
        for name in VARIANT_NAMES:
            variant = result.variants[name]
            assert (variant.width, variant.height) == (1, 1)
            assert open_variant(variant.data).size == (1, 1)
        assert close_to(colour_at(result.variants["large"].data, 0, 0), RED)


@pytest.mark.parametrize("size", [(200, 100), (2600, 1300)])  # the big one is resampled in strips
def test_png_transparency_is_flattened_onto_white_jpeg(size: tuple[int, int]) -> None:
    result = processed("png_with_alpha", *size)

    assert result.format == "png"
    for name in ("thumb", "medium", "large"):
        data = result.variants[name].data
        assert open_variant(data).mode == "RGB"
        assert close_to(colour_at(data, 0.2, 0.5), RED)
        assert close_to(colour_at(data, 0.8, 0.5), WHITE)  # not the blue hidden under alpha 0


def test_palette_transparency_is_flattened_too() -> None:
    result = processed("palette_png_with_transparency")

    assert close_to(colour_at(result.variants["large"].data, 0.2, 0.5), RED)
    assert close_to(colour_at(result.variants["large"].data, 0.8, 0.5), WHITE)


def test_sixteen_bit_greyscale_keeps_its_tone() -> None:
    result = processed("grey_png_16bit", 32768)

    assert close_to(colour_at(result.variants["large"].data, 0.5, 0.5), (128, 128, 128), tolerance=3)


def test_iphone_heic_is_accepted_upright_with_its_metadata() -> None:
    result = processed("heic", 6, 320, 240)

    assert result.format == "heic"
    assert (result.width, result.height) == (320, 240)
    assert result.camera_model == "Apple iPhone 15 Pro"
    assert result.taken_at == fixtures.TAKEN_AT_ISO
    assert result.gps == pytest.approx(fixtures.GPS_DECIMAL, abs=1e-5)
    colours = quadrant_colours(result.variants["large"].data)
    assert all(close_to(colours[q], QUADRANTS[q]) for q in QUADRANTS), colours


@pytest.mark.parametrize("size", [(120, 80), (2600, 1300)])
def test_cmyk_jpeg_is_converted_to_rgb_with_the_right_colours(size: tuple[int, int]) -> None:
    result = processed("cmyk_jpeg", *size)

    large = result.variants["large"].data
    assert open_variant(large).mode == "RGB"
    assert close_to(colour_at(large, 0.25, 0.5), RED)
    assert close_to(colour_at(large, 0.75, 0.5), (0, 255, 255))


@pytest.mark.parametrize("size", [(200, 100), (2600, 1300)])  # the big one is converted in strips
def test_an_embedded_colour_profile_is_honoured(size: tuple[int, int]) -> None:
    result = processed("swapped_primaries_jpeg", *size)

    # The stored pixels are green | red; the profile says they mean red | green.
    for name in ("thumb", "large"):
        data = result.variants[name].data
        assert close_to(colour_at(data, 0.25, 0.5), RED), name
        assert close_to(colour_at(data, 0.75, 0.5), GREEN), name


def test_an_srgb_profile_changes_nothing() -> None:
    colours = quadrant_colours(processed("srgb_tagged_jpeg").variants["large"].data)
    assert all(close_to(colours[q], QUADRANTS[q], tolerance=12) for q in QUADRANTS), colours


def test_only_the_first_gif_frame_is_used() -> None:
    result = processed("animated_gif")

    assert result.format == "gif"
    assert close_to(colour_at(result.variants["large"].data, 0.5, 0.5), RED)
    assert not close_to(colour_at(result.variants["large"].data, 0.5, 0.5), BLUE)


def test_webp_is_accepted() -> None:
    data = fixtures.encode(fixtures.quadrants(160, 120), "WEBP", quality=95)
    result = process_image(data)

    assert result.format == "webp"
    colours = quadrant_colours(result.variants["large"].data)
    assert all(close_to(colours[q], QUADRANTS[q]) for q in QUADRANTS), colours


# --- The watermark -----------------------------------------------------------------------------------

GREY = (128, 128, 128)


@functools.cache
def grey_photo(text: str) -> ProcessedImage:
    data = fixtures.encode(Image.new("RGB", (1600, 1200), GREY), "JPEG", quality=95)
    return process_image(data, watermark_text=text)


def test_the_watermark_covers_the_watermarked_variant_and_only_it() -> None:
    result = grey_photo("Lightbox")
    large = open_variant(result.variants["large"].data).convert("RGB")
    marked = open_variant(result.variants["watermarked"].data).convert("RGB")

    assert marked.size == large.size == (1600, 1200)
    low, high = zip(*large.getextrema(), strict=True)
    assert min(low) >= GREY[0] - 4 and max(high) <= GREY[0] + 4  # large is the clean photo
    difference = ImageChops.difference(marked, large).convert("L")
    assert ImageStat.Stat(difference).mean[0] > 3
    # Tiled: every quadrant carries light text and its dark halo.
    for box in ((0, 0, 800, 600), (800, 0, 1600, 600), (0, 600, 800, 1200), (800, 600, 1600, 1200)):
        quadrant = marked.crop(box).convert("L")
        histogram = quadrant.histogram()
        total = quadrant.width * quadrant.height
        assert sum(histogram[150:]) > total * 0.01, box  # light text
        assert sum(histogram[:100]) > total * 0.01, box  # dark halo


def test_the_watermark_text_is_configurable() -> None:
    lightbox, other = grey_photo("Lightbox"), grey_photo("Smith & Jones Weddings")

    assert lightbox.variants["large"].data == other.variants["large"].data
    marked_a = open_variant(lightbox.variants["watermarked"].data).convert("L")
    marked_b = open_variant(other.variants["watermarked"].data).convert("L")
    assert ImageStat.Stat(ImageChops.difference(marked_a, marked_b)).mean[0] > 3


def test_a_blank_watermark_text_is_a_caller_error() -> None:
    with pytest.raises(ValueError):
        process_image(fixtures.one_pixel(), watermark_text="   ")


# --- The fast path stays exact -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def noisy_source() -> Image.Image:
    size = (3000, 2000)
    return Image.merge(
        "RGB",
        (
            Image.radial_gradient("L").resize(size),
            Image.linear_gradient("L").resize(size),
            Image.effect_noise(size, 40),
        ),
    )


@pytest.mark.usefixtures("two_threads")
@pytest.mark.parametrize("transpose", [None, *Image.Transpose])
def test_parallel_strips_join_into_one_full_resize(
    noisy_source: Image.Image, transpose: Image.Transpose | None
) -> None:
    expected = noisy_source.resize((2048, 1365), processor.RESAMPLE)
    if transpose is not None:
        expected = expected.transpose(transpose)

    actual = processor._render_large(noisy_source, (2048, 1365), transpose)

    assert actual.size == expected.size
    # Identical but for float rounding of the strip boxes: at most one level, on a sliver of pixels.
    difference = ImageChops.difference(actual, expected).convert("L")
    assert difference.getextrema()[1] <= 1
    assert sum(difference.histogram()[1:]) < actual.width * actual.height * 0.01


def test_a_jpeg_is_decoded_at_a_reduced_scale_when_that_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded_sizes: list[tuple[int, int]] = []
    render = processor._render_large

    def spy(image: Image.Image, size: tuple[int, int], transpose: Image.Transpose | None) -> Image.Image:
        decoded_sizes.append(image.size)
        return render(image, size, transpose)

    monkeypatch.setattr(processor, "_render_large", spy)
    process_image(fixtures.oriented_jpeg(1, 4400, 3300))

    assert decoded_sizes == [(2200, 1650)]  # libjpeg's 1/2 scale, never the 14.5 MP original


def test_variants_are_progressively_smaller_files() -> None:
    result = processed("oriented_jpeg", 6, 4400, 3300)
    sizes = [len(result.variants[name].data) for name in ("thumb", "medium", "large")]
    assert sizes == sorted(sizes)
    assert sizes[0] < 20_000


@pytest.mark.parametrize("orientation", [1, 6])
def test_a_4000px_jpeg_snaps_to_its_dct_scale_instead_of_resampling(
    orientation: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """~2048 px: a 4000x3000 photo decodes at 1/2 straight to a 2000 px large and halves to a 1000 px medium."""
    resized: list[tuple[int, int]] = []
    original_resize = Image.Image.resize

    def spy(self: Image.Image, size, *args, **kwargs):
        resized.append(self.size)
        return original_resize(self, size, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "resize", spy)
    result = process_image(fixtures.oriented_jpeg(orientation, 4000, 3000))

    sizes = {name: (v.width, v.height) for name, v in result.variants.items()}
    assert sizes == {
        "thumb": (256, 192),
        "medium": (1000, 750),
        "large": (2000, 1500),
        "watermarked": (2000, 1500),
        "preview": (640, 480),
    }
    assert (result.width, result.height) == (4000, 3000)
    # Only the thumb and the preview's small copies are resampled; nothing at full or large size.
    assert resized == [(1000, 750), (334, 250), (64, 48), (160, 120)]
    colours = quadrant_colours(result.variants["large"].data)
    assert all(close_to(colours[q], QUADRANTS[q]) for q in QUADRANTS), colours
