"""Build the deployment artifacts once per test session (shared by xdist workers) and load what tests need.

``python -m infrastructure.package`` runs in a subprocess, exactly as ``make package`` does, into the session's
temporary directory. Wheels come from the wheelhouse cache (build/wheelhouse), so only the first run on a
machine downloads from PyPI.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("dev", "prod")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LIGHTBOX_", "AWS_ENDPOINT_URL")) or k == "LIGHTBOX_WHEELHOUSE"
    }
    env.update(extra)
    return env


def _session_dir(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    # Under xdist every worker has its own basetemp inside one per-session directory: share the build there.
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "infra-build"


@pytest.fixture(scope="session")
def builds(tmp_path_factory) -> dict[str, Path]:
    root = _session_dir(tmp_path_factory)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for stage in STAGES:
            out = root / stage
            if (out / "manifest.json").exists():
                continue
            result = subprocess.run(
                [sys.executable, "-m", "infrastructure.package", "--stage", stage, "--out", str(out), "--no-lint"],
                cwd=ROOT,
                env=_clean_env(),
                capture_output=True,
                text=True,
                timeout=900,
            )
            if result.returncode != 0:
                pytest.fail(f"make package (stage {stage}) failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return {stage: root / stage for stage in STAGES}


@pytest.fixture(scope="session")
def dev_build(builds) -> Path:
    return builds["dev"]


@pytest.fixture(scope="session")
def templates(builds) -> dict[str, dict]:
    return {stage: json.loads((path / "template.json").read_text()) for stage, path in builds.items()}


@pytest.fixture(scope="session")
def template(templates) -> dict:
    return templates["dev"]


@pytest.fixture(scope="session")
def manifest(dev_build) -> dict:
    return json.loads((dev_build / "manifest.json").read_text())


@pytest.fixture(scope="session")
def layers_toml() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "layers" / "layers.toml").read_text())


def code_facts(stage: str) -> dict:
    """What the code itself says for a stage, computed in a fresh interpreter with only LIGHTBOX_STAGE set."""
    script = (
        "import json\n"
        "from chalicelib.config import load_settings\n"
        "from chalicelib import resources\n"
        "s = load_settings()\n"
        "q = resources.upload_queue(s)\n"
        "j = resources.jobs_queue(s)\n"
        "v = resources.video_queue(s)\n"
        "print(json.dumps({'tables': resources.table_definitions(), 'buckets': resources.buckets(s),\n"
        "  'queue': {'name': q.name, 'dlq': q.dlq_name, 'visibility': q.visibility_timeout,\n"
        "            'max_receives': q.max_receive_count},\n"
        "  'jobs_queue': {'name': j.name, 'dlq': j.dlq_name, 'visibility': j.visibility_timeout,\n"
        "            'max_receives': j.max_receive_count},\n"
        "  'video_queue': {'name': v.name, 'dlq': v.dlq_name, 'visibility': v.visibility_timeout,\n"
        "            'max_receives': v.max_receive_count},\n"
        "  'video_upload_prefix': resources.VIDEO_UPLOAD_PREFIX, 'video_timeout': resources.VIDEO_TIMEOUT_SECONDS,\n"
        "  'worker_timeout': resources.WORKER_TIMEOUT_SECONDS,\n"
        "  'upload_prefix': resources.UPLOAD_PREFIX, 'processor_timeout': resources.PROCESSOR_TIMEOUT_SECONDS,\n"
        "  'table_prefix': s.table_prefix}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_clean_env(LIGHTBOX_STAGE=stage, AWS_DEFAULT_REGION="us-east-1"),
        check=True,
    )
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def facts() -> dict[str, dict]:
    return {stage: code_facts(stage) for stage in STAGES}


def resources_of(template: dict, resource_type: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == resource_type}


def functions_of(template: dict) -> dict[str, dict]:
    return resources_of(template, "AWS::Serverless::Function")


def function_kinds(template: dict) -> dict[str, str]:
    return {k: v["kind"] for k, v in template["Metadata"]["Lightbox"]["functions"].items()}


def config_env_vars() -> set[str]:
    """Every LIGHTBOX_* variable chalicelib/config.py reads."""
    return set(re.findall(r'"(LIGHTBOX_[A-Z0-9_]+)"', (ROOT / "chalicelib" / "config.py").read_text()))


def zip_members(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return [i.filename for i in archive.infolist() if not i.is_dir()]
