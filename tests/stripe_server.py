"""A real localstripe for the tests that touch payments (no mocks of Stripe).

One ``python -m infrastructure.local.stripe_host`` process per test session (per pytest-xdist worker: each worker is
its own session, so each gets its own process on its own free 127.0.0.1 port), started the first time a test asks for
it. While it runs, the app's environment points at it (``LIGHTBOX_STRIPE_API_BASE`` and test keys) and the settings
cache is dropped, so the app reads them. The function fixture ``stripe_server`` empties localstripe before each test
(``DELETE /_config/data``) and hands the test a :class:`StripeServer`.

Use it from a test module (tests/conftest.py loads this module as a plugin)::

    def test_pay(api, stripe_server):
        ...
        stripe_server.post("/v1/payment_intents/pi_x/_authenticate", {"client_secret": ..., "success": "true"})
        headers = stripe_server.sign(payload)   # {"Stripe-Signature": "t=...,v1=..."}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers import spawn_on_free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 30.0

SECRET_KEY = "sk_test_lightbox_tests"
PUBLISHABLE_KEY = "pk_test_lightbox_tests"
WEBHOOK_SECRET = "whsec_lightbox_tests"


def _status(url: str, method: str = "GET") -> int | None:
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {SECRET_KEY}"})
    try:
        with urllib.request.urlopen(request, timeout=2.0) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def sign_payload(payload: bytes | str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header value Stripe sends: ``t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<payload>">``."""
    body = payload.encode() if isinstance(payload, str) else payload
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


@dataclass
class StripeServer:
    """The running localstripe, as a test sees it."""

    url: str
    secret_key: str = SECRET_KEY
    publishable_key: str = PUBLISHABLE_KEY
    webhook_secret: str = WEBHOOK_SECRET

    def sign(self, payload: bytes | str, timestamp: int | None = None, secret: str | None = None) -> dict[str, str]:
        """Headers for a webhook delivery of ``payload`` (exactly the bytes to send), signed as Stripe does."""
        return {
            "Stripe-Signature": sign_payload(payload, secret or self.webhook_secret, timestamp),
            "Content-Type": "application/json",
        }

    def request(self, method: str, path: str, data: dict[str, Any] | None = None, key: str | None = None) -> Any:
        """A form-encoded call on localstripe (as stripe-python makes them); returns the decoded JSON body.
        Raises ``urllib.error.HTTPError`` on a 4xx/5xx (its ``.read()`` is Stripe's error JSON)."""
        body = urllib.parse.urlencode(data or {}, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(
            self.url + path,
            data=body,
            method=method,
            headers={
                "Authorization": f"Bearer {key or self.secret_key}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        with urllib.request.urlopen(request, timeout=10.0) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, data: dict[str, Any] | None = None, key: str | None = None) -> Any:
        return self.request("POST", path, data or {}, key=key)

    def authenticate(self, payment_intent_id: str, client_secret: str, success: bool = True) -> Any:
        """Complete (or fail) a PaymentIntent's 3-D Secure step, as the buyer's browser would through Stripe.js."""
        return self.post(
            f"/v1/payment_intents/{payment_intent_id}/_authenticate",
            {"client_secret": client_secret, "success": "true" if success else "false", "key": self.publishable_key},
            key=self.publishable_key,
        )

    def reset(self) -> None:
        status = _status(self.url + "/_config/data", method="DELETE")
        assert status is not None and status < 300, f"localstripe reset answered {status}"


STRIPE_ENV = ("LIGHTBOX_STRIPE_API_BASE", "LIGHTBOX_STRIPE_SECRET_KEY", "LIGHTBOX_STRIPE_PUBLISHABLE_KEY")
STRIPE_ENV += ("LIGHTBOX_STRIPE_WEBHOOK_SECRET", "LIGHTBOX_STRIPE_SECRET_PARAM", "LIGHTBOX_STRIPE_WEBHOOK_SECRET_PARAM")


def _reset_caches() -> None:
    from chalicelib import aws
    from chalicelib.config import get_settings

    get_settings.cache_clear()
    aws._secrets.clear()  # a secret fetched from (moto's) SSM before the literal was set


@pytest.fixture(scope="session")
def stripe_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StripeServer]:
    """localstripe for the whole session (this worker's), with the app's environment pointing at it."""
    log_path = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    env = dict(os.environ)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *paths])
    with open(log_path, "wb") as log:
        process, port = spawn_on_free_port(
            lambda port: [sys.executable, "-m", "infrastructure.local.stripe_host", "--port", str(port)],
            lambda port: _status(f"http://127.0.0.1:{port}/v1/customers") is not None,
            timeout=START_TIMEOUT_SECONDS,
            describe=lambda: "localstripe's log:\n" + log_path.read_text()[-4000:],
            cwd=str(REPO_ROOT),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        server = StripeServer(url=url)
        previous = {name: os.environ.get(name) for name in STRIPE_ENV}
        os.environ.update(
            {
                "LIGHTBOX_STRIPE_API_BASE": url,
                "LIGHTBOX_STRIPE_SECRET_KEY": server.secret_key,
                "LIGHTBOX_STRIPE_PUBLISHABLE_KEY": server.publishable_key,
                "LIGHTBOX_STRIPE_WEBHOOK_SECRET": server.webhook_secret,
            }
        )
        for name in ("LIGHTBOX_STRIPE_SECRET_PARAM", "LIGHTBOX_STRIPE_WEBHOOK_SECRET_PARAM"):
            os.environ.pop(name, None)
        _reset_caches()
        try:
            yield server
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            _reset_caches()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def stripe_server(stripe_process: StripeServer) -> StripeServer:
    """An empty localstripe for this test (``DELETE /_config/data`` first); the app's settings point at it."""
    stripe_process.reset()
    _reset_caches()  # another fixture (e.g. ``tuned``) may have cached settings built before the env was set
    return stripe_process
