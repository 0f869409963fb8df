"""Accounts and auth through the real Chalice app with moto in process."""

from __future__ import annotations

from tests.conftest import PASSWORD, last_code, sent_emails


def test_health(api):
    r = api.get("/health")
    assert r.status_code == 200 and r.data == {"status": "ok"}


def test_signup_verify_login_me(api):
    r = api.post("/auth/signup", {"email": "Ann@Example.com", "username": "ann", "password": PASSWORD})
    assert r.status_code == 201
    user = r.data["user"]
    assert user["username"] == "ann" and user["email_verified"] is False and user["role"] == "member"
    assert "password" not in str(r.data).lower()
    mail = sent_emails()[-1]
    assert mail["to"] == ["Ann@example.com"] and "verification" in mail["subject"].lower()

    r = api.post("/auth/login", {"login": "ann", "password": PASSWORD})
    assert r.status_code == 403 and r.data["error"]["code"] == "email_not_verified"

    r = api.post("/auth/verify-email", {"email": "ann@example.com", "code": last_code("Ann@example.com")})
    assert r.status_code == 200

    r = api.post("/auth/login", {"login": "Ann@example.com", "password": PASSWORD})
    assert r.status_code == 200, r.body
    body = r.data
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["user"]["email_verified"] is True

    r = api.get("/auth/me", token=body["access_token"])
    assert r.status_code == 200
    for field in ("id", "username", "email", "email_verified", "display_name", "role", "created_at"):
        assert field in r.data
    assert r.data["created_at"].endswith("Z")
