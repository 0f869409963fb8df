"""Chat: 1:1 conversations over REST and WebSocket, live delivery, offline notifications, unread counts,
blocking, and one conversation per pair under concurrency."""

from __future__ import annotations

import threading

import pytest

from tests.realtime import connect, send


@pytest.fixture
def pair(api, make_user):
    ann, bob = make_user("ann"), make_user("bob")
    r = api.post("/conversations", {"username": "bob"}, token=ann["access"])
    assert r.status_code == 201, r.body
    return ann, bob, r.data


def _messages(api, user, conversation_id, query=""):
    r = api.get(f"/conversations/{conversation_id}/messages{query}", token=user["access"])
    assert r.status_code == 200, r.body
    return r.data


def _message_notifications(api, user):
    return [n for n in api.get("/notifications", token=user["access"]).data["items"] if n["type"] == "message"]


def test_one_conversation_per_pair(api, make_user, pair):
    ann, bob, conversation = pair
    assert conversation["kind"] == "direct" and conversation["unread_count"] == 0
    assert sorted(p["username"] for p in conversation["participants"]) == ["ann", "bob"]
    assert conversation["last_message"] is None
    again = api.post("/conversations", {"username": "bob"}, token=ann["access"])
    assert again.status_code == 200 and again.data["id"] == conversation["id"]
    theirs = api.post("/conversations", {"username": ann["id"]}, token=bob["access"])  # by id, other side
    assert theirs.status_code == 200 and theirs.data["id"] == conversation["id"]
    cal = make_user("cal")
    other = api.post("/conversations", {"username": "cal"}, token=ann["access"])
    assert other.status_code == 201 and other.data["id"] != conversation["id"]
    assert [c["id"] for c in api.get("/conversations", token=bob["access"]).data["items"]] == [conversation["id"]]
    assert api.get("/conversations", token=cal["access"]).data["items"][0]["id"] == other.data["id"]


def test_concurrent_creation_gives_one_conversation(api, make_user):
    dee, eli = make_user("dee"), make_user("eli")
    results = []

    def start(user, other):
        r = api.post("/conversations", {"username": other}, token=user["access"])
        results.append((r.status_code, r.data["id"]))

    threads = [threading.Thread(target=start, args=(dee, "eli") if i % 2 else (eli, "dee")) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(status for status, _ in results) == [200] * 7 + [201]
    assert len({cid for _, cid in results}) == 1
    assert len(api.get("/conversations", token=dee["access"]).data["items"]) == 1
    assert len(api.get("/conversations", token=eli["access"]).data["items"]) == 1


def test_start_conversation_bad_input(api, make_user):
    fay = make_user("fay")
    assert api.post("/conversations", {"username": "fay"}, token=fay["access"]).status_code == 400
    assert api.post("/conversations", {"username": "nobody_z"}, token=fay["access"]).status_code == 404
    for bad in ({}, {"username": ""}, {"username": ["x"]}):
        r = api.post("/conversations", bad, token=fay["access"])
        assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", bad
    assert api.post("/conversations", {"username": "fay"}).status_code == 401
    assert api.get("/conversations").status_code == 401


def test_messages_persist_newest_first_with_pagination(api, pair, live):
    ann, bob, conversation = pair
    cid = conversation["id"]
    sent = []
    for i in range(5):
        author = ann if i % 2 == 0 else bob
        r = api.post(f"/conversations/{cid}/messages", {"body": f"  message {i}  "}, token=author["access"])
        assert r.status_code == 201, r.body
        assert r.data["body"] == f"message {i}" and r.data["conversation_id"] == cid
        sent.append(r.data)
    assert sent[0]["sender"]["username"] == "ann" and sent[1]["sender"]["username"] == "bob"
    listed = _messages(api, bob, cid)
    assert listed["items"] == sent[::-1] and listed["next_cursor"] is None
    walked, cursor = [], None
    while True:
        page = _messages(api, ann, cid, "?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        walked += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert walked == [m["id"] for m in sent[::-1]]
    first = _messages(api, ann, cid, "?limit=2")["next_cursor"]
    r = api.get(f"/conversations/{cid}/messages?cursor={first}", token=bob["access"])  # bound to the caller
    assert r.status_code == 400 and r.data["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize("body", ["", "   ", "x" * 4001, "bad\x00byte", 42, None])
def test_message_body_is_validated(api, pair, body):
    ann, _, conversation = pair
    r = api.post(f"/conversations/{conversation['id']}/messages", {"body": body}, token=ann["access"])
    assert r.status_code == 400 and "body" in r.data["error"]["details"], r.body


def test_longest_message_is_accepted(api, pair):
    ann, bob, conversation = pair
    r = api.post(f"/conversations/{conversation['id']}/messages", {"body": "é" * 4000}, token=ann["access"])
    assert r.status_code == 201 and len(r.data["body"]) == 4000
    listed = api.get("/conversations", token=bob["access"]).data["items"][0]
    assert listed["last_message"]["preview"] == "é" * 200 and listed["last_message"]["sender"]["username"] == "ann"


def test_non_participants_get_404(api, pair, make_user):
    ann, _, conversation = pair
    cid = conversation["id"]
    api.post(f"/conversations/{cid}/messages", {"body": "private"}, token=ann["access"])
    eve = make_user("eve")
    for method, path, body in (
        ("GET", f"/conversations/{cid}", None),
        ("GET", f"/conversations/{cid}/messages", None),
        ("POST", f"/conversations/{cid}/messages", {"body": "hi"}),
        ("POST", f"/conversations/{cid}/read", None),
        ("GET", "/conversations/c_doesnotexist/messages", None),
        ("GET", "/conversations/" + "c" * 100, None),
    ):
        r = api.call(method, path, body, token=eve["access"])
        assert r.status_code == 404 and r.data["error"]["code"] == "not_found", (method, path)
    assert api.get("/conversations", token=eve["access"]).data["items"] == []


def test_unread_counts_activity_order_and_mark_read(api, pair, make_user):
    ann, bob, with_bob = pair
    cal = make_user("cal")
    with_cal = api.post("/conversations", {"username": "cal"}, token=ann["access"]).data
    for text in ("one", "two"):
        api.post(f"/conversations/{with_bob['id']}/messages", {"body": text}, token=bob["access"])
    api.post(f"/conversations/{with_cal['id']}/messages", {"body": "hey"}, token=cal["access"])

    mine = api.get("/conversations", token=ann["access"]).data["items"]
    assert [(c["id"], c["unread_count"]) for c in mine] == [(with_cal["id"], 1), (with_bob["id"], 2)]
    assert api.get("/conversations", token=bob["access"]).data["items"][0]["unread_count"] == 0  # the sender
    assert mine[1]["last_message"]["preview"] == "two"

    r = api.post(f"/conversations/{with_bob['id']}/read", token=ann["access"])
    assert r.status_code == 200 and r.data["unread_count"] == 0 and r.data["last_read_at"]
    assert api.get(f"/conversations/{with_bob['id']}", token=ann["access"]).data["unread_count"] == 0
    # replying makes the older conversation the most recent one; replying also reads it
    api.post(f"/conversations/{with_bob['id']}/messages", {"body": "three"}, token=ann["access"])
    mine = api.get("/conversations", token=ann["access"]).data["items"]
    assert [(c["id"], c["unread_count"]) for c in mine] == [(with_bob["id"], 0), (with_cal["id"], 1)]
    assert api.get(f"/conversations/{with_bob['id']}", token=bob["access"]).data["unread_count"] == 1
    page = api.get("/conversations?limit=1", token=ann["access"]).data
    rest = api.get(f"/conversations?limit=1&cursor={page['next_cursor']}", token=ann["access"]).data
    assert [c["id"] for c in page["items"] + rest["items"]] == [with_bob["id"], with_cal["id"]]


def test_rest_message_is_pushed_to_every_participant_connection(api, pair, live):
    import app as app_module

    ann, bob, conversation = pair
    ann_phone, _ = connect(app_module, ann["access"])
    bob_phone, _ = connect(app_module, bob["access"])
    bob_laptop, _ = connect(app_module, bob["access"])
    r = api.post(f"/conversations/{conversation['id']}/messages", {"body": "hello"}, token=ann["access"])
    expected = {"type": "message", "conversation_id": conversation["id"], "message": r.data}
    for connection in (ann_phone, bob_phone, bob_laptop):
        assert live.of_type(connection, "message") == [expected], connection
    assert _message_notifications(api, bob) == []  # online: the frame is enough


def test_offline_participant_gets_a_message_notification(api, pair, live):
    import app as app_module

    ann, bob, conversation = pair
    connect(app_module, ann["access"])
    r = api.post(f"/conversations/{conversation['id']}/messages", {"body": "are you there?"}, token=ann["access"])
    notes = _message_notifications(api, bob)
    assert len(notes) == 1 and notes[0]["actor"]["username"] == "ann"
    assert notes[0]["target"] == {"kind": "conversation", "id": conversation["id"], "message_id": r.data["id"]}
    assert _message_notifications(api, ann) == []  # never to yourself

    # a connection that has gone away counts as offline
    gone, _ = connect(app_module, bob["access"])
    live.gone.add(gone)
    api.post(f"/conversations/{conversation['id']}/messages", {"body": "still?"}, token=ann["access"])
    assert len(_message_notifications(api, bob)) == 2


def test_websocket_send_message(api, pair, live):
    import app as app_module

    ann, bob, conversation = pair
    cid = conversation["id"]
    ann_ws, _ = connect(app_module, ann["access"])
    bob_ws, _ = connect(app_module, bob["access"])
    send(app_module, ann_ws, {"action": "send_message", "conversation_id": cid, "body": "over the socket"})
    stored = _messages(api, bob, cid)["items"]
    assert [m["body"] for m in stored] == ["over the socket"] and stored[0]["sender"]["username"] == "ann"
    expected = {"type": "message", "conversation_id": cid, "message": stored[0]}
    assert live.of_type(ann_ws, "message") == [expected]  # the sender's connection too, exactly once
    assert live.of_type(bob_ws, "message") == [expected]
    assert live.of_type(ann_ws, "error") == []
    assert api.get("/conversations", token=bob["access"]).data["items"][0]["unread_count"] == 1


@pytest.mark.parametrize(
    "frame,code",
    [
        ({"action": "send_message", "conversation_id": "CID"}, "validation_error"),
        ({"action": "send_message", "conversation_id": "CID", "body": ""}, "validation_error"),
        ({"action": "send_message", "conversation_id": "CID", "body": "x" * 4001}, "validation_error"),
        ({"action": "send_message", "conversation_id": 7, "body": "hi"}, "validation_error"),
        ({"action": "send_message", "conversation_id": "c_unknown", "body": "hi"}, "not_found"),
    ],
)
def test_websocket_bad_frames_get_an_error_and_the_connection_stays(api, pair, live, frame, code):
    import app as app_module

    ann, bob, conversation = pair
    ann_ws, _ = connect(app_module, ann["access"])
    bob_ws, _ = connect(app_module, bob["access"])
    frame = {k: (conversation["id"] if v == "CID" else v) for k, v in frame.items()}
    send(app_module, ann_ws, frame)
    errors = live.of_type(ann_ws, "error")
    assert len(errors) == 1 and errors[0]["error"]["code"] == code, errors
    assert live.frames[bob_ws] == []
    assert _messages(api, ann, conversation["id"])["items"] == []
    send(app_module, ann_ws, {"action": "ping"})
    assert live.of_type(ann_ws, "pong") == [{"type": "pong"}]


def test_websocket_cannot_post_into_others_conversations(api, pair, make_user, live):
    import app as app_module

    _, bob, conversation = pair
    eve = make_user("eve")
    eve_ws, _ = connect(app_module, eve["access"])
    bob_ws, _ = connect(app_module, bob["access"])
    send(app_module, eve_ws, {"action": "send_message", "conversation_id": conversation["id"], "body": "sneaky"})
    assert live.of_type(eve_ws, "error")[0]["error"]["code"] == "not_found"
    assert live.frames[bob_ws] == [] and _messages(api, bob, conversation["id"])["items"] == []


def test_blocked_users_cannot_message(api, pair, make_user, live):
    import app as app_module

    ann, bob, conversation = pair
    cid = conversation["id"]
    api.post(f"/conversations/{cid}/messages", {"body": "before"}, token=bob["access"])
    assert api.post("/users/ann/block", token=bob["access"]).status_code == 201
    for sender in (ann, bob):  # either side, whoever blocked
        r = api.post(f"/conversations/{cid}/messages", {"body": "after"}, token=sender["access"])
        assert r.status_code == 403 and r.data["error"]["code"] == "blocked"
    ann_ws, _ = connect(app_module, ann["access"])
    send(app_module, ann_ws, {"action": "send_message", "conversation_id": cid, "body": "via socket"})
    assert live.of_type(ann_ws, "error")[0]["error"]["code"] == "blocked"
    assert [m["body"] for m in _messages(api, ann, cid)["items"]] == ["before"]  # history stays readable
    r = api.post("/conversations", {"username": "bob"}, token=ann["access"])
    assert r.status_code == 403 and r.data["error"]["code"] == "blocked"
    cal = make_user("cal")
    assert api.post("/users/ann/block", token=cal["access"]).status_code == 201
    r = api.post("/conversations", {"username": "cal"}, token=ann["access"])
    assert r.status_code == 403 and r.data["error"]["code"] == "blocked"
    assert api.delete("/users/ann/block", token=bob["access"]).status_code == 204
    assert api.post(f"/conversations/{cid}/messages", {"body": "again"}, token=ann["access"]).status_code == 201


def test_a_failing_live_delivery_does_not_fail_the_stored_message(api, pair, live, monkeypatch):
    """The management API throttling (or any error but Gone) must not turn a stored message into a 500: the
    client's Idempotency-Key retry would then store it twice."""
    from botocore.exceptions import ClientError

    import app as app_module

    ann, bob, conversation = pair
    connect(app_module, bob["access"])

    def throttled(**_):
        raise ClientError({"Error": {"Code": "LimitExceededException", "Message": "slow down"}}, "PostToConnection")

    monkeypatch.setattr(live, "post_to_connection", throttled)
    cid = conversation["id"]
    headers = {"Idempotency-Key": "msg-1"}
    first = api.post(f"/conversations/{cid}/messages", {"body": "hello"}, token=ann["access"], headers=headers)
    assert first.status_code == 201, first.body
    again = api.post(f"/conversations/{cid}/messages", {"body": "hello"}, token=ann["access"], headers=headers)
    assert again.status_code == 201 and again.data == first.data
    assert [m["body"] for m in _messages(api, bob, cid)["items"]] == ["hello"]
