"""Running the bundled ffmpeg with limits: a wall-clock timeout (the process group is killed), an address-space
limit (``RLIMIT_AS``) and an output-size limit (``RLIMIT_FSIZE``) set in the child before it execs, no core
dumps, no stdin, and stderr kept to its last ``STDERR_BYTES`` (a broken file can make ffmpeg log a line per
frame). Nothing here raises for a non-zero exit: the caller reads ``Result`` and decides what it means.
"""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

STDERR_BYTES = 64 * 1024


@dataclass(frozen=True)
class Result:
    returncode: int
    stderr: str
    timed_out: bool
    seconds: float

    @property
    def killed_by_signal(self) -> bool:
        return self.returncode < 0


@functools.cache
def executable() -> str:
    """The ffmpeg binary of imageio-ffmpeg (the video layer on Lambda, the wheel locally)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _limits(memory_mib: int, max_output_bytes: int) -> None:  # runs in the child, between fork and exec
    memory = memory_mib * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_output_bytes, max_output_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(args: list[str], *, timeout: float, memory_mib: int, max_output_bytes: int, cwd: str | None = None) -> Result:
    """``ffmpeg -hide_banner -nostdin <args>`` within the limits."""
    started = time.monotonic()
    process = subprocess.Popen(
        [executable(), "-hide_banner", "-nostdin", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=cwd,
        start_new_session=True,  # its own process group: a timeout kills ffmpeg and anything it started
        preexec_fn=functools.partial(_limits, memory_mib, max_output_bytes),
    )
    tail = bytearray()

    def drain() -> None:
        assert process.stderr is not None
        for chunk in iter(lambda: process.stderr.read(8192), b""):  # type: ignore[union-attr]
            tail.extend(chunk)
            if len(tail) > 2 * STDERR_BYTES:
                del tail[: len(tail) - STDERR_BYTES]

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    timed_out = False
    try:
        process.wait(timeout=max(0.1, timeout))
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(process)
    except BaseException:
        _kill(process)
        raise
    reader.join(timeout=5)
    text = bytes(tail[-STDERR_BYTES:]).decode("utf-8", "replace")
    return Result(process.returncode, text, timed_out, time.monotonic() - started)


def _kill(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
