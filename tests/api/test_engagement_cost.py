"""AWS calls per engagement request, counted with botocore's event hooks (as in test_request_cost.py): each
route's exact calls, none a Scan, and the same whether the photo has 1 like or 1,000."""

from __future__ import annotations

import collections

import pytest

from chalicelib.services import photos_access
from tests.pipeline import jpeg, upload
from tests.realtime import connect, send


@pytest.fixture
def costs(counter, monkeypatch):
    """The shared counter, with what notifications.notify spends kept apart (that module's own budget)."""
    from chalicelib.services import engagement

    real_notify = engagement.notifications.notify

    def notify(*args, **kwargs):
        with counter.separately("notify"):
            return real_notify(*args, **kwargs)

    monkeypatch.setattr(engagement.notifications, "notify", notify)
    return counter


def _live_frames(live) -> int:
    return sum(1 for frames in live.frames.values() for f in frames if f["type"] != "notification")


def measure(counter, live, fn, status):
    """(this route's own calls, the calls notifications.notify made for it); the route must answer ``status``
    (a cheap 401 or 404 must not pass for the route's cost)."""
    counter.clear()
    posts_before = _live_frames(live)
    response = fn()
    assert response.status_code == status, (status, response.status_code, response.body)
    posts = _live_frames(live) - posts_before
    calls = collections.Counter(counter.calls)
    if posts:
        calls["apigatewaymanagementapi.PostToConnection"] = posts  # the fake client is not a botocore client
    return calls, collections.Counter(counter.sections.get("notify", []))


def add_bulk_likes(photo_id: str, n: int) -> None:
    """Like rows written straight into the table (one batch write), and the counter to match."""
    from chalicelib.models.engagement import Like
    from chalicelib.models.photos import Photo

    with Like.batch_write() as batch:
        for i in range(n):
            batch.save(Like(photo_id=photo_id, user_id=f"u_bulk{i:04d}"))
    Photo(photo_id=photo_id).update(actions=[Photo.like_count.add(n)])


def route_costs(api, make_user, live, counter, photo_id: str, tag: str) -> dict[str, collections.Counter]:
    """Every engagement route once, by a fresh user (so each first like notifies, as it would)."""
    fan = make_user(f"fan{tag}")["access"]
    token = fan
    costs = {}

    def run(name, fn):
        costs[name] = measure(counter, live, fn, STATUS[name])

    run("like", lambda: api.post(f"/photos/{photo_id}/like", token=token))
    run("like again", lambda: api.post(f"/photos/{photo_id}/like", token=token))
    run("batch", lambda: api.get(f"/likes/batch?ids={photo_id},p_unknown", token=token))
    run("likers", lambda: api.get(f"/photos/{photo_id}/likes?limit=20", token=token))
    run("toggle off", lambda: api.post("/likes/toggle", {"photo_id": photo_id}, token=token))
    run("toggle on", lambda: api.post("/likes/toggle", {"photo_id": photo_id}, token=token))
    run("unlike", lambda: api.delete(f"/photos/{photo_id}/like", token=token))
    run("unlike again", lambda: api.delete(f"/photos/{photo_id}/like", token=token))
    top = {}
    run("comment", lambda: top.setdefault("r", api.post(f"/photos/{photo_id}/comments", {"body": "hi"}, token=token)))
    top_id = top["r"].data["id"]
    reply = {}
    run(
        "reply",
        lambda: reply.setdefault(
            "r", api.post(f"/photos/{photo_id}/comments", {"body": "re", "parent_id": top_id}, token=token)
        ),
    )
    run("comments", lambda: api.get(f"/photos/{photo_id}/comments", token=token))
    run("children", lambda: api.get(f"/comments/{top_id}/children", token=token))
    run("delete reply", lambda: api.delete(f"/photos/{photo_id}/comments/{reply['r'].data['id']}", token=token))
    run("delete comment", lambda: api.delete(f"/photos/{photo_id}/comments/{top_id}", token=token))
    run("bookmark", lambda: api.put(f"/photos/{photo_id}/bookmark", token=token))
    run("bookmarks", lambda: api.get("/bookmarks", token=token))
    run("unbookmark", lambda: api.delete(f"/photos/{photo_id}/bookmark", token=token))
    return costs


STATUS = {
    "like": 201,
    "like again": 201,
    "batch": 200,
    "likers": 200,
    "toggle off": 204,
    "toggle on": 201,
    "unlike": 204,
    "unlike again": 204,
    "comment": 201,
    "reply": 201,
    "comments": 200,
    "children": 200,
    "delete reply": 204,
    "delete comment": 204,
    "bookmark": 204,
    "bookmarks": 200,
    "unbookmark": 204,
}
D = "dynamodb."
AUTH = {D + "GetItem": 1}  # the access token's user
LIVE = {  # one subscriber: its rows, the photo, its login (one batched read of the watchers), the post
    D + "Query": 1,
    D + "GetItem": 1,
    D + "BatchGetItem": 1,
    "apigatewaymanagementapi.PostToConnection": 1,
}


def budget(*parts: dict) -> collections.Counter:
    total = collections.Counter()
    for part in parts:
        total.update(part)
    return total


# What each route itself costs on a public photo outside events, with one live subscriber watching it.
# Notifications (notifications.notify: its write, then delivery per the recipient's preferences) are that
# module's budget: counted apart, and only checked not to grow with the likes.
GRANTS = {D + "BatchGetItem": len(photos_access.GRANT_SOURCES)}  # per page: one per source (assignment, ...)
PHOTO = budget({D + "GetItem": 1}, GRANTS)  # readable_photo
BLOCKS = {D + "BatchGetItem": 1}  # is the liker blocked by (or blocking) the owner: both directions at once
EXPECTED = {
    "like": budget(AUTH, PHOTO, BLOCKS, {D + "TransactWriteItems": 1}, LIVE),
    "like again": budget(AUTH, PHOTO, BLOCKS, {D + "TransactWriteItems": 1}),
    "batch": budget(AUTH, {D + "BatchGetItem": 2}, GRANTS),
    "likers": budget(AUTH, PHOTO, {D + "Query": 1, D + "BatchGetItem": 1}),
    "toggle off": budget(AUTH, PHOTO, BLOCKS, {D + "TransactWriteItems": 2}, LIVE),  # tries like, then unlikes
    "toggle on": budget(AUTH, PHOTO, BLOCKS, {D + "TransactWriteItems": 1}, LIVE),
    "unlike": budget(AUTH, PHOTO, {D + "TransactWriteItems": 1}, LIVE),
    "unlike again": budget(AUTH, PHOTO, {D + "TransactWriteItems": 1}),
    "comment": budget(
        AUTH,
        PHOTO,
        {D + "BatchGetItem": 1, D + "TransactWriteItems": 1},
        LIVE,
        {"apigatewaymanagementapi.PostToConnection": 1},
    ),
    "reply": budget(
        AUTH,
        PHOTO,
        {D + "GetItem": 1, D + "BatchGetItem": 1, D + "TransactWriteItems": 1},
        LIVE,
        {"apigatewaymanagementapi.PostToConnection": 1},
    ),
    "comments": budget(AUTH, PHOTO, {D + "Query": 1, D + "BatchGetItem": 1}),
    "children": budget(AUTH, PHOTO, {D + "GetItem": 1, D + "Query": 1, D + "BatchGetItem": 1}),
    "delete reply": budget(AUTH, PHOTO, {D + "GetItem": 1, D + "TransactWriteItems": 1}, LIVE),
    "delete comment": budget(AUTH, PHOTO, {D + "GetItem": 1, D + "TransactWriteItems": 1}, LIVE),
    "bookmark": budget(AUTH, PHOTO, {D + "PutItem": 1}),
    "bookmarks": budget(AUTH, {D + "Query": 1, D + "BatchGetItem": 2}, GRANTS),
    "unbookmark": budget(AUTH, {D + "DeleteItem": 1}),
}


def test_engagement_route_costs_do_not_grow_with_likes(app, api, make_user, costs, live):
    counter = costs
    import app as app_module

    owner = make_user("costowner")
    watcher = make_user("costwatch")
    photo_id = upload(api, owner["access"], jpeg(64, 48))
    connection_id, _ = connect(app_module, watcher["access"])
    send(app_module, connection_id, {"action": "subscribe", "photo_id": photo_id})
    api.post(f"/photos/{photo_id}/like", token=owner["access"])  # one like

    one = route_costs(api, make_user, live, counter, photo_id, "a")
    add_bulk_likes(photo_id, 999)
    from chalicelib.models.photos import Photo

    assert Photo.get(photo_id, consistent_read=True).like_count == 1000
    thousand = route_costs(api, make_user, live, counter, photo_id, "b")

    for name, (calls, notify_calls) in one.items():
        assert not any(c.endswith(".Scan") for c in calls + notify_calls), (name, calls, notify_calls)
        assert (calls, notify_calls) == thousand[name], (name, calls, thousand[name])
    own = {name: calls for name, (calls, _) in one.items()}
    assert own == EXPECTED, {k: (own[k], EXPECTED.get(k)) for k in own if own[k] != EXPECTED.get(k)}
    # the photo owner is notified of the first like, the comment and the reply (the fan replied to their own
    # comment, so nobody else); liking again only tries the deduplicated write
    writes = {name: n[D + "PutItem"] for name, (_, n) in one.items() if n}
    assert writes == {"like": 1, "toggle on": 1, "comment": 1, "reply": 1}
    assert api.get(f"/photos/{photo_id}/likes?limit=100").status_code == 200
