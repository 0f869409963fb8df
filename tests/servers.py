"""Start a test's server subprocess on a free port.

A free port is probed (bind to 0, close) and bound again by the child a moment later; another process (the other
test worker, an outgoing connection's ephemeral port) may take it in between. The child then exits at start, so it
is started again on another port, up to three times.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

from infrastructure.local.common import free_port


def spawn_on_free_port(
    argv_for: Callable[[int], list[str]],
    ready: Callable[[int], bool],
    *,
    timeout: float,
    attempts: int = 3,
    describe: Callable[[], str] = lambda: "",
    **popen: Any,
) -> tuple[subprocess.Popen, int]:
    """``(process, port)`` once ``ready(port)`` holds and the process still runs (not another's server)."""
    for _ in range(attempts):
        port = free_port()
        process = subprocess.Popen(argv_for(port), **popen)
        deadline = time.monotonic() + timeout
        while process.poll() is None:
            if ready(port):
                if process.poll() is None:
                    return process, port
                break
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise RuntimeError(f"{argv_for(port)[:3]} not ready on port {port} in {timeout}s\n{describe()}")
            time.sleep(0.05)
    raise RuntimeError(f"{argv_for(0)[:3]} exited at start {attempts} times (exit {process.returncode})\n{describe()}")
