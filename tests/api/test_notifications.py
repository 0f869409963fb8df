"""Notifications: the inbox, read state, unread count, preferences, email, mobile push and live frames."""

from __future__ import annotations

import json

import pytest

from tests.conftest import sent_emails
from tests.jobs import drain
from tests.pipeline import jpeg, upload
from tests.realtime import connect


@pytest.fixture
def tagged_twice(api, make_user):
    owner, friend = make_user("noa"), make_user("nick")
    photos = [upload(api, owner["access"], jpeg()) for _ in range(2)]
    for photo_id in photos:
        assert api.post(f"/photos/{photo_id}/tags", {"username": "nick"}, token=owner["access"]).status_code == 201
    return owner, friend, photos


def test_inbox_read_state_and_unread_count(api, tagged_twice):
    owner, friend, photos = tagged_twice
    inbox = api.get("/notifications", token=friend["access"]).data
    assert [n["type"] for n in inbox["items"]] == ["tagged", "tagged"]
    assert [n["target"]["id"] for n in inbox["items"]] == photos[::-1]  # newest first
    first = inbox["items"][0]
    assert first["actor"]["username"] == "noa" and first["read"] is False and first["created_at"].endswith("Z")
    assert api.get("/auth/me", token=friend["access"]).data["unread_notifications"] == 2

    r = api.patch(f"/notifications/{first['id']}", {"read": True}, token=friend["access"])
    assert r.status_code == 200 and r.data["read"] is True
    unread = api.get("/notifications?unread=true", token=friend["access"]).data["items"]
    assert [n["id"] for n in unread] == [inbox["items"][1]["id"]]
    assert api.get("/auth/me", token=friend["access"]).data["unread_notifications"] == 1
    assert api.patch(f"/notifications/{first['id']}", {"read": "yes"}, token=friend["access"]).status_code == 400
    assert api.patch(f"/notifications/{first['id']}", {"read": True}, token=owner["access"]).status_code == 404
    assert api.post("/notifications/read-all", token=friend["access"]).status_code == 204
    assert api.get("/notifications?unread=true", token=friend["access"]).data["items"] == []
    assert api.get("/auth/me", token=friend["access"]).data["unread_notifications"] == 0
    page = api.get("/notifications?limit=1", token=friend["access"]).data
    rest = api.get(f"/notifications?limit=1&cursor={page['next_cursor']}", token=friend["access"]).data
    assert [n["id"] for n in page["items"] + rest["items"]] == [n["id"] for n in inbox["items"]]


def test_never_notified_of_your_own_actions(api, make_user):
    owner = make_user("selfie")
    photo_id = upload(api, owner["access"], jpeg())
    api.post(f"/photos/{photo_id}/tags", {"username": "selfie"}, token=owner["access"])
    assert api.get("/notifications", token=owner["access"]).data["items"] == []


def test_every_new_notification_is_pushed_to_every_connection(api, make_user, live):
    import app as app_module

    owner, friend = make_user("pusha"), make_user("pushb")
    phone, _ = connect(app_module, friend["access"])
    laptop, _ = connect(app_module, friend["access"])
    stranger, _ = connect(app_module, owner["access"])
    photo_id = upload(api, owner["access"], jpeg())
    api.post(f"/photos/{photo_id}/tags", {"username": "pushb"}, token=owner["access"])
    inbox = api.get("/notifications", token=friend["access"]).data["items"]
    for connection in (phone, laptop):
        frames = live.of_type(connection, "notification")
        assert [f["notification"] for f in frames] == inbox
    assert live.of_type(stranger, "notification") == []


def test_gone_connection_is_removed_and_not_retried(api, make_user, live):
    import app as app_module
    from chalicelib.models.realtime import connections_of_user

    owner, friend = make_user("gonea"), make_user("goneb")
    dead, _ = connect(app_module, friend["access"])
    alive, _ = connect(app_module, friend["access"])
    live.gone.add(dead)
    photo_id = upload(api, owner["access"], jpeg())
    api.post(f"/photos/{photo_id}/tags", {"username": "goneb"}, token=owner["access"])
    assert connections_of_user(friend["id"]) == [alive]
    assert len(live.of_type(alive, "notification")) == 1


def test_email_only_for_opted_in_types(api, make_user):
    owner, friend = make_user("maila"), make_user("mailb")
    prefs = api.get("/notifications/preferences", token=friend["access"]).data
    assert prefs["email"]["tagged"] is False and prefs["push"]["message"] is True
    photo_id = upload(api, owner["access"], jpeg())
    before = len(sent_emails())
    api.post(f"/photos/{photo_id}/tags", {"username": "mailb"}, token=owner["access"])
    assert len(sent_emails()) == before
    r = api.put("/notifications/preferences", {"email": {"tagged": True}}, token=friend["access"])
    assert r.status_code == 200 and r.data["email"]["tagged"] is True and r.data["push"]["message"] is True
    other = upload(api, owner["access"], jpeg())
    api.post(f"/photos/{other}/tags", {"username": "mailb"}, token=owner["access"])
    mail = sent_emails()[-1]
    assert mail["to"] == [friend["email"]] and "tagged you" in mail["subject"]
    assert api.put("/notifications/preferences", {"email": {"bogus": True}}, token=friend["access"]).status_code == 400


def _endpoint_messages(arn: str) -> list[dict]:
    from moto.backends import get_backend

    backend = get_backend("sns")["123456789012"]["us-east-1"]
    return [json.loads(m) for m in backend.platform_endpoints[arn].messages.values()]


def test_devices_and_mobile_push(api, make_user):
    owner, friend = make_user("pusher"), make_user("phoneuser")
    r = api.post("/devices", {"platform": "apns", "token": "a1b2c3d4e5f6a7b8"}, token=friend["access"])
    assert r.status_code == 201
    device_id = r.data["id"]
    assert (
        api.post("/devices", {"platform": "apns", "token": "a1b2c3d4e5f6a7b8"}, token=friend["access"]).data["id"]
        == device_id
    )  # same phone, same device
    assert api.post("/devices", {"platform": "nokia", "token": "a1b2c3d4e5"}, token=friend["access"]).status_code == 400
    assert [d["id"] for d in api.get("/devices", token=friend["access"]).data["items"]] == [device_id]
    from chalicelib.models.devices import Device

    arn = Device.get(friend["id"], device_id).endpoint_arn
    photo_id = upload(api, owner["access"], jpeg())
    api.post(f"/photos/{photo_id}/tags", {"username": "phoneuser"}, token=owner["access"])  # push on by default
    pushed = _endpoint_messages(arn)
    assert len(pushed) == 1 and "tagged you" in pushed[0]["default"]
    assert json.loads(pushed[0]["APNS"])["notification"]["type"] == "tagged"

    api.put("/notifications/preferences", {"push": {"tagged": False}}, token=friend["access"])
    other = upload(api, owner["access"], jpeg())
    api.post(f"/photos/{other}/tags", {"username": "phoneuser"}, token=owner["access"])
    assert len(_endpoint_messages(arn)) == 1

    assert api.delete(f"/devices/{device_id}", token=owner["access"]).status_code == 404
    assert api.delete(f"/devices/{device_id}", token=friend["access"]).status_code == 204
    assert api.get("/devices", token=friend["access"]).data["items"] == []


def test_disabled_push_endpoint_removes_the_device(api, make_user):
    owner, friend = make_user("dis1"), make_user("dis2")
    device_id = api.post("/devices", {"platform": "fcm", "token": "fcmtoken-123456"}, token=friend["access"]).data["id"]
    from chalicelib import aws
    from chalicelib.models.devices import Device

    arn = Device.get(friend["id"], device_id).endpoint_arn
    aws.client("sns").set_endpoint_attributes(EndpointArn=arn, Attributes={"Enabled": "false"})
    photo_id = upload(api, owner["access"], jpeg())
    assert api.post(f"/photos/{photo_id}/tags", {"username": "dis2"}, token=owner["access"]).status_code == 201
    assert api.get("/devices", token=friend["access"]).data["items"] == []


def test_a_failing_channel_never_fails_the_action(api, make_user, monkeypatch):
    from botocore.exceptions import ClientError

    from chalicelib.services import mailer

    owner, friend = make_user("flaky1"), make_user("flaky2")
    api.put("/notifications/preferences", {"email": {"tagged": True}}, token=friend["access"])

    def throttled(*args, **kwargs):
        raise ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "SendEmail")

    monkeypatch.setattr(mailer, "send", throttled)
    photo_id = upload(api, owner["access"], jpeg())
    assert api.post(f"/photos/{photo_id}/tags", {"username": "flaky2"}, token=owner["access"]).status_code == 201
    assert [n["type"] for n in api.get("/notifications", token=friend["access"]).data["items"]] == ["tagged"]


def test_account_deletion_removes_devices_inbox_and_connections(api, make_user, live):
    import app as app_module
    from chalicelib.models.devices import Device
    from chalicelib.models.notifications import Notification
    from chalicelib.models.realtime import connections_of_user
    from tests.conftest import PASSWORD

    owner, leaver = make_user("staying"), make_user("leaving")
    api.post("/devices", {"platform": "apns", "token": "leavingtoken123"}, token=leaver["access"])
    connection, _ = connect(app_module, leaver["access"])
    photo_id = upload(api, owner["access"], jpeg())
    api.post(f"/photos/{photo_id}/tags", {"username": "leaving"}, token=owner["access"])
    assert list(Notification.query(leaver["id"]))
    assert api.delete("/users/me", {"password": PASSWORD}, token=leaver["access"]).status_code == 204
    assert connections_of_user(leaver["id"]) == [] and live.closed == [connection]  # at once
    drain()
    assert list(Device.query(leaver["id"])) == []
    assert list(Notification.query(leaver["id"])) == []
    assert connections_of_user(leaver["id"]) == [] and live.closed == [connection]


def test_an_open_socket_stops_working_when_its_login_ends(api, make_user, live):
    import app as app_module
    from tests.realtime import send

    user = make_user("sockets")
    connection, _ = connect(app_module, user["access"])
    send(app_module, connection, {"action": "ping"})
    assert live.frames[connection][-1] == {"type": "pong"}
    assert api.post("/auth/logout", {"refresh_token": user["refresh"]}).status_code == 204
    send(app_module, connection, {"action": "ping"})
    assert live.frames[connection][-1]["error"]["code"] == "session_revoked"
    assert live.closed == [connection]


def test_a_phone_that_changes_accounts_pushes_only_to_the_new_one(api, make_user):
    first, second = make_user("phone1"), make_user("phone2")
    token = {"platform": "apns", "token": "sharedphonetoken1"}
    assert api.post("/devices", token, token=first["access"]).status_code == 201
    r = api.post("/devices", token, token=second["access"])
    assert r.status_code == 201
    assert api.get("/devices", token=first["access"]).data["items"] == []
    assert [d["id"] for d in api.get("/devices", token=second["access"]).data["items"]] == [r.data["id"]]
