"""Start the real local stack from a test, on free ports, and stop it again.

    from infrastructure.local.stack import start_stack

    with start_stack() as stack:            # waits until GET {api}/health answers 200
        requests.get(stack.api_url + "/health")
        websockets.sync.client.connect(stack.ws_url + "/?token=...")
        requests.get(stack.emails_url).json()["items"]
        requests.post(stack.print_lab_url + "/_lab/orders/<id>/advance")
        requests.post(stack.oidc_url + "/google/id-token", json={"email": ..., "sub": ...})

The stack runs as ``python -m infrastructure.local.devstack`` in its own session; ``stop()`` sends it
SIGTERM (it stops its children as process groups) and SIGKILLs whatever is left after a timeout.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from infrastructure.local.common import http_status
from infrastructure.local.devstack import DEFAULT_RESOURCES, READY_LINE, REPO_ROOT, Ports, local_env


class StackHandle:
    """A running local stack. ``env`` is the environment the app runs with (moto endpoint, keys ...)."""

    def __init__(self, ports: Ports, process: subprocess.Popen, log_path: Path, env: dict[str, str]) -> None:
        self.ports = ports
        self.process = process
        self.log_path = log_path
        self.env = env
        urls = ports.urls()
        self.api_url = urls["api"]
        self.ws_url = urls["ws"]
        self.ws_management_url = urls["ws_management"]
        self.moto_url = urls["moto"]
        self.stripe_url = urls["stripe"]
        self.print_lab_url = urls["print_lab"]
        self.oidc_url = urls["oidc"]
        self.web_url = urls["web"]
        self.emails_url = urls["emails"]
        self.jobs_url = urls["jobs"]
        self._final_log: str | None = None

    def log(self) -> str:
        """Everything the devstack printed (kept after ``stop()``, which removes the file)."""
        if self._final_log is not None:
            return self._final_log
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> int:
        """Stop the stack; returns the devstack's exit code (0 on a clean stop)."""
        if self.process.poll() is None:
            try:
                os.kill(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
            except ProcessLookupError:
                pass
        if self._final_log is None:
            self._final_log = self.log()
            shutil.rmtree(self.log_path.parent, ignore_errors=True)
        return self.process.returncode

    def __enter__(self) -> StackHandle:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_stack(
    ports: Ports | None = None,
    *,
    seed: bool = False,
    app: str = "app",
    resources: str = DEFAULT_RESOURCES,
    health_path: str = "/health",
    timeout: float = 90.0,
    extra_env: Mapping[str, str] | None = None,
    cwd: os.PathLike | str = REPO_ROOT,
) -> StackHandle:
    """Start ``devstack`` as a subprocess (free ports unless given); return once it reports ready
    and ``GET {api}{health_path}`` answers 200.

    Raises ``RuntimeError`` with the stack's log if it exits or does not get healthy in ``timeout``. Free ports
    are probed, then bound by the stack's children a moment later: when another process (a second test worker)
    took one in between, the stack is started again on other free ports, up to three times.
    """
    base = dict(os.environ)
    base.setdefault("LIGHTBOX_JWT_SECRET", secrets.token_urlsafe(32))
    # Fixed here so ``handle.env`` holds the secrets the stack runs with (local_env would pick new ones).
    base.setdefault("LIGHTBOX_STRIPE_WEBHOOK_SECRET", f"whsec_{secrets.token_hex(16)}")
    base.setdefault("LIGHTBOX_PRINT_LAB_API_KEY", f"lab_{secrets.token_hex(8)}")
    base.setdefault("LIGHTBOX_PRINT_LAB_WEBHOOK_SECRET", f"lab_whsec_{secrets.token_hex(16)}")
    base.update(extra_env or {})
    argv = [sys.executable, "-m", "infrastructure.local.devstack", "--app", app, "--resources", resources] + (
        ["--seed"] if seed else []
    )
    attempts = 1 if ports else 3
    for attempt in range(1, attempts + 1):
        chosen = ports or Ports.free()
        child_env = {**base, **chosen.as_env()}
        log_path = Path(tempfile.mkdtemp(prefix="lightbox-stack-")) / "devstack.log"
        with open(log_path, "ab") as out:
            process = subprocess.Popen(
                argv,
                cwd=str(cwd),
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        handle = StackHandle(chosen, process, log_path, local_env(chosen, child_env))
        deadline = time.monotonic() + timeout
        while True:
            if http_status(handle.api_url + health_path, timeout=1.0) == 200 and READY_LINE in handle.log():
                return handle
            if process.poll() is not None:
                handle.stop()
                log = handle.log()
                if attempt < attempts and any(mark in log.lower() for mark in PORT_TAKEN_MARKS):
                    break  # a port was taken after the probe: again on other free ports
                raise RuntimeError(f"local stack exited with {process.returncode}:\n{log}")
            if time.monotonic() > deadline:
                handle.stop()
                raise RuntimeError(f"local stack not healthy within {timeout:.0f}s:\n{handle.log()}")
            time.sleep(0.2)
    raise AssertionError("unreachable: the last attempt returns or raises")


# devstack's own check, and a child's failed bind (asyncio servers such as aiohttp's lowercase the OS message)
PORT_TAKEN_MARKS = ("devstack: already in use:", "address already in use")
