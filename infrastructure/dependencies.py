"""Resolve requirements.txt for the Lambda target and split the wheels into function package and layers.

Nothing here compiles anything: pip runs with ``--only-binary=:all:`` and the target's ``--platform`` /
``--python-version`` / ``--abi``, so a dependency without a matching wheel fails the build instead of being
built from an sdist for the build machine (what ``chalice package`` would silently do).

The downloaded wheels are cached in a wheelhouse keyed by requirements, constraints and target, so rebuilds
(and the test suite) work offline once the wheelhouse exists. The layer zips are cached there too (``layers/``,
keyed by their wheels and this module's code): the second stage's build, and a rebuild, copy them instead of
compressing ~80 MB again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from infrastructure.target import CONSTRAINTS, REQUIREMENTS, ROOT, LayerLayout, canonical

DEFAULT_WHEELHOUSE = Path(os.environ.get("LIGHTBOX_WHEELHOUSE", ROOT / "build" / "wheelhouse"))
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Wheel:
    path: Path
    name: str  # canonical distribution name
    version: str
    tags: tuple[str, ...]  # every python-abi-platform triple the file name declares

    @classmethod
    def from_path(cls, path: Path) -> Wheel:
        stem = path.name.removesuffix(".whl")
        parts = stem.split("-")
        if len(parts) not in (5, 6):
            raise ValueError(f"not a wheel file name: {path.name}")
        name, version = parts[0], parts[1]
        py, abi, plat = parts[-3:]
        tags = tuple(f"{p}-{a}-{pl}" for p in py.split(".") for a in abi.split(".") for pl in plat.split("."))
        return cls(path=path, name=canonical(name), version=version, tags=tags)

    @property
    def pure(self) -> bool:
        return all(tag.endswith("-none-any") for tag in self.tags)


@dataclass
class Plan:
    """Where every resolved distribution goes."""

    function: list[Wheel] = field(default_factory=list)
    layers: dict[str, list[Wheel]] = field(default_factory=dict)
    runtime_provided: list[Wheel] = field(default_factory=list)
    unpinned: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        def rows(wheels: list[Wheel]) -> list[dict]:
            return [{"name": w.name, "version": w.version, "wheel": w.path.name} for w in wheels]

        return {
            "function": rows(self.function),
            "layers": {k: rows(v) for k, v in self.layers.items()},
            "runtime_provided": rows(self.runtime_provided),
            "unpinned": self.unpinned,
        }


def _pins(*files: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)", line)
            if match:
                pins[canonical(match.group(1))] = match.group(2)
    return pins


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def resolve(
    layout: LayerLayout,
    *,
    requirements: Path = REQUIREMENTS,
    constraints: Path = CONSTRAINTS,
    wheelhouse: Path = DEFAULT_WHEELHOUSE,
    log=print,
) -> list[Wheel]:
    """Download (or reuse) every wheel requirements.txt needs on the target; fail if any is not a target wheel."""
    target = layout.target
    pip_args = target.pip_platform_args()
    key_source = json.dumps(
        {
            "requirements": requirements.read_text(),
            "constraints": constraints.read_text() if constraints.exists() else "",
            "pip": pip_args,
        },
        sort_keys=True,
    )
    key = hashlib.sha256(key_source.encode()).hexdigest()[:16]
    directory = wheelhouse / f"{target.python_tag}-{target.machine}-{key}"
    with _locked(wheelhouse / ".lock"):
        if not (directory / "COMPLETE").exists():
            log(f"resolving {requirements.name} for {target.runtime}/{target.architecture} into {directory}")
            scratch = Path(tempfile.mkdtemp(prefix="download-", dir=wheelhouse))
            command = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--disable-pip-version-check",
                "-r",
                str(requirements),
                "--dest",
                str(scratch),
                *pip_args,
            ]
            if constraints.exists():
                command += ["-c", str(constraints)]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                shutil.rmtree(scratch, ignore_errors=True)
                noise = "is ignored: it is neither a file nor a directory"
                detail = "\n".join(line for line in (result.stdout + result.stderr).splitlines() if noise not in line)
                raise RuntimeError(
                    f"pip could not resolve wheels for {target.runtime}/{target.machine} "
                    f"(no sdist builds are allowed):\n{detail[-4000:]}"
                )
            (scratch / "COMPLETE").write_text(key_source)
            if directory.exists():
                shutil.rmtree(directory)
            scratch.rename(directory)
        else:
            log(f"reusing wheelhouse {directory}")
    wheels = [Wheel.from_path(p) for p in sorted(directory.iterdir()) if p.suffix == ".whl"]
    strays = [p.name for p in directory.iterdir() if p.name != "COMPLETE" and p.suffix != ".whl"]
    if strays:
        raise RuntimeError(f"non-wheel files in {directory}: {strays} (sdists are not allowed)")
    for wheel in wheels:
        if not any(target.accepts_wheel_tag(tag) for tag in wheel.tags):
            raise RuntimeError(f"{wheel.path.name} does not run on {target.runtime}/{target.machine}")
    return wheels


def plan(wheels: list[Wheel], layout: LayerLayout) -> Plan:
    result = Plan(layers={layer.name: [] for layer in layout.layers})
    pins = _pins(REQUIREMENTS, CONSTRAINTS)
    for wheel in wheels:
        if wheel.name not in pins:
            result.unpinned.append(f"{wheel.name}=={wheel.version}")
        if wheel.name in layout.runtime_provided:
            result.runtime_provided.append(wheel)
        elif wheel.pure and wheel.name not in {d for layer in layout.layers for d in layer.distributions}:
            result.function.append(wheel)
        else:
            result.layers[layout.layer_for(wheel.name).name].append(wheel)
    return result


def install(wheel: Wheel, dest: Path) -> None:
    """Unpack a wheel the way pip would for purelib/platlib (scripts, headers and data are not needed)."""
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel.path) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            parts = info.filename.split("/")
            if parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue
                parts = parts[2:]
            if "__pycache__" in parts:
                continue
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            if (info.external_attr >> 16) & 0o111:  # executables stay executable (imageio-ffmpeg's ffmpeg)
                target.chmod(0o755)


def write_zip(source: Path, zip_path: Path, prefix: str = "") -> None:
    """A reproducible zip of ``source`` (sorted entries, fixed timestamps), entries under ``prefix``."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            name = (
                (Path(prefix) / path.relative_to(source)).as_posix() if prefix else path.relative_to(source).as_posix()
            )
            info = zipfile.ZipInfo(name, ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            archive.writestr(info, path.read_bytes())


def layer_key(name: str, wheels: list[Wheel]) -> str:
    """What a layer zip is made from: its name, its wheels' bytes and this module's code (``install`` and
    ``write_zip``; the zip is reproducible, so the same key is the same bytes)."""
    digest = hashlib.sha256(f"{name}\n".encode() + Path(__file__).read_bytes())
    for wheel in sorted(wheels, key=lambda w: w.path.name):
        digest.update(f"\n{wheel.path.name}\n".encode())
        with open(wheel.path, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()[:24]


def _layer_zip(name: str, wheels: list[Wheel], zip_path: Path, cache_dir: Path | None) -> None:
    """Zip the layer (``python/...``) into ``zip_path``; with ``cache_dir``, a zip made before from the same
    inputs (``layer_key``: every stage's layers are the same) is copied instead of being compressed again."""
    cached = cache_dir / f"{name}-{layer_key(name, wheels)}.zip" if cache_dir is not None else None
    if cached is not None and cached.exists():
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, zip_path)
        return
    with tempfile.TemporaryDirectory(prefix=f"layer-{name}-") as tmp:
        for wheel in wheels:
            install(wheel, Path(tmp))
        write_zip(Path(tmp), zip_path, prefix="python")
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f".{cached.name}.{os.getpid()}")
        shutil.copyfile(zip_path, partial)
        partial.replace(cached)  # atomic: a concurrent build sees the whole zip or none


def build(
    the_plan: Plan, layout: LayerLayout, vendor_dir: Path, layers_dir: Path, *, cache_dir: Path | None = None
) -> dict[str, Path]:
    """Unpack the function's pure wheels into chalice's ``vendor/`` and zip each layer as ``python/...``
    (``cache_dir``: reuse a layer zip made from the same inputs, see ``_layer_zip``)."""
    if vendor_dir.exists():
        shutil.rmtree(vendor_dir)
    vendor_dir.mkdir(parents=True)
    for wheel in the_plan.function:
        install(wheel, vendor_dir)
    zips: dict[str, Path] = {}
    for layer in layout.layers:
        wheels = the_plan.layers.get(layer.name, [])
        if not wheels:
            continue
        zips[layer.name] = layers_dir / f"{layer.name}.zip"
        _layer_zip(layer.name, wheels, zips[layer.name], cache_dir)
    return zips
