"""The localstripe fixture itself: a real process, emptied before each test, and Stripe's signature scheme."""

from __future__ import annotations

import hashlib
import hmac
import os

from tests.stripe_server import sign_payload


def test_localstripe_answers_and_the_app_env_points_at_it(stripe_server):
    from chalicelib.config import get_settings

    customer = stripe_server.post("/v1/customers", {"email": "a@example.com"})
    assert customer["id"].startswith("cus_")
    assert stripe_server.get(f"/v1/customers/{customer['id']}")["email"] == "a@example.com"
    assert os.environ["LIGHTBOX_STRIPE_API_BASE"] == stripe_server.url
    settings = get_settings()
    assert settings.stripe_api_base == stripe_server.url
    assert settings.stripe_secret_key == stripe_server.secret_key
    assert settings.stripe_publishable_key == stripe_server.publishable_key


def test_each_test_starts_with_an_empty_localstripe(stripe_server):
    assert stripe_server.get("/v1/customers")["data"] == []
    stripe_server.post("/v1/customers", {"email": "b@example.com"})
    stripe_server.reset()
    assert stripe_server.get("/v1/customers")["data"] == []


def test_signature_is_stripes_scheme():
    header = sign_payload(b'{"id":"evt_1"}', "whsec_x", timestamp=1700000000)
    expected = hmac.new(b"whsec_x", b'1700000000.{"id":"evt_1"}', hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
