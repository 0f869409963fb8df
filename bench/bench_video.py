"""Video pipeline benchmark: poster + preview + stream of a generated 60 s 1080p clip, ours against bare ffmpeg.

    python bench/bench_video.py [--seconds 60] [--size 1920x1080] [--runs 1] [--preset veryfast]

One clip (lavfi ``testsrc2`` with a ``sine`` tone, H.264/AAC, 30 fps) is made first. Then, alternating for
``--runs`` rounds, each in a fresh child Python process so that its figures are its own:

* pipeline  ``chalicelib.video.process.render``: the probe, the stream, a probe of the stream (the truncation
            check), the poster, its sizes and blurred copy (Pillow), the watermark PNG and the preview, every
            ffmpeg run under its time, memory and output limits;
* bare      the same three ffmpeg commands (``chalicelib.video.transcode``'s argument lists) run one after
            another with ``subprocess.run`` and nothing else: what the work costs with no pipeline around it.

Printed: wall time (median over the rounds), peak RSS of the ffmpeg children (``RUSAGE_CHILDREN``, the
largest child), peak RSS of the Python process itself, and the ratios pipeline / bare (target: within 1.3x).
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_clip(path: Path, seconds: int, size: str) -> None:
    from chalicelib.video import ffmpeg

    subprocess.run(
        [
            ffmpeg.executable(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={size}:rate=30:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={seconds}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            str(path),
        ],
        check=True,
    )


def child(mode: str, source: str, preset: str) -> dict:
    """One measured run, in this (fresh) process."""
    from chalicelib.video import probe, process, transcode

    work = tempfile.mkdtemp(prefix=f"bench-video-{mode}-")
    if mode == "bare":
        from chalicelib.video import ffmpeg

        with open(source, "rb") as handle:
            info = probe.probe(source, handle.read(64), max_seconds=3600, timeout=60, memory_mib=4096)
        watermark = os.path.join(work, "watermark.png")
        process._watermark_png(watermark, "Lightbox", *transcode.fit(*info.display_size, transcode.PREVIEW_BOX))
        exe = ffmpeg.executable()
        commands = [
            transcode.stream_args(source, info, os.path.join(work, "stream.mp4"), preset, 3600),
            transcode.poster_args(source, info, os.path.join(work, "poster.jpg")),
            transcode.preview_args(source, watermark, info, os.path.join(work, "preview.mp4"), preset),
        ]
        started = time.monotonic()
        for args in commands:
            subprocess.run([exe, "-hide_banner", "-nostdin", "-loglevel", "error", *args], check=True)
        wall = time.monotonic() - started
    else:
        from chalicelib.config import get_settings

        settings = get_settings()  # the deployed limits: the memory cap is part of what is measured
        started = time.monotonic()
        process.render(
            source,
            work,
            watermark_text="Lightbox",
            max_seconds=3600,
            timeout_seconds=settings.video_timeout_seconds,
            memory_mib=settings.video_memory_mib,
            max_output_bytes=8 * 1024**3,
            preset=preset,
            deadline=time.monotonic() + 3600,
        )
        wall = time.monotonic() - started
    sizes = {p.name: p.stat().st_size for p in Path(work).iterdir()}
    return {
        "wall": wall,
        "ffmpeg_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "python_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "outputs": sizes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--preset", default=None, help="x264 preset (default: the settings', veryfast)")
    parser.add_argument("--child", choices=("pipeline", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.preset is None:
        from chalicelib.config import get_settings

        args.preset = get_settings().video_preset
    if args.child:
        print(json.dumps(child(args.child, args.source, args.preset)))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        clip = Path(tmp) / "clip.mp4"
        started = time.monotonic()
        make_clip(clip, args.seconds, args.size)
        print(
            f"clip: {args.seconds} s {args.size} 30 fps H.264/AAC, {clip.stat().st_size / 1e6:.1f} MB "
            f"(made in {time.monotonic() - started:.1f} s); preset {args.preset}; {os.cpu_count()} CPUs"
        )
        results: dict[str, list[dict]] = {"pipeline": [], "bare": []}
        for _ in range(args.runs):
            for mode in ("bare", "pipeline"):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", mode, "--source", str(clip), "--preset", args.preset],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                results[mode].append(json.loads(out.strip().splitlines()[-1]))
    row = {
        mode: {k: statistics.median(r[k] for r in runs) for k in ("wall", "ffmpeg_rss_mb", "python_rss_mb")}
        for mode, runs in results.items()
    }
    print(f"{'':10} {'wall s':>8} {'ffmpeg peak RSS MB':>19} {'python peak RSS MB':>19}")
    for mode in ("bare", "pipeline"):
        r = row[mode]
        print(f"{mode:10} {r['wall']:8.1f} {r['ffmpeg_rss_mb']:19.0f} {r['python_rss_mb']:19.0f}")
    ratio = row["pipeline"]["wall"] / row["bare"]["wall"]
    rss = row["pipeline"]["ffmpeg_rss_mb"] / row["bare"]["ffmpeg_rss_mb"]
    print(f"pipeline / bare: wall {ratio:.2f}x (target <= 1.3x), ffmpeg peak RSS {rss:.2f}x")
    outputs = results["pipeline"][-1]["outputs"]
    print("outputs: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sorted(outputs.items()) if k != "source"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
