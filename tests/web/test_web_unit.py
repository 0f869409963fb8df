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
    out = WEB / "build" / "vitest.json"
    out.parent.mkdir(exist_ok=True)
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
