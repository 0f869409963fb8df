"""Orders benchmark: checkout, payment and the order.paid jobs for carts of 1, 10 and 100 items.

    python bench/bench_orders.py [--sizes 1,10,100]

moto in-process (as bench_deletion.py) and a real localstripe (``python -m infrastructure.local.stripe_host`` on a
free 127.0.0.1 port, as tests/stripe_server.py starts it; stopped at the end). One photographer with a default
price sheet made through ``POST /price-sheets`` (one digital sku); the photos are ready public rows written
directly through the models. For each size a fresh buyer fills a cart with that many distinct photos through
``POST /cart/items`` (not measured), then, measured:
- ``POST /orders`` (with an Idempotency-Key): wall time, AWS calls by service.operation, Stripe HTTP requests;
- ``POST /orders/{id}/confirm`` with ``pm_card_visa`` (fulfilment happens in the request): the same;
- the jobs queued afterwards (order.paid and what it fans out to), drained through the worker's handler as the
  event source mapping would: job messages handled and AWS calls by the worker (receive and delete apart).
A 1-item warm-up round runs first and is not printed (imports, first clients). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tests.conftest as harness  # noqa: E402  (sets the test environment: stage, cheap argon2, moto keys)
from tests import stripe_server as kit  # noqa: E402  (localstripe's test keys, its readiness probe)


def start_localstripe() -> tuple[subprocess.Popen, str, Path]:
    port = kit._free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = Path(tempfile.mkdtemp(prefix="lightbox-bench-orders-")) / "localstripe.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "infrastructure.local.stripe_host", "--port", str(port)],
            cwd=str(ROOT),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + kit.START_TIMEOUT_SECONDS
    while kit._status(url + "/v1/customers") is None:
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"localstripe did not start on {url}:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.1)
    os.environ.update(
        {
            "LIGHTBOX_STRIPE_API_BASE": url,
            "LIGHTBOX_STRIPE_SECRET_KEY": kit.SECRET_KEY,
            "LIGHTBOX_STRIPE_PUBLISHABLE_KEY": kit.PUBLISHABLE_KEY,
            "LIGHTBOX_STRIPE_WEBHOOK_SECRET": kit.WEBHOOK_SECRET,
        }
    )
    for name in ("LIGHTBOX_STRIPE_SECRET_PARAM", "LIGHTBOX_STRIPE_WEBHOOK_SECRET_PARAM"):
        os.environ.pop(name, None)
    return process, url, log_path


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def count_stripe_requests() -> list[str]:
    """Every HTTP request stripe-python sends (retries included), as "METHOD /path"."""
    import urllib.parse

    from stripe import _http_client

    sent: list[str] = []
    classes = {c for c in vars(_http_client).values() if isinstance(c, type) and issubclass(c, _http_client.HTTPClient)}

    def counted(request):
        def wrapped(self, method, url, *a, **kw):
            sent.append(f"{method.upper()} {urllib.parse.urlparse(url).path}")
            return request(self, method, url, *a, **kw)

        return wrapped

    for cls in classes:  # a class the module names twice is wrapped once
        if "request" in vars(cls):
            cls.request = counted(vars(cls)["request"])  # type: ignore[method-assign]
    return sent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100", help="cart sizes, comma separated (at most 100: a cart's limit)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import botocore.client
    from moto import mock_aws

    counter = harness.CallCounter()
    original = botocore.client.ClientCreator.create_client

    def create_client(self, *a, **kw):
        client = original(self, *a, **kw)
        client.meta.events.register("before-call.*.*", counter.hook)
        return client

    botocore.client.ClientCreator.create_client = create_client  # type: ignore[method-assign]
    stripe_sent = count_stripe_requests()
    process, url, log_path = start_localstripe()
    print(f"localstripe on {url} (log {log_path})")
    try:
        with mock_aws():
            rows = run(counter, stripe_sent, sizes)
    finally:
        stop(process)

    print()
    header = ("items", "POST /orders calls", "ms", "stripe", "confirm calls", "ms", "stripe", "jobs", "job calls")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" for _ in header) + "|")
    for r in rows:
        cells = (r["items"], r["order_calls"], f"{r['order_ms']:.0f}", r["order_stripe"])
        cells += (r["confirm_calls"], f"{r['confirm_ms']:.0f}", r["confirm_stripe"], r["jobs"], r["job_calls"])
        print("| " + " | ".join(str(c) for c in cells) + " |")
    by_size = {r["items"]: r for r in rows}
    if 1 in by_size and max(by_size) > 1:
        n, big, small = max(by_size), by_size[max(by_size)], by_size[1]
        # BatchWriteItem takes 25 items a call (BatchGetItem and TransactWriteItems 100): a batched operation costs
        # one more call per 25 items; a per-item one costs one more call per item
        batches = -(-(n - 1) // 25)
        parts = []
        for name, key in (("POST /orders", "order_calls"), ("confirm", "confirm_calls"), ("jobs", "job_calls")):
            extra = big[key] - small[key]
            bounded = "within batch-write limits" if extra <= 3 * batches else "grows per item"
            verdict = "flat" if extra <= 0 else bounded
            parts.append(f"{name} {big[key] / small[key]:.2f}x (+{extra}, {verdict})")
        print(
            f"\nAWS calls, {n} items / 1 item: " + "; ".join(parts) + f". Per-item growth would add ~{n - 1} calls "
            f"per per-item operation, batch writes ~{batches} per batched operation."
        )
    return 0


def run(counter, stripe_sent: list[str], sizes: list[int]) -> list[dict]:
    from chalice.test import Client

    import app as app_module
    from chalicelib import aws
    from chalicelib.config import get_settings
    from chalicelib.models.base import new_id
    from chalicelib.models.photos import READY, Photo
    from chalicelib.models.users import User
    from chalicelib.resources import ensure_resources
    from chalicelib.services import accounts
    from tests.checkout_kit import DIGITAL
    from tests.jobs import queue_url, receive, record

    get_settings.cache_clear()  # the Stripe settings were set after the harness imported
    logging.disable(logging.INFO)  # the app's and stripe-python's request logs
    aws.reset()
    ensure_resources()

    def user(name: str, role: str = "member") -> str:
        accounts.signup(f"{name}@example.com", name, harness.PASSWORD, None, role=role)
        user_id = accounts.user_id_by_claim("email", f"{name}@example.com")
        User(user_id=user_id).update(actions=[User.email_verified.set(True)])
        return user_id

    def drain() -> tuple[collections.Counter, collections.Counter]:
        """Run every queued job; returns (job messages handled by type:consumer, the worker's AWS calls)."""
        counter.clear()
        handled: collections.Counter = collections.Counter()
        while True:  # the event source mapping's part (receive, delete) is counted apart from the worker's
            with counter.separately("event source"):
                messages = receive()
            if not messages:
                break
            handled.update(f"{(b := json.loads(m['Body']))['type']}:{b['consumer']}" for m in messages)
            response = app_module.run_jobs({"Records": [record(m) for m in messages]}, None)
            failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
            with counter.separately("event source"):
                for m in messages:
                    if m["MessageId"] not in failed:
                        aws.client("sqs").delete_message(QueueUrl=queue_url(), ReceiptHandle=m["ReceiptHandle"])
        return handled, collections.Counter(counter.calls)

    seller_id = user("seller", role="photographer")
    with Photo.batch_write() as batch:
        photo_ids = []
        for _ in range(max(sizes)):
            photo_id = new_id("p_")
            photo_ids.append(photo_id)
            batch.save(
                Photo(
                    photo_id=photo_id,
                    owner_id=seller_id,
                    status=READY,
                    visibility="public",
                    content_type="image/jpeg",
                    declared_size=1000,
                    upload_key=f"uploads/{photo_id}",
                    variant_keys=["thumb", "medium", "large", "watermarked", "original"],
                )
            )

    rows = []
    with Client(app_module.app, stage_name="test") as client:
        api = harness.Api(client)

        def login(name: str) -> str:
            return api.post("/auth/login", {"login": name, "password": harness.PASSWORD}).data["access_token"]

        sheet = {"name": "Standard", "currency": "eur", "default": True, "items": [DIGITAL]}
        r = api.post("/price-sheets", sheet, token=login("seller"))
        assert r.status_code == 201, r.body

        for round_no, n in enumerate([1, *sizes]):
            warm_up = round_no == 0
            name = f"buyer{round_no}"
            user(name)
            token = login(name)
            t = time.perf_counter()
            for photo_id in photo_ids[:n]:
                r = api.post("/cart/items", {"photo_id": photo_id, "sku": DIGITAL["sku"], "quantity": 1}, token=token)
                assert r.status_code == 201, r.body
            setup_s = time.perf_counter() - t
            drain()  # signup mail and the like: not the order's

            counter.clear()
            stripe_sent.clear()
            t = time.perf_counter()
            r = api.post("/orders", {}, token=token, headers={"Idempotency-Key": f"bench-{round_no}"})
            order_ms = (time.perf_counter() - t) * 1000
            assert r.status_code == 201, r.body
            order_calls, order_stripe = collections.Counter(counter.calls), list(stripe_sent)
            order_id = r.data["order"]["id"]
            order_jobs, _ = drain()  # anything the checkout itself queued (none expected), not counted below

            counter.clear()
            stripe_sent.clear()
            t = time.perf_counter()
            r = api.post(f"/orders/{order_id}/confirm", {"payment_method_id": "pm_card_visa"}, token=token)
            confirm_ms = (time.perf_counter() - t) * 1000
            assert r.status_code == 200 and r.data["status"] == "paid", r.body
            confirm_calls, confirm_stripe = collections.Counter(counter.calls), list(stripe_sent)

            stripe_sent.clear()
            t = time.perf_counter()
            jobs, job_calls = drain()
            jobs_s = time.perf_counter() - t
            if warm_up:
                continue
            rows.append(
                {
                    "items": n,
                    "order_calls": sum(order_calls.values()),
                    "order_ms": order_ms,
                    "order_stripe": len(order_stripe),
                    "confirm_calls": sum(confirm_calls.values()),
                    "confirm_ms": confirm_ms,
                    "confirm_stripe": len(confirm_stripe),
                    "jobs": sum(jobs.values()),
                    "job_calls": sum(job_calls.values()),
                }
            )
            print(f"\n{n} item(s) (cart filled in {setup_s:.1f} s; jobs run after POST /orders: {dict(order_jobs)})")
            print(f"  POST /orders {order_ms:.0f} ms, {sum(order_calls.values())} AWS calls: {dict(order_calls)}")
            print(f"    stripe: {order_stripe}")
            print(f"  confirm {confirm_ms:.0f} ms, {sum(confirm_calls.values())} AWS calls: {dict(confirm_calls)}")
            print(f"    stripe: {confirm_stripe}")
            print(
                f"  jobs: {sum(jobs.values())} messages {dict(jobs)} in {jobs_s:.1f} s, "
                f"{sum(job_calls.values())} AWS calls by the worker"
            )
            if stripe_sent:
                print(f"    stripe: {list(stripe_sent)}")
            for op, count in job_calls.most_common(12):
                print(f"    {op:<34}{count:>7}")
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
