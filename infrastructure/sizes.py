"""Size budget of a built stage: ``python -m infrastructure.sizes build/dev``.

Lambda limits a function's code plus all its layers to 250 MB unzipped (50 MB zipped for a direct upload; we
upload through S3, where only the unzipped limit applies). Prints every zip, every function's total against the
limit, and the API function against the processor; exits 1 if a function is over budget.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
MB = 1024 * 1024


def unzipped_size(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())


def measure(build_dir: Path, limit: int = LAMBDA_UNZIPPED_LIMIT) -> dict:
    manifest = json.loads((build_dir / "manifest.json").read_text())
    zips = {"function package": build_dir / manifest["function_package"]}
    zips.update({f"layer {name}": build_dir / path for name, path in manifest["layers"].items()})
    artifacts = {
        label: {
            "path": str(path.relative_to(build_dir)),
            "zipped": path.stat().st_size,
            "unzipped": unzipped_size(path),
        }
        for label, path in zips.items()
    }
    functions = {}
    for logical, info in manifest["functions"].items():
        parts = {"function package": artifacts["function package"]["unzipped"]}
        parts.update({f"layer {name}": artifacts[f"layer {name}"]["unzipped"] for name in info["layers"]})
        total = sum(parts.values())
        functions[logical] = {
            "kind": info["kind"],
            "parts": parts,
            "unzipped": total,
            "limit": limit,
            "headroom": limit - total,
            "within_limit": total <= limit,
        }
    api = [f for f in functions.values() if f["kind"] == "api"]
    processor = [f for f in functions.values() if f["kind"] == "processor"]
    comparison = None
    if api and processor:
        comparison = {
            "api": api[0]["unzipped"],
            "processor": processor[0]["unzipped"],
            "ratio": api[0]["unzipped"] / processor[0]["unzipped"],
        }
    return {
        "stage": manifest["stage"],
        "runtime": manifest["runtime"],
        "architecture": manifest["architecture"],
        "artifacts": artifacts,
        "functions": functions,
        "api_vs_processor": comparison,
    }


def render(report: dict) -> str:
    lines = [
        f"Lightbox {report['stage']} ({report['runtime']}, {report['architecture']}): Lambda limit "
        f"{LAMBDA_UNZIPPED_LIMIT / MB:.0f} MB unzipped per function incl. layers",
        "",
    ]
    lines.append(f"{'artifact':<22}{'zipped MB':>12}{'unzipped MB':>14}")
    for label, a in report["artifacts"].items():
        lines.append(f"{label:<22}{a['zipped'] / MB:>12.1f}{a['unzipped'] / MB:>14.1f}")
    lines += ["", f"{'function':<24}{'kind':<11}{'unzipped MB':>12}{'% of limit':>12}  contents"]
    for logical, f in report["functions"].items():
        contents = " + ".join(f"{k} {v / MB:.1f}" for k, v in f["parts"].items())
        flag = "" if f["within_limit"] else "  OVER LIMIT"
        lines.append(
            f"{logical:<24}{f['kind']:<11}{f['unzipped'] / MB:>12.1f}"
            f"{100 * f['unzipped'] / f['limit']:>11.1f}%  {contents}{flag}"
        )
    c = report["api_vs_processor"]
    if c:
        lines += [
            "",
            f"API function {c['api'] / MB:.1f} MB vs processor {c['processor'] / MB:.1f} MB unzipped: "
            f"the API carries {100 * c['ratio']:.0f}% of the processor's bytes (no Pillow, no libheif)",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "build_dir",
        type=Path,
        nargs="?",
        default=Path("build/dev"),
        help="output of infrastructure.package (default build/dev)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if not (args.build_dir / "manifest.json").exists():
        print(f"{args.build_dir}/manifest.json not found: run `make package` first", file=sys.stderr)
        return 2
    report = measure(args.build_dir)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0 if all(f["within_limit"] for f in report["functions"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
