"""RSVPs and capacity over HTTP: statuses, counts on the event, who may answer, the attendee listing, event
types as a public-listing filter, and a last-seats race that stays exact under 50 concurrent RSVPs."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.jobs import drain

FUTURE = {"starts_at": "2999-01-01T18:00:00Z", "ends_at": "2999-01-01T23:00:00Z"}


def create(api, token, visibility="public", **fields):
    r = api.post("/events", {"name": "Meetup", "visibility": visibility, **FUTURE, **fields}, token=token)
    assert r.status_code == 201, r.body
    return r.data


def rsvp(api, user, event_id, status="going"):
    return api.put(f"/events/{event_id}/rsvp", {"status": status}, token=user["access"])


def event_row(event_id):
    from chalicelib.models.events import Event

    return Event.get(event_id, consistent_read=True)


def user_row(user_id):
    from chalicelib.models.users import User

    return User.get(user_id, consistent_read=True)


def rsvp_rows(event_id) -> dict[str, str]:
    from chalicelib.models.rsvp import Rsvp

    return {r.user_id: r.status for r in Rsvp.query(event_id, consistent_read=True)}


def principal(user_id: str):
    from chalicelib.services.tokens import Principal

    return Principal(user_id=user_id, role="member", family_id="", user=None)


@pytest.fixture
def people(make_user):
    return {name: make_user(name) for name in ("host", "ann", "bob", "cat")}


# ---- answering and counting ---------------------------------------------------------------------------------


def test_going_interested_switch_cancel_and_replays(api, people):
    host, ann, bob = people["host"], people["ann"], people["bob"]
    event = create(api, host["access"], capacity=10)
    assert (event["going_count"], event["interested_count"], event["capacity"]) == (0, 0, 10)
    eid = event["id"]

    r = rsvp(api, ann, eid)
    assert r.status_code == 200, r.body
    assert r.data["status"] == "going" and r.data["going_count"] == 1 and r.data["capacity"] == 10
    assert r.data["responded_at"].endswith("Z") and r.data["event_id"] == eid
    again = rsvp(api, ann, eid)
    assert again.status_code == 200 and again.data == r.data  # a replay changes nothing
    assert rsvp(api, bob, eid, "interested").data["interested_count"] == 1
    assert user_row(ann["id"]).events_attended == 1 and not user_row(bob["id"]).events_attended

    shown = api.get(f"/events/{eid}").data
    assert (shown["going_count"], shown["interested_count"]) == (1, 1)

    r = rsvp(api, ann, eid, "interested")  # going -> interested: one seat frees, attended back to 0
    assert (r.data["going_count"], r.data["interested_count"]) == (0, 2)
    assert user_row(ann["id"]).events_attended == 0
    r = rsvp(api, bob, eid, "going")
    assert (r.data["going_count"], r.data["interested_count"]) == (1, 1)
    assert user_row(bob["id"]).events_attended == 1

    assert api.delete(f"/events/{eid}/rsvp", token=bob["access"]).status_code == 204
    assert api.delete(f"/events/{eid}/rsvp", token=bob["access"]).status_code == 204  # idempotent
    assert api.delete(f"/events/{eid}/rsvp", token=ann["access"]).status_code == 204
    row = event_row(eid)
    assert (row.going_count, row.interested_count) == (0, 0) and rsvp_rows(eid) == {}
    assert user_row(bob["id"]).events_attended == 0
    assert event_row(eid).version == 1  # RSVPs do not bump the event's version: a PATCH from a read still applies


def test_capacity_full_and_lowering_below_going(api, people):
    host, ann, bob, cat = people["host"], people["ann"], people["bob"], people["cat"]
    eid = create(api, host["access"], capacity=1)["id"]
    assert rsvp(api, ann, eid).status_code == 200
    full = rsvp(api, bob, eid)
    assert full.status_code == 409 and full.data["error"]["code"] == "event_full"
    assert rsvp_rows(eid) == {ann["id"]: "going"} and event_row(eid).going_count == 1
    assert rsvp(api, bob, eid, "interested").status_code == 200  # interested needs no seat
    assert rsvp(api, ann, eid).status_code == 200  # already going keeps the seat

    # Raise, fill, then lower below going_count: allowed, nobody dropped, nobody new may go.
    assert api.patch(f"/events/{eid}", {"capacity": 3}, token=host["access"]).data["capacity"] == 3
    assert rsvp(api, bob, eid).status_code == 200 and rsvp(api, cat, eid).status_code == 200
    r = api.patch(f"/events/{eid}", {"capacity": 1}, token=host["access"])
    assert r.status_code == 200 and r.data["capacity"] == 1 and r.data["going_count"] == 3
    assert api.delete(f"/events/{eid}/rsvp", token=cat["access"]).status_code == 204
    assert rsvp(api, cat, eid).data is not None and rsvp(api, cat, eid).status_code == 409  # 2 going > 1
    r = api.patch(f"/events/{eid}", {"capacity": None}, token=host["access"])  # unlimited again
    assert r.data["capacity"] is None
    assert rsvp(api, cat, eid).status_code == 200 and event_row(eid).going_count == 3


def test_capacity_validation(api, people):
    token = people["host"]["access"]
    for bad in (0, -1, "5", 1.5, True, 10_000_000):
        r = api.post("/events", {"name": "x", "visibility": "public", "capacity": bad}, token=token)
        assert r.status_code == 400 and "capacity" in r.data["error"]["details"], (bad, r.body)
    eid = create(api, token)["id"]
    assert api.patch(f"/events/{eid}", {"capacity": 0}, token=token).status_code == 400
    assert create(api, token)["capacity"] is None  # default: unlimited


def test_rsvp_bad_input_and_who_may_answer(api, people, make_user):
    host, ann, bob = people["host"], people["ann"], people["bob"]
    private = create(api, host["access"], visibility="private")["id"]
    unlisted = create(api, host["access"], visibility="unlisted")["id"]
    for body in ({"status": "maybe"}, {"status": None}, {}, {"status": 1}):
        r = api.put(f"/events/{unlisted}/rsvp", body, token=ann["access"])
        assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", body
    assert api.put(f"/events/{unlisted}/rsvp", {"status": "going"}).status_code == 401
    assert rsvp(api, ann, unlisted).status_code == 200  # unlisted: anyone with the link

    # A private event the caller may not see: 404 and nothing written.
    r = rsvp(api, ann, private)
    assert r.status_code == 404 and r.data["error"]["code"] == "not_found"
    assert api.delete(f"/events/{private}/rsvp", token=ann["access"]).status_code == 404
    assert api.get(f"/events/{private}/attendees", token=ann["access"]).status_code == 404
    assert rsvp_rows(private) == {} and not event_row(private).going_count
    assert rsvp(api, ann, "e_nope").status_code == 404 and rsvp(api, ann, "x" * 200).status_code == 404

    # Members of the private event may answer.
    r = api.post(f"/events/{private}/members", {"username": "bob", "role": "viewer"}, token=host["access"])
    assert r.status_code == 201
    assert rsvp(api, bob, private).status_code == 200

    # The host attends without an RSVP; an ended event is closed; a blocked user may not answer.
    r = rsvp(api, host, unlisted)
    assert r.status_code == 409 and r.data["error"]["code"] == "is_host"
    past = create(api, host["access"], starts_at="2020-01-01T10:00:00Z", ends_at="2020-01-01T12:00:00Z")["id"]
    r = rsvp(api, ann, past)
    assert r.status_code == 409 and r.data["error"]["code"] == "event_ended" and rsvp_rows(past) == {}
    no_end = create(api, host["access"], starts_at="2020-01-01T10:00:00Z", ends_at=None)["id"]  # +24 h: over
    assert rsvp(api, ann, no_end).data["error"]["code"] == "event_ended"
    timeless = create(api, host["access"], starts_at=None, ends_at=None)["id"]  # never ends
    assert rsvp(api, ann, timeless).status_code == 200
    cat = people["cat"]
    assert api.post(f"/users/{cat['id']}/block", token=host["access"]).status_code in (200, 201, 204)
    r = rsvp(api, cat, unlisted)
    assert r.status_code == 403 and r.data["error"]["code"] == "blocked"


def test_attendees_going_first_filter_and_pages(api, people, make_user):
    host = people["host"]
    eid = create(api, host["access"])["id"]
    crowd = [make_user(f"guest{i}") for i in range(5)]
    for i, user in enumerate(crowd):
        assert rsvp(api, user, eid, "interested" if i % 2 == 0 else "going").status_code == 200
    r = api.get(f"/events/{eid}/attendees")  # public event: anonymous callers may look too
    assert r.status_code == 200
    statuses = [item["status"] for item in r.data["items"]]
    assert statuses == ["going", "going", "interested", "interested", "interested"]
    assert [i["user"]["username"] for i in r.data["items"][:2]] == ["guest1", "guest3"]  # oldest answer first
    assert r.data["items"][0]["responded_at"].endswith("Z")

    going = api.get(f"/events/{eid}/attendees?status=going").data["items"]
    assert [i["user"]["username"] for i in going] == ["guest1", "guest3"]
    seen, cursor = [], None
    while True:
        page = api.get(f"/events/{eid}/attendees?status=interested&limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert page.status_code == 200
        seen += [i["user"]["username"] for i in page.data["items"]]
        cursor = page.data["next_cursor"]
        if not cursor:
            break
    assert seen == ["guest0", "guest2", "guest4"]
    other = create(api, host["access"])["id"]
    first = api.get(f"/events/{eid}/attendees?limit=1").data["next_cursor"]
    assert api.get(f"/events/{other}/attendees?cursor={first}").status_code == 400  # cursor bound to its listing
    assert api.get(f"/events/{eid}/attendees?status=maybe").status_code == 400


def test_deleting_an_event_removes_its_rsvps(api, people):
    host, ann = people["host"], people["ann"]
    eid = create(api, host["access"])["id"]
    assert rsvp(api, ann, eid).status_code == 200
    assert api.delete(f"/events/{eid}", token=host["access"]).status_code == 204
    drain()
    assert rsvp_rows(eid) == {}


# ---- concurrency --------------------------------------------------------------------------------------------


def test_fifty_concurrent_rsvps_for_the_last_seats(api, people):
    """Capacity 5 with 3 taken: of 50 users asking at once exactly 2 get a seat, 48 get 409 event_full."""
    from chalicelib.errors import ConflictError
    from chalicelib.models.users import User
    from chalicelib.services import rsvp as rsvp_service

    host = people["host"]
    eid = create(api, host["access"], capacity=5)["id"]
    for name in ("ann", "bob", "cat"):
        assert rsvp(api, people[name], eid).status_code == 200
    crowd = [f"u_crowd{i:02d}" for i in range(50)]
    with User.batch_write() as batch:
        for user_id in crowd:
            batch.save(User(user_id=user_id, email=f"{user_id}@x", username=user_id, password_hash="x"))
    barrier = threading.Barrier(50)

    def go(user_id):
        barrier.wait()
        try:
            rsvp_service.set_rsvp(principal(user_id), eid, "going")
            return 200
        except ConflictError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(go, crowd))
    assert results.count(200) == 2 and results.count("event_full") == 48, results
    assert event_row(eid).going_count == 5
    going = [u for u, s in rsvp_rows(eid).items() if s == "going"]
    assert len(going) == 5
    winners = [u for u, r in zip(crowd, results, strict=True) if r == 200]
    assert sorted(winners) == sorted(set(going) - {people[n]["id"] for n in ("ann", "bob", "cat")})
    assert [user_row(u).events_attended or 0 for u in crowd].count(1) == 2
    assert api.get(f"/events/{eid}").data["going_count"] == 5


def test_one_users_concurrent_switches_count_once(api, people):
    from chalicelib.services import rsvp as rsvp_service

    host, ann = people["host"], people["ann"]
    eid = create(api, host["access"], capacity=3)["id"]
    plan = ["going", "interested"] * 10

    def act(status):
        rsvp_service.set_rsvp(principal(ann["id"]), eid, status)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(act, plan))
    final = rsvp_rows(eid)[ann["id"]]
    row = event_row(eid)
    assert (row.going_count, row.interested_count) == ((1, 0) if final == "going" else (0, 1))
    assert user_row(ann["id"]).events_attended == (1 if final == "going" else 0)


# ---- event types --------------------------------------------------------------------------------------------


def test_event_type_on_create_patch_and_public_filter(api, people, counter):
    host, ann = people["host"], people["ann"]
    token = host["access"]
    assert create(api, token)["event_type"] == "other"  # the default
    study = [create(api, token, event_type="study")["id"] for _ in range(3)]
    party = create(api, token, event_type="party")["id"]
    create(api, token, visibility="unlisted", event_type="study")  # not public: never listed
    private = create(api, token, visibility="private", event_type="study")["id"]
    rave = {"name": "x", "visibility": "public", "event_type": "rave"}
    assert api.post("/events", rave, token=token).status_code == 400

    def listed(query):
        r = api.get(f"/events?scope=public&{query}")
        assert r.status_code == 200, r.body
        return r

    assert [e["id"] for e in listed("event_type=study").data["items"]] == study[::-1]
    page = listed("event_type=study&limit=2")  # pages stay full: the index holds only study events
    assert len(page.data["items"]) == 2 and page.data["next_cursor"]
    rest = listed(f"event_type=study&limit=2&cursor={page.data['next_cursor']}").data
    assert [e["id"] for e in rest["items"]] == [study[0]]
    assert api.get(f"/events?scope=public&cursor={page.data['next_cursor']}").status_code == 400  # bound cursor

    # PATCH moves an event between types, and making it public or private moves it in and out of the index.
    assert api.patch(f"/events/{party}", {"event_type": "study"}, token=token).data["event_type"] == "study"
    assert api.patch(f"/events/{private}", {"visibility": "public"}, token=token).status_code == 200
    ids = [e["id"] for e in listed("event_type=study").data["items"]]
    assert ids[:2] == [private, party] and len(ids) == 5
    assert listed("event_type=party").data["items"] == []
    assert api.patch(f"/events/{party}", {"visibility": "private"}, token=token).status_code == 200
    assert party not in [e["id"] for e in listed("event_type=study").data["items"]]
    assert api.patch(f"/events/{party}", {"event_type": None}, token=token).status_code == 400

    assert api.get("/events?scope=public&event_type=rave").status_code == 400
    r = api.get("/events?scope=mine&event_type=study", token=ann["access"])
    assert r.status_code == 400 and "event_type" in r.data["error"]["details"]

    _, calls = counter.measure(lambda: listed("event_type=study"))
    dynamo = [c for c in calls if c.startswith("dynamodb.")]
    assert "dynamodb.Query" in dynamo and not any(c.endswith(".Scan") for c in calls)


def test_creating_events_counts_them_as_hosted(api, people):
    host = people["host"]
    for _ in range(3):
        create(api, host["access"])
    assert user_row(host["id"]).events_hosted == 3
    assert api.get(f"/users/{host['id']}").data["reputation"]["events_hosted"] == 3


def test_deleting_an_account_frees_its_seats(api, people):
    from tests.conftest import PASSWORD

    host, ann, bob = people["host"], people["ann"], people["bob"]
    full = create(api, host["access"], capacity=1)["id"]
    other = create(api, host["access"])["id"]
    assert rsvp(api, ann, full).status_code == 200 and rsvp(api, ann, other, "interested").status_code == 200
    assert rsvp(api, bob, full).data["error"]["code"] == "event_full"
    assert api.delete("/users/me", {"password": PASSWORD}, token=ann["access"]).status_code == 204
    drain()
    assert rsvp_rows(full) == rsvp_rows(other) == {}
    assert (event_row(full).going_count, event_row(other).interested_count) == (0, 0)
    assert rsvp(api, bob, full).status_code == 200


# ---- no stranded seats: invitees accept first, withdrawing needs no access, losing access withdraws ---------


def test_a_pending_invitee_accepts_before_answering_a_private_event(api, people):
    host, ann, bob = people["host"], people["ann"], people["bob"]
    eid = create(api, host["access"], visibility="private", capacity=1)["id"]
    r = api.post(f"/events/{eid}/invitations", {"usernames": ["ann", "bob"]}, token=host["access"])
    assert r.status_code == 201, r.body
    assert api.get(f"/events/{eid}", token=ann["access"]).status_code == 200  # invitees may read it
    r = rsvp(api, ann, eid)
    assert r.status_code == 403 and r.data["error"]["code"] == "invitation_not_accepted"
    assert rsvp_rows(eid) == {} and not event_row(eid).going_count
    assert api.post(f"/invitations/{eid}/accept", token=ann["access"]).status_code == 200
    assert rsvp(api, ann, eid).status_code == 200 and event_row(eid).going_count == 1

    # declining frees nothing it does not hold, and a stranger still gets 404
    assert api.post(f"/invitations/{eid}/decline", token=bob["access"]).status_code == 200
    assert rsvp(api, bob, eid).status_code == 404


def _legacy_rsvp(event_id: str, user_id: str) -> None:
    """An RSVP written while its user could still read the event (before this rule, or before losing access)."""
    from chalicelib.models import rsvp as store

    assert store.change(event_id, user_id, None, "going")[0] == []


def test_declining_a_private_invitation_withdraws_the_rsvp(api, people):
    host, ann = people["host"], people["ann"]
    eid = create(api, host["access"], visibility="private", capacity=1)["id"]
    api.post(f"/events/{eid}/invitations", {"usernames": ["ann"]}, token=host["access"])
    _legacy_rsvp(eid, ann["id"])  # what the old rule let a pending invitee do
    assert event_row(eid).going_count == 1 and user_row(ann["id"]).events_attended == 1
    assert api.post(f"/invitations/{eid}/decline", token=ann["access"]).status_code == 200
    assert rsvp_rows(eid) == {} and event_row(eid).going_count == 0  # the seat is free again
    assert user_row(ann["id"]).events_attended == 0


def test_removing_or_leaving_a_private_event_withdraws_the_rsvp(api, people):
    host, ann, bob, cat = people["host"], people["ann"], people["bob"], people["cat"]
    eid = create(api, host["access"], visibility="private", capacity=2)["id"]
    for name in ("ann", "bob"):
        r = api.post(f"/events/{eid}/members", {"username": name, "role": "viewer"}, token=host["access"])
        assert r.status_code == 201
        assert rsvp(api, people[name], eid).status_code == 200
    assert event_row(eid).going_count == 2
    assert api.delete(f"/events/{eid}/members/{ann['id']}", token=host["access"]).status_code == 204
    assert api.delete(f"/events/{eid}/members/{bob['id']}", token=bob["access"]).status_code == 204  # leaves
    assert rsvp_rows(eid) == {} and event_row(eid).going_count == 0
    api.post(f"/events/{eid}/members", {"username": "cat", "role": "viewer"}, token=host["access"])
    assert rsvp(api, cat, eid).status_code == 200  # the seats are free

    # a public event's members keep their RSVP: they may still read and answer it
    pub = create(api, host["access"])["id"]
    api.post(f"/events/{pub}/members", {"username": "ann", "role": "viewer"}, token=host["access"])
    assert rsvp(api, ann, pub).status_code == 200
    assert api.delete(f"/events/{pub}/members/{ann['id']}", token=host["access"]).status_code == 204
    assert rsvp_rows(pub) == {ann["id"]: "going"}


def test_whoever_holds_an_rsvp_may_withdraw_it(api, people):
    host, ann, bob = people["host"], people["ann"], people["bob"]
    eid = create(api, host["access"], capacity=1)["id"]
    assert rsvp(api, ann, eid).status_code == 200
    r = api.patch(f"/events/{eid}", {"visibility": "private"}, token=host["access"])
    assert r.status_code == 200 and api.get(f"/events/{eid}", token=ann["access"]).status_code == 404
    assert api.delete(f"/events/{eid}/rsvp", token=ann["access"]).status_code == 204  # not a 404: she has a seat
    assert rsvp_rows(eid) == {} and event_row(eid).going_count == 0
    assert api.delete(f"/events/{eid}/rsvp", token=ann["access"]).status_code == 404  # none left: hidden again
    assert api.delete(f"/events/{eid}/rsvp").status_code == 401

    # blocked after answering: still free to withdraw
    other = create(api, host["access"])["id"]
    assert rsvp(api, bob, other).status_code == 200
    assert api.post(f"/users/{bob['id']}/block", token=host["access"]).status_code in (200, 201, 204)
    assert api.delete(f"/events/{other}/rsvp", token=bob["access"]).status_code == 204
    assert rsvp_rows(other) == {}


def test_making_an_event_private_withdraws_the_rsvps_of_non_members(api, people, make_user):
    """Members (and the host's own event) keep their seats; everyone else's RSVP goes in the job, a page at a
    time, with its seat; a repeated job changes nothing; an event made public again before the job ran keeps all."""
    from chalicelib.services import rsvp as rsvp_service

    host, ann, bob, cat = people["host"], people["ann"], people["bob"], people["cat"]
    eid = create(api, host["access"], capacity=10)["id"]
    api.post(f"/events/{eid}/members", {"username": "ann", "role": "viewer"}, token=host["access"])
    extra = [make_user(f"fan{i}") for i in range(3)]
    for who in [ann, bob, cat, *extra]:
        assert rsvp(api, who, eid, "going" if who is not cat else "interested").status_code == 200
    assert event_row(eid).going_count == 5

    assert api.patch(f"/events/{eid}", {"visibility": "private"}, token=host["access"]).status_code == 200
    drain()
    assert rsvp_rows(eid) == {ann["id"]: "going"} and event_row(eid).going_count == 1
    assert user_row(bob["id"]).events_attended == 0
    # a rerun (the job arrives again) with a small page size changes nothing
    cursor = rsvp_service.on_event_visibility_changed({"event_id": eid}, None, 1)
    while cursor is not None:
        cursor = rsvp_service.on_event_visibility_changed({"event_id": eid}, cursor, 1)
    assert rsvp_rows(eid) == {ann["id"]: "going"} and event_row(eid).going_count == 1

    # paging: 3 non-members with a page of 2 leave after two runs
    for who in extra:
        _legacy_rsvp(eid, who["id"])
    cursor = rsvp_service.on_event_visibility_changed({"event_id": eid}, None, 2)
    assert cursor is not None
    while cursor is not None:
        cursor = rsvp_service.on_event_visibility_changed({"event_id": eid}, cursor, 2)
    assert rsvp_rows(eid) == {ann["id"]: "going"} and event_row(eid).going_count == 1

    # public again before a late job: it keeps everyone
    assert rsvp(api, people["host"], eid).status_code == 409  # the host does not take a seat
    api.patch(f"/events/{eid}", {"visibility": "public"}, token=host["access"])
    assert rsvp(api, bob, eid).status_code == 200
    assert rsvp_service.on_event_visibility_changed({"event_id": eid}, None, 10) is None
    assert rsvp_rows(eid) == {ann["id"]: "going", bob["id"]: "going"}


def test_an_rsvp_racing_the_event_made_private_is_withdrawn_by_the_answer_itself(api, people, monkeypatch):
    """The answer read the event public, the host made it private (and the job passed) before the answer
    committed: the answer sees the private event after its commit and withdraws itself, 404 and no seat held.
    A member's answer is kept."""
    from chalicelib.models.events import Event
    from chalicelib.services import event_updates
    from chalicelib.services import rsvp as rsvp_service

    host, ann, bob = people["host"], people["ann"], people["bob"]
    eid = create(api, host["access"], capacity=5)["id"]
    api.post(f"/events/{eid}/members", {"username": "ann", "role": "viewer"}, token=host["access"])
    original = rsvp_service._open_event

    def made_private_meanwhile(principal, event_id):
        event = original(principal, event_id)
        Event(event_id=event_id).update(actions=[Event.visibility.set("private")], add_version_condition=False)
        return event

    frames = []
    monkeypatch.setattr(event_updates, "publish", lambda event_id, change: frames.append(change))
    monkeypatch.setattr(rsvp_service, "_open_event", made_private_meanwhile)
    r = rsvp(api, bob, eid)
    assert r.status_code == 404 and r.data["error"]["code"] == "not_found", r.body
    assert rsvp_rows(eid) == {} and event_row(eid).going_count == 0
    assert frames == ["rsvp"]  # the withdrawal's frame only
    assert rsvp(api, ann, eid).status_code == 200
    assert rsvp_rows(eid) == {ann["id"]: "going"} and event_row(eid).going_count == 1


def test_the_visibility_job_sends_one_rsvp_frame_per_page(api, people, make_user, monkeypatch):
    from chalicelib.services import event_updates
    from chalicelib.services import rsvp as rsvp_service

    host = people["host"]
    eid = create(api, host["access"], capacity=10)["id"]
    for i in range(4):
        assert rsvp(api, make_user(f"page{i}"), eid).status_code == 200
    api.patch(f"/events/{eid}", {"visibility": "private"}, token=host["access"])
    frames = []
    monkeypatch.setattr(event_updates, "publish", lambda event_id, change: frames.append((event_id, change)))
    assert rsvp_service.on_event_visibility_changed({"event_id": eid}, None, 10) is None
    assert rsvp_rows(eid) == {} and frames == [(eid, "rsvp")]
    assert rsvp_service.on_event_visibility_changed({"event_id": eid}, None, 10) is None
    assert frames == [(eid, "rsvp")]  # nothing withdrawn, nothing sent
