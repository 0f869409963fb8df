"""Ratings and trust over HTTP: who may rate whom and when, once only, the aggregates on the profile, the trust
table, the listing, and counts that stay exact when many raters rate one user at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

FUTURE = {"starts_at": "2999-01-01T18:00:00Z", "ends_at": "2999-01-01T23:00:00Z"}
PAST = {"starts_at": "2020-01-01T18:00:00Z", "ends_at": "2020-01-01T23:00:00Z"}


def principal(user_id: str):
    from chalicelib.services.tokens import Principal

    return Principal(user_id=user_id, role="member", family_id="", user=None)


def user_row(user_id):
    from chalicelib.models.users import User

    return User.get(user_id, consistent_read=True)


def rating_rows(user_id) -> list:
    from chalicelib.models.ratings import Rating

    return list(Rating.query(user_id, consistent_read=True))


def rate(api, rater, rated_id, event_id, rating=5, **extra):
    return api.post(
        f"/users/{rated_id}/ratings", {"event_id": event_id, "rating": rating, **extra}, token=rater["access"]
    )


def end(api, host, event_id):
    r = api.patch(f"/events/{event_id}", PAST, token=host["access"])
    assert r.status_code == 200, r.body


@pytest.fixture
def met(api, make_user):
    """A public event that has ended: its host, ann and bob went, cat was only interested; dan never came."""
    people = {name: make_user(name) for name in ("host", "ann", "bob", "cat", "dan")}
    r = api.post("/events", {"name": "Study night", "visibility": "public", **FUTURE}, token=people["host"]["access"])
    event_id = r.data["id"]
    for name, status in (("ann", "going"), ("bob", "going"), ("cat", "interested")):
        assert api.put(f"/events/{event_id}/rsvp", {"status": status}, token=people[name]["access"]).status_code == 200
    end(api, people["host"], event_id)
    return {**people, "event": event_id}


def test_attendees_rate_each_other_and_the_profile_shows_it(api, met):
    ann, bob, host, eid = met["ann"], met["bob"], met["host"], met["event"]
    r = rate(api, ann, bob["id"], eid, 5, reference="  Great study partner.  ")
    assert r.status_code == 201, r.body
    assert r.data["rating"] == 5 and r.data["reference"] == "Great study partner." and r.data["rated_id"] == bob["id"]
    assert r.data["rater"]["username"] == "ann" and r.data["event"] == {"id": eid, "name": "Study night"}
    assert r.data["created_at"].endswith("Z") and r.data["id"]
    assert rate(api, host, bob["id"], eid, 4).status_code == 201  # the host counts as attending
    assert rate(api, bob, host["id"], eid, 3).status_code == 201  # and may be rated
    assert rate(api, met["bob"], "ann", eid, 2).status_code == 201  # a username works as the path id

    profile = api.get(f"/users/{bob['id']}").data["reputation"]
    assert profile == {
        "average": 4.5,
        "count": 2,
        "trust_level": {"level": 1, "title": "Participant"},
        "events_hosted": 0,
        "events_attended": 1,
    }
    host_rep = api.get("/users/host").data["reputation"]
    assert host_rep["events_hosted"] == 1 and host_rep["count"] == 1 and host_rep["average"] == 3.0
    fresh = api.get(f"/users/{met['dan']['id']}").data["reputation"]
    assert fresh == {
        "average": None,
        "count": 0,
        "trust_level": {"level": 0, "title": "Newcomer"},
        "events_hosted": 0,
        "events_attended": 0,
    }

    listing = api.get(f"/users/{bob['id']}/ratings").data
    assert [i["rater"]["username"] for i in listing["items"]] == ["host", "ann"]  # newest first
    assert listing["next_cursor"] is None and listing["items"][1]["reference"] == "Great study partner."
    first = api.get(f"/users/{bob['id']}/ratings?limit=1").data
    assert len(first["items"]) == 1 and first["next_cursor"]
    rest = api.get(f"/users/{bob['id']}/ratings?limit=1&cursor={first['next_cursor']}").data
    assert [i["rater"]["username"] for i in rest["items"]] == ["ann"]
    assert api.get(f"/users/{host['id']}/ratings?cursor={first['next_cursor']}").status_code == 400
    assert api.get("/users/u_nobody/ratings").status_code == 404


def test_bad_ratings_are_refused_and_change_nothing(api, met, make_user):
    ann, bob, cat, dan, host, eid = met["ann"], met["bob"], met["cat"], met["dan"], met["host"], met["event"]

    def aggregates(user_id):
        row = user_row(user_id)
        return (row.rating_count, row.rating_sum)

    before = aggregates(bob["id"])

    def refused(response, status, code=None):
        assert response.status_code == status, response.body
        if code:
            assert response.data["error"]["code"] == code, response.body
        return response.data["error"]

    for bad in (0, 6, "x", "5", 2.5, True, None):
        err = refused(rate(api, ann, bob["id"], eid, bad), 400, "validation_error")
        assert "rating" in err["details"]
    refused(rate(api, ann, bob["id"], eid, 5, reference="x" * 501), 400, "validation_error")
    refused(rate(api, ann, bob["id"], eid, 5, reference="   "), 400, "validation_error")
    refused(rate(api, ann, bob["id"], eid, 5, reference="\u202eevil"), 400, "validation_error")
    refused(api.post(f"/users/{bob['id']}/ratings", {"rating": 5}, token=ann["access"]), 400, "validation_error")
    refused(api.post(f"/users/{bob['id']}/ratings", {"event_id": eid, "rating": 5}), 401)
    refused(rate(api, ann, ann["id"], eid), 400, "validation_error")  # never yourself
    refused(rate(api, ann, "u_nobody", eid), 404)
    refused(rate(api, ann, bob["id"], "e_nope"), 404)

    # Never met: the rater or the rated did not go (interested is not going; dan never answered).
    err = refused(rate(api, dan, bob["id"], eid), 403, "not_attended")
    assert "event_id" in err["details"]
    err = refused(rate(api, ann, cat["id"], eid), 403, "not_attended")
    assert "user_id" in err["details"]
    refused(rate(api, cat, ann["id"], eid), 403, "not_attended")

    # Not ended yet: an event still running (or one with no times) cannot be rated.
    eid2 = api.post("/events", {"name": "Later", "visibility": "public", **FUTURE}, token=host["access"]).data["id"]
    assert api.put(f"/events/{eid2}/rsvp", {"status": "going"}, token=ann["access"]).status_code == 200
    refused(rate(api, ann, host["id"], eid2), 409, "event_not_ended")

    # A private event the rater cannot see: 404.
    private = api.post("/events", {"name": "Secret", "visibility": "private", **PAST}, token=host["access"]).data
    refused(rate(api, ann, host["id"], private["id"]), 404)

    # Blocks, either way.
    assert api.post(f"/users/{ann['id']}/block", token=bob["access"]).status_code == 201
    refused(rate(api, ann, bob["id"], eid), 403, "blocked")
    refused(rate(api, bob, ann["id"], eid), 403, "blocked")
    assert api.delete(f"/users/{ann['id']}/block", token=bob["access"]).status_code == 204

    assert aggregates(bob["id"]) == before == (None, None) and rating_rows(bob["id"]) == []
    assert aggregates(ann["id"]) == aggregates(cat["id"]) == aggregates(host["id"]) == (None, None)

    # Once per (rater, rated, event): the repeat is 409 and counts nothing.
    assert rate(api, ann, bob["id"], eid, 4).status_code == 201
    refused(rate(api, ann, bob["id"], eid, 1), 409, "already_rated")
    row = user_row(bob["id"])
    assert (row.rating_count, row.rating_sum) == (1, 4) and len(rating_rows(bob["id"])) == 1


def test_idempotency_key_replays_the_first_rating(api, met):
    ann, bob, eid = met["ann"], met["bob"], met["event"]
    key = {"Idempotency-Key": "rate-bob-1"}
    first = api.post(f"/users/{bob['id']}/ratings", {"event_id": eid, "rating": 5}, token=ann["access"], headers=key)
    again = api.post(f"/users/{bob['id']}/ratings", {"event_id": eid, "rating": 5}, token=ann["access"], headers=key)
    assert first.status_code == again.status_code == 201 and first.data == again.data
    assert user_row(bob["id"]).rating_count == 1


def test_private_events_only_for_those_who_may_read_them(api, make_user):
    host, ann, outsider = make_user("host"), make_user("ann"), make_user("outsider")
    r = api.post("/events", {"name": "Family", "visibility": "private", **FUTURE}, token=host["access"])
    eid = r.data["id"]
    assert (
        api.post(f"/events/{eid}/members", {"username": "ann", "role": "viewer"}, token=host["access"]).status_code
        == 201
    )
    assert api.put(f"/events/{eid}/rsvp", {"status": "going"}, token=ann["access"]).status_code == 200
    end(api, host, eid)
    assert rate(api, ann, host["id"], eid, 5).status_code == 201
    assert api.get(f"/users/{host['id']}/ratings", token=ann["access"]).data["items"][0]["event"]["name"] == "Family"
    for token in (outsider["access"], None):
        item = api.get(f"/users/{host['id']}/ratings", token=token).data["items"][0]
        assert item["event"] is None and item["rating"] == 5  # not even its id
        assert eid not in str(item)


def test_trust_levels_follow_the_table():
    from chalicelib.services.ratings import TRUST_LEVELS, trust_level

    assert [(t.level, t.title) for t in TRUST_LEVELS] == [
        (0, "Newcomer"),
        (1, "Participant"),
        (2, "Trusted"),
        (3, "Leader"),
    ]
    cases = {
        (0, None): 0,
        (1, 2.0): 0,  # one poor rating: still a newcomer
        (1, 3.0): 1,
        (4, 5.0): 1,  # too few ratings for Trusted, however good
        (5, 4.0): 2,
        (5, 3.9): 1,
        (20, 4.5): 3,
        (100, 4.49): 2,
        (100, 1.0): 0,
    }
    assert {case: trust_level(*case).level for case in cases} == cases


def test_many_raters_at_once_count_exactly(api, make_user):
    """30 attendees rate one host at the same moment: count, sum and average are exact, each rating stored once."""
    from chalicelib.models.users import User
    from chalicelib.services import ratings as ratings_service
    from chalicelib.services import rsvp as rsvp_service

    host = make_user("host")
    eid = api.post("/events", {"name": "Big", "visibility": "public", **FUTURE}, token=host["access"]).data["id"]
    raters = [f"u_rater{i:02d}" for i in range(30)]
    with User.batch_write() as batch:
        for user_id in raters:
            batch.save(User(user_id=user_id, email=f"{user_id}@x", username=user_id, password_hash="x"))
    for user_id in raters:
        rsvp_service.set_rsvp(principal(user_id), eid, "going")
    end(api, host, eid)
    barrier = threading.Barrier(len(raters))

    def go(pair):
        i, user_id = pair
        barrier.wait()
        ratings_service.rate(principal(user_id), host["id"], eid, 1 + i % 5, None)
        if i % 3 == 0:  # a retry of the same rating must count nothing
            try:
                ratings_service.rate(principal(user_id), host["id"], eid, 5, None)
            except Exception as exc:
                return getattr(exc, "code", repr(exc))
        return "ok"

    with ThreadPoolExecutor(max_workers=len(raters)) as pool:
        results = list(pool.map(go, enumerate(raters)))
    assert set(results) <= {"ok", "already_rated"} and results.count("already_rated") == 10
    expected_sum = sum(1 + i % 5 for i in range(30))
    row = user_row(host["id"])
    assert (row.rating_count, row.rating_sum) == (30, expected_sum) and len(rating_rows(host["id"])) == 30
    rep = api.get(f"/users/{host['id']}").data["reputation"]
    assert rep["count"] == 30 and rep["average"] == round(expected_sum / 30, 2)
    assert rep["trust_level"]["title"] == "Participant"  # average 3.0 with 30 ratings


def test_deleting_a_user_removes_the_ratings_they_received(api, met):
    from tests.conftest import PASSWORD
    from tests.jobs import drain

    ann, bob, eid = met["ann"], met["bob"], met["event"]
    assert rate(api, ann, bob["id"], eid, 5).status_code == 201
    assert rate(api, bob, ann["id"], eid, 4).status_code == 201
    assert api.delete("/users/me", {"password": PASSWORD}, token=bob["access"]).status_code == 204
    drain()
    assert rating_rows(bob["id"]) == []
    assert api.get(f"/users/{bob['id']}/ratings").status_code == 404
    [given] = api.get(f"/users/{ann['id']}/ratings").data["items"]  # what bob gave stays, from a deleted user
    assert given["rating"] == 4 and given["rater"]["id"] == bob["id"]
