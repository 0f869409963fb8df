"""The Lambda target (runtime, architecture, glibc) and the layer layout, read from ``layers/layers.toml``.

Everything that must agree on "what we deploy to" reads it from here: the pip flags that fetch wheels, the
template's ``Runtime``/``Architectures``/``CompatibleRuntimes``, and the artifact checks.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS_DIR = ROOT / "layers"
LAYERS_TOML = LAYERS_DIR / "layers.toml"
CONSTRAINTS = ROOT / "requirements.lock"  # the one lock: dev venv, CI and Lambda artifacts
REQUIREMENTS = ROOT / "requirements.txt"

# Lambda's architecture name -> the machine name in wheel platform tags and ELF headers.
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
ELF_MACHINES = {"aarch64": 183, "x86_64": 62}
OLDEST_MANYLINUX_GLIBC_MINOR = 17  # manylinux2014 == manylinux_2_17
FUNCTION_KINDS = ("api", "websocket", "processor", "video", "worker", "relay", "other")


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name (``Pillow_HEIF`` -> ``pillow-heif``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Target:
    runtime: str  # "python3.13"
    architecture: str  # "arm64" (Lambda's name)
    glibc: tuple[int, int]  # (2, 34)

    @property
    def python_version(self) -> str:
        return self.runtime.removeprefix("python")

    @property
    def python_tag(self) -> str:
        return "cp" + self.python_version.replace(".", "")

    @property
    def python_minor(self) -> int:
        return int(self.python_version.split(".")[1])

    @property
    def machine(self) -> str:
        return MACHINES[self.architecture]

    @property
    def elf_machine(self) -> int:
        return ELF_MACHINES[self.machine]

    @property
    def extension_suffix(self) -> str:
        """The ABI suffix of a version-specific extension module, e.g. ``cpython-313-aarch64-linux-gnu``."""
        return f"cpython-{self.python_tag[2:]}-{self.machine}-linux-gnu"

    def platform_tags(self) -> list[str]:
        """Every platform tag that runs on the target, newest first (pip does not expand manylinux_2_N itself)."""
        major, minor = self.glibc
        tags = [f"manylinux_{major}_{m}_{self.machine}" for m in range(minor, OLDEST_MANYLINUX_GLIBC_MINOR - 1, -1)]
        return tags + [f"manylinux2014_{self.machine}"]

    def pip_platform_args(self) -> list[str]:
        args: list[str] = []
        for tag in self.platform_tags():
            args += ["--platform", tag]
        return args + [
            "--python-version",
            self.python_version,
            "--implementation",
            "cp",
            "--abi",
            self.python_tag,
            "--only-binary=:all:",
        ]

    def accepts_wheel_tag(self, tag: str) -> bool:
        """Whether one ``python-abi-platform`` wheel tag can be installed on the target."""
        try:
            py, abi, plat = tag.split("-")
        except ValueError:
            return False
        if plat == "any":
            return abi == "none" and (py.startswith("py3") or py == self.python_tag)
        if plat not in self.platform_tags():
            return False
        if abi == self.python_tag:
            return py == self.python_tag
        if abi == "none":  # no extension module, only a platform binary (imageio-ffmpeg's ffmpeg)
            return py.startswith("py3") or py == self.python_tag
        if abi == "abi3":  # stable ABI: built for cp3X, runs on any CPython >= 3.X
            match = re.fullmatch(r"cp3(\d+)", py)
            return bool(match) and int(match.group(1)) <= self.python_minor
        return False


@dataclass(frozen=True)
class LayerSpec:
    name: str
    description: str
    distributions: tuple[str, ...]  # canonical names this layer claims
    catch_all: bool
    functions: tuple[str, ...]  # function kinds (FUNCTION_KINDS) that get this layer

    @property
    def logical_id(self) -> str:
        return "".join(part.capitalize() for part in re.split(r"[-_]", self.name)) + "Layer"


@dataclass(frozen=True)
class LayerLayout:
    target: Target
    layers: tuple[LayerSpec, ...]
    runtime_provided: tuple[str, ...]

    def layer_for(self, distribution: str) -> LayerSpec:
        name = canonical(distribution)
        for layer in self.layers:
            if name in layer.distributions:
                return layer
        return next(layer for layer in self.layers if layer.catch_all)

    def layers_for_kind(self, kind: str) -> list[LayerSpec]:
        return [layer for layer in self.layers if kind in layer.functions]


@cache
def load(path: Path = LAYERS_TOML) -> LayerLayout:
    data = tomllib.loads(path.read_text())
    t = data["target"]
    major, minor = (int(p) for p in t["glibc"].split("."))
    target = Target(runtime=t["runtime"], architecture=t["architecture"], glibc=(major, minor))
    if target.architecture not in MACHINES:
        raise ValueError(f"{path}: unknown architecture {target.architecture!r}")
    layers = tuple(
        LayerSpec(
            name=name,
            description=spec["description"],
            distributions=tuple(canonical(d) for d in spec.get("distributions", ())),
            catch_all=bool(spec.get("catch_all", False)),
            functions=tuple(spec["functions"]),
        )
        for name, spec in data["layers"].items()
    )
    if sum(layer.catch_all for layer in layers) != 1:
        raise ValueError(f"{path}: exactly one layer must be catch_all")
    for layer in layers:
        unknown = set(layer.functions) - set(FUNCTION_KINDS)
        if unknown:
            raise ValueError(f"{path}: layer {layer.name}: unknown function kinds {sorted(unknown)}")
    provided = tuple(canonical(d) for d in data.get("runtime_provided", {}).get("distributions", ()))
    return LayerLayout(target=target, layers=layers, runtime_provided=provided)
