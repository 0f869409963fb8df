"""Account deletion benchmark: an account with 2,000 photos, in moto in-process.

    python bench/bench_deletion.py [--photos 2000]

The photos are rows written directly through the models (status ready, one stored variant each), not made
through Pillow. Printed: the ``DELETE /users/me`` request's wall time (target under 1 s: it only marks the
account deleted, revokes sessions, closes sockets and publishes ``user.deleted``), its AWS calls, then the
background job: how many job messages, batches, AWS calls (by operation) and the total time until the
cascade ends (claims freed). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tests.conftest as harness  # noqa: E402  (sets the test environment: stage, cheap argon2, moto keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=2000)
    args = parser.parse_args()

    from bench._moto import counted_moto

    with counted_moto() as counter:
        from chalice.test import Client

        import app as app_module
        from chalicelib import aws, storage
        from chalicelib.models.base import new_id
        from chalicelib.models.photos import READY, Photo
        from chalicelib.models.users import User
        from chalicelib.resources import ensure_resources
        from chalicelib.services import accounts
        from tests.jobs import queue_url, receive, record

        aws.reset()
        ensure_resources()
        accounts.signup("bench@example.com", "bench", harness.PASSWORD, None)
        User(user_id=accounts.user_id_by_claim("email", "bench@example.com")).update(
            actions=[User.email_verified.set(True)]
        )
        user_id = accounts.user_id_by_claim("email", "bench@example.com")
        t = time.perf_counter()
        with Photo.batch_write() as batch:
            for n in range(args.photos):
                photo_id = new_id("p_")
                batch.save(
                    Photo(
                        photo_id=photo_id,
                        owner_id=user_id,
                        status=READY,
                        content_type="image/jpeg",
                        declared_size=1000,
                        upload_key=f"uploads/{photo_id}",
                        variant_keys=["thumb"],
                        public_bucket="public",
                        search_terms={"bench", f"w{n % 50}"},
                    )
                )
                storage.put_media(storage.variant_key(photo_id, "thumb"), b"jpeg", "image/jpeg")
        print(f"setup: {args.photos} photo rows and files in {time.perf_counter() - t:.1f} s")

        with Client(app_module.app, stage_name="test") as client:
            api = harness.Api(client)
            token = api.post("/auth/login", {"login": "bench", "password": harness.PASSWORD}).data["access_token"]
            counter.clear()
            t = time.perf_counter()
            r = api.delete("/users/me", {"password": harness.PASSWORD}, token=token)
            request_s = time.perf_counter() - t
            request_calls = list(counter.calls)
            assert r.status_code == 204, r.body
            print(
                f"DELETE /users/me: {r.status_code} in {request_s * 1000:.0f} ms (target < 1000 ms), "
                f"{len(request_calls)} AWS calls"
            )

            counter.clear()
            t = time.perf_counter()
            batches = 0
            while True:  # the event source mapping's part (receive, delete) is counted apart from the worker's
                with counter.separately("event source"):
                    messages = receive()
                if not messages:
                    break
                batches += 1
                response = app_module.run_jobs({"Records": [record(m) for m in messages]}, None)
                failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
                with counter.separately("event source"):
                    for m in messages:
                        if m["MessageId"] not in failed:
                            aws.client("sqs").delete_message(QueueUrl=queue_url(), ReceiptHandle=m["ReceiptHandle"])
            job_s = time.perf_counter() - t
            job_calls = collections.Counter(counter.calls)
            received = sum(1 for c in counter.sections.get("event source", []) if c == "sqs.ReceiveMessage")
            left = Photo.by_owner.query(user_id, limit=1)
            freed = (
                api.post(
                    "/auth/signup", {"email": "bench@example.com", "username": "bench", "password": harness.PASSWORD}
                ).status_code
                == 201
            )
            print(
                f"jobs: {batches} worker batches ({received} receives), {sum(job_calls.values())} AWS calls "
                f"by the worker, {job_s:.1f} s total; "
                f"photos left {len(list(left))}; claims freed {freed}"
            )
            for name, n in job_calls.most_common(12):
                print(f"    {name:<34}{n:>7}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
