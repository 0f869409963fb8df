"""Ending every login is one bounded write (the user's session generation), whatever the number of logins; a
login racing it is ended too; photo watchers of ended logins get nothing, and big audiences go through jobs."""

from __future__ import annotations

import os

import pytest

from tests.conftest import PASSWORD
from tests.jobs import drain
from tests.pipeline import jpeg, upload
from tests.realtime import connect, send

NEW_PASSWORD = "a brand new secret"


@pytest.fixture
def inline_bound(monkeypatch):
    from chalicelib.config import get_settings

    monkeypatch.setenv("LIGHTBOX_FANOUT_INLINE_MAX", "2")
    get_settings.cache_clear()
    yield 2
    os.environ.pop("LIGHTBOX_FANOUT_INLINE_MAX", None)
    get_settings.cache_clear()


def _refused(api, access: str, refresh: str) -> None:
    r = api.get("/auth/me", token=access)
    assert r.status_code == 401 and r.data["error"]["code"] == "session_revoked", r.body
    r = api.post("/auth/token/refresh", {"refresh_token": refresh})
    assert r.status_code == 401, r.body


def test_password_change_with_400_logins_is_204_and_ends_every_old_login(api, make_user, live):
    import app as app_module
    from chalicelib.models.users import User
    from chalicelib.services import accounts

    target = make_user("many")
    user = User.get(target["id"], consistent_read=True)
    pairs = [accounts._start_session(user, "203.0.113.9", "thief") for _ in range(400)]
    sockets = [connect(app_module, p.access_token)[0] for p in (pairs[0], pairs[-1])]
    sender = make_user("sender")
    conversation = api.post("/conversations", {"username": "many"}, token=sender["access"]).data

    body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert api.post("/auth/password/change", body, token=target["access"]).status_code == 204

    for pair in (pairs[0], pairs[199], pairs[-1]):
        _refused(api, pair.access_token, pair.refresh_token)
    assert api.get("/auth/me", token=target["access"]).status_code == 200  # the login that changed it stays
    r = api.post(f"/conversations/{conversation['id']}/messages", {"body": "psst"}, token=sender["access"])
    assert r.status_code == 201
    for socket in sockets:
        assert live.of_type(socket, "message") == []
        send(app_module, socket, {"action": "ping"})
        assert {"type": "pong"} not in live.frames[socket]
    fresh = api.post("/auth/login", {"login": "many", "password": NEW_PASSWORD})
    assert fresh.status_code == 200 and api.get("/auth/me", token=fresh.data["access_token"]).status_code == 200


def test_a_login_racing_logout_all_is_refused(api, make_user, monkeypatch):
    """The login read the user before the logout-all committed and wrote its session after: ended too."""
    from chalicelib.models.users import Session, User
    from chalicelib.services import accounts

    target = make_user("racer")
    real_save = Session.save
    fired = []

    def save_after_logout_all(self, *args, **kwargs):
        if not fired:
            fired.append(True)
            accounts.revoke_all(User.get(target["id"], consistent_read=True))
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Session, "save", save_after_logout_all)
    raced = api.post("/auth/login", {"login": "racer", "password": PASSWORD})
    assert raced.status_code == 200 and fired
    _refused(api, raced.data["access_token"], raced.data["refresh_token"])
    _refused(api, target["access"], target["refresh"])
    fresh = api.post("/auth/login", {"login": "racer", "password": PASSWORD})
    assert api.get("/auth/me", token=fresh.data["access_token"]).status_code == 200


def _subscribe(app_module, token: str, photo_id: str, live) -> str:
    connection_id, _ = connect(app_module, token)
    send(app_module, connection_id, {"action": "subscribe", "photo_id": photo_id})
    assert live.frames[connection_id][-1]["type"] == "subscribed", live.frames[connection_id]
    return connection_id


def test_a_revoked_socket_watching_a_photo_gets_no_stats_or_comments(app, api, make_user, live):
    import app as app_module
    from chalicelib.models import engagement
    from chalicelib.models.realtime import connection_by_id

    owner, fan = make_user("pia"), make_user("finn")
    photo_id = upload(api, owner["access"], jpeg(64, 48))
    second = api.post("/auth/login", {"login": "finn", "password": PASSWORD}).data
    revoked = _subscribe(app_module, fan["access"], photo_id, live)
    valid = _subscribe(app_module, second["access_token"], photo_id, live)
    row = connection_by_id(revoked)
    assert api.post("/auth/logout", {"refresh_token": fan["refresh"]}).status_code == 204
    # a socket that raced the closing: its connection and subscription rows survived
    from chalicelib.models.realtime import add_connection

    add_connection("raced", fan["id"], row.family_id, row.session_gen)
    engagement.subscribe(photo_id, "raced", fan["id"], row.family_id, row.session_gen)

    api.post(f"/photos/{photo_id}/like", token=owner["access"])
    api.post(f"/photos/{photo_id}/comments", {"body": "nice"}, token=owner["access"])

    for socket in (revoked, "raced"):
        assert live.of_type(socket, "photo.stats") == [] and live.of_type(socket, "comment") == []
    assert len(live.of_type(valid, "photo.stats")) == 2 and len(live.of_type(valid, "comment")) == 1
    assert "raced" not in engagement.subscribers(photo_id)


def test_watchers_beyond_the_inline_bound_get_the_frames_through_jobs(app, api, make_user, live, inline_bound):
    import app as app_module

    owner, fan = make_user("pia"), make_user("finn")
    photo_id = upload(api, owner["access"], jpeg(64, 48))
    drain()
    sockets = [_subscribe(app_module, fan["access"], photo_id, live) for _ in range(5)]
    doomed = api.post("/auth/login", {"login": "finn", "password": PASSWORD}).data
    late = _subscribe(app_module, doomed["access_token"], photo_id, live)

    assert api.post(f"/photos/{photo_id}/like", token=owner["access"]).status_code in (200, 201, 204)
    watchers = [*sockets, late]
    assert sum(1 for s in watchers if live.of_type(s, "photo.stats")) == inline_bound
    not_yet = [s for s in watchers if not live.of_type(s, "photo.stats")]
    # the deferred delivery checks the logins again: end one before the job runs
    from chalicelib.models.realtime import connection_by_id

    row = connection_by_id(late)
    assert api.post("/auth/logout", {"refresh_token": doomed["refresh_token"]}).status_code == 204
    from chalicelib.models.realtime import add_connection

    add_connection(late, fan["id"], row.family_id, row.session_gen)  # as if it had raced the closing
    drain()
    for socket in not_yet:
        expected = [] if socket == late else [1]
        assert [f["like_count"] for f in live.of_type(socket, "photo.stats")] == expected, socket
