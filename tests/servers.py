"""Start a test's server subprocess on a free port.

A free port is probed (bind to 0, close) and bound again by the child a moment later; another process (the other
test worker, an outgoing connection's ephemeral port) may take it in between. The child then exits at start, so it
is started again on another port, up to three times. Ready means the port answers *and* the listening socket is the
child's own (read from /proc on Linux), so another worker's server of the same kind on that port is never taken
for ours.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infrastructure.local.common import free_port


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN on that port
                inodes.add(fields[9])
    return inodes


def owns_listener(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds the socket listening on ``port`` (True where /proc cannot tell)."""
    if not Path("/proc/net/tcp").exists():
        return True
    inodes = _listening_inodes(port)
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


def spawn_on_free_port(
    argv_for: Callable[[int], list[str]],
    ready: Callable[[int], bool],
    *,
    timeout: float,
    attempts: int = 3,
    describe: Callable[[], str] = lambda: "",
    **popen: Any,
) -> tuple[subprocess.Popen, int]:
    """``(process, port)`` once ``ready(port)`` holds and the listener on ``port`` is the process's own."""
    for _ in range(attempts):
        port = free_port()
        process = subprocess.Popen(argv_for(port), **popen)
        try:
            deadline = time.monotonic() + timeout
            while process.poll() is None:
                if ready(port) and owns_listener(process.pid, port):
                    return process, port
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{argv_for(port)[:3]} not ready on port {port} in {timeout}s\n{describe()}")
                time.sleep(0.05)
        except BaseException:
            process.kill()
            process.wait()
            raise
        # it exited at start (its port taken): another port
    raise RuntimeError(f"{argv_for(0)[:3]} exited at start {attempts} times (exit {process.returncode})\n{describe()}")
