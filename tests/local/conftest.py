"""Fixtures for the local-stack tests (the gateway, the poller, the API server, the devstack)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from infrastructure.local.gateway import GatewayServer, create_gateway_app  # noqa: E402 - needs the path above

AWS_TEST_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture
def aws_test_env(monkeypatch):
    for key, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def start_gateway():
    """``start_gateway(connect, message, disconnect) -> GatewayServer`` on a free loopback port."""
    servers = []

    def start(connect=None, message=None, disconnect=None, **options):
        server = GatewayServer(create_gateway_app(connect, message, disconnect, **options)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _threaded_moto():
    """A moto server in a thread on a free loopback port; yields its URL.

    In-process moto servers share their state (and moto's model registry) with everything else in
    this process, so it is reset before and after.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    requests.post(f"{url}/moto-api/reset", timeout=5).raise_for_status()
    yield url
    requests.post(f"{url}/moto-api/reset", timeout=5)
    server.stop()


@pytest.fixture
def moto_server(aws_test_env):
    """Stock moto server (threaded, in this process); yields its URL."""
    yield from _threaded_moto()


@pytest.fixture
def moto_host_server(aws_test_env, monkeypatch):
    """moto server with what ``moto_host`` adds (SES send times, the ses-messages route), undone after."""
    from moto.moto_api._internal import urls
    from moto.ses import models

    from infrastructure.local.moto_host import SES_MESSAGES_PATH, ses_messages, stamp_ses_messages

    for cls in (models.Message, models.RawMessage, models.TemplateMessage, models.BulkTemplateMessage):
        monkeypatch.setattr(cls, "__init__", cls.__init__)
    stamp_ses_messages()
    # What add_ses_messages_route() does, in a form monkeypatch undoes.
    monkeypatch.setitem(urls.url_paths, "{0}" + SES_MESSAGES_PATH, ses_messages)
    yield from _threaded_moto()
