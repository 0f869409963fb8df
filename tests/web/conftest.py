"""Browser journeys: the built web app (``make web``) on the real local stack, in Debian's Chromium driven by
pytest-playwright (Playwright's own browser download cannot work here). Every module is marked
``xdist_group("local_stack")`` so it shares the worker's one stack with ``tests/e2e``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from infrastructure.local.devstack import WEB_DIST

CHROMIUM = os.environ.get("LIGHTBOX_CHROMIUM", "/usr/bin/chromium")
# Without these, Chromium's background connections are refused by this machine's closed network.
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
    "--disable-quic",
    "--disable-dev-shm-usage",
]

expect.set_options(timeout=20_000)


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    missing = [] if Path(CHROMIUM).exists() and (WEB_DIST / "index.html").is_file() else ["chromium or web/dist"]
    for item in items:
        if missing and Path(str(item.fspath)).is_relative_to(here) and "playwright" in item.fixturenames:
            item.add_marker(
                pytest.mark.skipif(
                    os.environ.get("CI") != "true",
                    reason="needs `make chromium web` (make test does both); CI fails instead of skipping",
                )
            )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args, stack):
    return {**browser_context_args, "base_url": stack.web_url, "viewport": {"width": 1280, "height": 860}}


@pytest.fixture
def context(context):
    context.set_default_timeout(20_000)
    return context
