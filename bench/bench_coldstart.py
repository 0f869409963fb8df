"""Cold start of the API function: wall time of `python -c "import app"` against `python -c "import boto3"`,
each in a fresh interpreter, interleaved, median of 7, in the same run. Prints the ratio (target <= 1.5x) and
the heaviest imports under app, and checks that Pillow, Stripe and the X-Ray SDK stay out of the API's path.

Blueprint modules load on a route's first request (chalicelib/api/routing.py), so the figure that a first
request actually waits for is also printed: app plus the auth blueprint, and app plus every blueprint.

Run: python bench/bench_coldstart.py [runs]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "LIGHTBOX_STAGE": "dev", "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "0"}
HEAVY = ("PIL", "pillow_heif", "stripe", "aws_xray_sdk")


def timed(statement: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], cwd=ROOT, env=ENV, check=True)
    return time.perf_counter() - start


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    for statement in ("import app", "import boto3"):  # warm the .pyc caches first
        timed(statement)
    statements = {
        "import app": "import app",
        "import boto3": "import boto3",
        "python (empty)": "pass",
        "app + auth routes": "import app, chalicelib.api.auth",
        "app + all routes": "import app; from chalicelib.api.routing import load_all; load_all()",
    }
    samples: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(runs):
        for name, statement in statements.items():
            samples[name].append(timed(statement))
    med = {k: statistics.median(v) for k, v in samples.items()}
    print(f"cold start, median of {runs} fresh interpreters (seconds)")
    for name, value in med.items():
        print(
            f"  {name:<18} {value * 1000:7.1f} ms   (min {min(samples[name]) * 1000:.1f})"
            f"   {value / med['import boto3']:.2f}x boto3"
        )
    ratio = med["import app"] / med["import boto3"]
    print(f"  ratio app/boto3    {ratio:7.2f}x   target <= 1.50x  {'OK' if ratio <= 1.5 else 'OVER'}")

    loaded = subprocess.run(
        [sys.executable, "-c", "import app, sys; print(' '.join(sys.modules))"],
        cwd=ROOT,
        env=ENV,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    heavy = sorted({m.split(".")[0] for m in loaded if m.split(".")[0] in HEAVY})
    print(f"  heavy modules imported by the API function: {heavy or 'none'}")

    trace = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        cwd=ROOT,
        env=ENV,
        check=True,
        capture_output=True,
        text=True,
    ).stderr.splitlines()
    print("  heaviest imports under app (cumulative ms, self ms):")
    for cumulative, self_us, name in sorted(importtime_rows(trace), reverse=True)[1:11]:
        print(f"    {cumulative / 1000:7.1f} {self_us / 1000:7.1f}  {name}")


def importtime_rows(lines: list[str]) -> list[tuple[int, int, str]]:
    """Parse ``-X importtime`` lines: "import time: <self us> | <cumulative us> | <indented module>"."""
    rows = []
    for line in lines:
        if not line.startswith("import time:"):
            continue
        self_us, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
        if self_us.isdigit():
            rows.append((int(cumulative), int(self_us), name))
    return rows


if __name__ == "__main__":
    main()
