"""Cold start of the API function: what a first request waits for, against `import boto3`, in the same run.

Each sample is a fresh interpreter (interleaved, median of N): ``import app`` alone, and ``import app`` plus the
first request of each route family, sent through the Chalice app exactly as Lambda would (an API Gateway proxy
event), authenticated with a real access token, against a moto server this script starts and seeds:

- auth:        GET /auth/me
- photos:      GET /photos/{id} (a photo that does not exist: 404)
- events:      GET /events?scope=mine
- engagement:  GET /photos/{id}/comments (404)
- all:         the four above in one interpreter

Prints each median in ms and as a ratio to ``import boto3`` (target: every family <= 1.3x), the heavy modules the
API function imported, and the heaviest imports of a first request (``python -X importtime``).

``import boto3`` creates no client and sends nothing, while every first request creates a DynamoDB client
(botocore parses the service model and endpoint rules: a cost any Lambda function that uses DynamoDB pays) and
makes its round trips to moto. ``boto3 + first GetItem`` (one client, one consistent GetItem of the users table,
as a first authenticated request makes) is printed as that floor, with each ratio to it.

Run: python bench/bench_coldstart.py [runs]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HEAVY = ("PIL", "pillow_heif", "stripe", "aws_xray_sdk", "argon2", "email_validator", "dns", "moto")
TARGET = 1.3
NO_PHOTO = {"photo_id": "pnone0000000000000000"}
FAMILIES = {  # (method, route, path parameters, query)
    "auth": [("GET", "/auth/me", None, None)],
    "photos": [("GET", "/photos/{photo_id}", NO_PHOTO, None)],
    "events": [("GET", "/events", None, {"scope": "mine"})],
    "engagement": [("GET", "/photos/{photo_id}/comments", NO_PHOTO, None)],
}
FAMILIES["all"] = [request for family in list(FAMILIES.values()) for request in family]

FLOOR = r"""
import os, boto3
boto3.client("dynamodb", endpoint_url=os.environ["LIGHTBOX_AWS_ENDPOINT_URL"]).get_item(
    TableName=os.environ["BENCH_TABLE"], Key={"user_id": {"S": "unone"}}, ConsistentRead=True)
"""

CHILD = r"""
import json, os, sys
import app
requests = json.loads(os.environ["BENCH_REQUESTS"])
class Context:
    function_name = "bench"; memory_limit_in_mb = 1024; aws_request_id = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    def get_remaining_time_in_millis(self): return 29000
for method, resource, params, query in requests:
    path = resource.format(**(params or {}))
    headers = {"Host": "bench", "Authorization": "Bearer " + os.environ["BENCH_TOKEN"]}
    event = {"resource": resource, "path": path, "httpMethod": method, "headers": headers,
             "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": query,
             "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
             "pathParameters": params, "stageVariables": None, "body": None, "isBase64Encoded": False,
             "requestContext": {"resourcePath": resource, "httpMethod": method, "path": "/api" + path, "stage": "api",
                                "requestId": "bench", "identity": {"sourceIp": "127.0.0.1"}}}
    status = app.app(event, Context())["statusCode"]
    assert status in (200, 404), (path, status)
"""


def environment(endpoint: str) -> dict[str, str]:
    return {
        **os.environ,
        "LIGHTBOX_STAGE": "bench",
        "LIGHTBOX_AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_XRAY_SDK_ENABLED": "false",
        "LIGHTBOX_JWT_SECRET": "bench-secret-key-of-sufficient-length-0123456789",
        "LIGHTBOX_EMAIL_SENDER": "no-reply@lightbox.local",
        "PYTHONDONTWRITEBYTECODE": "0",
    }


def seed(env: dict[str, str]) -> tuple[str, str]:
    """Tables in the moto server and one verified user; returns an access token for the user and the name of
    the users table."""
    os.environ.update(env)
    from chalicelib.models.users import User, user_by_login
    from chalicelib.resources import ensure_resources
    from chalicelib.services import accounts, tokens

    ensure_resources()
    accounts.signup("bench@example.com", "bench", "correct horse battery", "Bench")
    user = user_by_login("bench")
    assert user is not None
    user.update(actions=[User.email_verified.set(True)])
    token, _, _ = tokens.issue(user, "bench-family", "access")
    return token, User.Meta.table_name


def run(statement: str, env: dict[str, str], extra: dict[str, str] | None = None, *flags: str):
    command = [sys.executable, *flags, "-c", statement]
    done = subprocess.run(command, cwd=ROOT, env={**env, **(extra or {})}, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"a sample failed:\n{done.stderr}")
    return done


def timed(statement: str, env: dict[str, str], extra: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    run(statement, env, extra)
    return time.perf_counter() - start


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log lines

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = environment(f"http://{host}:{port}")
        token, users_table = seed(env)
        cases: dict[str, tuple[str, dict[str, str] | None]] = {
            "import boto3": ("import boto3", None),
            "boto3 + first GetItem": (FLOOR, {"BENCH_TABLE": users_table}),
            "python (empty)": ("pass", None),
            "import app": ("import app", None),
        }
        for family, requests in FAMILIES.items():
            cases[f"app + first {family}"] = (CHILD, {"BENCH_REQUESTS": json.dumps(requests), "BENCH_TOKEN": token})
        for statement, extra in cases.values():  # warm the .pyc caches and check every request answers
            run(statement, env, extra)
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(runs):
            for name, (statement, extra) in cases.items():
                samples[name].append(timed(statement, env, extra))
        report(runs, samples)
        every = {"BENCH_REQUESTS": json.dumps(FAMILIES["all"]), "BENCH_TOKEN": token}
        loaded = run(CHILD + "\nprint(' '.join(sys.modules))", env, every).stdout.split()
        heavy = sorted({m.split(".")[0] for m in loaded if m.split(".")[0] in HEAVY})
        print(f"  heavy modules imported by the API function (all routes): {heavy or 'none'}")
        trace = run(CHILD, env, every, "-X", "importtime").stderr.splitlines()
        print("  heaviest imports of the first requests (cumulative ms, self ms):")
        for cumulative, self_us, name in sorted(importtime_rows(trace), reverse=True)[:12]:
            print(f"    {cumulative / 1000:7.1f} {self_us / 1000:7.1f}  {name}")
    finally:
        server.stop()


def report(runs: int, samples: dict[str, list[float]]) -> None:
    med = {k: statistics.median(v) for k, v in samples.items()}
    base, floor = med["import boto3"], med["boto3 + first GetItem"]
    print(f"cold start, median of {runs} fresh interpreters (moto server for AWS), target <= {TARGET:.2f}x boto3")
    for name, value in med.items():
        ratio = value / base
        verdict = ("OK" if ratio <= TARGET else "OVER") if name.startswith("app + first") else ""
        low = min(samples[name]) * 1000
        print(
            f"  {name:<24} {value * 1000:7.1f} ms   (min {low:6.1f})   {ratio:.2f}x boto3  "
            f"{value / floor:.2f}x floor  {verdict}"
        )


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
