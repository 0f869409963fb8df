"""The web client's own unit tests (token refresh, realtime backoff, upload queue, formatting) run by Vitest
and reported here, so `make test` stays one runner. Each Vitest test becomes one pytest case."""

from __future__ import annotations

import json
import os
import subprocess
from functools import cache
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"


@cache
def vitest_results() -> dict[str, dict]:
    if not (WEB / "node_modules" / "vitest").is_dir():
        return {}
    # each xdist worker collects (and so runs Vitest) on its own: one report file each, never read half-written
    # by the other worker, and never a stale one from an earlier run
    out = WEB / "build" / f"vitest-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.json"
    out.parent.mkdir(exist_ok=True)
    out.unlink(missing_ok=True)
    env = dict(os.environ)
    env["PATH"] = os.environ.get("LIGHTBOX_WEB_PATH") or env.get("PATH", "")
    proc = subprocess.run(
        ["node", "node_modules/vitest/vitest.mjs", "run", "--reporter=json", f"--outputFile={out}"],
        cwd=WEB,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if not out.exists():
        raise AssertionError(
            f"vitest wrote no report (exit {proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    report = json.loads(out.read_text())
    results = {}
    for suite in report["testResults"]:
        rel = Path(suite["name"]).relative_to(WEB)
        if not suite["assertionResults"]:
            results[f"{rel}::<load>"] = {"status": suite["status"], "failureMessages": [suite.get("message", "")]}
        for case in suite["assertionResults"]:
            results[f"{rel}::{case['fullName']}"] = case
    return results


def pytest_generate_tests(metafunc):
    if "vitest_case" in metafunc.fixturenames:
        names = sorted(vitest_results()) or ["<vitest not installed: run make web>"]
        metafunc.parametrize("vitest_case", names)


def test_vitest(vitest_case: str):
    results = vitest_results()
    if not results:
        pytest.fail("web/node_modules is missing: `make test` installs it (make web)")
    case = results[vitest_case]
    assert case["status"] == "passed", "\n".join(case.get("failureMessages") or [])


def test_the_clients_retry_codes_are_the_servers():
    """web/src/lib/idempotency.ts keeps a key after exactly the 409s the server does not store for it."""
    import re

    from chalicelib.services.idempotency import TRANSIENT_CONFLICT_CODES

    source = (WEB / "src" / "lib" / "idempotency.ts").read_text()
    block = re.search(r"TRANSIENT_CONFLICT_CODES[^=]*=\s*new Set\(\[(.*?)\]\)", source, re.S)
    assert block, "idempotency.ts no longer declares TRANSIENT_CONFLICT_CODES as a Set literal"
    client = set(re.findall(r'"([a-z_]+)"', block.group(1))) - {"idempotency_key_in_progress"}
    assert client == set(TRANSIENT_CONFLICT_CODES) - {"idempotency_key_in_progress"}
