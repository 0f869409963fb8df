"""Small pieces shared by the local stack: Lambda context, ports, waiting for a service."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from urllib import error as urlerror
from urllib import request as urlrequest

LOOPBACK = "127.0.0.1"


class LambdaContext:
    """What a Lambda handler may read from its context object, nothing more."""

    def __init__(self, function_name: str, timeout_seconds: float = 900.0, memory_limit_in_mb: int = 1024) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def now_ms() -> int:
    return int(time.time() * 1000)


def iso_utc(epoch_seconds: float | None = None) -> str:
    """ISO 8601 UTC with a Z, to the second, as the API contract writes timestamps."""
    moment = datetime.fromtimestamp(time.time() if epoch_seconds is None else epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def free_port() -> int:
    """A port nothing listens on right now (bind to 0 and let the kernel choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((LOOPBACK, port)) == 0


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """The status a GET on ``url`` answers with, or None when nothing answers."""
    try:
        with urlrequest.urlopen(url, timeout=timeout) as response:
            return response.status
    except urlerror.HTTPError as exc:
        return exc.code
    except (urlerror.URLError, OSError):
        return None


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    interval: float = 0.1,
    abort: Callable[[], str | None] | None = None,
    what: str = "service",
) -> None:
    """Poll ``check`` until it is true; ``abort`` may return a reason to give up early."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if abort is not None:
            reason = abort()
            if reason:
                raise RuntimeError(f"{what} did not come up: {reason}")
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} did not come up within {timeout:.0f}s")
        time.sleep(interval)
