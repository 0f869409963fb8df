"""Auto-invite benchmark: the ``event.auto_invite`` job with 1,000 and 10,000 opted-in users, in moto in-process.

    python bench/bench_autoinvite.py [--sizes 1000,10000] [--matching 150]

For each size N: N opted-in users' rows and interest index rows (written directly, as the
``user.autoinvite_changed`` job would), of which ``--matching`` live within their radius of Paris with the interest
"jazz"; of the rest, about a third live near Paris with other interests and the others are spread over the world
(jazz or not, radius 5-50 km). A public event in Paris with ``interest_tags: [jazz, blues]`` and ``auto_invite`` is
created through the API and its job drained through the worker. Printed per N: users invited, DynamoDB calls (by
operation) and time of the job; then the ratios between the sizes: the cost follows the users invited and the
candidates near the event, not all users. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tests.conftest as harness  # noqa: E402  (sets the test environment: stage, cheap argon2, moto keys)

PARIS = (48.8566, 2.3522)


def users(n: int, matching: int, rng: random.Random) -> list[tuple[float, float, int, set[str]]]:
    """(lat, lon, radius_km, interests) of N users; the first ``matching`` are invited."""
    out = []
    for i in range(n):
        if i < matching:
            out.append((PARIS[0] + rng.uniform(-0.05, 0.05), PARIS[1] + rng.uniform(-0.05, 0.05), 20, {"jazz"}))
        elif i % 3 == 0:
            lat, lon = PARIS[0] + rng.uniform(-0.3, 0.3), PARIS[1] + rng.uniform(-0.3, 0.3)
            out.append((lat, lon, rng.randint(5, 50), {rng.choice(["rock", "food", "chess", "film"])}))
        else:
            lat, lon = rng.uniform(-60, 60), rng.uniform(-179, 179)
            if abs(lat - PARIS[0]) < 5 and abs(lon - PARIS[1]) < 8:
                lat -= 20  # keep "far" far
            out.append((lat, lon, rng.randint(5, 50), {rng.choice(["jazz", "rock", "food", "blues"])}))
    return out


def run(n: int, matching: int) -> dict:
    from bench._moto import counted_moto

    with counted_moto() as counter:
        from chalice.test import Client

        import app as app_module
        from chalicelib import aws
        from chalicelib.models.autoinvite import InterestCell
        from chalicelib.models.base import new_id
        from chalicelib.models.invitations import Invitation
        from chalicelib.models.registry import all_models
        from chalicelib.models.users import User
        from chalicelib.resources import ensure_resources
        from chalicelib.services import accounts, autoinvite
        from tests.jobs import drain

        aws.reset()
        for model in all_models():
            model._connection = None  # made again inside this run's moto, counted
        ensure_resources()
        rng = random.Random(12)
        t = time.perf_counter()
        rows = 0
        with InterestCell.batch_write() as batch, User.batch_write() as people:
            for lat, lon, radius, interests in users(n, matching, rng):
                uid = new_id("u_")
                person = User(user_id=uid, email=f"{uid}@example.com", username=uid, password_hash="-")
                person.auto_invite, person.interests = True, interests
                person.home_lat, person.home_lon, person.radius_km = lat, lon, radius
                people.save(person)  # the job reads each candidate's row again before inviting
                for row in autoinvite.wanted_rows(person):
                    batch.save(row)
                    rows += 1
        setup_s = time.perf_counter() - t
        accounts.signup("host@example.com", "host", harness.PASSWORD, None)
        host_id = accounts.user_id_by_claim("email", "host@example.com")
        User(user_id=host_id).update(actions=[User.email_verified.set(True)])
        with Client(app_module.app, stage_name="test") as client:
            api = harness.Api(client)
            token = api.post("/auth/login", {"login": "host", "password": harness.PASSWORD}).data["access_token"]
            body = {
                "name": "Jazz night",
                "visibility": "public",
                "location": {"lat": PARIS[0], "lon": PARIS[1]},
                "interest_tags": ["jazz", "blues"],
                "auto_invite": True,
            }
            r = api.post("/events", body, token=token)
            assert r.status_code == 201, r.body
            event_id = r.data["id"]
            counter.clear()
            t = time.perf_counter()
            drain()
            job_s = time.perf_counter() - t
            calls = [c for c in counter.calls if c.startswith("dynamodb.")]
            invited = sum(1 for _ in Invitation.query(event_id))
    return {"n": n, "rows": rows, "setup_s": setup_s, "job_s": job_s, "calls": calls, "invited": invited}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--matching", type=int, default=150)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"auto-invite job (moto in-process): {args.matching} matching users among N opted-in users")
    results = []
    for n in sizes:
        res = run(n, args.matching)
        results.append(res)
        ops = collections.Counter(c.split(".", 1)[1] for c in res["calls"])
        print(
            f"  N={n:>6}: invited {res['invited']:>4}   job {res['job_s']:6.2f} s"
            f"   {len(res['calls']):>5} DynamoDB calls"
            f"  ({', '.join(f'{op} {k}' for op, k in ops.most_common())})   index rows {res['rows']}"
            f" written in {res['setup_s']:.1f} s"
        )
    if len(results) > 1:
        a, b = results[0], results[-1]
        print(
            f"  {b['n']} vs {a['n']} users ({b['n'] / a['n']:.0f}x):"
            f" DynamoDB calls x{len(b['calls']) / len(a['calls']):.2f},"
            f" job time x{b['job_s'] / a['job_s']:.2f}, invited x{b['invited'] / max(1, a['invited']):.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
