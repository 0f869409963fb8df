"""The real local stack, started once per test session (per xdist worker) for every end-to-end module."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def stack():
    from infrastructure.local.stack import start_stack

    handle = start_stack(timeout=120)
    try:
        yield handle
    finally:
        code = handle.stop()
        assert code == 0, handle.log()[-3000:]
