"""Static checks of built zips against the Lambda target (no target interpreter needed).

For each zip: every ``*.dist-info/WHEEL`` tag must install on the target, every ELF file must be built for the
target machine, every version-specific extension module must carry the target's ABI suffix
(``cpython-313-aarch64-linux-gnu``), and every file outside the app's own code must be listed in some wheel's
RECORD (anything else was built or copied in from somewhere we did not check).
"""

from __future__ import annotations

import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from infrastructure.target import Target, canonical

APP_CODE = ("app.py", "chalicelib/", "chalice/")
EXTENSION = re.compile(r"\.(cpython-\d+-[a-z0-9_]+-linux-gnu|abi3)\.so$")


@dataclass
class ZipReport:
    path: Path
    unzipped_bytes: int = 0
    files: int = 0
    distributions: dict[str, dict] = field(default_factory=dict)  # canonical name -> {version, tags, purelib}
    elf_files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def native(self) -> bool:
        return bool(self.elf_files) or any(not d["purelib"] for d in self.distributions.values())


def expand_tag(tag: str) -> list[str]:
    """``cp313-cp313-manylinux_2_17_aarch64.manylinux2014_aarch64`` -> one tag per platform (PEP 425 sets)."""
    try:
        py, abi, plat = tag.split("-")
    except ValueError:
        return [tag]
    return [f"{p}-{a}-{pl}" for p in py.split(".") for a in abi.split(".") for pl in plat.split(".")]


def _elf_machine(head: bytes) -> int | None:
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    endian = "<" if head[5] == 1 else ">"
    return struct.unpack(endian + "H", head[18:20])[0]


def inspect_zip(path: Path, target: Target, *, allow_native: bool, root: str = "") -> ZipReport:
    """Inspect one zip; ``root`` is the import root inside it ("python/" for layers, "" for functions)."""
    report = ZipReport(path=path)
    recorded: set[str] = set()
    with zipfile.ZipFile(path) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        names = {i.filename for i in infos}
        for info in infos:
            report.files += 1
            report.unzipped_bytes += info.file_size
            name = info.filename
            if not name.startswith(root):
                report.problems.append(f"{name}: outside the import root {root!r}")
                continue
            rel = name[len(root) :]
            with archive.open(info) as handle:
                head = handle.read(20)
            machine = _elf_machine(head)
            if machine is not None:
                report.elf_files.append(rel)
                if machine != target.elf_machine:
                    report.problems.append(
                        f"{rel}: ELF machine {machine}, target {target.machine} needs {target.elf_machine}"
                    )
                match = EXTENSION.search(rel)
                if match and match.group(1) != "abi3" and match.group(1) != target.extension_suffix:
                    report.problems.append(
                        f"{rel}: extension built for {match.group(1)}, target is {target.extension_suffix}"
                    )
                if not allow_native:
                    report.problems.append(f"{rel}: native code in a package that must be pure Python")
            if rel.endswith(".dist-info/WHEEL"):
                dist_dir = rel.rsplit("/", 1)[0]
                text = archive.read(name).decode()
                tags = [
                    expanded for line in re.findall(r"^Tag:\s*(\S+)", text, flags=re.M) for expanded in expand_tag(line)
                ]
                purelib = re.search(r"^Root-Is-Purelib:\s*true", text, flags=re.M | re.I) is not None
                dist_name, _, version = dist_dir.removesuffix(".dist-info").partition("-")
                report.distributions[canonical(dist_name)] = {"version": version, "tags": tags, "purelib": purelib}
                if not tags:
                    report.problems.append(f"{rel}: no Tag lines")
                bad = [t for t in tags if not target.accepts_wheel_tag(t)]
                if tags and len(bad) == len(tags):
                    report.problems.append(
                        f"{dist_dir}: wheel tags {tags} do not install on {target.runtime}/{target.machine}"
                    )
                if any(re.search(r"-linux_[a-z0-9_]+$", t) for t in tags):
                    report.problems.append(f"{dist_dir}: built locally from an sdist (tags {tags})")
                if not allow_native and not all(t.endswith("-none-any") for t in tags):
                    report.problems.append(f"{dist_dir}: platform wheel {tags} in a package that must be pure")
                record = f"{root}{dist_dir}/RECORD"
                if record not in names:
                    report.problems.append(f"{dist_dir}: no RECORD")
                else:
                    for line in archive.read(record).decode().splitlines():
                        entry = line.rsplit(",", 2)[0] if line.count(",") >= 2 else line
                        if entry:
                            recorded.add(entry)
        for info in infos:
            rel = info.filename[len(root) :]
            if rel.startswith(APP_CODE) and not root:
                continue
            if ".dist-info/" in rel or rel.endswith(".pyc") or rel in recorded:
                continue
            report.problems.append(f"{rel}: not listed in any wheel's RECORD")
    return report
