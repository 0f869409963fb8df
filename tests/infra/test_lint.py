"""cfn-lint on every template the build produces: no errors (warnings are printed, not fatal)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import STAGES

CFN_LINT = Path(sys.executable).with_name("cfn-lint")


def cfn_lint(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CFN_LINT), "--format", "parseable", *map(str, paths)], capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def lint_results(builds):
    templates = sorted(
        p for build in builds.values() for p in build.glob("*.json") if json.loads(p.read_text()).get("Resources")
    )
    return templates, cfn_lint(*templates)


def test_every_template_passes_cfn_lint(lint_results, builds):
    templates, result = lint_results
    for stage in STAGES:
        assert {"template.json", "platform.json"} <= {p.name for p in templates if p.parent == builds[stage]}
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert not result.returncode & 3, "cfn-lint errors:\n" + "\n".join(errors or [result.stdout, result.stderr])


def test_cfn_lint_catches_a_broken_template(dev_build, tmp_path):
    """The lint test can fail: an unsupported runtime and a dangling reference are errors."""
    template = json.loads((dev_build / "template.json").read_text())
    template["Resources"]["APIHandler"]["Properties"]["Runtime"] = "python2.7"
    template["Resources"]["APIHandler"]["Properties"]["Role"] = {"Fn::GetAtt": ["NoSuchRole", "Arn"]}
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(template))
    result = cfn_lint(broken)
    assert result.returncode & 2, result.stdout
    assert "NoSuchRole" in result.stdout
