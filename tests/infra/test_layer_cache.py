"""The layer zip cache (infrastructure/dependencies.py ``_layer_zip``): a zip is reused only for the same layer
made from the same wheel bytes, and what is reused is what a fresh build writes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from infrastructure import dependencies
from infrastructure.dependencies import Wheel


def wheel(folder: Path, payload: bytes, name: str = "demo") -> Wheel:
    path = folder / f"{name}-1.0-cp313-cp313-manylinux_2_17_aarch64.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}/__init__.py", payload)
        archive.writestr(f"{name}-1.0.dist-info/METADATA", f"Name: {name}\n")
    return Wheel.from_path(path)


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_a_layer_is_compressed_once_for_the_same_wheels(tmp_path, monkeypatch):
    wheels = [wheel(tmp_path, b"x = 1\n")]
    cache = tmp_path / "cache"
    fresh, again, uncached = tmp_path / "dev" / "core.zip", tmp_path / "prod" / "core.zip", tmp_path / "no.zip"
    dependencies._layer_zip("core", wheels, fresh, cache)
    dependencies._layer_zip("core", wheels, uncached, None)
    assert fresh.read_bytes() == uncached.read_bytes()  # the same bytes a build without the cache writes
    assert members(fresh) == {
        "python/demo/__init__.py": b"x = 1\n",
        "python/demo-1.0.dist-info/METADATA": b"Name: demo\n",
    }

    def no_zipping(*args, **kwargs):
        raise AssertionError("compressed again")

    monkeypatch.setattr(dependencies, "write_zip", no_zipping)
    dependencies._layer_zip("core", wheels, again, cache)  # the next stage
    assert again.read_bytes() == fresh.read_bytes()
    with pytest.raises(AssertionError, match="compressed again"):  # another layer name is another zip
        dependencies._layer_zip("pillow", wheels, tmp_path / "pillow.zip", cache)


def test_changed_wheel_bytes_make_a_new_zip(tmp_path):
    cache = tmp_path / "cache"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = wheel(tmp_path / "a", b"x = 1\n"), wheel(tmp_path / "b", b"x = 2\n")  # same file name
    assert dependencies.layer_key("core", [first]) != dependencies.layer_key("core", [second])
    dependencies._layer_zip("core", [first], tmp_path / "one.zip", cache)
    dependencies._layer_zip("core", [second], tmp_path / "two.zip", cache)
    assert members(tmp_path / "two.zip")["python/demo/__init__.py"] == b"x = 2\n"
    assert len(list(cache.glob("core-*.zip"))) == 2
