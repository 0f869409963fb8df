"""Cookie session mode of POST /auth/login (browsers): the refresh token lives in an HttpOnly cookie, and
refresh and logout read it only with the X-Requested-With header."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.conftest import PASSWORD

CSRF = {"X-Requested-With": "lightbox"}
MONTH = 30 * 24 * 3600


def _attributes(set_cookie: str) -> tuple[str, str, dict[str, str]]:
    first, *rest = [p.strip() for p in set_cookie.split(";")]
    name, _, value = first.partition("=")
    attrs = {}
    for part in rest:
        key, _, val = part.partition("=")
        attrs[key.lower()] = val
    return name, value, attrs


def _cookie_login(api, username: str):
    r = api.post("/auth/login", {"login": username, "password": PASSWORD, "session": "cookie"})
    assert r.status_code == 200, r.body
    name, value, _ = _attributes(r.headers["Set-Cookie"])
    return r, f"{name}={value}"


@pytest.fixture
def browser(make_user):
    return make_user("browser", login=False)


def test_cookie_login_sets_an_httponly_strict_cookie_instead_of_the_body(api, browser):
    r, _ = _cookie_login(api, "browser")
    assert "refresh_token" not in r.data and r.data["access_token"] and r.data["token_type"] == "Bearer"
    assert r.data["user"]["username"] == "browser"
    name, value, attrs = _attributes(r.headers["Set-Cookie"])
    assert name == "lightbox_refresh" and value.count(".") == 2  # the refresh JWT
    assert attrs["path"] == "/auth" and attrs["samesite"] == "Strict" and attrs["max-age"] == str(MONTH)
    assert "httponly" in attrs and "secure" in attrs  # the test stage is not the local stage
    assert api.get("/auth/me", token=r.data["access_token"]).status_code == 200


def test_body_mode_is_unchanged(api, browser):
    for body in ({}, {"session": "body"}):
        r = api.post("/auth/login", {"login": "browser", "password": PASSWORD, **body})
        assert r.status_code == 200 and r.data["refresh_token"] and "Set-Cookie" not in r.headers
        refreshed = api.post("/auth/token/refresh", {"refresh_token": r.data["refresh_token"]})
        assert refreshed.status_code == 200 and refreshed.data["refresh_token"]
        assert "Set-Cookie" not in refreshed.headers
    r = api.post("/auth/login", {"login": "browser", "password": PASSWORD, "session": "jar"})
    assert r.status_code == 400 and "session" in r.data["error"]["details"]


def test_cookie_refresh_needs_the_header_and_rotates_the_cookie(api, browser):
    _, cookie = _cookie_login(api, "browser")
    for headers in ({"Cookie": cookie}, {"Cookie": cookie, "X-Requested-With": "XMLHttpRequest"}):
        r = api.post("/auth/token/refresh", {}, headers=headers)
        assert r.status_code == 403 and r.data["error"]["code"] == "csrf_header_required"
        assert "Set-Cookie" not in r.headers
    r = api.post("/auth/token/refresh", headers={"Cookie": cookie, **CSRF})  # no body at all is fine too
    assert r.status_code == 200, r.body
    assert "refresh_token" not in r.data and api.get("/auth/me", token=r.data["access_token"]).status_code == 200
    name, value, attrs = _attributes(r.headers["Set-Cookie"])
    assert name == "lightbox_refresh" and f"{name}={value}" != cookie and attrs["max-age"] == str(MONTH)
    again = api.post("/auth/token/refresh", {}, headers={"Cookie": f"{name}={value}", **CSRF})
    assert again.status_code == 200


def test_replaying_a_spent_cookie_revokes_the_family_and_clears_the_cookie(api, browser):
    _, spent = _cookie_login(api, "browser")
    r = api.post("/auth/token/refresh", {}, headers={"Cookie": spent, **CSRF})
    name, value, _ = _attributes(r.headers["Set-Cookie"])
    current, access = f"{name}={value}", r.data["access_token"]

    replay = api.post("/auth/token/refresh", {}, headers={"Cookie": spent, **CSRF})
    assert replay.status_code == 401 and replay.data["error"]["code"] == "refresh_token_reused"
    _, cleared, attrs = _attributes(replay.headers["Set-Cookie"])
    assert cleared == "" and attrs["max-age"] == "0"
    assert api.post("/auth/token/refresh", {}, headers={"Cookie": current, **CSRF}).status_code == 401
    assert api.get("/auth/me", token=access).status_code == 401


def test_cookie_logout_needs_the_header_and_clears_the_cookie(api, browser):
    r, cookie = _cookie_login(api, "browser")
    access = r.data["access_token"]
    refused = api.post("/auth/logout", {}, headers={"Cookie": cookie})
    assert refused.status_code == 403 and refused.data["error"]["code"] == "csrf_header_required"
    assert api.get("/auth/me", token=access).status_code == 200  # nothing happened

    out = api.post("/auth/logout", headers={"Cookie": cookie, **CSRF})
    assert out.status_code == 204
    name, value, attrs = _attributes(out.headers["Set-Cookie"])
    assert name == "lightbox_refresh" and value == "" and attrs["max-age"] == "0" and attrs["path"] == "/auth"
    assert api.get("/auth/me", token=access).status_code == 401
    assert api.post("/auth/token/refresh", {}, headers={"Cookie": cookie, **CSRF}).status_code == 401


def test_without_a_token_in_body_or_cookie_refresh_and_logout_are_400(api):
    for path in ("/auth/token/refresh", "/auth/logout"):
        for headers in ({}, CSRF, {"Cookie": "other=1", **CSRF}):
            r = api.post(path, {}, headers=headers)
            assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", (path, headers)
            assert "refresh_token" in r.data["error"]["details"]


def test_a_body_token_wins_over_the_cookie(api, make_user, browser):
    other = make_user("someone")
    _, cookie = _cookie_login(api, "browser")
    r = api.post("/auth/token/refresh", {"refresh_token": other["refresh"]}, headers={"Cookie": cookie})
    assert r.status_code == 200 and r.data["refresh_token"] and "Set-Cookie" not in r.headers
    assert api.post("/auth/token/refresh", {}, headers={"Cookie": cookie, **CSRF}).status_code == 200


def test_cookie_attributes_follow_the_stage_and_the_base_path(monkeypatch):
    import dataclasses

    from chalicelib import config
    from chalicelib.api import session_cookie

    real = config.get_settings()
    plain = SimpleNamespace(context={"domainName": "127.0.0.1", "stage": "api"}, headers={})
    gateway = SimpleNamespace(context={"domainName": "abc.execute-api.eu-west-1.amazonaws.com", "stage": "prod"})

    monkeypatch.setattr(config, "get_settings", lambda: dataclasses.replace(real, stage="local"))
    _, _, attrs = _attributes(session_cookie.set_header(plain, "t.o.k"))
    assert "secure" not in attrs and attrs["path"] == "/auth" and "httponly" in attrs

    monkeypatch.setattr(config, "get_settings", lambda: dataclasses.replace(real, stage="prod"))
    _, _, attrs = _attributes(session_cookie.set_header(gateway, "t.o.k"))
    assert "secure" in attrs and attrs["path"] == "/prod/auth"

    configured = dataclasses.replace(real, stage="prod", public_api_url="https://api.example.com/v1/")
    monkeypatch.setattr(config, "get_settings", lambda: configured)
    assert _attributes(session_cookie.set_header(gateway, "t.o.k"))[2]["path"] == "/v1/auth"
