"""Running the bundled ffmpeg with limits: a wall-clock timeout (the process group is killed), an address-space
limit (``RLIMIT_AS``) and an output-size limit (``RLIMIT_FSIZE``, a write past it kills ffmpeg with ``SIGXFSZ``),
no core dumps, no stdin, and stderr kept to its last ``STDERR_BYTES`` (a broken file can make ffmpeg log a line
per frame). Nothing here raises for a non-zero exit: the caller reads ``Result`` and decides what it means.

The limits are set by a small exec trampoline (``_TRAMPOLINE``: this interpreter, isolated, sets them and then
``execv``s ffmpeg in the same process), not by ``preexec_fn``: CPython documents ``preexec_fn`` as unsafe when the
parent has threads (the local app host runs this next to HTTP servers, the reader thread below is one), since the
forked child may deadlock on a lock another thread held at fork time before it ever execs. ``resource.prlimit``
on the child after ``Popen`` would race with ffmpeg already running, and ``sh -c 'ulimit -f ...'`` counts in
512- or 1024-byte blocks depending on the shell (dash and ``bash --posix``: 512; plain bash: 1024), so the
trampoline sets exact byte values with the same ``resource`` calls. It costs one interpreter start (~40 ms)
per ffmpeg run.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
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


# argv: -c <address-space bytes> <file-size bytes> <executable> <its argv...>. The interpreter ignores SIGXFSZ and
# SIGPIPE at start-up and an ignored signal survives exec, so both are reset: a write past RLIMIT_FSIZE must kill
# ffmpeg (SIGXFSZ), not return EFBIG. RLIMIT_AS comes last, once everything exec needs is built.
_TRAMPOLINE = """\
import os, resource, signal, sys
memory, size, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
os.execv(argv[0], argv)
"""


def command(args: list[str], *, memory_mib: int, max_output_bytes: int) -> list[str]:
    """The argv that runs ``ffmpeg -hide_banner -nostdin <args>`` under the limits (through ``_TRAMPOLINE``)."""
    limits = [str(memory_mib * 1024 * 1024), str(max(1, max_output_bytes))]
    ffmpeg = [executable(), "-hide_banner", "-nostdin", *args]
    return [sys.executable, "-I", "-S", "-c", _TRAMPOLINE, *limits, *ffmpeg]


def run(args: list[str], *, timeout: float, memory_mib: int, max_output_bytes: int, cwd: str | None = None) -> Result:
    """``ffmpeg -hide_banner -nostdin <args>`` within the limits."""
    started = time.monotonic()
    process = subprocess.Popen(
        command(args, memory_mib=memory_mib, max_output_bytes=max_output_bytes),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=cwd,
        start_new_session=True,  # its own process group: a timeout kills ffmpeg and anything it started
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
