"""Live photo stats over the WebSocket API, driven through the app's real handlers with API Gateway-shaped
events; what the management API would have delivered is recorded per connection."""

from __future__ import annotations

import time

import pytest

from tests.pipeline import jpeg, upload
from tests.realtime import connect, send


@pytest.fixture
def scene(api, make_user):
    owner, fan, outsider = make_user("pia"), make_user("finn"), make_user("ozzy")
    public = upload(api, owner["access"], jpeg(64, 48))
    private = upload(api, owner["access"], jpeg(64, 48))
    assert api.patch(f"/photos/{private}", {"visibility": "private"}, token=owner["access"]).status_code == 200
    return {"owner": owner, "fan": fan, "outsider": outsider, "public": public, "private": private}


def subscribed(app_module, token, photo_id, live):
    connection_id, response = connect(app_module, token)
    assert response["statusCode"] == 200
    send(app_module, connection_id, {"action": "subscribe", "photo_id": photo_id})
    assert live.frames[connection_id][-1]["type"] == "subscribed", live.frames[connection_id]
    return connection_id


def subscription_rows(photo_id):
    from chalicelib.models.engagement import PhotoSubscription

    return list(PhotoSubscription.query(photo_id, consistent_read=True))


def test_subscribe_reply_and_stored_row(app, api, scene, live):
    import app as app_module

    photo_id = scene["public"]
    api.post(f"/photos/{photo_id}/like", token=scene["owner"]["access"])
    connection_id = subscribed(app_module, scene["fan"]["access"], photo_id, live)
    assert live.frames[connection_id] == [
        {"type": "subscribed", "photo_id": photo_id, "like_count": 1, "comment_count": 0}
    ]
    [row] = subscription_rows(photo_id)
    assert row.connection_id == connection_id and row.user_id == scene["fan"]["id"]
    assert 2 * 3600 <= row.expires_at.timestamp() - time.time() <= 3 * 3600  # swept by TTL with the connection
    send(app_module, connection_id, {"action": "unsubscribe", "photo_id": photo_id})
    assert live.frames[connection_id][-1] == {"type": "unsubscribed", "photo_id": photo_id}
    assert subscription_rows(photo_id) == []
    api.post(f"/photos/{photo_id}/like", token=scene["fan"]["access"])
    assert len(live.frames[connection_id]) == 2  # nothing after unsubscribing


def test_only_readable_photos_can_be_subscribed(app, scene, live):
    import app as app_module

    connection_id, _ = connect(app_module, scene["fan"]["access"])
    for frame in (
        {"action": "subscribe", "photo_id": scene["private"]},
        {"action": "subscribe", "photo_id": "p_unknown"},
        {"action": "subscribe", "photo_id": "x" * 500},
    ):
        send(app_module, connection_id, frame)
        assert live.frames[connection_id][-1] == {
            "type": "error",
            "error": {"code": "not_found", "message": "No such photo."},
        }
    for frame in (
        {"action": "subscribe"},
        {"action": "subscribe", "photo_id": 7},
        {"action": "unsubscribe", "photo_id": ""},
    ):
        send(app_module, connection_id, frame)
        error = live.frames[connection_id][-1]
        assert error["type"] == "error" and error["error"]["code"] == "validation_error"
        assert "photo_id" in error["error"]["details"]
    assert subscription_rows(scene["private"]) == []
    # the owner may watch their private photo
    subscribed(app_module, scene["owner"]["access"], scene["private"], live)


def test_subscribers_get_stats_after_every_change_and_new_comments(app, api, scene, live):
    import app as app_module

    photo_id, fan, outsider = scene["public"], scene["fan"]["access"], scene["outsider"]["access"]
    watchers = [
        subscribed(app_module, scene["owner"]["access"], photo_id, live),
        subscribed(app_module, outsider, photo_id, live),
    ]
    other_photo = upload(api, scene["owner"]["access"], jpeg(64, 48))
    elsewhere = subscribed(app_module, fan, other_photo, live)
    api.post(f"/photos/{photo_id}/like", token=fan)
    api.post(f"/photos/{photo_id}/like", token=fan)  # no change: no frame
    api.delete(f"/photos/{photo_id}/like", token=fan)
    top = api.post(f"/photos/{photo_id}/comments", {"body": "wow"}, token=fan).data
    reply = api.post(f"/photos/{photo_id}/comments", {"body": "yes", "parent_id": top["id"]}, token=outsider).data
    api.delete(f"/photos/{photo_id}/comments/{top['id']}", token=fan)

    def stats(like_count, comment_count):
        return {"type": "photo.stats", "photo_id": photo_id, "like_count": like_count, "comment_count": comment_count}

    expected = [
        stats(1, 0),
        stats(0, 0),
        {"type": "comment", "photo_id": photo_id, "comment": top},
        stats(0, 1),
        {"type": "comment", "photo_id": photo_id, "comment": reply},
        stats(0, 2),
        stats(0, 0),
    ]
    for connection_id in watchers:
        frames = [f for f in live.frames[connection_id] if f["type"] in ("photo.stats", "comment")]
        assert frames == expected
    # a watcher of another photo hears nothing of this one (only their own notification of the reply)
    assert [f["type"] for f in live.frames[elsewhere]] == ["subscribed", "notification"]


def test_gone_connections_lose_their_subscriptions(app, api, scene, live):
    import app as app_module
    from chalicelib.models.realtime import connection_owner

    photo_id = scene["public"]
    stays = subscribed(app_module, scene["owner"]["access"], photo_id, live)
    leaves = subscribed(app_module, scene["outsider"]["access"], photo_id, live)
    live.gone.add(leaves)  # the client vanished without a disconnect event
    assert api.post(f"/photos/{photo_id}/like", token=scene["fan"]["access"]).status_code == 201
    assert {row.connection_id for row in subscription_rows(photo_id)} == {stays}
    assert connection_owner(leaves) is None
    assert live.of_type(stays, "photo.stats")[-1]["like_count"] == 1


def test_a_failed_push_never_fails_the_request(app, api, scene, live, monkeypatch):
    from botocore.exceptions import ClientError

    import app as app_module

    photo_id = scene["public"]
    connection_id = subscribed(app_module, scene["outsider"]["access"], photo_id, live)  # not notified

    def broken(**kwargs):
        raise ClientError({"Error": {"Code": "LimitExceededException", "Message": "slow down"}}, "PostToConnection")

    monkeypatch.setattr(live, "post_to_connection", broken)
    assert (
        api.post(f"/photos/{photo_id}/comments", {"body": "still saved"}, token=scene["fan"]["access"]).status_code
        == 201
    )
    assert [row.connection_id for row in subscription_rows(photo_id)] == [connection_id]  # not gone, kept

    from chalicelib.models import engagement as store

    def exploding(photo_id):
        raise RuntimeError("index unavailable")

    monkeypatch.setattr(store, "subscribers", exploding)
    assert api.post(f"/photos/{photo_id}/like", token=scene["fan"]["access"]).status_code == 201
    from chalicelib.models.photos import Photo

    photo = Photo.get(photo_id, consistent_read=True)
    assert (photo.like_count, photo.comment_count) == (1, 1)
