"""GET /feed: photos of followed users and of the caller's events, newest first, paginated, no Scan."""

from __future__ import annotations

import collections

import pytest

from tests.pipeline import jpeg, upload


def _ids(page):
    return [p["id"] for p in page["items"]]


def _walk(api, token, limit):
    ids, cursor = [], None
    for _ in range(50):
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = api.get(f"/feed{query}", token=token)
        assert r.status_code == 200, r.body
        ids += _ids(r.data)
        cursor = r.data["next_cursor"]
        if not cursor:
            return ids
    raise AssertionError("the feed did not end")


@pytest.fixture
def world(api, make_user):
    """reader follows ann; reader is a viewer of carl's private event; dora is followed by nobody."""
    reader, ann, carl, dora = make_user("reader"), make_user("ann"), make_user("carl"), make_user("dora")
    assert api.post("/users/ann/follow", token=reader["access"]).status_code == 201
    event = api.post("/events", {"name": "Wedding", "visibility": "private"}, token=carl["access"]).data
    for username, role in (("reader", "viewer"), ("dora", "contributor")):
        assert (
            api.post(
                f"/events/{event['id']}/members", {"username": username, "role": role}, token=carl["access"]
            ).status_code
            == 201
        )
    photos = {
        "ann1": upload(api, ann["access"], jpeg()),
        "dora_own": upload(api, dora["access"], jpeg()),  # dora is not followed
        "carl_event": upload(api, carl["access"], jpeg(), event_id=event["id"]),
        "ann2": upload(api, ann["access"], jpeg()),
        "dora_event": upload(api, dora["access"], jpeg(), event_id=event["id"]),
        "ann_private": upload(api, ann["access"], jpeg()),
    }
    assert (
        api.patch(f"/photos/{photos['ann_private']}", {"visibility": "private"}, token=ann["access"]).status_code == 200
    )
    return {"reader": reader, "ann": ann, "carl": carl, "dora": dora, "event": event, "photos": photos}


def test_feed_has_followed_users_and_event_photos_newest_first(api, world):
    p = world["photos"]
    r = api.get("/feed", token=world["reader"]["access"])
    assert r.status_code == 200, r.body
    assert _ids(r.data) == [p["dora_event"], p["ann2"], p["carl_event"], p["ann1"]]
    assert r.data["next_cursor"] is None
    first = r.data["items"][0]
    assert first["status"] == "ready" and first["owner"]["username"] == "dora" and "thumb" in first["urls"]
    assert "original" not in first["urls"]  # a viewer gets what the event grants viewers, never more
    # the event owner's feed holds the event's photos; ann's (unfollowed) are not in it
    assert _ids(api.get("/feed", token=world["carl"]["access"]).data) == [p["dora_event"], p["carl_event"]]


def test_feed_follows_unfollows_and_blocks_at_once(api, world, make_user):
    p, reader = world["photos"], world["reader"]
    assert api.delete("/users/ann/follow", token=reader["access"]).status_code == 204
    assert _ids(api.get("/feed", token=reader["access"]).data) == [p["dora_event"], p["carl_event"]]
    assert api.post("/users/dora/follow", token=reader["access"]).status_code == 201
    assert _ids(api.get("/feed", token=reader["access"]).data) == [p["dora_event"], p["carl_event"], p["dora_own"]]
    # a block hides the other's photos everywhere in the feed, event photos included
    assert api.post("/users/reader/block", token=world["dora"]["access"]).status_code == 201
    assert _ids(api.get("/feed", token=reader["access"]).data) == [p["carl_event"]]
    newcomer = make_user("newbie")
    r = api.get("/feed", token=newcomer["access"])
    assert r.status_code == 200 and r.data == {"items": [], "next_cursor": None, "sources_capped": False}


def test_feed_pagination_covers_everything_once(api, world):
    p, token = world["photos"], world["reader"]["access"]
    everything = [p["dora_event"], p["ann2"], p["carl_event"], p["ann1"]]
    for limit in (1, 2, 3):
        assert _walk(api, token, limit) == everything, limit
    # photos posted while paging do not shift the pages already being read
    first = api.get("/feed?limit=2", token=token).data
    newer = upload(api, world["ann"]["access"], jpeg())
    rest = _walk_from(api, token, first["next_cursor"])
    assert _ids(first) + rest == everything
    assert _ids(api.get("/feed?limit=1", token=token).data) == [newer]


def _walk_from(api, token, cursor):
    ids = []
    while cursor:
        page = api.get(f"/feed?limit=2&cursor={cursor}", token=token).data
        ids += _ids(page)
        cursor = page["next_cursor"]
    return ids


def test_feed_cursor_is_bound_to_the_caller_and_tamper_proof(api, world):
    cursor = api.get("/feed?limit=1", token=world["reader"]["access"]).data["next_cursor"]
    assert cursor
    r = api.get(f"/feed?limit=1&cursor={cursor}", token=world["carl"]["access"])
    assert r.status_code == 400 and r.data["error"]["code"] == "invalid_cursor"
    payload, sig = cursor.split(".")
    assert api.get(f"/feed?cursor={payload[:-1]}A.{sig}", token=world["reader"]["access"]).status_code == 400
    assert api.get("/feed?cursor=garbage", token=world["reader"]["access"]).status_code == 400
    assert api.get("/feed?limit=101", token=world["reader"]["access"]).status_code == 400
    assert api.get("/feed").status_code == 401


def test_feed_sources_are_capped(api, make_user, monkeypatch):
    from chalicelib.services import feed

    monkeypatch.setattr(feed, "MAX_FOLLOWEES", 2)
    reader = make_user("capreader")
    authors = [make_user(f"author{i}") for i in range(3)]
    photos = [upload(api, a["access"], jpeg()) for a in authors]
    for author in authors:  # followed in order: author0 first, author2 last
        assert api.post(f"/users/{author['username']}/follow", token=reader["access"]).status_code == 201
    r = api.get("/feed", token=reader["access"])
    assert _ids(r.data) == [photos[2], photos[1]] and r.data["sources_capped"] is True  # not silent
    api.delete(f"/users/{authors[0]['username']}/follow", token=reader["access"])
    r = api.get("/feed", token=reader["access"])
    assert _ids(r.data) == [photos[2], photos[1]] and r.data["sources_capped"] is False


def test_feed_makes_no_scan_and_a_bounded_number_of_calls(api, world, counter):
    token = world["reader"]["access"]
    response, calls = counter.measure(lambda: api.get("/feed?limit=2", token=token))
    assert response.status_code == 200 and len(response.data["items"]) == 2
    dynamo = collections.Counter(c for c in calls if c.startswith("dynamodb."))
    assert not any(c.endswith(".Scan") for c in calls), calls
    # sources: follows + memberships + owned events, then one Query per source (1 followee + 1 event)
    assert dynamo["dynamodb.Query"] == 3 + 2, dynamo
    from chalicelib.services import photos_access

    # 14, and per page one BatchGetItem per registered grant source (client assignment, purchase, ...)
    assert sum(dynamo.values()) <= 14 + 2 * len(photos_access.GRANT_SOURCES), dynamo
    cursor = response.data["next_cursor"]
    response, calls = counter.measure(lambda: api.get(f"/feed?limit=2&cursor={cursor}", token=token))
    assert response.status_code == 200 and not any(c.endswith(".Scan") for c in calls)
    assert collections.Counter(calls)["dynamodb.Query"] == 5
