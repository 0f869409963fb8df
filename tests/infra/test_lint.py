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


def broken_template(dev_build: Path, folder: Path) -> Path:
    """The dev template's API function alone (linting a whole template costs ~3 s), with an unsupported runtime
    and a dangling reference: two errors cfn-lint must report."""
    full = json.loads((dev_build / "template.json").read_text())
    template = {k: v for k, v in full.items() if k not in ("Resources", "Outputs", "Conditions")}
    template["Resources"] = {"APIHandler": full["Resources"]["APIHandler"]}
    template["Resources"]["APIHandler"]["Properties"].pop("Layers", None)  # resources of the whole template
    template["Resources"]["APIHandler"]["Properties"]["Runtime"] = "python2.7"
    template["Resources"]["APIHandler"]["Properties"]["Role"] = {"Fn::GetAtt": ["NoSuchRole", "Arn"]}
    broken = folder / "broken.json"
    broken.write_text(json.dumps(template))
    return broken


@pytest.fixture(scope="module")
def lint_results(builds, tmp_path_factory):
    """ONE cfn-lint run (its start-up is most of a run's cost) over every template and the broken one; the tests
    read its findings per file."""
    templates = sorted(
        p for build in builds.values() for p in build.glob("*.json") if json.loads(p.read_text()).get("Resources")
    )
    broken = broken_template(builds["dev"], tmp_path_factory.mktemp("lint"))
    result = cfn_lint(*templates, broken)
    return templates, broken, result


def findings(result: subprocess.CompletedProcess, path: Path) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith(f"{path}:")]


def test_every_template_passes_cfn_lint(lint_results, builds):
    templates, _, result = lint_results
    for stage in STAGES:
        assert {"template.json", "platform.json"} <= {p.name for p in templates if p.parent == builds[stage]}
    assert not result.returncode & 1, result.stdout + result.stderr  # no template failed to load or lint
    errors = [line for path in templates for line in findings(result, path) if ":E" in line]
    assert not errors, "cfn-lint errors:\n" + "\n".join(errors)


def test_cfn_lint_catches_a_broken_template(lint_results):
    """The lint test can fail: an unsupported runtime and a dangling reference are errors (of that file)."""
    _, broken, result = lint_results
    assert result.returncode & 2, result.stdout
    errors = [line for line in findings(result, broken) if ":E" in line]
    assert any("NoSuchRole" in line for line in errors), result.stdout
    assert any("python2.7" in line for line in errors), result.stdout
