"""Likes, comments and bookmarks over HTTP: statuses, bodies, stored counters, notifications, permissions, and
counts that stay exact when many users act at once."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.jobs import drain
from tests.pipeline import jpeg, upload

# ---- helpers -----------------------------------------------------------------------------------------------


@pytest.fixture
def scene(api, make_user):
    """An owner with a public and a private photo, and two other users."""
    owner, fan, other = make_user("olga"), make_user("fred"), make_user("gus")
    public = upload(api, owner["access"], jpeg(64, 48))
    private = upload(api, owner["access"], jpeg(64, 48))
    assert api.patch(f"/photos/{private}", {"visibility": "private"}, token=owner["access"]).status_code == 200
    return {"owner": owner, "fan": fan, "other": other, "public": public, "private": private}


def stored_photo(photo_id):
    from chalicelib.models.photos import Photo

    return Photo.get(photo_id, consistent_read=True)


def like_rows(photo_id) -> list[str]:
    from chalicelib.models.engagement import Like

    return [row.user_id for row in Like.query(photo_id, consistent_read=True)]


def notifications_of(user_id, type_=None) -> list:
    from chalicelib.models.notifications import Notification

    rows = list(Notification.query(user_id, consistent_read=True))
    return [n for n in rows if type_ is None or n.type == type_]


def principal(user_id: str, role: str = "member"):
    from chalicelib.services.tokens import Principal

    return Principal(user_id=user_id, role=role, family_id="", user=None)


# ---- likes -------------------------------------------------------------------------------------------------


def test_like_is_idempotent_and_counted_once(api, scene):
    fan, photo_id = scene["fan"]["access"], scene["public"]
    for _ in range(2):
        r = api.post(f"/photos/{photo_id}/like", token=fan)
        assert r.status_code == 201 and r.data == {"photo_id": photo_id, "liked": True}
    assert stored_photo(photo_id).like_count == 1 and like_rows(photo_id) == [scene["fan"]["id"]]
    assert api.get(f"/photos/{photo_id}").data["like_count"] == 1
    for _ in range(2):
        r = api.delete(f"/photos/{photo_id}/like", token=fan)
        assert r.status_code == 204 and not r.body
    assert stored_photo(photo_id).like_count == 0 and like_rows(photo_id) == []


def test_like_notifies_the_owner_once_however_often_liked(api, scene):
    fan, photo_id, owner = scene["fan"], scene["public"], scene["owner"]
    for _ in range(3):
        api.post(f"/photos/{photo_id}/like", token=fan["access"])
        api.delete(f"/photos/{photo_id}/like", token=fan["access"])
    api.post(f"/photos/{photo_id}/like", token=fan["access"])
    liked = notifications_of(owner["id"], "liked")
    assert len(liked) == 1
    assert liked[0].actor_id == fan["id"] and liked[0].target.as_dict() == {"kind": "photo", "id": photo_id}
    # the owner liking their own photo counts, but notifies nobody
    assert api.post(f"/photos/{photo_id}/like", token=owner["access"]).status_code == 201
    assert len(notifications_of(owner["id"], "liked")) == 1
    assert stored_photo(photo_id).like_count == 2


def test_toggle(api, scene):
    fan, photo_id = scene["fan"]["access"], scene["public"]
    r = api.post("/likes/toggle", {"photo_id": photo_id}, token=fan)
    assert r.status_code == 201 and r.data["liked"] is True
    assert stored_photo(photo_id).like_count == 1
    r = api.post("/likes/toggle", {"photo_id": photo_id}, token=fan)
    assert r.status_code == 204 and not r.body
    assert stored_photo(photo_id).like_count == 0 and like_rows(photo_id) == []
    assert api.post("/likes/toggle", {"photo_id": photo_id}, token=fan).status_code == 201
    assert api.post("/likes/toggle", {}, token=fan).status_code == 400
    assert api.post("/likes/toggle", {"photo_id": 5}, token=fan).status_code == 400
    assert api.post("/likes/toggle", {"photo_id": "p_nope"}, token=fan).status_code == 404


def test_nobody_likes_what_they_cannot_see(api, scene):
    fan, private = scene["fan"]["access"], scene["private"]
    assert api.post(f"/photos/{private}/like", token=fan).status_code == 404
    assert api.delete(f"/photos/{private}/like", token=fan).status_code == 404
    assert api.post("/likes/toggle", {"photo_id": private}, token=fan).status_code == 404
    assert api.get(f"/photos/{private}/likes", token=fan).status_code == 404
    assert api.post(f"/photos/{'x' * 300}/like", token=fan).status_code == 404
    assert api.post(f"/photos/{scene['public']}/like").status_code == 401
    assert stored_photo(private).like_count == 0
    # the owner may like their private photo
    assert api.post(f"/photos/{private}/like", token=scene["owner"]["access"]).status_code == 201


def test_a_photo_that_is_not_processed_cannot_be_liked(api, scene):
    from tests.pipeline import reserve

    pending, _ = reserve(api, scene["owner"]["access"], jpeg(64, 48))
    r = api.post(f"/photos/{pending}/like", token=scene["owner"]["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "photo_not_ready"


def test_likers_are_listed_newest_first_with_pages(api, make_user, scene):
    photo_id = scene["public"]
    people = [scene["fan"], scene["other"], make_user("hal")]
    for person in people:
        assert api.post(f"/photos/{photo_id}/like", token=person["access"]).status_code == 201
    r = api.get(f"/photos/{photo_id}/likes?limit=2")
    assert r.status_code == 200, r.body
    first = r.data
    assert [u["username"] for u in first["items"]] == ["hal", "gus"]
    assert set(first["items"][0]) >= {"id", "username", "display_name", "avatar_url", "liked_at"}
    assert "email" not in first["items"][0]
    second = api.get(f"/photos/{photo_id}/likes?limit=2&cursor={first['next_cursor']}").data
    assert [u["username"] for u in second["items"]] == ["fred"] and second["next_cursor"] is None
    forged = first["next_cursor"][:-2] + ("AA" if not first["next_cursor"].endswith("AA") else "BB")
    assert api.get(f"/photos/{photo_id}/likes?cursor={forged}").status_code == 400
    # a cursor of this listing is refused by another photo's listing
    other = upload(api, scene["owner"]["access"], jpeg(64, 48))
    assert api.get(f"/photos/{other}/likes?cursor={first['next_cursor']}").status_code == 400


def test_batch_counts_and_own_likes(api, scene):
    fan, owner, other = scene["fan"]["access"], scene["owner"]["access"], scene["other"]["access"]
    public, private = scene["public"], scene["private"]
    second = upload(api, scene["owner"]["access"], jpeg(64, 48))
    api.post(f"/photos/{public}/like", token=fan)
    api.post(f"/photos/{public}/like", token=other)
    api.post(f"/photos/{private}/like", token=owner)
    ids = f"{public},{second},{private},p_unknown"
    r = api.get(f"/likes/batch?ids={ids}", token=fan)
    assert r.status_code == 200, r.body
    # unknown ids and photos the caller may not see are simply absent
    assert r.data == {public: {"count": 2, "liked": True}, second: {"count": 0, "liked": False}}
    assert api.get(f"/likes/batch?ids={ids}", token=owner).data == {
        public: {"count": 2, "liked": False},
        second: {"count": 0, "liked": False},
        private: {"count": 1, "liked": True},
    }
    assert api.get(f"/likes/batch?ids={public}").data == {public: {"count": 2, "liked": False}}
    assert api.get("/likes/batch?ids=" + ",".join(f"p_{i}" for i in range(100))).data == {}
    too_many = api.get("/likes/batch?ids=" + ",".join(f"p_{i}" for i in range(101)))
    assert too_many.status_code == 400 and "ids" in too_many.data["error"]["details"]
    assert api.get("/likes/batch?ids=,,").status_code == 400
    assert api.get("/likes/batch").status_code == 400


# ---- likes under concurrency -------------------------------------------------------------------------------


def test_fifty_users_like_one_photo_at_once(api, scene):
    from chalicelib.services import engagement

    photo_id = scene["public"]
    users = [f"u_crowd{i:02d}" for i in range(50)]
    barrier = threading.Barrier(50)

    def like(user_id):
        barrier.wait()
        return engagement.like(principal(user_id), photo_id)

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(like, users))
    assert results == [True] * 50
    assert stored_photo(photo_id).like_count == 50
    assert sorted(like_rows(photo_id)) == users
    assert api.get(f"/photos/{photo_id}").data["like_count"] == 50


def test_one_users_concurrent_double_like_counts_once(api, scene):
    from chalicelib.services import engagement

    photo_id, fan = scene["public"], principal(scene["fan"]["id"])
    barrier = threading.Barrier(8)

    def like(_):
        barrier.wait()
        return engagement.like(fan, photo_id)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(like, range(8)))
    assert results.count(True) == 1
    assert stored_photo(photo_id).like_count == 1 and like_rows(photo_id) == [fan.user_id]
    r = api.get(f"/likes/batch?ids={photo_id}", token=scene["fan"]["access"])
    assert r.data == {photo_id: {"count": 1, "liked": True}}


def test_like_unlike_races_end_consistent(api, scene):
    from chalicelib.services import engagement

    photo_id = scene["public"]
    users = [principal(f"u_racer{i}") for i in range(10)]
    rng = random.Random(7)
    plan = [(rng.choice(users), rng.choice(("like", "unlike", "toggle"))) for _ in range(200)]

    def act(step):
        who, what = step
        getattr(engagement, what)(who, photo_id)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(act, plan))
    rows = like_rows(photo_id)
    assert stored_photo(photo_id).like_count == len(rows) == len(set(rows))
    assert api.get(f"/photos/{photo_id}/likes?limit=100").data["items"] == []  # fake users have no profiles
    assert api.get(f"/likes/batch?ids={photo_id}").data[photo_id]["count"] == len(rows)


def test_contention_is_retried(api, scene, monkeypatch):
    """DynamoDB cancels concurrent transactions on one item with TransactionConflict; the like still lands."""
    from moto.dynamodb.exceptions import TransactionCanceledException
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    conflicts = {"left": 3}

    def flaky(self, items):
        if conflicts["left"]:
            conflicts["left"] -= 1
            raise TransactionCanceledException([(None, None, None), ("TransactionConflict", "busy", None)])
        return original(self, items)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", flaky)
    assert api.post(f"/photos/{scene['public']}/like", token=scene["fan"]["access"]).status_code == 201
    assert conflicts["left"] == 0 and stored_photo(scene["public"]).like_count == 1


# ---- comments ----------------------------------------------------------------------------------------------


def comment(api, token, photo_id, body, parent_id=None):
    payload = {"body": body} if parent_id is None else {"body": body, "parent_id": parent_id}
    r = api.post(f"/photos/{photo_id}/comments", payload, token=token)
    assert r.status_code == 201, r.body
    return r.data


def test_comment_and_reply_shapes_counts_and_notifications(api, scene):
    owner, fan, other, photo_id = scene["owner"], scene["fan"], scene["other"], scene["public"]
    top = comment(api, fan["access"], photo_id, "  Lovely light!  ")
    assert top["body"] == "Lovely light!" and top["parent_id"] is None and top["reply_count"] == 0
    assert top["photo_id"] == photo_id and top["created_at"].endswith("Z")
    assert top["author"] == {"id": fan["id"], "username": "fred", "display_name": "Fred"}
    reply = comment(api, other["access"], photo_id, "Agreed", top["id"])
    assert reply["parent_id"] == top["id"]
    photo = stored_photo(photo_id)
    assert photo.comment_count == 2
    assert api.get(f"/photos/{photo_id}").data["comment_count"] == 2
    listed = api.get(f"/photos/{photo_id}/comments").data
    assert [c["id"] for c in listed["items"]] == [top["id"]] and listed["items"][0]["reply_count"] == 1
    children = api.get(f"/comments/{top['id']}/children").data
    assert [c["body"] for c in children["items"]] == ["Agreed"] and children["next_cursor"] is None
    assert api.get(f"/comments/{reply['id']}/children").data["items"] == []
    # the owner hears of both comments, the parent's author of the reply
    assert {n.target.as_dict()["id"] for n in notifications_of(owner["id"], "commented")} == {top["id"], reply["id"]}
    replied = notifications_of(fan["id"], "replied")
    assert len(replied) == 1 and replied[0].actor_id == other["id"]
    assert replied[0].target.as_dict()["parent_id"] == top["id"]
    # the owner replying to a comment on their own photo notifies the commenter only
    comment(api, owner["access"], photo_id, "Thanks!", top["id"])
    assert len(notifications_of(fan["id"], "replied")) == 2 and len(notifications_of(owner["id"], "commented")) == 2


def test_reply_rules(api, scene):
    fan, photo_id = scene["fan"]["access"], scene["public"]
    top = comment(api, fan, photo_id, "top")
    reply = comment(api, fan, photo_id, "reply", top["id"])
    r = api.post(f"/photos/{photo_id}/comments", {"body": "deeper", "parent_id": reply["id"]}, token=fan)
    assert r.status_code == 400 and "parent_id" in r.data["error"]["details"]
    r = api.post(f"/photos/{photo_id}/comments", {"body": "x", "parent_id": "c_nope"}, token=fan)
    assert r.status_code == 404
    elsewhere = upload(api, scene["owner"]["access"], jpeg(64, 48))
    r = api.post(f"/photos/{elsewhere}/comments", {"body": "x", "parent_id": top["id"]}, token=fan)
    assert r.status_code == 404  # the parent must be on the same photo
    assert stored_photo(photo_id).comment_count == 2 and stored_photo(elsewhere).comment_count == 0


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "body"),
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"body": "x" * 2001}, "body"),
        ({"body": "a\u202eb"}, "body"),
        ({"body": 5}, "body"),
        ({"body": "ok", "extra": 1}, "extra"),
        ({"body": "ok", "parent_id": ""}, "parent_id"),
    ],
)
def test_comment_validation(api, scene, body, field):
    r = api.post(f"/photos/{scene['public']}/comments", body, token=scene["fan"]["access"])
    assert r.status_code == 400 and field in r.data["error"]["details"], r.data
    assert stored_photo(scene["public"]).comment_count == 0


def test_comments_follow_read_permission(api, scene):
    fan, owner, private = scene["fan"]["access"], scene["owner"]["access"], scene["private"]
    assert api.post(f"/photos/{private}/comments", {"body": "hi"}, token=fan).status_code == 404
    mine = comment(api, owner, private, "note to self")
    assert api.get(f"/photos/{private}/comments", token=fan).status_code == 404
    assert api.get(f"/photos/{private}/comments").status_code == 404
    assert api.get(f"/comments/{mine['id']}/children", token=fan).status_code == 404
    assert api.get(f"/comments/{mine['id']}/children", token=owner).status_code == 200
    assert api.delete(f"/photos/{private}/comments/{mine['id']}", token=fan).status_code == 404
    assert api.get("/comments/c_forged/children").status_code == 404
    assert api.post(f"/photos/{scene['public']}/comments", {"body": "hi"}).status_code == 401
    # anyone may read the comments of a public photo
    comment(api, fan, scene["public"], "hello")
    assert len(api.get(f"/photos/{scene['public']}/comments").data["items"]) == 1


def test_blocked_users_cannot_comment_on_each_others_photos(api, scene):
    from chalicelib.services import blocks

    owner, fan, other, photo_id = scene["owner"], scene["fan"], scene["other"], scene["public"]
    top = comment(api, other["access"], photo_id, "first")
    blocks.block(owner["id"], fan["id"])
    r = api.post(f"/photos/{photo_id}/comments", {"body": "let me in"}, token=fan["access"])
    assert r.status_code == 403 and r.data["error"]["code"] == "blocked"
    blocks.block(other["id"], fan["id"])  # replying to someone who blocked you is refused too
    blocks.unblock(owner["id"], fan["id"])
    r = api.post(f"/photos/{photo_id}/comments", {"body": "psst", "parent_id": top["id"]}, token=fan["access"])
    assert r.status_code == 403
    assert api.post(f"/photos/{photo_id}/comments", {"body": "now ok"}, token=fan["access"]).status_code == 201
    assert stored_photo(photo_id).comment_count == 2


def test_comment_pages(api, scene):
    fan, photo_id = scene["fan"]["access"], scene["public"]
    tops = [comment(api, fan, photo_id, f"top {i}")["id"] for i in range(3)]
    replies = [comment(api, fan, photo_id, f"reply {i}", tops[0])["id"] for i in range(3)]
    first = api.get(f"/photos/{photo_id}/comments?limit=2").data
    second = api.get(f"/photos/{photo_id}/comments?limit=2&cursor={first['next_cursor']}").data
    assert [c["id"] for c in first["items"] + second["items"]] == tops[::-1]  # newest first
    assert second["next_cursor"] is None
    a = api.get(f"/comments/{tops[0]}/children?limit=2").data
    b = api.get(f"/comments/{tops[0]}/children?limit=2&cursor={a['next_cursor']}").data
    assert [c["id"] for c in a["items"] + b["items"]] == replies  # oldest first
    assert api.get(f"/comments/{tops[1]}/children?cursor={a['next_cursor']}").status_code == 400


def test_who_may_delete_a_comment(api, make_user, scene):
    from chalicelib.models.users import User

    owner, fan, other, photo_id = scene["owner"], scene["fan"], scene["other"], scene["public"]
    staff = make_user("sam")
    User.get(staff["id"]).update(actions=[User.role.set("staff")])
    c1, c2, c3 = (comment(api, fan["access"], photo_id, f"c{i}")["id"] for i in range(3))
    r = api.delete(f"/photos/{photo_id}/comments/{c1}", token=other["access"])
    assert r.status_code == 403
    assert api.delete(f"/photos/{photo_id}/comments/{c1}", token=fan["access"]).status_code == 204  # author
    assert api.delete(f"/photos/{photo_id}/comments/{c2}", token=owner["access"]).status_code == 204  # owner
    assert api.delete(f"/photos/{photo_id}/comments/{c3}", token=staff["access"]).status_code == 204  # staff
    assert api.delete(f"/photos/{photo_id}/comments/{c3}", token=staff["access"]).status_code == 404
    assert api.delete(f"/photos/{photo_id}/comments/c_unknown", token=owner["access"]).status_code == 404
    assert stored_photo(photo_id).comment_count == 0
    assert api.get(f"/photos/{photo_id}/comments").data["items"] == []


def test_deleting_a_comment_removes_its_replies_and_keeps_counts_exact(api, scene, monkeypatch):
    from chalicelib.models.engagement import Comment
    from chalicelib.services import engagement

    monkeypatch.setattr(engagement, "REPLIES_PER_TRANSACTION", 2)  # several transactions for the replies
    fan, other, photo_id = scene["fan"]["access"], scene["other"]["access"], scene["public"]
    keep = comment(api, fan, photo_id, "stays")
    doomed = comment(api, fan, photo_id, "goes")
    for i in range(5):
        comment(api, other, photo_id, f"reply {i}", doomed["id"])
    kept_reply = comment(api, other, photo_id, "under the kept one", keep["id"])
    assert stored_photo(photo_id).comment_count == 8
    # deleting one reply counts it down on the photo and on its parent
    assert api.delete(f"/photos/{photo_id}/comments/{kept_reply['id']}", token=other).status_code == 204
    assert stored_photo(photo_id).comment_count == 7
    assert api.get(f"/photos/{photo_id}/comments").data["items"][1]["reply_count"] == 0
    assert api.delete(f"/photos/{photo_id}/comments/{doomed['id']}", token=fan).status_code == 204
    assert stored_photo(photo_id).comment_count == 1
    assert [c.comment_id for c in Comment.query(photo_id)] == [keep["id"]]
    assert api.get(f"/comments/{doomed['id']}/children").status_code == 404
    r = api.post(f"/photos/{photo_id}/comments", {"body": "late", "parent_id": doomed["id"]}, token=other)
    assert r.status_code == 404


# ---- bookmarks ---------------------------------------------------------------------------------------------


def test_bookmarks(api, scene):
    fan, owner = scene["fan"]["access"], scene["owner"]["access"]
    public = scene["public"]
    second = upload(api, owner, jpeg(64, 48))
    for photo_id in (public, second, second):
        r = api.put(f"/photos/{photo_id}/bookmark", token=fan)
        assert r.status_code == 204, r.body
    listed = api.get("/bookmarks", token=fan).data
    assert [p["id"] for p in listed["items"]] == [second, public] and listed["next_cursor"] is None
    assert listed["items"][0]["urls"]  # full photo views
    first = api.get("/bookmarks?limit=1", token=fan).data
    assert [p["id"] for p in first["items"]] == [second]
    rest = api.get(f"/bookmarks?limit=1&cursor={first['next_cursor']}", token=fan).data
    assert [p["id"] for p in rest["items"]] == [public]
    # another user's cursor is refused, and they see only their own bookmarks
    assert api.get(f"/bookmarks?cursor={first['next_cursor']}", token=owner).status_code == 400
    assert api.get("/bookmarks", token=owner).data["items"] == []
    # nobody bookmarks what they cannot see; a photo that turned private drops out of the list
    assert api.put(f"/photos/{scene['private']}/bookmark", token=fan).status_code == 404
    assert api.patch(f"/photos/{second}", {"visibility": "private"}, token=owner).status_code == 200
    assert [p["id"] for p in api.get("/bookmarks", token=fan).data["items"]] == [public]
    for _ in range(2):
        assert api.delete(f"/photos/{second}/bookmark", token=fan).status_code == 204
        assert api.delete(f"/photos/{public}/bookmark", token=fan).status_code == 204
    assert api.get("/bookmarks", token=fan).data["items"] == []
    assert api.get("/bookmarks").status_code == 401


def test_user_deletion_cascade_withdraws_likes(api, scene):
    """The ``user.deleted`` consumer ``engagement.on_user_deleted`` takes the user's likes (and counts) and
    bookmarks, and the liked photos' live subscribers get the new counts."""
    from chalicelib.services import engagement

    fan, photo_id = scene["fan"], scene["public"]
    api.post(f"/photos/{photo_id}/like", token=fan["access"])
    api.put(f"/photos/{photo_id}/bookmark", token=fan["access"])
    assert engagement.on_user_deleted({"user_id": fan["id"]}, None, 100) is None
    assert stored_photo(photo_id).like_count == 0 and like_rows(photo_id) == []
    assert api.get("/bookmarks", token=fan["access"]).data["items"] == []


def test_photo_deletion_cascade_removes_engagement_rows(api, scene):
    """Deleting a photo publishes ``photos.purged``; its job removes the photo's likes and comments."""
    from chalicelib.models.engagement import Comment

    fan, owner, photo_id = scene["fan"]["access"], scene["owner"]["access"], scene["public"]
    api.post(f"/photos/{photo_id}/like", token=fan)
    top = comment(api, fan, photo_id, "nice")
    comment(api, fan, photo_id, "really", top["id"])
    assert api.delete(f"/photos/{photo_id}", token=owner).status_code == 204
    assert api.post(f"/photos/{photo_id}/like", token=fan).status_code == 404
    assert api.get(f"/comments/{top['id']}/children", token=fan).status_code == 404
    drain()
    assert like_rows(photo_id) == [] and list(Comment.query(photo_id)) == []
