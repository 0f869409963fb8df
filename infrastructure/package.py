"""Build a stage's deployment artifacts: ``python -m infrastructure.package --stage dev --out build/dev``.

Steps (each writes into ``--out``):

1. Resolve requirements.txt for the Lambda target in layers/layers.toml with ``pip download --platform ...
   --only-binary=:all:`` (cached in build/wheelhouse; the first run needs PyPI, later runs are offline).
2. Split the wheels: pure-Python ones into chalice's ``vendor/`` (so they land in the function package), native
   ones into layer zips ``layers/<name>.zip`` (``python/...`` inside), SDK ones the runtime provides nowhere.
3. Generate ``platform.json`` (tables, buckets, queues, layers, secrets, SES, alarm topic, push apps) from
   ``chalicelib.resources`` and run ``chalice package --merge-template platform.json`` on a staging copy of the
   project whose requirements.txt is empty (chalice must not resolve dependencies itself: it would fetch wheels
   for the *local* interpreter, or silently compile sdists).
4. ``infrastructure.template.finalize``: runtime, layers, roles, environment, alarms -> ``template.json``.
5. Check the zips statically (wheel tags, ELF machine, ABI suffixes) and run cfn-lint on both templates.

Outputs: template.json (deploy this), platform.json, deployment.zip, layers/*.zip, manifest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from infrastructure import artifacts, dependencies
from infrastructure import target as target_mod
from infrastructure.target import ROOT

PROJECT_FILES = ("app.py", "chalicelib")
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
ENV_PREFIXES_TO_DROP = ("LIGHTBOX_", "AWS_ENDPOINT_URL")


def log(message: str) -> None:
    print(f"[package] {message}", file=sys.stderr, flush=True)


def stage_config(stage: str, function_name: str = "api_handler"):
    from chalice.config import Config

    config = json.loads(CHALICE_CONFIG.read_text())
    if stage not in config.get("stages", {}):
        raise SystemExit(f"stage {stage!r} is not in {CHALICE_CONFIG} (stages: {sorted(config.get('stages', {}))})")
    return config, Config(
        chalice_stage=stage,
        function_name=function_name,
        config_from_disk=config,
        user_provided_params={"project_dir": str(ROOT)},
    )


def prepare_environment(stage: str) -> dict[str, str]:
    """The process environment the stage's code sees at import: config.json's values, nothing from this shell."""
    if "chalicelib.config" in sys.modules:
        raise RuntimeError("chalicelib was imported before the stage environment was set")
    _, cfg = stage_config(stage)
    for name in [n for n in os.environ if n.startswith(ENV_PREFIXES_TO_DROP)]:
        del os.environ[name]
    stage_env = dict(cfg.environment_variables)
    if stage_env.get("LIGHTBOX_STAGE") != stage:
        raise SystemExit(f"{CHALICE_CONFIG}: stages.{stage}.environment_variables.LIGHTBOX_STAGE must be {stage!r}")
    os.environ.update(stage_env)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # chalice wants one; the template uses ${AWS::Region}
    os.environ["AWS_XRAY_SDK_ENABLED"] = "false"
    return stage_env


def stage_project(staging: Path) -> None:
    """A copy of the project for chalice: app code, the stage config, no requirements (we vendor them)."""
    if staging.exists():
        shutil.rmtree(staging)
    (staging / ".chalice").mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, staging / name, ignore=ignore)
        else:
            shutil.copy2(source, staging / name)
    for path in (ROOT / ".chalice").glob("*.json"):
        shutil.copy2(path, staging / ".chalice" / path.name)
    (staging / "requirements.txt").write_text("# dependencies are vendored by infrastructure/package.py\n")


def run_chalice(staging: Path, stage: str, merge_template: Path, out: Path) -> Path:
    chalice = Path(sys.executable).with_name("chalice")
    command = [
        str(chalice) if chalice.exists() else "chalice",
        "--project-dir",
        str(staging),
        "package",
        "--stage",
        stage,
        "--merge-template",
        str(merge_template),
        str(out),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=staging)
    if result.returncode != 0:
        hint = ""
        if "experimental_feature_flags" in result.stdout + result.stderr:
            hint = (
                "\nchalice packages WebSocket handlers only when app.py opts in, right after the app is "
                "created:\n    app.experimental_feature_flags.update(['WEBSOCKETS'])"
            )
        raise SystemExit(f"chalice package failed:\n{result.stdout}\n{result.stderr}{hint}")
    return out / "sam.json"


def lint(paths: list[Path]) -> int:
    """cfn-lint exit code is a bit mask: 2 errors, 4 warnings, 8 informational. Errors fail the build."""
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    command = [str(cfn_lint) if cfn_lint.exists() else "cfn-lint", *[str(p) for p in paths]]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.stdout.strip():
        print(result.stdout, file=sys.stderr)
    if result.returncode & 2 or result.returncode & 1:
        raise SystemExit(f"cfn-lint found errors (exit {result.returncode}):\n{result.stderr}")
    return result.returncode


def build(stage: str, out: Path, *, run_lint: bool = True, wheelhouse: Path | None = None) -> dict:
    stage_env = prepare_environment(stage)
    layout = target_mod.load()
    tgt = layout.target
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("template.json", "platform.json", "deployment.zip", "manifest.json"):
        (out / stale).unlink(missing_ok=True)
    shutil.rmtree(out / "layers", ignore_errors=True)

    wheelhouse = wheelhouse or dependencies.DEFAULT_WHEELHOUSE
    wheels = dependencies.resolve(layout, wheelhouse=wheelhouse, log=log)
    plan = dependencies.plan(wheels, layout)
    if plan.unpinned:
        raise RuntimeError(f"not pinned in requirements.lock: {', '.join(plan.unpinned)} (run `make lock`)")
    staging = out / "chalice-project"
    stage_project(staging)
    layer_zips = dependencies.build(plan, layout, staging / "vendor", out / "layers", cache_dir=wheelhouse / "layers")
    log(
        f"layers: {', '.join(f'{k} ({len(plan.layers[k])} wheels)' for k in layer_zips)}; "
        f"function package: {len(plan.function)} pure wheels"
    )

    from chalicelib.config import load_settings  # after prepare_environment: names are the stage's
    from infrastructure import template as tmpl

    config, cfg = stage_config(stage)
    retention = {}
    for name in tmpl.CHALICE_FUNCTION_NAMES.values():
        retention[name] = stage_config(stage, name)[1].log_retention_in_days or tmpl.DEFAULT_LOG_RETENTION_DAYS
    for name in config.get("lambda_functions", {}):
        retention[name] = stage_config(stage, name)[1].log_retention_in_days or tmpl.DEFAULT_LOG_RETENTION_DAYS
    settings = load_settings()
    ctx = tmpl.StageContext(
        stage=stage,
        settings=settings,
        layout=layout,
        app_origins=settings.app_origins,
        email_sender=settings.email_sender,
        api_gateway_stage=cfg.api_gateway_stage,
        log_retention=retention,
    )
    platform = tmpl.platform_template(ctx, {name: f"./layers/{name}.zip" for name in layer_zips})
    (out / "platform.json").write_text(tmpl.dump(platform))

    chalice_out = staging / "chalice-out"
    sam = json.loads(run_chalice(staging, stage, out / "platform.json", chalice_out).read_text())
    final = tmpl.finalize(sam, ctx)
    (out / "template.json").write_text(tmpl.dump(final))
    shutil.copy2(chalice_out / "deployment.zip", out / "deployment.zip")

    reports = {"deployment.zip": artifacts.inspect_zip(out / "deployment.zip", tgt, allow_native=False)}
    for name, path in layer_zips.items():
        reports[f"layers/{name}.zip"] = artifacts.inspect_zip(path, tgt, allow_native=True, root="python/")
    problems = [f"{zip_name}: {p}" for zip_name, r in reports.items() for p in r.problems]
    if problems:
        raise SystemExit("artifact check failed:\n  " + "\n  ".join(problems))

    functions = final["Metadata"]["Lightbox"]["functions"]
    manifest = {
        "stage": stage,
        "runtime": tgt.runtime,
        "architecture": tgt.architecture,
        "python_tag": tgt.python_tag,
        "environment": stage_env,
        "template": "template.json",
        "platform_template": "platform.json",
        "function_package": "deployment.zip",
        "layers": {name: f"layers/{name}.zip" for name in layer_zips},
        "functions": {
            logical: {
                **info,
                "layers": [
                    next(layer.name for layer in layout.layers if layer.logical_id == ref) for ref in info["layers"]
                ],
            }
            for logical, info in functions.items()
        },
        "dependencies": plan.to_json(),
        "sizes": {
            name: {"zipped": (out / name).stat().st_size, "unzipped": r.unzipped_bytes, "files": r.files}
            for name, r in reports.items()
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if run_lint:
        code = lint([out / "platform.json", out / "template.json"])
        log(f"cfn-lint: no errors{' (warnings above)' if code else ''}")
    log(
        f"built {stage} into {out}: template.json, platform.json, deployment.zip, "
        f"{', '.join(manifest['layers'].values())}"
    )
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", required=True, help="a stage in .chalice/config.json (dev, prod)")
    parser.add_argument("--out", type=Path, default=None, help="output directory (default build/<stage>)")
    parser.add_argument("--no-lint", action="store_true", help="skip cfn-lint")
    parser.add_argument(
        "--wheelhouse",
        type=Path,
        default=None,
        help=f"wheel cache (default {dependencies.DEFAULT_WHEELHOUSE}; env LIGHTBOX_WHEELHOUSE)",
    )
    args = parser.parse_args(argv)
    out = (args.out or ROOT / "build" / args.stage).resolve()
    build(args.stage, out, run_lint=not args.no_lint, wheelhouse=args.wheelhouse)
    return 0


if __name__ == "__main__":
    sys.exit(main())
