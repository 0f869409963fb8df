"""Preview variant benchmark: the time the ``preview`` (blur + watermark, ``imaging.preview``) adds to the
processor, per 12 MP photo, as a ratio of the processor's time without it.

    python bench/bench_preview.py [--runs N] [--sizes 12,24]

In one run, on the same generated photos as ``bench_processor.py``: ``process_image(preview=False)`` (the
processor as it was) and ``process_image()`` (with the preview) take turns for ``--runs`` rounds after a
warm-up each, so background load hits both alike; also ``make_preview`` alone on the ``medium`` image. Printed:
median and best wall clock, and the added time as a share of the processor's (target: under 10%). The
preview runs on the main thread while the worker thread encodes ``large`` and ``watermarked``, so on two
CPUs part of it is hidden; ``--one-cpu`` shows the cost without that overlap. Figures are printed, never
asserted.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
# E402 (import not at the top) below: these imports need the repository on the path.

from bench_processor import SIZES, photo  # noqa: E402
from PIL import Image  # noqa: E402

from chalicelib.imaging import process as processor  # noqa: E402
from chalicelib.imaging import process_image  # noqa: E402
from chalicelib.imaging.preview import make_preview  # noqa: E402


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", default="12")
    parser.add_argument("--one-cpu", action="store_true", help="no worker thread (as on a 1-CPU machine)")
    args = parser.parse_args()
    if args.one_cpu:
        processor._pool.cache_clear()
        processor._pool = lambda: None  # type: ignore[assignment]
    for megapixels in (int(s) for s in args.sizes.split(",")):
        data = photo(megapixels)
        medium = Image.open(io.BytesIO(process_image(data, preview=False).variants["medium"].data))
        medium.load()
        contenders = {
            "processor without preview": lambda data=data: process_image(data, preview=False),
            "processor with preview": lambda data=data: process_image(data),
            "make_preview alone (medium)": lambda medium=medium: make_preview(medium),
        }
        for fn in contenders.values():
            fn()  # warm-up: the watermark overlays, the thread pool
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.runs):
            for name, fn in contenders.items():
                times[name].append(timed(fn))
        print(f"{megapixels} MP ({SIZES[megapixels][0]}x{SIZES[megapixels][1]}), runs={args.runs}:")
        for name, values in times.items():
            print(f"  {name:30s} median {statistics.median(values) * 1000:7.1f} ms   best {min(values) * 1000:7.1f} ms")
        base = statistics.median(times["processor without preview"])
        added = statistics.median(times["processor with preview"]) - base
        alone = statistics.median(times["make_preview alone (medium)"])
        print(
            f"  added by the preview: {added * 1000:+.1f} ms = {added / base:+.1%} of the processor "
            f"(target < 10%); the preview's own work {alone * 1000:.1f} ms = {alone / base:.1%}"
        )


if __name__ == "__main__":
    main()
