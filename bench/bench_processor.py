"""Processor benchmark: time per photo to validate it and render all four variants.

    python bench/bench_processor.py [--runs N] [--sizes 12,24] [--what-if-dct-snap]

Side by side, in one run, on the same generated 12 MP (4000x3000) and 24 MP (6000x4000) JPEGs:

* ours    ``chalicelib.imaging.process_image`` (validation, EXIF, variants, watermark);
* naive   Pillow the obvious way: full decode, three LANCZOS resizes from full size, four encodes;
* pyvips  ``thumbnail`` (shrink-on-load, lanczos3, libvips' own threads) producing the same four
          outputs (skipped with a note when pyvips is not installed);
* floor   what no implementation can avoid: decoding at the DCT scale the largest variant needs
          plus encoding the four outputs (with ours' JPEG settings).

Every contender gets a warm-up call (caches, watermark overlay, libvips start-up), then the contenders
take turns for ``--runs`` rounds, so background load hits all of them alike. Printed: median and best
wall clock, median CPU time (all threads). Peak RSS is measured in a fresh child process that handles
one 24 MP photo. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# E402 (import not at the top) below: these imports need the repository on the path.

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps, features  # noqa: E402

from chalicelib.imaging import process as processor  # noqa: E402
from chalicelib.imaging import process_image  # noqa: E402
from chalicelib.imaging.watermark import apply_watermark, watermark_overlay  # noqa: E402

SIZES = {12: (4000, 3000), 24: (6000, 4000)}
LONGEST = processor.VARIANT_SIZES
JPEG_OPTIONS = processor.JPEG_OPTIONS
WATERMARK = "Lightbox"
CACHE_DIR = Path(tempfile.gettempdir()) / "lightbox-bench-v1"

try:
    import pyvips
except ImportError:  # installed only for benchmarking: pip install pyvips-binary pyvips
    pyvips = None


# --- Test photos -------------------------------------------------------------------------------------


def photo(megapixels: int) -> bytes:
    """A photographic-looking JPEG (smooth colour fields, edges, sensor-like noise) with camera EXIF.

    Generated once and kept in the temp dir: flat colours would compress to nothing and decode unrealistically
    fast; these land at 0.3 bytes per pixel, like a phone photo at quality 90.
    """
    width, height = SIZES[megapixels]
    path = CACHE_DIR / f"photo-{width}x{height}.jpg"
    if path.exists():
        return path.read_bytes()
    rnd = random.Random(megapixels)
    seeds = bytes(rnd.randrange(256) for _ in range(16 * 12 * 3))
    image = Image.frombytes("RGB", (16, 12), seeds).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y, r = rnd.randrange(width), rnd.randrange(height), rnd.randrange(width // 40, width // 8)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rnd.randrange(256) for _ in range(3)))
    image = image.filter(ImageFilter.GaussianBlur(3))
    noise = Image.merge("RGB", [Image.effect_noise((width, height), 10) for _ in range(3)])
    image = ImageChops.add(image, noise, 1.0, -128)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Sony", "ILCE-7M3", 1
    exif.get_ifd(0x8769)[0x9003] = "2024:06:01 14:30:05"
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 22.0, 12.36), 3: "E", 4: (4.0, 53.0, 30.12)})
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif)
    CACHE_DIR.mkdir(exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


# --- Contenders --------------------------------------------------------------------------------------

Contender = Callable[[bytes], list[bytes]]  # photo in, the four encoded variants out


def fit(width: int, height: int, longest: int) -> tuple[int, int]:
    return processor._fit(width, height, longest)


def encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **JPEG_OPTIONS)
    return buffer.getvalue()


def ours(data: bytes) -> list[bytes]:
    return [variant.data for variant in process_image(data, watermark_text=WATERMARK).variants.values()]


def naive(data: bytes) -> list[bytes]:
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    large, medium, thumb = (
        image.resize(fit(*image.size, LONGEST[name]), Image.Resampling.LANCZOS) for name in ("large", "medium", "thumb")
    )
    return [encode(thumb), encode(medium), encode(large), encode(apply_watermark(large, WATERMARK))]


def make_floor(data: bytes) -> Contender:
    """The floor: the same DCT-scaled decode as ours, then encoding four ready-made outputs."""
    upright = ours_like_outputs(data)

    def floor(data: bytes) -> list[bytes]:
        image = Image.open(io.BytesIO(data))
        image.draft(None, fit(*image.size, LONGEST["large"]))
        image.load()
        return [encode(output) for output in upright]

    return floor


def ours_like_outputs(data: bytes) -> list[Image.Image]:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    large = image.resize(fit(*image.size, LONGEST["large"]), Image.Resampling.BICUBIC)
    return [
        large.resize(fit(*image.size, LONGEST["thumb"])),
        large.resize(fit(*image.size, LONGEST["medium"])),
        large,
        apply_watermark(large, WATERMARK),
    ]


def vips_outputs(data: bytes) -> list[bytes]:
    save = {"Q": JPEG_OPTIONS["quality"], "optimize_coding": JPEG_OPTIONS["optimize"], "keep": "none"}
    large = pyvips.Image.thumbnail_buffer(data, LONGEST["large"]).copy_memory()  # autorotates, shrink-on-load
    medium = large.thumbnail_image(LONGEST["medium"]).copy_memory()
    thumb = medium.thumbnail_image(LONGEST["thumb"])
    marked = large.composite2(vips_overlay(large.width, large.height), "over").flatten()
    return [
        thumb.jpegsave_buffer(**save),
        medium.jpegsave_buffer(**save),
        large.jpegsave_buffer(**save),
        marked.jpegsave_buffer(**save),
    ]


_VIPS_OVERLAYS: dict[tuple[int, int], object] = {}


def vips_overlay(width: int, height: int) -> object:
    """Our watermark overlay as a libvips image, built once per size (as ours caches it)."""
    if (width, height) not in _VIPS_OVERLAYS:
        overlay = watermark_overlay(WATERMARK, width, height)
        image = pyvips.Image.new_from_memory(overlay.tobytes(), width, height, 4, "uchar")
        _VIPS_OVERLAYS[(width, height)] = image.copy(interpretation="srgb")
    return _VIPS_OVERLAYS[(width, height)]


def dct_snap(data: bytes) -> list[bytes]:
    """What-if, not shipped: accept a DCT-scaled decode up to 1/16 under the nominal size as ``large``
    (2000 px for a 4000 px original) and halve it for ``medium``, instead of resampling to exactly 2048/1024."""
    image = Image.open(io.BytesIO(data))
    nominal = fit(*image.size, LONGEST["large"])
    image.draft(None, (math.ceil(nominal[0] * 15 / 16), math.ceil(nominal[1] * 15 / 16)))
    image.load()
    if max(image.size) <= LONGEST["large"]:
        large = image.convert("RGB")
    else:
        large = processor._render_large(image, nominal, None)
    large.info.clear()

    large_job = processor._background(lambda: encode(large))
    marked = apply_watermark(large, WATERMARK)
    marked_job = processor._background(lambda: encode(marked))
    if max(large.size) // 2 >= LONGEST["medium"] * 15 // 16:
        medium = large.reduce(2)
    else:
        medium = large.resize(fit(*large.size, LONGEST["medium"]), processor.RESAMPLE)
    thumb = medium.resize(fit(*medium.size, LONGEST["thumb"]), processor.RESAMPLE, reducing_gap=2.0)
    return [encode(thumb), encode(medium), large_job.result(), marked_job.result()]


# --- Measuring ---------------------------------------------------------------------------------------


def measure(contenders: dict[str, Contender], data: bytes, runs: int) -> dict[str, tuple[float, float, float]]:
    """(median wall ms, best wall ms, median CPU ms) per contender, taking turns in a rotating order."""
    for run in contenders.values():
        run(data)  # warm-up
    wall: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for round_number in range(runs):
        for name in names[round_number % len(names) :] + names[: round_number % len(names)]:
            started_wall, started_cpu = time.perf_counter(), time.process_time()
            contenders[name](data)
            wall[name].append((time.perf_counter() - started_wall) * 1000)
            cpu[name].append((time.process_time() - started_cpu) * 1000)
    return {name: (statistics.median(wall[name]), min(wall[name]), statistics.median(cpu[name])) for name in names}


_RSS_CHILD = """
import resource
import sys
from pathlib import Path

def peak_mb():
    # VmHWM is the high-water mark of this process image only; ru_maxrss would also count the parent's,
    # which the kernel carries across fork and exec.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

from chalicelib.imaging import process_image
data = Path(sys.argv[1]).read_bytes()
after_imports = peak_mb()
process_image(data, watermark_text="Lightbox")
print(after_imports, peak_mb())
"""


def peak_rss(megapixels: int) -> tuple[float, float]:
    """Peak RSS (MB) of a fresh interpreter that imports the processor and handles one photo."""
    photo(megapixels)
    path = CACHE_DIR / f"photo-{SIZES[megapixels][0]}x{SIZES[megapixels][1]}.jpg"
    output = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(path)], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    return float(output[0]), float(output[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed rounds per contender (median reported)")
    parser.add_argument("--sizes", default="12,24", help="megapixel sizes to run, from 12 and 24")
    parser.add_argument("--what-if-dct-snap", action="store_true", help="also time the not-shipped DCT-snap sizing")
    args = parser.parse_args()

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    vips_version = f"libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}" if pyvips else "not installed"
    print(
        f"Python {platform.python_version()}, Pillow {Image.__version__} (libjpeg-turbo "
        f"{features.version('libjpeg_turbo')}), pyvips: {vips_version}; {cpus} CPUs; runs={args.runs}"
    )
    if pyvips is None:
        print("note: pyvips is not importable, its column is skipped (pip install pyvips-binary pyvips)")
    load_before = os.getloadavg()[0]

    header = f"{'':6} {'':>14} {'wall ms':>8} {'best':>6} {'cpu ms':>7}"
    rows: list[str] = []
    for megapixels in (int(size) for size in args.sizes.split(",")):
        data = photo(megapixels)
        contenders: dict[str, Contender] = {"ours": ours, "naive Pillow": naive}
        if pyvips is not None:
            contenders["pyvips"] = vips_outputs
        contenders["floor"] = make_floor(data)
        if args.what_if_dct_snap:
            contenders["what-if snap"] = dct_snap
        results = measure(contenders, data, args.runs)
        label = f"{megapixels} MP"
        for name, (wall, best, cpu) in results.items():
            rows.append(f"{label:6} {name:>14} {wall:8.0f} {best:6.0f} {cpu:7.0f}")
            label = ""
        ours_wall, floor_wall = results["ours"][0], results["floor"][0]
        ratios = f"ours/floor {ours_wall / floor_wall:.2f}, ours/naive {ours_wall / results['naive Pillow'][0]:.2f}"
        if "pyvips" in results:
            ratios += f", ours/pyvips {ours_wall / results['pyvips'][0]:.2f}"
        rows.append(f"{'':6} {ratios}  ({len(data) / 1e6:.1f} MB JPEG)")

    print(header)
    print("\n".join(rows))
    baseline, peak = peak_rss(24)
    print(
        f"peak RSS, fresh process, one 24 MP photo: {peak:.0f} MB (of which {baseline:.0f} MB after imports "
        "and reading the file)"
    )
    load_after = os.getloadavg()[0]
    if max(load_before, load_after) > 0.5 * (cpus or 1):
        print(
            f"note: load average {load_before:.1f} -> {load_after:.1f} on {cpus} CPUs: other processes competed "
            "for the CPU; figures are noisy, run again on an idle machine"
        )


if __name__ == "__main__":
    main()
