"""Event likes and comments: the photo engagement code over the event target (idempotent likes with an exact
``like_count``, comments with one level of replies, deletion rights, read permission, cleanup on deletion)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.api.test_events import create
from tests.api.test_tips import threaded_api  # noqa: F401  (fixture: one Chalice request per thread)
from tests.jobs import drain


@pytest.fixture
def scene(api, make_user):
    host, guest, fan, outsider = (make_user(n) for n in ("hostess", "guesto", "fanny", "outsid"))
    public = create(api, host["access"], "Open air", visibility="public")
    private = create(api, host["access"], "Closed door", visibility="private")
    api.post(f"/events/{private['id']}/members", {"username": "guesto", "role": "viewer"}, token=host["access"])
    return {"host": host, "guest": guest, "fan": fan, "outsider": outsider, "public": public, "private": private}


def event(api, event_id, token):
    return api.get(f"/events/{event_id}", token=token).data


def test_likes_are_idempotent_and_counted(api, scene):
    public, fan, host = scene["public"]["id"], scene["fan"], scene["host"]
    r = api.post(f"/events/{public}/like", token=fan["access"])
    assert r.status_code == 201 and r.data == {"event_id": public, "liked": True}
    assert api.post(f"/events/{public}/like", token=fan["access"]).status_code == 201
    assert api.post(f"/events/{public}/like", token=host["access"]).status_code == 201
    after = event(api, public, fan["access"])
    assert after["like_count"] == 2
    assert after["version"] == scene["public"]["version"]  # a like is not an edit
    assert api.delete(f"/events/{public}/like", token=fan["access"]).status_code == 204
    assert api.delete(f"/events/{public}/like", token=fan["access"]).status_code == 204
    assert event(api, public, fan["access"])["like_count"] == 1
    # a PATCH after likes keeps the count (the counter is not part of the edit)
    assert api.patch(f"/events/{public}", {"name": "Renamed"}, token=host["access"]).data["like_count"] == 1


@pytest.mark.usefixtures("threaded_api")
def test_concurrent_likes_count_exactly(api, make_user, scene):
    public = scene["public"]["id"]
    fans = [make_user(f"liker{i}") for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda f: api.post(f"/events/{public}/like", token=f["access"]).status_code, fans))
    assert codes == [201] * 8
    assert event(api, public, fans[0]["access"])["like_count"] == 8


def test_only_who_can_see_the_event_engages(api, scene):
    private, outsider, guest = scene["private"]["id"], scene["outsider"], scene["guest"]
    assert api.post(f"/events/{private}/like", token=outsider["access"]).status_code == 404
    assert api.post(f"/events/{private}/comments", {"body": "hi"}, token=outsider["access"]).status_code == 404
    assert api.get(f"/events/{private}/comments", token=outsider["access"]).status_code == 404
    assert api.get(f"/events/{private}/comments").status_code == 404
    assert api.post(f"/events/{private}/like", token=guest["access"]).status_code == 201
    assert api.post("/events/e_missing/like", token=guest["access"]).status_code == 404
    assert api.post(f"/events/{'x' * 70}/like", token=guest["access"]).status_code == 404
    # an invitee of the private event may see it, hence engage
    api.post(f"/events/{private}/invitations", {"usernames": ["outsid"]}, token=scene["host"]["access"])
    assert api.post(f"/events/{private}/comments", {"body": "May I?"}, token=outsider["access"]).status_code == 201


def test_comments_replies_and_deletion(api, scene):
    public, host, fan, guest = scene["public"]["id"], scene["host"], scene["fan"], scene["guest"]
    r = api.post(f"/events/{public}/comments", {"body": "See you there"}, token=fan["access"])
    assert r.status_code == 201, r.body
    top = r.data
    assert top["event_id"] == public and top["parent_id"] is None and top["author"]["username"] == "fanny"
    reply = api.post(f"/events/{public}/comments", {"body": "Me too", "parent_id": top["id"]}, token=guest["access"])
    assert reply.status_code == 201
    r = api.post(f"/events/{public}/comments", {"body": "deeper", "parent_id": reply.data["id"]}, token=fan["access"])
    assert r.status_code == 400  # one level of replies
    r = api.post(f"/events/{public}/comments", {"body": "x", "parent_id": "c_nope"}, token=fan["access"])
    assert r.status_code == 404
    for bad in ({"body": ""}, {"body": 5}, {}, {"body": "x" * 2001}, {"body": "ok", "extra": 1}):
        assert api.post(f"/events/{public}/comments", bad, token=fan["access"]).status_code == 400, bad

    listing = api.get(f"/events/{public}/comments").data["items"]
    assert [(c["id"], c["reply_count"]) for c in listing] == [(top["id"], 1)]
    replies = api.get(f"/comments/{top['id']}/children").data["items"]
    assert [c["body"] for c in replies] == ["Me too"]
    assert event(api, public, fan["access"])["comment_count"] == 2

    # the reply's author deletes it; someone else may not; the owner deletes the thread
    assert api.delete(f"/events/{public}/comments/{reply.data['id']}", token=fan["access"]).status_code == 403
    assert api.delete(f"/events/{public}/comments/{reply.data['id']}", token=guest["access"]).status_code == 204
    assert api.get(f"/events/{public}/comments").data["items"][0]["reply_count"] == 0
    api.post(f"/events/{public}/comments", {"body": "again", "parent_id": top["id"]}, token=guest["access"])
    assert api.delete(f"/events/{public}/comments/{top['id']}", token=host["access"]).status_code == 204
    assert api.get(f"/events/{public}/comments").data["items"] == []
    assert event(api, public, fan["access"])["comment_count"] == 0
    assert api.get(f"/comments/{top['id']}/children").status_code == 404
    # a photo route does not reach event comments
    assert api.delete(f"/photos/{public}/comments/{top['id']}", token=host["access"]).status_code == 404


def test_deleting_the_event_removes_its_likes_and_comments(api, scene):
    from chalicelib.models.engagement import EventComment, EventLike

    public, host, fan = scene["public"]["id"], scene["host"], scene["fan"]
    api.post(f"/events/{public}/like", token=fan["access"])
    api.post(f"/events/{public}/comments", {"body": "bye"}, token=fan["access"])
    assert api.delete(f"/events/{public}", token=host["access"]).status_code == 204
    drain()
    assert list(EventLike.query(public)) == [] and list(EventComment.query(public)) == []
    assert api.delete(f"/events/{public}/like", token=fan["access"]).status_code == 404
