"""Follows, friend requests and blocking, as users notice them: status codes, lists, notifications."""

from __future__ import annotations

import pytest

from tests.pipeline import jpeg, upload


def _notifications(api, user, type_=None):
    items = api.get("/notifications", token=user["access"]).data["items"]
    return [n for n in items if type_ is None or n["type"] == type_]


def _usernames(page):
    return [u["username"] for u in page["items"]]


# ---- follows -----------------------------------------------------------------------------------------------


def test_follow_lists_and_notification(api, make_user):
    ann, ben, cat = make_user("ann"), make_user("ben"), make_user("cat")
    r = api.post("/users/ann/follow", token=ben["access"])
    assert r.status_code == 201, r.body
    assert r.data["following"] is True and r.data["user"]["id"] == ann["id"]
    assert api.post(f"/users/{ann['id']}/follow", token=cat["access"]).status_code == 201  # by id works too
    assert api.post("/users/ann/follow", token=ben["access"]).status_code == 201  # idempotent

    followers = api.get("/users/ann/followers", token=cat["access"]).data
    assert _usernames(followers) == ["cat", "ben"]  # most recent first
    assert followers["items"][0]["followed_at"].endswith("Z") and followers["next_cursor"] is None
    assert _usernames(api.get("/users/ben/following", token=ann["access"]).data) == ["ann"]
    assert _usernames(api.get("/users/me/following", token=cat["access"]).data) == ["ann"]
    assert api.get("/users/ann/following", token=ann["access"]).data["items"] == []

    followed = _notifications(api, ann, "followed")
    assert sorted(n["actor"]["username"] for n in followed) == ["ben", "cat"]  # once each, despite the repeat
    assert followed[0]["target"]["kind"] == "user"
    assert _notifications(api, ben) == [] and _notifications(api, cat) == []

    assert api.delete("/users/ann/follow", token=ben["access"]).status_code == 204
    assert api.delete("/users/ann/follow", token=ben["access"]).status_code == 204  # idempotent
    assert _usernames(api.get("/users/ann/followers", token=ann["access"]).data) == ["cat"]
    assert api.get("/users/ben/following", token=ben["access"]).data["items"] == []


def test_follow_bad_input_and_auth(api, make_user):
    dan = make_user("dan")
    assert api.post("/users/dan/follow").status_code == 401
    r = api.post("/users/dan/follow", token=dan["access"])
    assert r.status_code == 400 and r.data["error"]["code"] == "validation_error"
    assert api.post("/users/nobody_here/follow", token=dan["access"]).status_code == 404
    assert api.post("/users/" + "u_" + "x" * 80 + "/follow", token=dan["access"]).status_code == 404
    assert api.get("/users/nobody_here/followers", token=dan["access"]).status_code == 404
    assert api.get("/users/dan/followers?limit=0", token=dan["access"]).status_code == 400
    assert api.get("/users/dan/followers").status_code == 401


def test_follower_pagination_and_cursor_binding(api, make_user):
    eve = make_user("eve")
    fans = [make_user(f"fan{i}") for i in range(5)]
    for fan in fans:
        assert api.post("/users/eve/follow", token=fan["access"]).status_code == 201
    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(f"/users/eve/followers{query}", token=eve["access"]).data
        seen += _usernames(page)
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"fan{i}" for i in reversed(range(5))]
    first = api.get("/users/eve/followers?limit=2", token=eve["access"]).data["next_cursor"]
    # a cursor works only for the listing (and the caller) it was made for
    assert api.get(f"/users/fan0/followers?cursor={first}", token=eve["access"]).status_code == 400
    assert api.get(f"/users/eve/followers?cursor={first}", token=fans[0]["access"]).status_code == 400
    assert api.get(f"/users/eve/followers?cursor={first[:-2]}xx", token=eve["access"]).status_code == 400


# ---- friends -----------------------------------------------------------------------------------------------


def test_friend_request_accept_flow(api, make_user):
    gus, hal = make_user("gus"), make_user("hal")
    r = api.post("/friends/requests", {"username": "hal"}, token=gus["access"])
    assert r.status_code == 201, r.body
    request = r.data
    assert request["status"] == "pending" and request["sender"]["username"] == "gus"
    assert request["recipient"]["username"] == "hal"

    incoming = api.get("/friends/requests", token=hal["access"]).data["items"]
    assert [i["id"] for i in incoming] == [request["id"]] and incoming[0]["sender"]["username"] == "gus"
    assert api.get("/friends/requests", token=gus["access"]).data["items"] == []
    outgoing = api.get("/friends/requests?direction=outgoing", token=gus["access"]).data["items"]
    assert [o["id"] for o in outgoing] == [request["id"]]
    assert api.get("/friends/requests?direction=sideways", token=gus["access"]).status_code == 400

    note = _notifications(api, hal, "friend_request")
    assert len(note) == 1 and note[0]["actor"]["username"] == "gus" and note[0]["target"]["id"] == request["id"]

    # duplicates either way are conflicts
    assert (
        api.post("/friends/requests", {"username": "hal"}, token=gus["access"]).data["error"]["code"]
        == "already_requested"
    )
    r = api.post("/friends/requests", {"username": "gus"}, token=hal["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "request_received"
    # only the recipient accepts
    assert api.post(f"/friends/requests/{request['id']}/accept", token=gus["access"]).status_code == 404

    r = api.post(f"/friends/requests/{request['id']}/accept", token=hal["access"])
    assert r.status_code == 200 and r.data["status"] == "accepted"
    assert _usernames(api.get("/friends", token=hal["access"]).data) == ["gus"]
    friends = api.get("/friends", token=gus["access"]).data
    assert _usernames(friends) == ["hal"] and friends["items"][0]["friends_since"].endswith("Z")
    assert api.get("/friends/requests", token=hal["access"]).data["items"] == []
    accepted = _notifications(api, gus, "friend_request")
    assert [n["target"]["status"] for n in accepted] == ["accepted"] and accepted[0]["actor"]["username"] == "hal"
    assert api.post(f"/friends/requests/{request['id']}/accept", token=hal["access"]).status_code == 404
    r = api.post("/friends/requests", {"username": "hal"}, token=gus["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "already_friends"

    assert api.delete("/friends/gus", token=hal["access"]).status_code == 204
    assert api.get("/friends", token=gus["access"]).data["items"] == []
    assert api.delete("/friends/gus", token=hal["access"]).status_code == 404


def test_friend_request_decline_withdraw_and_bad_input(api, make_user):
    ida, jon, kim = make_user("ida"), make_user("jon"), make_user("kim")
    request = api.post("/friends/requests", {"username": "jon"}, token=ida["access"]).data
    assert api.post(f"/friends/requests/{request['id']}/decline", token=kim["access"]).status_code == 404
    r = api.post(f"/friends/requests/{request['id']}/decline", token=jon["access"])
    assert r.status_code == 200 and r.data["status"] == "declined"
    assert api.get("/friends/requests", token=jon["access"]).data["items"] == []
    assert api.get("/friends", token=ida["access"]).data["items"] == []
    assert api.post(f"/friends/requests/{request['id']}/accept", token=jon["access"]).status_code == 404

    # asking again is allowed after a decline; the sender may withdraw
    again = api.post("/friends/requests", {"username": "jon"}, token=ida["access"])
    assert again.status_code == 201
    assert api.delete(f"/friends/requests/{again.data['id']}", token=kim["access"]).status_code == 404
    assert api.delete(f"/friends/requests/{again.data['id']}", token=ida["access"]).status_code == 204
    assert api.get("/friends/requests", token=jon["access"]).data["items"] == []

    for bad in ({}, {"username": ""}, {"username": 5}, {"username": "jon", "extra": 1}):
        r = api.post("/friends/requests", bad, token=ida["access"])
        assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", bad
    assert api.post("/friends/requests", {"username": "ida"}, token=ida["access"]).status_code == 400
    assert api.post("/friends/requests", {"username": "nobody_x"}, token=ida["access"]).status_code == 404
    for forged in ("nonsense", "fr_", f"fr_{ida['id']}", f"fr_{kim['id']}.{jon['id']}"):
        assert api.post(f"/friends/requests/{forged}/accept", token=jon["access"]).status_code == 404, forged
    assert api.get("/friends").status_code == 401


# ---- blocking ----------------------------------------------------------------------------------------------


def test_block_cuts_follows_and_friendship_and_refuses_new_ones(api, make_user):
    lea, max_ = make_user("lea"), make_user("max")
    assert api.post("/users/max/follow", token=lea["access"]).status_code == 201
    assert api.post("/users/lea/follow", token=max_["access"]).status_code == 201
    request = api.post("/friends/requests", {"username": "max"}, token=lea["access"]).data
    assert api.post(f"/friends/requests/{request['id']}/accept", token=max_["access"]).status_code == 200

    r = api.post("/users/max/block", token=lea["access"])
    assert r.status_code == 201 and r.data["user"]["username"] == "max" and r.data["blocked_at"].endswith("Z")
    assert api.post("/users/max/block", token=lea["access"]).status_code == 201  # idempotent
    blocks = api.get("/users/me/blocks", token=lea["access"]).data
    assert [b["user"]["username"] for b in blocks["items"]] == ["max"]
    assert api.get("/users/me/blocks", token=max_["access"]).data["items"] == []

    for user, other in ((lea, "max"), (max_, "lea")):
        assert api.get(f"/users/{other}/followers", token=user["access"]).data["items"] == []
        assert api.get(f"/users/{other}/following", token=user["access"]).data["items"] == []
        assert api.get("/friends", token=user["access"]).data["items"] == []
        # neither side can follow or befriend the other, whoever blocked
        r = api.post(f"/users/{other}/follow", token=user["access"])
        assert r.status_code == 403 and r.data["error"]["code"] == "blocked"
        r = api.post("/friends/requests", {"username": other}, token=user["access"])
        assert r.status_code == 403 and r.data["error"]["code"] == "blocked"

    assert api.delete("/users/max/block", token=max_["access"]).status_code == 204  # max never blocked lea
    assert api.post("/users/lea/follow", token=max_["access"]).status_code == 403
    assert api.delete("/users/max/block", token=lea["access"]).status_code == 204
    assert api.get("/users/me/blocks", token=lea["access"]).data["items"] == []
    assert api.post("/users/lea/follow", token=max_["access"]).status_code == 201
    assert _usernames(api.get("/users/lea/followers", token=lea["access"]).data) == ["max"]


def test_block_ends_pending_friend_request(api, make_user):
    ned, ola = make_user("ned"), make_user("ola")
    request = api.post("/friends/requests", {"username": "ola"}, token=ned["access"]).data
    assert api.post("/users/ned/block", token=ola["access"]).status_code == 201
    assert api.get("/friends/requests", token=ola["access"]).data["items"] == []
    assert api.post(f"/friends/requests/{request['id']}/accept", token=ola["access"]).status_code == 404


def test_block_bad_input(api, make_user):
    pia = make_user("pia")
    r = api.post("/users/pia/block", token=pia["access"])
    assert r.status_code == 400
    assert api.post("/users/me/block", token=pia["access"]).status_code == 400
    assert api.post("/users/nobody_y/block", token=pia["access"]).status_code == 404
    assert api.post("/users/pia/block").status_code == 401
    assert api.get("/users/me/blocks").status_code == 401
    assert api.get("/users/me/blocks?cursor=forged.cursor", token=pia["access"]).status_code == 400


def test_blocked_users_cannot_comment(api, make_user):
    pytest.importorskip("chalicelib.services.engagement")
    quin, rex = make_user("quin"), make_user("rex")
    photo_id = upload(api, quin["access"], jpeg())
    assert api.post(f"/photos/{photo_id}/comments", {"body": "nice"}, token=rex["access"]).status_code == 201
    assert api.post("/users/rex/block", token=quin["access"]).status_code == 201
    r = api.post(f"/photos/{photo_id}/comments", {"body": "hello?"}, token=rex["access"])
    assert r.status_code == 403 and r.data["error"]["code"] == "blocked"


def test_is_blocked_is_symmetric_and_one_batch_read(api, make_user):
    from chalicelib.services import blocks

    sam, tia = make_user("sam"), make_user("tia")
    assert not blocks.is_blocked(sam["id"], tia["id"])
    blocks.block(sam["id"], tia["id"])
    assert blocks.is_blocked(sam["id"], tia["id"]) and blocks.is_blocked(tia["id"], sam["id"])
    assert not blocks.is_blocked(sam["id"], sam["id"]) and not blocks.is_blocked(sam["id"], "")
    assert blocks.blocked_among(tia["id"], [sam["id"], "u_unknown"]) == {sam["id"]}
    assert blocks.unblock(sam["id"], tia["id"]) and not blocks.unblock(sam["id"], tia["id"])
    assert not blocks.is_blocked(tia["id"], sam["id"])


def test_account_deletion_cleanup(api, make_user):
    """The ``user.deleted`` consumers remove follows, friendships, blocks and conversation rows."""
    from chalicelib.services import blocks, chat, social

    uma, vic = make_user("uma"), make_user("vic")
    api.post("/users/vic/follow", token=uma["access"])
    api.post("/users/uma/follow", token=vic["access"])
    request = api.post("/friends/requests", {"username": "vic"}, token=uma["access"]).data
    api.post(f"/friends/requests/{request['id']}/accept", token=vic["access"])
    api.post("/conversations", {"username": "vic"}, token=uma["access"])
    for consumer in (social.on_user_deleted, blocks.on_user_deleted, chat.on_user_deleted):
        assert consumer({"user_id": uma["id"]}, None, 100) is None  # done in one chunk
    assert api.get("/users/vic/followers", token=vic["access"]).data["items"] == []
    assert api.get("/users/vic/following", token=vic["access"]).data["items"] == []
    vic_profile = api.get("/users/vic").data  # the deleted follows left vic's counters
    assert (vic_profile["follower_count"], vic_profile["following_count"]) == (0, 0)
    assert api.get("/friends", token=vic["access"]).data["items"] == []
    assert api.get("/conversations", token=uma["access"]).data["items"] == []


# ---- the profile page: counts and the caller's relationship ------------------------------------------------


def test_profile_counts_and_the_callers_relationship(api, make_user):
    rae, sol, tom = make_user("rae"), make_user("sol"), make_user("tom")
    anonymous = api.get("/users/rae").data
    assert (anonymous["follower_count"], anonymous["following_count"], anonymous["viewer"]) == (0, 0, None)

    assert api.post("/users/rae/follow", token=sol["access"]).status_code == 201
    assert api.post("/users/rae/follow", token=tom["access"]).status_code == 201
    assert api.post("/users/sol/follow", token=rae["access"]).status_code == 201
    request = api.post("/friends/requests", {"username": "rae"}, token=sol["access"]).data

    seen_by_sol = api.get("/users/rae", token=sol["access"]).data
    assert (seen_by_sol["follower_count"], seen_by_sol["following_count"]) == (2, 1)
    assert seen_by_sol["viewer"] == {
        "is_me": False,
        "following": True,
        "followed_by": True,
        "friendship": "request_sent",
        "friend_request_id": request["id"],
        "blocked": False,
    }
    seen_by_rae = api.get("/users/sol", token=rae["access"]).data["viewer"]
    assert seen_by_rae["friendship"] == "request_received" and seen_by_rae["friend_request_id"] == request["id"]
    assert api.post(f"/friends/requests/{request['id']}/accept", token=rae["access"]).status_code == 200
    assert api.get("/users/sol", token=rae["access"]).data["viewer"]["friendship"] == "friends"
    assert api.get("/users/rae", token=rae["access"]).data["viewer"]["is_me"] is True

    assert api.post("/users/tom/block", token=rae["access"]).status_code == 201
    assert api.get("/users/tom", token=rae["access"]).data["viewer"]["blocked"] is True
    by_tom = api.get("/users/rae", token=tom["access"]).data
    # tom is not told he was blocked (no `blocked_by`); his actions are refused as before
    assert "blocked_by" not in by_tom["viewer"] and by_tom["viewer"]["following"] is False
    assert api.post("/users/rae/follow", token=tom["access"]).status_code == 403
    assert by_tom["follower_count"] == 1  # the block ended tom's follow


def test_follow_counts_are_counters_that_a_replay_does_not_move(api, make_user):
    """The counters change in the follow's own transaction: a repeated follow or unfollow (a retry, a double
    click) changes nothing; an unfollow that was never a follow does not go below 0."""
    ida, joe, kim = make_user("ida"), make_user("joe"), make_user("kim")

    def counts(username):
        profile = api.get(f"/users/{username}").data
        return profile["follower_count"], profile["following_count"]

    assert api.delete("/users/ida/follow", token=joe["access"]).status_code == 204  # not following: no change
    assert counts("ida") == (0, 0) and counts("joe") == (0, 0)
    for _ in range(3):
        assert api.post("/users/ida/follow", token=joe["access"]).status_code == 201
    assert api.post("/users/ida/follow", token=kim["access"]).status_code == 201
    assert api.post("/users/joe/follow", token=ida["access"]).status_code == 201
    assert counts("ida") == (2, 1) and counts("joe") == (1, 1) and counts("kim") == (0, 1)
    for _ in range(2):
        assert api.delete("/users/ida/follow", token=joe["access"]).status_code == 204
    assert counts("ida") == (1, 1) and counts("joe") == (1, 0)
    assert api.delete("/users/kim/follow", token=kim["access"]).status_code == 204  # never oneself
    assert counts("kim") == (0, 1)
    # a block ends both follows, and their counts
    assert api.post("/users/joe/block", token=ida["access"]).status_code == 201
    assert counts("ida") == (1, 0) and counts("joe") == (0, 0)
    assert api.post("/users/ida/follow", token=joe["access"]).status_code == 403
    assert counts("ida") == (1, 0)
