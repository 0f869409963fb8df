"""The built zips: native code only in layers, built for the target's Python, platform and machine; the function
package holds app code and pure Python; the app and the processor import from an unzipped copy.

No python3.13 interpreter is available to CI (STYLE.md), so the target-specific checks are static: each
``*.dist-info/WHEEL`` tag, each ELF header's machine, each extension module's ABI suffix. The import tests run
on the local 3.11 interpreter with ``-I -S`` (no site-packages): the function package and the layers' pure
files come from the unzipped artifacts, and only the layers' *native* distributions (plus the SDK the Lambda
runtime provides) are substituted with the host's builds of the very same versions.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import struct
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.infra.conftest import ROOT, _clean_env, zip_members
from tests.infra.lockfile import lock_pin

ELF_AARCH64 = 183


def target(layers_toml):
    runtime = layers_toml["target"]["runtime"]
    minor = int(runtime.removeprefix("python3."))
    machine = {"arm64": "aarch64", "x86_64": "x86_64"}[layers_toml["target"]["architecture"]]
    glibc_minor = int(layers_toml["target"]["glibc"].split(".")[1])
    return minor, machine, glibc_minor


def tag_problems(tags: list[str], minor: int, machine: str, glibc_minor: int) -> list[str]:
    """Independent of infrastructure/: is one of these wheel tags installable on cp3<minor> / machine?"""
    ok = []
    for tag in tags:
        for py in tag.split("-")[0].split("."):
            for abi in tag.split("-")[1].split("."):
                for plat in tag.split("-")[2].split("."):
                    if plat == "any":
                        ok.append(abi == "none" and py.startswith("py3"))
                        continue
                    m = re.fullmatch(rf"manylinux_2_(\d+)_{machine}", plat)
                    plat_ok = (bool(m) and int(m.group(1)) <= glibc_minor) or plat == f"manylinux2014_{machine}"
                    if abi == "abi3":
                        abi_ok = re.fullmatch(r"cp3(\d+)", py) is not None and int(py[3:]) <= minor
                    elif abi == "none":  # no extension module: a platform executable (imageio-ffmpeg's ffmpeg)
                        abi_ok = py.startswith("py3")
                    else:
                        abi_ok = abi == py == f"cp3{minor}"
                    ok.append(plat_ok and abi_ok)
    problems = [] if any(ok) else [f"no installable tag in {tags}"]
    if any(re.search(r"linux_(x86_64|i686|aarch64)$", t) and "manylinux" not in t for t in tags):
        problems.append(f"locally built wheel (sdist) {tags}")
    return problems


def zip_problems(path: Path, layers_toml, *, pure: bool) -> list[str]:
    minor, machine, glibc_minor = target(layers_toml)
    want_elf = {"aarch64": ELF_AARCH64, "x86_64": 62}[machine]
    problems = []
    with zipfile.ZipFile(path) as archive:
        names = [i.filename for i in archive.infolist() if not i.is_dir()]
        for name in names:
            with archive.open(name) as handle:
                head = handle.read(20)
            if head[:4] == b"\x7fELF":
                if pure:
                    problems.append(f"{name}: native code")
                if struct.unpack("<H", head[18:20])[0] != want_elf:
                    problems.append(f"{name}: ELF for another machine")
                m = re.search(r"\.cpython-(\d+)-([a-z0-9_]+)-linux-gnu\.so$", name)
                if m and (m.group(1) != f"3{minor}" or m.group(2) != machine):
                    problems.append(f"{name}: extension for cpython-{m.group(1)}-{m.group(2)}")
            if name.endswith(".dist-info/WHEEL"):
                tags = re.findall(r"^Tag:\s*(\S+)", archive.read(name).decode(), flags=re.M)
                problems += [f"{name}: {p}" for p in tag_problems(tags, minor, machine, glibc_minor)]
                if pure and not all(t.endswith("-none-any") for t in tags):
                    problems.append(f"{name}: platform wheel {tags}")
    return problems


def all_zips(build: Path) -> dict[str, Path]:
    manifest = json.loads((build / "manifest.json").read_text())
    zips = {"function": build / manifest["function_package"]}
    zips.update({name: build / path for name, path in manifest["layers"].items()})
    return zips


# ---- static checks ----------------------------------------------------------------------------------------


def test_native_libraries_are_built_for_the_target(builds, layers_toml):
    for stage, build in builds.items():
        for name, path in all_zips(build).items():
            problems = zip_problems(path, layers_toml, pure=(name == "function"))
            assert not problems, f"{stage} {name}:\n" + "\n".join(problems)


def test_layers_hold_the_native_libraries_under_python(dev_build):
    members = {name: zip_members(path) for name, path in all_zips(dev_build).items()}
    for name in ("core", "pillow", "imaging"):
        assert all(m.startswith("python/") for m in members[name]), name
    core_top = {m.split("/")[1] for m in members["core"]}
    imaging_top = {m.split("/")[1] for m in members["imaging"]}
    pillow_top = {m.split("/")[1] for m in members["pillow"]}
    function_top = {m.split("/")[0] for m in members["function"]}
    assert {"pydantic_core", "_argon2_cffi_bindings", "cffi"} <= core_top
    assert any(t.startswith("_cffi_backend.cpython-313-aarch64-linux-gnu") for t in core_top), core_top
    assert "pillow_heif" in imaging_top and "PIL" not in imaging_top
    assert {"PIL", "fontTools"} <= pillow_top
    assert not {"PIL", "pillow_heif", "fontTools"} & core_top
    assert {
        "app.py",
        "chalicelib",
        "chalice",
        "pydantic",
        "pynamodb",
        "jwt",
        "argon2",
        "stripe",
        "fpdf",
    } <= function_top
    assert not {"PIL", "pillow_heif", "pydantic_core", "_argon2_cffi_bindings", "boto3", "botocore"} & function_top


def test_every_requirement_ships_somewhere(dev_build, layers_toml):
    shipped = set()
    for path in all_zips(dev_build).values():
        for member in zip_members(path):
            m = re.search(r"([^/]+)-[^-/]+\.dist-info/METADATA$", member)
            if m:
                shipped.add(re.sub(r"[-_.]+", "-", m.group(1)).lower())
    provided = {re.sub(r"[-_.]+", "-", d).lower() for d in layers_toml["runtime_provided"]["distributions"]}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)", line)
        if m and not line.lstrip().startswith("#"):
            name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
            assert name in shipped or name in provided, f"{name} is in requirements.txt but in no artifact"


def test_every_dependency_file_comes_from_a_wheel(dev_build):
    """Files outside the app's own code must be listed in a wheel's RECORD: nothing was built or copied in."""
    for name, path in all_zips(dev_build).items():
        with zipfile.ZipFile(path) as archive:
            members = [i.filename for i in archive.infolist() if not i.is_dir()]
            root = "python/" if name != "function" else ""
            recorded = set()
            for member in members:
                if member.endswith(".dist-info/RECORD"):
                    recorded |= {
                        root + line.split(",")[0] for line in archive.read(member).decode().splitlines() if line
                    }
        strays = [
            m
            for m in members
            if m not in recorded and ".dist-info/" not in m and not m.startswith(("app.py", "chalicelib/", "chalice/"))
        ]
        assert not strays, f"{name}: {strays[:10]}"


def test_the_artifact_check_rejects_an_x86_64_build(tmp_path, layers_toml):
    """The checks above can fail: feed them what chalice produces when it compiles an sdist on this machine."""
    so = next(Path(sysconfig.get_paths()["platlib"]).glob("_cffi_backend.cpython-*-x86_64-linux-gnu.so"))
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.write(so, f"python/{so.name}")
        archive.writestr("python/foo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: cp311-cp311-linux_x86_64\n")
        archive.writestr(
            "python/bar-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: cp311-cp311-manylinux_2_17_aarch64\n"
        )
    problems = "\n".join(zip_problems(bad, layers_toml, pure=False))
    assert "ELF for another machine" in problems
    assert "extension for cpython-311-x86_64" in problems
    assert "locally built wheel" in problems
    assert "bar-1.0.dist-info/WHEEL: no installable tag" in problems


def test_package_script_refuses_foreign_binaries(tmp_path):
    from infrastructure import artifacts
    from infrastructure import target as target_mod

    so = next(Path(sysconfig.get_paths()["platlib"]).glob("_cffi_backend.cpython-*-x86_64-linux-gnu.so"))
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.write(so, so.name)
    report = artifacts.inspect_zip(bad, target_mod.load().target, allow_native=False)
    assert any("ELF machine" in p for p in report.problems)
    assert any("must be pure" in p for p in report.problems)
    assert any("not listed in any wheel's RECORD" in p for p in report.problems)


# ---- import from the unzipped artifacts -------------------------------------------------------------------


def _top_level_names(directory: Path) -> set[str]:
    return {entry.name for entry in directory.iterdir() if not entry.name.endswith(".dist-info")}


def _host_equivalents(layer_python: Path, shim: Path) -> None:
    """Link the host's build of every distribution in the layer, after checking it is the same version."""
    site = Path(sysconfig.get_paths()["platlib"])
    for dist_info in layer_python.glob("*.dist-info"):
        name, version = dist_info.name.removesuffix(".dist-info").split("-", 1)
        host, locked = importlib.metadata.version(name), lock_pin(name)
        assert version == locked, f"layer {name} {version} != requirements.lock {locked}: the build ignored the lock"
        assert host == locked, (
            f"host {name} {host} != requirements.lock {locked} (the layer's version): not a fair test; "
            "install the dev venv from the lock with `make install`"
        )
    for entry in _top_level_names(layer_python):
        stem = entry.split(".")[0] if not (layer_python / entry).is_dir() else entry
        matches = [p for p in site.iterdir() if p.name == stem or p.name.startswith(stem + ".")]
        assert matches, f"host has no {entry}"
        for match in matches:
            if not (shim / match.name).exists() and not match.name.endswith(".dist-info"):
                (shim / match.name).symlink_to(match)


def _runtime_sdk(runtime_dir: Path, layers_toml) -> None:
    """What /var/runtime gives a Lambda function: the AWS SDK (and nothing else from this machine)."""
    site = Path(sysconfig.get_paths()["purelib"])
    for dist in layers_toml["runtime_provided"]["distributions"]:
        top_level = importlib.metadata.distribution(dist).read_text("top_level.txt")
        for entry in top_level.split() if top_level else [dist]:
            if (site / entry).exists() and not (runtime_dir / entry).exists():
                (runtime_dir / entry).symlink_to(site / entry)


@pytest.fixture(scope="module")
def unzipped(dev_build, tmp_path_factory, layers_toml) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("unzipped")
    dirs = {}
    for name, path in all_zips(dev_build).items():
        dirs[name] = base / name
        with zipfile.ZipFile(path) as archive:
            archive.extractall(dirs[name])
    for name in ("core", "pillow", "imaging", "video"):
        shim = base / f"{name}-host"
        shim.mkdir()
        _host_equivalents(dirs[name] / "python", shim)
        dirs[f"{name}-host"] = shim
    dirs["runtime"] = base / "runtime"
    dirs["runtime"].mkdir()
    _runtime_sdk(dirs["runtime"], layers_toml)
    return dirs


PROBE = r"""
import json, os, sys
sys.path[:0] = json.loads(os.environ["PROBE_PATH"])
sys.dont_write_bytecode = True
import app
out = {"modules": {n: getattr(m, "__file__", None) for n, m in list(sys.modules.items())}}
mode = os.environ["PROBE_MODE"]

class Context:
    function_name = "probe"; memory_limit_in_mb = 512; aws_request_id = "probe"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:probe"
    def get_remaining_time_in_millis(self): return 10000

if mode == "api":
    event = {"resource": "/health", "path": "/health", "httpMethod": "GET", "headers": {"Host": "probe"},
             "multiValueHeaders": {"Host": ["probe"]}, "queryStringParameters": None,
             "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None,
             "requestContext": {"resourcePath": "/health", "httpMethod": "GET", "path": "/api/health",
                                "stage": "api", "requestId": "probe", "identity": {"sourceIp": "127.0.0.1"}},
             "body": None, "isBase64Encoded": False}
    response = app.app(event, Context())
    out["health"] = [response["statusCode"], response["body"]]
    # /health touches no table; the auth routes' module (pynamodb, argon2, jwt) is what most first requests load
    import chalicelib.api.auth
    # routes load their blueprint module on first use: record what the request brought in too
    out["modules"] = {n: getattr(m, "__file__", None) for n, m in list(sys.modules.items())}
elif mode == "pdf":
    # what GET /orders/{id}/invoice loads on its first request: fpdf2 and, through it, Pillow and fontTools
    import chalicelib.api.delivery
    out["fpdf_at_route_load"] = "fpdf" in sys.modules  # the route module must not import it
    from chalicelib.services import invoices
    from fpdf import FPDF
    pdf = FPDF(); pdf.add_page(); pdf.set_font("Helvetica", size=10); pdf.cell(0, 6, "Invoice no. 000001")
    out["pdf"] = bytes(pdf.output())[:5].decode()
    out["modules"] = {n: getattr(m, "__file__", None) for n, m in list(sys.modules.items())}
elif mode == "video":
    import subprocess
    from chalicelib.video import ffmpeg
    exe = ffmpeg.executable()
    out["ffmpeg"] = exe
    out["ffmpeg_version"] = subprocess.run([exe, "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    test_event = {"Records": [{"messageId": "m1", "receiptHandle": "r", "body": json.dumps({"Event": "s3:TestEvent"}),
                  "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                  "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}]}
    out["batch"] = app.process_video_queue(test_event, Context())
    out["modules"] = {n: getattr(m, "__file__", None) for n, m in list(sys.modules.items())}
else:
    import chalicelib.imaging, PIL.Image, pillow_heif
    out["pil"] = PIL.Image.__file__
    test_event = {"Records": [{"messageId": "m1", "receiptHandle": "r", "body": json.dumps({"Event": "s3:TestEvent"}),
                  "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                  "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}]}
    out["batch"] = app.process_upload_queue(test_event, Context())
    out["modules"] = {n: getattr(m, "__file__", None) for n, m in list(sys.modules.items())}
print(json.dumps(out))
"""


def _probe(unzipped: dict[str, Path], mode: str, path_keys: list[str], extra_env: dict[str, str]) -> dict:
    env = _clean_env(
        LIGHTBOX_STAGE="dev",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        LIGHTBOX_JWT_SECRET_PARAM="/aws/reference/secretsmanager/lightbox/dev/jwt-signing-key",
        LIGHTBOX_WS_ENDPOINT="https://example.execute-api.us-east-1.amazonaws.com/api",
        LIGHTBOX_UPLOADS_BUCKET="lightbox-dev-uploads-123456789012-us-east-1",
        LIGHTBOX_MEDIA_BUCKET="lightbox-dev-media-123456789012-us-east-1",
        PROBE_MODE=mode,
        PROBE_PATH=json.dumps([str(unzipped[k]) for k in path_keys]),
    )
    env.pop("AWS_XRAY_SDK_ENABLED", None)  # tests/conftest.py turns the SDK off; the processor probe needs it on
    env.update(extra_env)
    workdir = unzipped["function"].parent / f"cwd-{mode}"
    workdir.mkdir(exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE], cwd=workdir, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _origins(modules: dict, unzipped: dict[str, Path]) -> dict[str, str]:
    stdlib = sysconfig.get_paths()["stdlib"]
    where = {}
    for name, file in modules.items():
        if not file:
            continue
        real = str(Path(file))
        for key, directory in unzipped.items():
            if real.startswith(str(directory) + os.sep):
                where[name] = key
                break
        else:
            assert real.startswith(stdlib), f"{name} imported from outside the artifacts: {file}"
            where[name] = "stdlib"
    return where


def test_api_function_imports_from_its_artifacts_without_pillow(unzipped):
    out = _probe(unzipped, "api", ["function", "core", "core-host", "runtime"], {"AWS_XRAY_SDK_ENABLED": "false"})
    assert out["health"][0] == 200, out["health"]
    where = _origins(out["modules"], unzipped)
    assert where["app"] == "function" and where["pydantic"] == "function" and where["pynamodb"] == "function"
    assert where["pydantic_core._pydantic_core"] == "core-host"
    assert not {m for m in out["modules"] if m.split(".")[0] in ("PIL", "pillow_heif", "aws_xray_sdk", "fpdf")}, (
        "the API function imports processor-only libraries"
    )


def test_processor_imports_from_its_artifacts(unzipped):
    if not (ROOT / "chalicelib" / "imaging" / "__init__.py").exists():
        pytest.fail("chalicelib/imaging is not a package yet (no __init__.py)")
    out = _probe(
        unzipped,
        "processor",
        ["function", "core", "core-host", "pillow", "pillow-host", "imaging", "imaging-host", "runtime"],
        {"LIGHTBOX_XRAY_PATCH": "true", "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR"},
    )
    assert out["batch"] == {"batchItemFailures": []}
    where = _origins(out["modules"], unzipped)
    assert where["PIL.Image"] == "pillow-host"
    assert where["aws_xray_sdk.core"] == "function", "X-Ray SDK must ship in the function package"
    assert where["chalicelib.imaging"] == "function"


def test_api_function_renders_a_pdf_from_its_artifacts(unzipped):
    """The invoice route's first request: fpdf2 from the function package, Pillow and fontTools from the pillow
    layer (the API function's layers only: no pillow-heif)."""
    out = _probe(
        unzipped,
        "pdf",
        ["function", "core", "core-host", "pillow", "pillow-host", "runtime"],
        {"AWS_XRAY_SDK_ENABLED": "false"},
    )
    assert out["pdf"] == "%PDF-" and out["fpdf_at_route_load"] is False
    where = _origins(out["modules"], unzipped)
    assert where["fpdf"] == "function" and where["chalicelib.services.invoices"] == "function"
    assert where["PIL.Image"] == "pillow-host" and where["fontTools"] == "pillow-host"
    assert not {m for m in out["modules"] if m.split(".")[0] == "pillow_heif"}


def test_the_video_layer_carries_ffmpeg_for_the_target_and_only_the_video_function_gets_it(
    dev_build, manifest, layers_toml
):
    """The ffmpeg executable (imageio-ffmpeg's static binary) is built for the functions' architecture, stays
    executable, and ships in the video layer only: the API and the photo processor never carry its ~170 MB."""
    _, machine, _ = target(layers_toml)
    want = {"aarch64": ELF_AARCH64, "x86_64": 62}[machine]
    zips = all_zips(dev_build)
    found = {}
    for name, path in zips.items():
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if re.search(r"imageio_ffmpeg/binaries/ffmpeg-", info.filename):
                    with archive.open(info) as handle:
                        head = handle.read(20)
                    found[name] = (info.filename, head, (info.external_attr >> 16) & 0o777)
    assert set(found) == {"video"}, f"ffmpeg ships in {sorted(found)}"
    filename, head, mode = found["video"]
    assert head[:4] == b"\x7fELF" and struct.unpack("<H", head[18:20])[0] == want, filename
    assert machine in filename and mode & 0o111, (filename, oct(mode))
    kinds = {info["kind"]: info["layers"] for info in manifest["functions"].values()}
    assert "video" in kinds["video"]
    for kind, layers in kinds.items():
        assert ("video" in layers) == (kind == "video"), (kind, layers)


def test_video_function_imports_from_its_artifacts_and_finds_ffmpeg(unzipped):
    """The video function's layers only (core, pillow, video; the host's build of the same imageio-ffmpeg stands
    in for the aarch64 one): the handler runs and ffmpeg is found inside the layer's package."""
    out = _probe(
        unzipped,
        "video",
        ["function", "core", "core-host", "pillow", "pillow-host", "video", "video-host", "runtime"],
        {"AWS_XRAY_SDK_ENABLED": "false"},
    )
    assert out["batch"] == {"batchItemFailures": []}
    assert out["ffmpeg_version"].startswith("ffmpeg version"), out
    where = _origins(out["modules"], unzipped)
    assert where["chalicelib.video.ffmpeg"] == "function" and where["imageio_ffmpeg"] == "video-host"
    assert "/imageio_ffmpeg/binaries/ffmpeg-" in out["ffmpeg"]
    assert not {m for m in out["modules"] if m.split(".")[0] == "pillow_heif"}
