"""tests/servers.py: a server started on a probed port that another process took is started again elsewhere, and
another process's listener on the port is never taken for the child's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from infrastructure.local.common import free_port, port_in_use
from tests import servers

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_owns_listener_tells_this_process_from_another():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert servers.owns_listener(os.getpid(), port)
        other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            assert not servers.owns_listener(other.pid, port)
        finally:
            other.kill()
            other.wait()


def test_a_port_taken_after_the_probe_is_answered_by_a_child_on_another_port(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()  # answers connections: looks ready, but it is not the child's
        taken_port = taken.getsockname()[1]
        probes = iter([taken_port])
        monkeypatch.setattr(servers, "free_port", lambda: next(probes, None) or free_port())
        process, port = servers.spawn_on_free_port(
            lambda port: [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
            port_in_use,
            timeout=30,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert port != taken_port and servers.owns_listener(process.pid, port)
        finally:
            process.kill()
            process.wait()
