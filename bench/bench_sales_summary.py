"""GET /sales/summary over 10 and 10,000 orders, in moto in-process: the cost must stay flat.

    python bench/bench_sales_summary.py [--orders 10000]

Two photographers: one whose 10 orders go through the real consumers (ledger, then sales_stats), one with the
aggregate rows that N orders leave (one line each over 40 days, 37 photos, 23 clients), batch-written: booking
10,000 orders through moto would take most of an hour, and the summary reads only the aggregates. Printed, for
day and month granularity: the median wall time of 5 requests and the AWS calls of one. Never asserted.
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
    parser.add_argument("--orders", type=int, default=10_000)
    args = parser.parse_args()

    from bench._moto import counted_moto

    with counted_moto() as counter:
        from chalice.test import Client

        import app as app_module
        from chalicelib import aws
        from chalicelib.models.users import User
        from chalicelib.resources import ensure_resources
        from chalicelib.services import accounts
        from tests.api.test_sales_summary import _book, _order, _seed_aggregates

        aws.reset()
        ensure_resources()
        sellers = {}
        for name in ("small", "large"):
            email = f"{name}@example.com"
            accounts.signup(email, name, harness.PASSWORD, None, role="photographer")
            user_id = accounts.user_id_by_claim("email", email)
            User(user_id=user_id).update(actions=[User.email_verified.set(True)])
            sellers[name] = user_id

        def orders(seller_id: str, n: int) -> list[dict]:
            return [
                _order(f"{seller_id}-{i}", seller_id, [(f"photo{i % 37}", 100 + i % 900)], f"buyer{i % 23}", i % 40)
                for i in range(n)
            ]

        t = time.perf_counter()
        for order in orders(sellers["small"], 10):
            _book(order)
        _seed_aggregates(sellers["large"], orders(sellers["large"], args.orders))
        print(f"setup: 10 orders booked, the rows of {args.orders} orders written in {time.perf_counter() - t:.1f} s")

        with Client(app_module.app, stage_name="test") as client:
            api = harness.Api(client)
            for name, n in (("small", 10), ("large", args.orders)):
                token = api.post("/auth/login", {"login": name, "password": harness.PASSWORD}).data["access_token"]
                for granularity in ("day", "month"):
                    path = f"/sales/summary?granularity={granularity}"
                    times = []
                    for _ in range(5):
                        counter.clear()
                        started = time.perf_counter()
                        r = api.get(path, token=token)
                        times.append(time.perf_counter() - started)
                        assert r.status_code == 200, r.body
                    calls = collections.Counter(counter.calls)
                    median_ms = statistics.median(times) * 1000
                    print(
                        f"GET /sales/summary ({granularity}) over {n} orders: {median_ms:.0f} ms, "
                        f"{sum(calls.values())} AWS calls {dict(sorted(calls.items()))}, "
                        f"orders in totals {r.data['totals']['orders']}"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
