"""Event likes and comments: the photo engagement code over the event target (idempotent likes with an exact
``like_count``, comments with one level of replies, deletion rights, read permission, cleanup on deletion, and the
owner's and parent author's notifications)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.api.test_engagement import notifications_of
from tests.api.test_events import create
from tests.api.test_tips import threaded_api  # noqa: F401  (fixture: one Chalice request per thread)
from tests.conftest import sent_emails
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


# ---- notifications -----------------------------------------------------------------------------------------


def targets(user_id, type_) -> list[tuple[str | None, dict]]:
    return sorted(((n.actor_id, n.target.as_dict()) for n in notifications_of(user_id, type_)), key=str)


def test_a_like_notifies_the_owner_once_per_liker(api, scene):
    public, host, fan, guest = scene["public"]["id"], scene["host"], scene["fan"], scene["guest"]
    for _ in range(3):  # liking again, or after unliking, notifies nobody again
        assert api.post(f"/events/{public}/like", token=fan["access"]).status_code == 201
        assert api.delete(f"/events/{public}/like", token=fan["access"]).status_code == 204
    api.post(f"/events/{public}/like", token=fan["access"])
    api.post(f"/events/{public}/like", token=guest["access"])
    api.post(f"/events/{public}/like", token=host["access"])  # the owner's own like notifies nobody
    assert targets(host["id"], "liked") == sorted(
        [(fan["id"], {"kind": "event", "id": public}), (guest["id"], {"kind": "event", "id": public})], key=str
    )
    assert notifications_of(fan["id"]) == [] and notifications_of(guest["id"]) == []
    assert event(api, public, fan["access"])["like_count"] == 3
    # the inbox shows it with the event as its target
    items = api.get("/notifications", token=host["access"]).data["items"]
    assert {(n["type"], n["actor"]["username"], n["target"]["kind"], n["target"]["id"]) for n in items} == {
        ("liked", "fanny", "event", public),
        ("liked", "guesto", "event", public),
    }


def test_comments_and_replies_notify_the_owner_and_the_parent_author(api, scene):
    public, host, fan, guest = scene["public"]["id"], scene["host"], scene["fan"], scene["guest"]
    top = api.post(f"/events/{public}/comments", {"body": "See you there"}, token=fan["access"]).data
    reply = api.post(f"/events/{public}/comments", {"body": "Me too", "parent_id": top["id"]}, token=guest["access"])
    reply = reply.data
    about_top = {"kind": "comment", "id": top["id"], "event_id": public}
    about_reply = {"kind": "comment", "id": reply["id"], "event_id": public}
    assert targets(host["id"], "commented") == sorted([(fan["id"], about_top), (guest["id"], about_reply)], key=str)
    assert targets(fan["id"], "replied") == [(guest["id"], {**about_reply, "parent_id": top["id"]})]
    assert notifications_of(guest["id"]) == []
    # the owner replying notifies the commenter only; the owner's own top-level comment notifies nobody
    own = api.post(f"/events/{public}/comments", {"body": "Thanks!", "parent_id": top["id"]}, token=host["access"])
    api.post(f"/events/{public}/comments", {"body": "Doors at 8"}, token=host["access"])
    assert len(notifications_of(host["id"], "commented")) == 2
    about_own = {"kind": "comment", "id": own.data["id"], "event_id": public, "parent_id": top["id"]}
    assert (host["id"], about_own) in targets(fan["id"], "replied")
    assert len(notifications_of(fan["id"], "replied")) == 2
    # replying to your own comment on someone's event notifies the owner only
    api.post(f"/events/{public}/comments", {"body": "PS", "parent_id": top["id"]}, token=fan["access"])
    assert len(notifications_of(fan["id"], "replied")) == 2 and len(notifications_of(host["id"], "commented")) == 3
    # the inbox names the event, not a photo
    items = api.get("/notifications", token=fan["access"]).data["items"]
    assert {n["target"]["event_id"] for n in items} == {public} and all("photo_id" not in n["target"] for n in items)


def test_event_notifications_say_event_by_email(api, scene):
    public, host, fan = scene["public"]["id"], scene["host"], scene["fan"]
    api.put("/notifications/preferences", {"email": {"liked": True, "commented": True}}, token=host["access"])
    before = len(sent_emails())
    api.post(f"/events/{public}/like", token=fan["access"])
    api.post(f"/events/{public}/comments", {"body": "hi"}, token=fan["access"])
    subjects = [m["subject"] for m in sent_emails()[before:] if m["to"] == [host["email"]]]
    assert subjects == ["Fanny liked your event", "Fanny commented on your event"]


def test_blocked_users_neither_like_nor_comment_nor_notify(api, scene):
    from chalicelib.services import blocks

    public, host, fan, guest = scene["public"]["id"], scene["host"], scene["fan"], scene["guest"]
    top = api.post(f"/events/{public}/comments", {"body": "first"}, token=guest["access"]).data
    blocks.block(host["id"], fan["id"])
    r = api.post(f"/events/{public}/like", token=fan["access"])
    assert r.status_code == 403 and r.data["error"]["code"] == "blocked"
    r = api.post(f"/events/{public}/comments", {"body": "let me in"}, token=fan["access"])
    assert r.status_code == 403 and r.data["error"]["code"] == "blocked"
    blocks.unblock(host["id"], fan["id"])
    blocks.block(guest["id"], fan["id"])  # replying to someone who blocked you is refused too
    r = api.post(f"/events/{public}/comments", {"body": "psst", "parent_id": top["id"]}, token=fan["access"])
    assert r.status_code == 403 and r.data["error"]["code"] == "blocked"
    assert notifications_of(guest["id"]) == []
    assert [n.actor_id for n in notifications_of(host["id"])] == [guest["id"]]  # the guest's comment only
    assert event(api, public, host["access"])["like_count"] == 0
    assert event(api, public, host["access"])["comment_count"] == 1
