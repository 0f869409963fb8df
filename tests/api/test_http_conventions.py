"""The contract's Conventions at the HTTP edge: GET /config, CORS, authentication before validation, JSON only,
local-stage email addresses, and an OpenAPI document that says what the routes do."""

from __future__ import annotations

import json

import pytest

WEB = "http://127.0.0.1:8002"


@pytest.fixture
def settings_env(monkeypatch):
    """Set LIGHTBOX_* variables for one test (settings are read once per container)."""
    from chalicelib.config import get_settings

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield set_env
    monkeypatch.undo()
    get_settings.cache_clear()


# ---- GET /config -------------------------------------------------------------------------------------------


def test_config_tells_a_client_how_to_start(api, settings_env):
    settings_env(
        LIGHTBOX_STRIPE_PUBLISHABLE_KEY="pk_test_123",
        LIGHTBOX_STRIPE_JS_URL="http://127.0.0.1:8420/js.stripe.com/v3/",
        LIGHTBOX_MAX_VIDEO_BYTES="5000",
    )
    r = api.get("/config")
    assert r.status_code == 200
    assert r.data == {
        "ws_url": "wss://ws.test.local/test",  # from LIGHTBOX_WS_ENDPOINT, as in AWS
        "stripe": {"publishable_key": "pk_test_123", "js_url": "http://127.0.0.1:8420/js.stripe.com/v3/"},
        "upload": {
            "max_photo_bytes": 50 * 1024 * 1024,
            "max_video_bytes": 5000,
            "content_types": r.data["upload"]["content_types"],
        },
    }
    assert {"image/jpeg", "image/png", "image/heic"} <= set(r.data["upload"]["content_types"])
    settings_env(LIGHTBOX_WS_URL="ws://127.0.0.1:8001")
    assert api.get("/config").data["ws_url"] == "ws://127.0.0.1:8001"


def test_the_local_stack_configures_what_config_reports():
    from infrastructure.local.devstack import Ports, local_env

    env = local_env(Ports(api=8000, ws=8001, moto=5000, stripe=8420), base={})
    assert env["LIGHTBOX_WS_URL"] == "ws://127.0.0.1:8001"
    assert env["LIGHTBOX_STRIPE_JS_URL"] == "http://127.0.0.1:8420/js.stripe.com/v3/"
    assert env["LIGHTBOX_STRIPE_PUBLISHABLE_KEY"].startswith("pk_test_")
    assert env["LIGHTBOX_APP_ORIGINS"].split(",") == ["http://127.0.0.1:8002", "http://localhost:8002"]


# ---- CORS --------------------------------------------------------------------------------------------------


@pytest.fixture
def origins(settings_env):
    settings_env(LIGHTBOX_APP_ORIGINS=f"{WEB},http://localhost:8002")


@pytest.mark.parametrize("path", ["/auth/login", "/photos/p_1/comments", "/users/u_1/follow", "/health"])
def test_preflight_for_an_allowed_origin(api, origins, path):
    r = api.call(
        "OPTIONS",
        path,
        headers={
            "Origin": WEB,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == WEB
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in r.headers["Vary"]
    allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "x-requested-with"} <= allowed
    assert "OPTIONS" in r.headers["Access-Control-Allow-Methods"]


def test_preflight_lists_the_paths_methods(api, origins):
    r = api.call("OPTIONS", "/photos/p_1", headers={"Origin": WEB, "Access-Control-Request-Method": "PATCH"})
    assert set(r.headers["Access-Control-Allow-Methods"].replace(" ", "").split(",")) == {
        "GET",
        "PATCH",
        "DELETE",
        "OPTIONS",
    }


def test_responses_echo_only_allowed_origins(api, origins, make_user):
    for origin in (WEB, "http://localhost:8002"):
        r = api.get("/health", headers={"Origin": origin})
        assert r.headers["Access-Control-Allow-Origin"] == origin
        assert r.headers["Access-Control-Allow-Credentials"] == "true"
        assert "Retry-After" in r.headers["Access-Control-Expose-Headers"]
    error = api.get("/auth/me", headers={"Origin": WEB})
    assert error.status_code == 401 and error.headers["Access-Control-Allow-Origin"] == WEB
    for origin in ("https://evil.example", "http://127.0.0.1:8002.evil.example", "null", WEB + "/"):
        r = api.get("/health", headers={"Origin": origin})
        assert not any(h.lower().startswith("access-control-") for h in r.headers), origin
        assert "Origin" in r.headers["Vary"]
        pre = api.call("OPTIONS", "/auth/login", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
        assert not any(h.lower().startswith("access-control-") for h in pre.headers), origin
    assert "Access-Control-Allow-Origin" not in api.get("/health").headers  # no Origin at all


def test_no_origin_is_allowed_unless_configured(api, settings_env):
    settings_env(LIGHTBOX_APP_ORIGINS="")
    r = api.get("/health", headers={"Origin": WEB})
    assert "Access-Control-Allow-Origin" not in r.headers


# ---- authentication before validation (issue 8, 2.7) -------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/events"),
        ("PATCH", "/auth/me"),
        ("POST", "/photos/p_1/comments"),
        ("POST", "/conversations"),
        ("PUT", "/users/u_1/role"),
        ("POST", "/photos/uploads"),
    ],
)
def test_protected_routes_answer_401_before_looking_at_the_body(api, method, path):
    for raw in (b"{}", b"{not json", json.dumps({"x": "a" * (2 * 1024 * 1024)}).encode()):
        r = api.call(method, path, raw=raw)
        assert r.status_code == 401, (len(raw), r.body[:200])
        assert r.data["error"]["code"] == "unauthorized"
    r = api.call(method, path, raw=b"bio=x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 401


def test_a_long_path_parameter_without_a_token_is_401(api):
    assert api.post("/photos/" + "p" * 300 + "/comments", {"body": "x"}).status_code == 401


# ---- JSON only (issue 8, section 7) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "text/plain; charset=utf-8", None]
)
def test_a_body_that_is_not_json_is_415_and_changes_nothing(api, client, make_user, content_type):
    user = make_user("bea")
    headers = {"Authorization": f"Bearer {user['access']}"}
    if content_type:
        headers["Content-Type"] = content_type
    r = client.http.request("PATCH", "/auth/me", headers=headers, body=json.dumps({"bio": "changed"}))
    assert r.status_code == 415, r.body
    body = json.loads(r.body)
    assert set(body) == {"error"} and body["error"]["code"] == "unsupported_media_type" and body["error"]["message"]
    assert api.get("/auth/me", token=user["access"]).data.get("bio") in (None, "")


def test_json_with_a_charset_and_bodiless_requests_still_work(api, client, make_user):
    user = make_user("cid")
    r = api.patch(
        "/auth/me", {"bio": "hello"}, token=user["access"], headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert r.status_code == 200 and r.data["bio"] == "hello"
    r = client.http.request("POST", "/auth/logout-all", headers={"Authorization": f"Bearer {user['access']}"})
    assert r.status_code == 204


# ---- email addresses of the local stage (issue 8, section 7) -----------------------------------------------


@pytest.mark.parametrize("email", ["mia@lightbox.local", "someone@example.com", "qa@lightbox.test"])
def test_the_local_stage_accepts_the_addresses_it_seeds(api, email):
    r = api.post("/auth/password/forgot", {"email": email})
    assert r.status_code == 202, r.body
    r = api.post(
        "/auth/signup", {"email": email, "username": "u" + email.split("@")[0], "password": "correct horse battery"}
    )
    assert r.status_code == 201, r.body
    assert r.data["user"]["email"] == email


def test_special_use_domains_stay_refused_outside_the_local_stage(settings_env):
    from pydantic import TypeAdapter
    from pydantic import ValidationError as PydanticValidationError

    from chalicelib.api.schemas import Email

    settings_env(LIGHTBOX_STAGE="prod")
    with pytest.raises(PydanticValidationError):
        TypeAdapter(Email).validate_python("mia@lightbox.local")
    assert TypeAdapter(Email).validate_python("mia@Example.COM") == "mia@example.com"
    settings_env(LIGHTBOX_STAGE="test")
    for bad in ("mia@localhost", "mia@x.onion", "mia@.local", "nobody"):
        with pytest.raises(PydanticValidationError):
            TypeAdapter(Email).validate_python(bad)


# ---- the OpenAPI document says what the routes do ----------------------------------------------------------


def _op(api, path, method):
    return api.get("/openapi.json").data["paths"][path][method]


def test_toggle_documents_a_bodiless_204(api):
    toggle = _op(api, "/likes/toggle", "post")
    assert "content" not in toggle["responses"]["204"]
    assert "content" in toggle["responses"]["201"]


def test_idempotent_routes_document_the_header(api):
    for path in ("/photos/{photo_id}/comments", "/conversations/{conversation_id}/messages", "/photos/uploads"):
        op = _op(api, path, "post")
        (header,) = [p for p in op["parameters"] if p["in"] == "header"]
        assert header["name"] == "Idempotency-Key" and header["required"] is False
        assert header["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}
        assert {"400", "409", "415"} <= set(op["responses"])


def test_self_follow_block_and_unfriend_are_documented_400s(api, make_user):
    me = make_user("solo")
    for method, path in (
        ("post", "/users/{user_id}/follow"),
        ("post", "/users/{user_id}/block"),
        ("delete", "/friends/{user_id}"),
    ):
        assert "400" in _op(api, path, method)["responses"], path
        r = api.call(method.upper(), path.format(user_id=me["id"]), token=me["access"])
        assert r.status_code == 400, (path, r.body)
        assert r.data["error"]["code"] == "validation_error"
        assert "retry" not in r.data["error"]["message"].lower()
