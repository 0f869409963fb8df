"""Nothing a client sends produces a 500: every JSON route answers bad input with the contract's 4xx body."""

from __future__ import annotations

import json
import re

import pytest

import app as _app  # noqa: F401 - for its side effect: mounts the routes on the app
from chalicelib.api.routing import load_all

REGISTRY = load_all()

BODY_ROUTES = sorted({(s.method, s.path) for s in REGISTRY if s.body is not None})

NASTY_STRINGS = [
    "",
    " ",
    "\x00",
    "a" * 10_000,
    "'; DROP TABLE users; --",
    '{"$gt": ""}',
    "${jndi:ldap://x}",
    "../../etc/passwd",
    "\u202eevil",
    "\ud83d\ude00" * 50,
    "e\u0301",
    "\uffff",
    "<script>alert(1)</script>",
    "Ω≈ç√∫",
    "0" * 64,
]


def _concrete(path: str, user_id: str) -> str:
    return re.sub(r"{[a-z_]+}", user_id, path)


def _take_role_of(spec, user: dict) -> None:
    """Routes for one role (photographer ...) authorize before they validate: give the caller that role (read
    from the user's row on every request)."""
    from chalicelib.models.users import User

    if spec.roles and "admin" not in spec.roles:
        User(user_id=user["id"]).update(actions=[User.role.set(spec.roles[0])])


def _assert_contract_error(r, *statuses):
    assert r.status_code in statuses, (r.status_code, r.body)
    body = json.loads(r.body)
    assert set(body) == {"error"} and isinstance(body["error"]["code"], str) and body["error"]["message"]
    return body["error"]


@pytest.fixture
def auth_user(api):
    """An admin: role-restricted routes authorize before they validate, so a member would get 403 there."""
    from chalicelib.services import accounts
    from tests.conftest import PASSWORD

    user = accounts.create_admin("badinput@example.com", "badinput", PASSWORD)
    r = api.post("/auth/login", {"login": "badinput", "password": PASSWORD})
    return {"id": user.user_id, "access": r.data["access_token"]}


@pytest.mark.parametrize("method,path", BODY_ROUTES)
def test_malformed_json_wrong_types_missing_fields_and_huge_bodies(api, auth_user, method, path):
    path = _concrete(path, auth_user["id"])
    token = auth_user["access"]
    _take_role_of(
        next(s for s in REGISTRY if s.method == method and _concrete(s.path, auth_user["id"]) == path), auth_user
    )
    for raw in (b"{not json", b"[1,2,3]", b'"string"', b"null", b"\xff\xfe\x00garbage", b'{"a": }'):
        err = _assert_contract_error(api.call(method, path, raw=raw, token=token), 400)
        assert err["code"] == "validation_error"
    err = _assert_contract_error(api.call(method, path, body={"unexpected_field": 1}, token=token), 400)
    assert err["code"] == "validation_error" and err["details"]
    spec = next(s for s in REGISTRY if s.method == method and _concrete(s.path, auth_user["id"]) == path)
    for name in spec.body.model_fields:
        wrong = {n: 12345 for n in spec.body.model_fields}
        wrong[name] = {"nested": ["object"]}
        err = _assert_contract_error(api.call(method, path, body=wrong, token=token), 400)
        assert any(k == name or k.startswith(name + ".") for k in err["details"]), (name, err)
    huge = json.dumps({"x": "a" * (2 * 1024 * 1024)})
    err = _assert_contract_error(api.call(method, path, raw=huge, token=token), 413)
    assert err["code"] == "payload_too_large"


@pytest.mark.parametrize("method,path", BODY_ROUTES)
def test_hostile_strings_never_500(api, auth_user, method, path):
    path = _concrete(path, auth_user["id"])
    spec = next(s for s in REGISTRY if s.method == method and _concrete(s.path, auth_user["id"]) == path)
    _take_role_of(spec, auth_user)
    for nasty in NASTY_STRINGS:
        body = {name: nasty for name in spec.body.model_fields}
        r = api.call(method, path, body=body, token=auth_user["access"])
        assert r.status_code < 500, (nasty, r.body)
        if r.status_code >= 400:
            _assert_contract_error(r, r.status_code)


def test_unicode_usernames_are_refused_but_unicode_display_names_work(api):
    r = api.post("/auth/signup", {"email": "u@example.com", "username": "ädmin", "password": "long enough pw"})
    assert r.status_code == 400 and "username" in r.data["error"]["details"]
    r = api.post(
        "/auth/signup",
        {"email": "u@example.com", "username": "adm1n", "password": "long enough pw", "display_name": "Zoë 🌸 Łódź"},
    )
    assert r.status_code == 201 and r.data["user"]["display_name"] == "Zoë 🌸 Łódź"
    r = api.post(
        "/auth/signup",
        {
            "email": "v@example.com",
            "username": "adm2n",
            "password": "long enough pw",
            "display_name": "zero\u200bwidth",
        },
    )
    assert r.status_code == 400


def test_query_string_validation(api, make_user):
    token = make_user("querier")["access"]
    for qs in ("", "?q=", "?q=a&limit=0", "?q=a&limit=101", "?q=a&limit=abc", "?q=" + "x" * 200):
        r = api.get(f"/auth/search{qs}", token=token)
        err = _assert_contract_error(r, 400)
        assert err["code"] == "validation_error"
    r = api.get("/auth/search?q=a&cursor=%7B%22pk%22%3A1%7D", token=token)
    assert _assert_contract_error(r, 400)["code"] == "invalid_cursor"


def test_chalice_level_errors_have_the_contract_shape(api):
    err = _assert_contract_error(api.call("PUT", "/auth/login", body={}), 405)
    assert err["code"] == "method_not_allowed"
    r = api.call("POST", "/auth/login", raw="login=a", headers={"Content-Type": "application/xml"})
    assert _assert_contract_error(r, 415)["code"] == "unsupported_media_type"


def test_unexpected_failures_are_a_clean_500_with_request_id(api, monkeypatch, caplog):
    from chalicelib.services import accounts

    def boom(*a, **k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(accounts, "resend_email_otp", boom)
    r = api.post("/auth/resend-email-otp", {"email": "a@example.com"})
    err = _assert_contract_error(r, 500)
    assert "secret internals" not in r.body.decode() and err["details"]["request_id"]
    # logged once, as JSON, with the traceback and the same request id the client was given
    from chalicelib.logs import JsonFormatter

    errors = [rec for rec in caplog.records if rec.levelname == "ERROR"]
    assert errors and errors[-1].request_id == err["details"]["request_id"]
    entry = json.loads(JsonFormatter().format(errors[-1]))
    assert entry["request_id"] == err["details"]["request_id"] and "secret internals" in entry["exception"]


def test_the_last_admins_409_is_documented_where_it_is_answered(api, auth_user):
    """Found by tests/api/test_schemathesis.py: the last admin demoting themselves (or deleting their account,
    which demotes first) answers 409 last_admin, which /openapi.json did not list for either operation."""
    from tests.conftest import PASSWORD

    doc = api.get("/openapi.json").data
    token = auth_user["access"]
    for method, path, concrete, body in (
        ("put", "/users/{user_id}/role", f"/users/{auth_user['id']}/role", {"role": "member"}),
        ("delete", "/users/me", "/users/me", {"password": PASSWORD}),
    ):
        err = _assert_contract_error(api.call(method.upper(), concrete, body=body, token=token), 409)
        assert err["code"] == "last_admin"
        assert "409" in doc["paths"][path][method]["responses"], (method, path)
