"""Archive benchmark: the zip of an order of N x 8 MB originals, streamed S3 -> S3 (chalicelib/services/archives.py).

    python bench/bench_archive.py [--files 25] [--mb 8] [--part-mb 8]

The default (25 x 8 MB, 200 MB) keeps ``make bench`` short; the full case is ``--files 100`` (800 MB, about 2.5
minutes here: the build runs twice, once for RSS and once under tracemalloc).

A stock moto server runs in its own process on 127.0.0.1 (so its memory is not ours). The setup writes ``--files``
objects of random bytes (JPEGs do not compress either) as the ``original`` variants of ready photos, and one paid
order holding one digital item of each. A fresh child process then runs the real job consumer
(``archives.on_archive_requested``: reads the order, streams each object in 1 MiB chunks into ``zipfile``
writing to the S3 multipart writer) and reports its peak RSS (``resource.getrusage``: the whole process, Python,
boto3 and buffers included), the peak of Python allocations during the build (``tracemalloc``, a second run) and the
throughput (source MB read per second of the build). The target: peak RSS under 256 MB whatever the archive's size.
Against moto on loopback the throughput is mostly moto's; in-region S3 is faster. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(endpoint: str, part_mb: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIGHTBOX_", "AWS_"))}
    env.update(
        LIGHTBOX_STAGE="bench",
        LIGHTBOX_AWS_ENDPOINT_URL=endpoint,
        LIGHTBOX_JWT_SECRET="bench-secret-of-sufficient-length-0123456789",
        LIGHTBOX_ARCHIVE_PART_BYTES=str(part_mb * MB),
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_XRAY_SDK_ENABLED="false",
        PYTHONPATH=str(ROOT),
    )
    return env


def wait_for(endpoint: str, timeout: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("moto server did not start")


def seed(files: int, size: int) -> dict[str, str]:
    """Photos with an ``original`` of random bytes and one paid order of them; returns the job's payload."""
    from datetime import UTC, datetime

    from chalicelib import aws, storage
    from chalicelib.config import get_settings
    from chalicelib.models.base import new_id
    from chalicelib.models.orders import Order, OrderLine
    from chalicelib.models.photos import READY, Photo
    from chalicelib.resources import ensure_resources
    from chalicelib.services.archives import fingerprint_of

    ensure_resources()
    s3, bucket = aws.client("s3"), get_settings().media_bucket
    lines = []
    for n in range(files):
        photo_id = new_id("p_")
        s3.put_object(Bucket=bucket, Key=storage.variant_key(photo_id, "original"), Body=os.urandom(size))
        Photo(
            photo_id=photo_id,
            owner_id="u_seller",
            status=READY,
            content_type="image/jpeg",
            declared_size=size,
            upload_key=storage.upload_key(photo_id),
            variant_keys=["original"],
            original_format="jpeg",
        ).save()
        lines.append(
            OrderLine(
                item_id=f"i{n + 1}",
                photo_id=photo_id,
                seller_id="u_seller",
                title=f"Photo {n % 10}",  # repeated titles: the unique-name path too
                sku="digital-original",
                kind="digital",
                label="Full resolution",
                quantity=1,
                unit_price_cents=1000,
                line_total_cents=1000,
                variant="original",
                license="personal",
                status="available",
            )
        )
    order = Order(
        order_id=new_id("o_"),
        buyer_id="u_buyer",
        status="paid",
        currency="eur",
        items=lines,
        seller_ids=["u_seller"],
        subtotal_cents=1000 * files,
        total_cents=1000 * files,
        paid_at=datetime.now(UTC),
    )
    fingerprint = fingerprint_of(order)
    assert fingerprint is not None
    order.archive_status, order.archive_items = "building", fingerprint
    order.save()
    return {"order_id": order.order_id, "fingerprint": fingerprint}


def child(payload: dict[str, str], trace: bool) -> None:
    """Run the real consumer once; print what it cost."""
    import resource
    import tracemalloc

    from chalicelib import aws
    from chalicelib.config import get_settings
    from chalicelib.models.delivery import get_order
    from chalicelib.models.orders import Order
    from chalicelib.services import archives

    order = get_order(payload["order_id"])  # connections made, modules imported: the baseline
    assert order is not None
    order.update(actions=[Order.archive_status.set("building")])  # each run builds (a rerun overwrites the key)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    archives.on_archive_requested(payload, None, 100)
    seconds = time.perf_counter() - t0
    traced = tracemalloc.get_traced_memory()[1] / MB if trace else None
    order = get_order(payload["order_id"])
    assert order is not None and order.archive_status == "ready", "the archive was not marked ready"
    head = aws.client("s3").head_object(Bucket=get_settings().media_bucket, Key=order.archive_key)
    sources = sum(1 for i in order.items if i.kind == "digital")
    result = {
        "baseline_rss_mb": baseline,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "traced_peak_mb": traced,
        "seconds": seconds,
        "zip_bytes": head["ContentLength"],
        "parts": head["ETag"].strip('"').rpartition("-")[2],
        "files": sources,
    }
    print(json.dumps(result))


def run_child(env: dict[str, str], payload: dict[str, str], trace: bool) -> dict:
    args = [sys.executable, __file__, "--child", json.dumps(payload)] + (["--trace"] if trace else [])
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=1800, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=25)
    parser.add_argument("--mb", type=int, default=8)
    parser.add_argument("--part-mb", type=int, default=8)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child), args.trace)
        return

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = environment(endpoint, args.part_mb)
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(endpoint)
        os.environ.clear()
        os.environ.update(env)
        t0 = time.perf_counter()
        payload = seed(args.files, args.mb * MB)
        setup = time.perf_counter() - t0
        plain = run_child(env, payload, trace=False)
        traced = run_child(env, payload, trace=True)  # a rerun overwrites the same key (idempotent job)
    finally:
        server.terminate()
        server.wait(timeout=30)

    total_mb = args.files * args.mb
    print(f"archive of {args.files} x {args.mb} MB originals ({total_mb} MB), parts of {args.part_mb} MB, moto server")
    print(f"  setup (seeding S3 and DynamoDB): {setup:.1f} s")
    print(f"  zip: {plain['zip_bytes'] / MB:.1f} MB in {plain['parts']} parts, {plain['files']} files")
    print(
        f"  peak RSS: {plain['peak_rss_mb']:.0f} MB (before the build: {plain['baseline_rss_mb']:.0f} MB; "
        "target < 256 MB)"
    )
    print(f"  Python allocations peak during the build (tracemalloc run): {traced['traced_peak_mb']:.1f} MB")
    print(f"  time: {plain['seconds']:.1f} s, throughput {total_mb / plain['seconds']:.0f} MB/s (source bytes read)")


if __name__ == "__main__":
    main()
