"""An ended login stops its WebSocket at once: revocation closes the sockets it opened, delivery never posts to
a connection of a revoked login (however the socket survived), and pruning old revocations never re-enables
one, for as long as a connection can live."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import PASSWORD, last_code
from tests.realtime import connect, send

NEW_PASSWORD = "a brand new secret"


@pytest.fixture
def clock(monkeypatch):
    """Move the application's clock (``models.base.now`` and ``epoch``) forward without sleeping."""
    from chalicelib.models import base

    offset = {"delta": timedelta()}
    real_now = base.now
    monkeypatch.setattr(base, "now", lambda: real_now() + offset["delta"])

    def advance(**kwargs):
        offset["delta"] += timedelta(**kwargs)

    return advance


@pytest.fixture
def scene(api, make_user):
    """A target user with two logins and a sender with a conversation open with the target."""
    target, sender = make_user("target"), make_user("sender")
    second = api.post("/auth/login", {"login": "target", "password": PASSWORD}).data
    conversation = api.post("/conversations", {"username": "target"}, token=sender["access"]).data
    return target, second, sender, conversation


def _revoke(api, kind: str, target: dict, second: dict) -> str:
    """End the first login of ``target`` by ``kind``; return an access token of a login that is still valid."""
    if kind == "logout":
        assert api.post("/auth/logout", {"refresh_token": target["refresh"]}).status_code == 204
        return second["access_token"]
    if kind == "password_change":
        body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
        assert api.post("/auth/password/change", body, token=second["access_token"]).status_code == 204
        return second["access_token"]
    if kind == "logout_all":
        assert api.post("/auth/logout-all", token=target["access"]).status_code == 204
        password = PASSWORD
    else:  # password_reset
        assert api.post("/auth/password/forgot", {"email": target["email"]}).status_code == 202
        body = {"email": target["email"], "code": last_code(target["email"]), "new_password": NEW_PASSWORD}
        assert api.post("/auth/password/reset", body).status_code == 204
        password = NEW_PASSWORD
    fresh = api.post("/auth/login", {"login": "target", "password": password})
    assert fresh.status_code == 200
    return fresh.data["access_token"]


def _push_notification_and_dm(api, sender: dict, target: dict, conversation: dict) -> None:
    assert api.post(f"/users/{target['id']}/follow", token=sender["access"]).status_code == 201
    r = api.post(f"/conversations/{conversation['id']}/messages", {"body": "psst"}, token=sender["access"])
    assert r.status_code == 201, r.body


@pytest.mark.parametrize("kind", ["logout", "logout_all", "password_change", "password_reset"])
def test_an_ended_login_gets_no_notifications_or_messages_while_a_valid_one_does(api, scene, live, kind):
    import app as app_module

    target, second, sender, conversation = scene
    revoked_socket, _ = connect(app_module, target["access"])
    second_socket, _ = connect(app_module, second["access_token"])
    valid_access = _revoke(api, kind, target, second)
    valid_socket = second_socket if valid_access == second["access_token"] else connect(app_module, valid_access)[0]

    _push_notification_and_dm(api, sender, target, conversation)

    assert live.of_type(revoked_socket, "notification") == [] and live.of_type(revoked_socket, "message") == []
    assert revoked_socket in live.closed
    assert live.frames[revoked_socket][-1]["error"]["code"] == "session_revoked"  # told why, then closed
    assert [f["notification"]["type"] for f in live.of_type(valid_socket, "notification")] == ["followed"]
    assert [f["message"]["body"] for f in live.of_type(valid_socket, "message")] == ["psst"]
    if kind == "logout_all" or kind == "password_reset":
        assert second_socket in live.closed and live.of_type(second_socket, "notification") == []


def test_a_socket_that_raced_its_revocation_is_never_fed(api, scene, live):
    """A connection registered after the revocation listed the user's sockets (connect authenticated just
    before the logout): delivery itself skips it and closes it."""
    from chalicelib.models.realtime import add_connection, connections_of_user

    target, second, sender, conversation = scene
    family = _family(target["access"])
    assert api.post("/auth/logout", {"refresh_token": target["refresh"]}).status_code == 204
    add_connection("raced", target["id"], family)
    import app as app_module

    valid_socket, _ = connect(app_module, second["access_token"])

    _push_notification_and_dm(api, sender, target, conversation)

    assert live.frames["raced"] == [{"type": "error", "error": live.frames["raced"][0]["error"]}]
    assert live.frames["raced"][0]["error"]["code"] == "session_revoked"
    assert "raced" in live.closed and "raced" not in connections_of_user(target["id"])
    assert len(live.of_type(valid_socket, "notification")) == 1 and len(live.of_type(valid_socket, "message")) == 1


def test_a_revoked_socket_cannot_send_or_subscribe_after_revocations_are_pruned(api, scene, live, clock):
    import app as app_module
    from chalicelib.models.engagement import PhotoSubscription
    from chalicelib.models.realtime import add_connection

    target, second, sender, conversation = scene
    third = api.post("/auth/login", {"login": "target", "password": PASSWORD}).data
    closed_socket, _ = connect(app_module, target["access"])
    family = _family(target["access"])
    assert api.post("/auth/logout", {"refresh_token": target["refresh"]}).status_code == 204
    for raced in ("raced-ping", "raced-subscribe"):  # sockets that slipped past the closing (see above)
        add_connection(raced, target["id"], family)

    clock(hours=1)  # long past the access tokens' 15 minutes, within a connection's 2 hours
    assert api.post("/auth/logout", {"refresh_token": second["refresh_token"]}).status_code == 204  # prunes

    send(app_module, closed_socket, {"action": "ping"})
    assert {"type": "pong"} not in live.frames[closed_socket]
    send(app_module, "raced-ping", {"action": "ping"})
    assert live.frames["raced-ping"] == [{"type": "error", "error": live.frames["raced-ping"][0]["error"]}]
    assert live.frames["raced-ping"][0]["error"]["code"] == "session_revoked"
    send(app_module, "raced-subscribe", {"action": "subscribe", "photo_id": "p_whatever"})
    assert live.frames["raced-subscribe"][0]["error"]["code"] == "session_revoked"
    assert list(PhotoSubscription.scan()) == []  # test-only check of the stored state

    # after the gateway's 2-hour limit a connection is dead whatever the revocation list says
    add_connection("old", target["id"], family)
    clock(hours=2)
    assert api.post("/auth/logout", {"refresh_token": third["refresh_token"]}).status_code == 204
    send(app_module, "old", {"action": "ping"})
    assert live.frames["old"][0]["error"]["code"] == "session_revoked"


def _family(access_token: str) -> str:
    import jwt

    return jwt.decode(access_token, options={"verify_signature": False})["fam"]
