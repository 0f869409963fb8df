"""Locked listing benchmark: one page of 100 locked items against one of 100 unlocked items, in moto in-process.

    python bench/bench_locked_listing.py [--items 100] [--runs 5]

Two creators with ``--items`` ready photos each (rows written through the models, every variant listed): one
creator's are free, the other's are premium (half ``paid``, half ``subscribers``), so a fan sees them locked
with their preview only. ``GET /creators/{id}/posts?limit=N`` is sent for the fan, the pages taking turns for
``--runs`` rounds after a warm-up. Printed: the AWS calls of each page by operation (target: the same calls)
and the median and best time. Figures are printed, never asserted (tests/api/test_locked_listing_cost.py
asserts the calls).
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tests.conftest as harness  # noqa: E402  (sets the test environment: stage, cheap argon2, moto keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from bench._moto import counted_moto

    with counted_moto() as counter:
        from chalice.test import Client

        import app as app_module
        from chalicelib import aws
        from chalicelib.models.users import User
        from chalicelib.resources import ensure_resources
        from chalicelib.services import accounts
        from tests.creators_kit import make_creator_row, seed_posts

        aws.reset()
        ensure_resources()
        users = {}
        for name in ("free", "premium", "fan"):
            accounts.signup(f"{name}@example.com", f"bench{name}", harness.PASSWORD, None)
            user_id = accounts.user_id_by_claim("email", f"{name}@example.com")
            User(user_id=user_id).update(actions=[User.email_verified.set(True)])
            users[name] = user_id
        make_creator_row(users["free"])
        make_creator_row(users["premium"])
        seed_posts(users["free"], args.items)
        seed_posts(users["premium"], args.items // 2, "paid")
        seed_posts(users["premium"], args.items - args.items // 2, "subscribers")

        with Client(app_module.app, stage_name="test") as client:
            api = harness.Api(client)
            token = api.post("/auth/login", {"login": "benchfan", "password": harness.PASSWORD}).data["access_token"]

            def page(creator: str) -> tuple[list[dict], list[str], float]:
                counter.clear()
                t = time.perf_counter()
                r = api.get(f"/creators/{users[creator]}/posts?limit={args.items}", token=token)
                elapsed = time.perf_counter() - t
                assert r.status_code == 200 and len(r.data["items"]) == args.items, r.body
                return r.data["items"], list(counter.calls), elapsed

            page("free"), page("premium")  # warm-up: clients, schemas
            times: dict[str, list[float]] = {"unlocked": [], "locked": []}
            calls: dict[str, list[str]] = {}
            for _ in range(args.runs):
                for label, creator in (("unlocked", "free"), ("locked", "premium")):
                    items, made, elapsed = page(creator)
                    times[label].append(elapsed)
                    calls[label] = made
                    assert all(i["locked"] == (label == "locked") for i in items)
            print(f"GET /creators/{{id}}/posts?limit={args.items} for a fan, runs={args.runs}:")
            for label in ("unlocked", "locked"):
                by_op = collections.Counter(calls[label])
                ops = ", ".join(f"{op} x{n}" for op, n in sorted(by_op.items()))
                print(
                    f"  {label:9s} {len(calls[label]):3d} AWS calls ({ops}); median "
                    f"{statistics.median(times[label]) * 1000:.0f} ms, best {min(times[label]) * 1000:.0f} ms"
                )
            same = collections.Counter(calls["locked"]) == collections.Counter(calls["unlocked"])
            ratio = statistics.median(times["locked"]) / statistics.median(times["unlocked"])
            print(f"  same calls: {same} (target: the same); locked / unlocked time {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
