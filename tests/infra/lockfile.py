"""requirements.lock, parsed: the one lock every install uses (see tests/infra/test_lock.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import Marker

LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Locked:
    name: str
    version: str
    marker: str | None
    hashes: list[str] = field(default_factory=list)

    def applies(self) -> bool:
        return self.marker is None or Marker(self.marker).evaluate()


def parse_lock(text: str) -> dict[str, list[Locked]]:
    """name -> its entries (uv writes one per version when markers split it, e.g. by Python version)."""
    entries: dict[str, list[Locked]] = {}
    current: Locked | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("--hash="):
            assert current is not None, f"a hash before any requirement: {line!r}"
            current.hashes.append(stripped.removeprefix("--hash=").rstrip(" \\"))
            continue
        requirement = stripped.rstrip(" \\")
        spec, _, marker = requirement.partition(";")
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s]+)", spec.strip())
        assert match, f"requirements.lock: not an exact pin: {line!r}"
        current = Locked(canonical(match.group(1)), match.group(3), marker.strip() or None)
        entries.setdefault(current.name, []).append(current)
    return entries


def lock_pin(name: str, lock: dict[str, list[Locked]] | None = None) -> str | None:
    """The version the lock gives ``name`` on this interpreter (None: not locked here)."""
    lock = lock if lock is not None else parse_lock(LOCK.read_text())
    versions = [e.version for e in lock.get(canonical(name), []) if e.applies()]
    return versions[0] if versions else None
