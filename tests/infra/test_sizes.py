"""The size budget `make bench` prints: every function (package + its layers) fits Lambda's 250 MB unzipped."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.infra.conftest import ROOT, _clean_env

MB = 1024 * 1024


def test_size_budget(dev_build):
    result = subprocess.run(
        [sys.executable, "-m", "infrastructure.sizes", str(dev_build), "--json"],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    for name, fn in report["functions"].items():
        assert fn["unzipped"] <= 250 * MB, name
    c = report["api_vs_processor"]
    assert c["api"] < c["processor"], "the API function should not carry the imaging layer"
    assert report["artifacts"]["function package"]["unzipped"] < 50 * MB
    text = subprocess.run(
        [sys.executable, "-m", "infrastructure.sizes", str(dev_build)],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
    ).stdout
    assert "APIHandler" in text and "% of limit" in text and "vs processor" in text
