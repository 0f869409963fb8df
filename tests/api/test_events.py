"""Events: CRUD, listings and cursors, visibility, the permission matrix, members, nearby search, hooks."""

from __future__ import annotations

import re

import pytest

from tests.jobs import drain

PARIS = {"lat": 48.8566, "lon": 2.3522, "name": "Paris"}
VERSAILLES = {"lat": 48.8049, "lon": 2.1204, "name": "Versailles"}  # ~18 km from Paris
LONDON = {"lat": 51.5074, "lon": -0.1278, "name": "London"}  # ~344 km from Paris
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def create(api, token, name="Party", visibility="public", **fields):
    r = api.post("/events", {"name": name, "visibility": visibility, **fields}, token=token)
    assert r.status_code == 201, r.body
    return r.data


def make_staff(user):
    from chalicelib.models.users import User

    User.get(user["id"]).update(actions=[User.role.set("staff")])
    return user


def add_member(api, owner, event_id, user, role="viewer"):
    r = api.post(f"/events/{event_id}/members", {"username": user["username"], "role": role}, token=owner["access"])
    assert r.status_code == 201, r.body
    return r.data


def ids(response):
    return [item["id"] for item in response.data["items"]]


@pytest.fixture
def cast(api, make_user):
    """An owner, a viewer, a contributor, a stranger and a staff member."""
    return {
        "owner": make_user("owner"),
        "viewer": make_user("viewer"),
        "contributor": make_user("contrib"),
        "stranger": make_user("stranger"),
        "staff": make_staff(make_user("staffer")),
    }


def event_with_members(api, cast, visibility):
    event = create(api, cast["owner"]["access"], visibility=visibility)
    add_member(api, cast["owner"], event["id"], cast["viewer"], "viewer")
    add_member(api, cast["owner"], event["id"], cast["contributor"], "contributor")
    return event


# ---- create, read, update, delete ---------------------------------------------------------------------------


def test_create_read_update_delete(api, make_user):
    owner = make_user("olga")
    r = api.post(
        "/events",
        {
            "name": "  Summer party ",
            "description": "Bring\na camera",
            "visibility": "unlisted",
            "starts_at": "2026-07-01T18:00:00+02:00",
            "ends_at": "2026-07-01T23:30:00Z",
            "location": PARIS,
            "watermark_text": "Olga's",
        },
        token=owner["access"],
    )
    assert r.status_code == 201, r.body
    event = r.data
    assert event["id"] and event["name"] == "Summer party" and event["description"] == "Bring\na camera"
    assert event["owner"]["id"] == owner["id"] and event["owner"]["username"] == "olga"
    assert event["owner"]["display_name"] == "Olga" and "email" not in event["owner"]
    assert event["visibility"] == "unlisted" and event["my_role"] == "owner"
    assert event["starts_at"] == "2026-07-01T16:00:00Z" and event["ends_at"] == "2026-07-01T23:30:00Z"
    assert event["location"] == PARIS
    assert ISO_Z.match(event["created_at"]) and ISO_Z.match(event["updated_at"])
    assert (event["viewer_variants"], event["public_variants"], event["watermark_text"]) == ("full", "full", "Olga's")

    r = api.get(f"/events/{event['id']}", token=owner["access"])
    assert r.status_code == 200 and r.data == event

    r = api.patch(
        f"/events/{event['id']}",
        {
            "name": "Renamed",
            "description": None,
            "location": None,
            "public_variants": "watermarked",
            "watermark_text": None,
        },
        token=owner["access"],
    )
    assert r.status_code == 200, r.body
    assert r.data["name"] == "Renamed" and r.data["description"] is None and r.data["location"] is None
    assert r.data["public_variants"] == "watermarked" and r.data["watermark_text"] is None
    assert r.data["starts_at"] == event["starts_at"] and r.data["version"] == event["version"] + 1
    assert r.data["updated_at"] >= event["updated_at"]
    assert api.get(f"/events/{event['id']}").data["name"] == "Renamed"

    assert api.delete(f"/events/{event['id']}", token=owner["access"]).status_code == 204
    assert api.get(f"/events/{event['id']}", token=owner["access"]).status_code == 404
    assert api.delete(f"/events/{event['id']}", token=owner["access"]).status_code == 404


def test_minimal_event_and_naive_times_are_utc(api, make_user):
    token = make_user()["access"]
    event = create(api, token, "Just a name", "private", starts_at="2026-01-02T03:04:05")
    assert event["starts_at"] == "2026-01-02T03:04:05Z"
    assert event["description"] is None and event["location"] is None and event["ends_at"] is None


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "", "visibility": "public"}, "name"),
        ({"name": "   ", "visibility": "public"}, "name"),
        ({"name": "x" * 121, "visibility": "public"}, "name"),
        ({"name": "zero\u200bwidth", "visibility": "public"}, "name"),
        ({"visibility": "public"}, "name"),
        ({"name": "ok", "visibility": "secret"}, "visibility"),
        ({"name": "ok"}, "visibility"),
        ({"name": "ok", "visibility": "public", "description": "d" * 2001}, "description"),
        ({"name": "ok", "visibility": "public", "location": {"lat": 91, "lon": 0}}, "location"),
        ({"name": "ok", "visibility": "public", "location": {"lat": 0, "lon": -180.5}}, "location"),
        ({"name": "ok", "visibility": "public", "location": {"lat": "48.8", "lon": 2}}, "location"),
        ({"name": "ok", "visibility": "public", "location": {"lat": 1, "lon": 2, "name": "n" * 121}}, "location"),
        ({"name": "ok", "visibility": "public", "location": {"lon": 2}}, "location"),
        ({"name": "ok", "visibility": "public", "starts_at": "yesterday"}, "starts_at"),
        ({"name": "ok", "visibility": "public", "starts_at": "0001-01-01T00:00:00+01:00"}, "starts_at"),
        ({"name": "ok", "visibility": "public", "starts_at": 1767225600}, "starts_at"),
        (
            {
                "name": "ok",
                "visibility": "public",
                "starts_at": "2026-05-02T10:00:00Z",
                "ends_at": "2026-05-02T09:59:59Z",
            },
            "ends_at",
        ),
        ({"name": "ok", "visibility": "public", "viewer_variants": "original"}, "viewer_variants"),
        ({"name": "ok", "visibility": "public", "owner_id": "u_someone"}, "owner_id"),
    ],
)
def test_create_validation(api, make_user, body, field):
    token = make_user()["access"]
    r = api.post("/events", body, token=token)
    assert r.status_code == 400, r.body
    assert r.data["error"]["code"] == "validation_error" and field in r.data["error"]["details"], r.data


def test_create_needs_a_token(api):
    r = api.post("/events", {"name": "x", "visibility": "public"})
    assert r.status_code == 401 and r.data["error"]["code"] == "unauthorized"


def test_patch_validation_and_merged_times(api, make_user):
    token = make_user()["access"]
    event = create(api, token, starts_at="2026-05-02T10:00:00Z", ends_at="2026-05-02T12:00:00Z")
    path = f"/events/{event['id']}"
    for body, field in (
        ({"name": None}, "name"),
        ({"visibility": None}, "visibility"),
        ({"ends_at": "2026-05-02T09:00:00Z"}, "ends_at"),  # before the stored start
        ({"starts_at": "2026-05-02T13:00:00Z"}, "ends_at"),  # after the stored end
        ({"name": ""}, "name"),
        ({"id": "e_other"}, "id"),
        ({"version": "1"}, "version"),
    ):
        r = api.patch(path, body, token=token)
        assert r.status_code == 400 and field in r.data["error"]["details"], (body, r.body)
    r = api.patch(path, {"starts_at": "2026-05-02T13:00:00Z", "ends_at": None}, token=token)
    assert r.status_code == 200 and r.data["ends_at"] is None
    r = api.patch(path, {}, token=token)
    assert r.status_code == 200 and r.data["version"] == event["version"] + 1  # an empty patch changes nothing


def test_patch_with_a_stale_version_conflicts(api, make_user):
    token = make_user()["access"]
    event = create(api, token)
    path = f"/events/{event['id']}"
    assert api.patch(path, {"name": "First", "version": event["version"]}, token=token).status_code == 200
    r = api.patch(path, {"name": "Second", "version": event["version"]}, token=token)
    assert r.status_code == 409 and r.data["error"]["code"] == "version_mismatch"
    assert api.get(path).data["name"] == "First"


def test_concurrent_writers_do_not_overwrite_each_other(api, make_user):
    """Two writers read version n; the second write is refused instead of silently undoing the first."""
    from chalicelib.errors import ConflictError
    from chalicelib.models import events as store
    from chalicelib.models.events import Event

    event_id = create(api, make_user()["access"])["id"]
    first, second = store.event_by_id(event_id), store.event_by_id(event_id)
    store.update_event(first, [Event.name.set("one")])
    with pytest.raises(ConflictError):
        store.update_event(second, [Event.name.set("two")])
    assert store.event_by_id(event_id).name == "one"


# ---- listings -----------------------------------------------------------------------------------------------


def test_scopes_mine_joined_public(api, cast):
    owner, viewer = cast["owner"], cast["viewer"]
    public = create(api, owner["access"], "Public", "public")
    unlisted = create(api, owner["access"], "Unlisted", "unlisted")
    private = create(api, owner["access"], "Private", "private")
    add_member(api, owner, private["id"], viewer, "viewer")
    add_member(api, owner, public["id"], viewer, "contributor")
    others_public = create(api, cast["stranger"]["access"], "Stranger's", "public")

    mine = api.get("/events?scope=mine", token=owner["access"])
    assert mine.status_code == 200 and ids(mine) == [private["id"], unlisted["id"], public["id"]]
    assert all(item["my_role"] == "owner" for item in mine.data["items"])
    assert ids(api.get("/events", token=owner["access"])) == ids(mine)  # mine is the default

    joined = api.get("/events?scope=joined", token=viewer["access"])
    assert ids(joined) == [public["id"], private["id"]]  # newest membership first
    assert [i["my_role"] for i in joined.data["items"]] == ["contributor", "viewer"]
    assert ids(api.get("/events?scope=joined", token=owner["access"])) == []  # owned is not joined

    for token in (None, cast["stranger"]["access"]):
        listed = api.get("/events?scope=public", token=token)
        assert listed.status_code == 200 and ids(listed) == [others_public["id"], public["id"]]
    as_viewer = api.get("/events?scope=public", token=viewer["access"]).data["items"]
    assert [i["my_role"] for i in as_viewer] == [None, "contributor"]
    assert [i["my_role"] for i in api.get("/events?scope=public", token=owner["access"]).data["items"]] == [
        None,
        "owner",
    ]
    assert all(i["watermark_text"] is None for i in as_viewer)


def test_listing_errors(api, make_user):
    token = make_user()["access"]
    for path in ("/events", "/events?scope=mine", "/events?scope=joined"):
        assert api.get(path).status_code == 401, path
    for qs in ("scope=everything", "limit=0", "limit=101", "limit=x", "cursor=" + "a" * 3000):
        r = api.get(f"/events?{qs}", token=token)
        assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", qs
    r = api.get("/events", token="not-a-token")
    assert r.status_code == 401


def test_pagination_with_cursors(api, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    created = [create(api, alice["access"], f"E{i}")["id"] for i in range(5)]
    create(api, bob["access"], "Bob's")
    seen, cursor, pages = [], None, 0
    while True:
        r = api.get("/events?scope=mine&limit=2" + (f"&cursor={cursor}" if cursor else ""), token=alice["access"])
        assert r.status_code == 200 and len(r.data["items"]) <= 2
        seen += ids(r)
        pages += 1
        cursor = r.data["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(created)) and pages == 3

    first = api.get("/events?scope=mine&limit=2", token=alice["access"]).data
    # a cursor works only for the listing (and the caller) it was minted for
    for path, token in (
        (f"/events?scope=mine&limit=2&cursor={first['next_cursor']}", bob["access"]),
        (f"/events?scope=public&limit=2&cursor={first['next_cursor']}", alice["access"]),
        (f"/events?scope=mine&limit=2&cursor={first['next_cursor'][:-3]}xyz", alice["access"]),
        ("/events?scope=mine&cursor=%7B%22event_id%22%3A1%7D", alice["access"]),
    ):
        r = api.get(path, token=token)
        assert r.status_code == 400 and r.data["error"]["code"] == "invalid_cursor", path

    public = api.get("/events?scope=public&limit=4").data
    rest = api.get(f"/events?scope=public&limit=4&cursor={public['next_cursor']}").data
    assert [i["id"] for i in public["items"] + rest["items"]][:5] == [
        i["id"] for i in api.get("/events?scope=public&limit=100").data["items"]
    ][:5]


# ---- visibility ---------------------------------------------------------------------------------------------


def test_private_events_are_invisible_to_outsiders(api, cast):
    event = event_with_members(api, cast, "private")
    path = f"/events/{event['id']}"
    for who in (None, "stranger"):
        r = api.get(path, token=cast[who]["access"] if who else None)
        assert r.status_code == 404 and r.data["error"]["code"] == "not_found", who
        assert api.get(f"{path}/members", token=cast[who]["access"] if who else None).status_code == 404
    assert api.get(path, token=cast["viewer"]["access"]).data["my_role"] == "viewer"
    assert api.get(path, token=cast["contributor"]["access"]).data["my_role"] == "contributor"
    staff_view = api.get(path, token=cast["staff"]["access"]).data
    assert staff_view["my_role"] is None and staff_view["watermark_text"] is None
    assert (
        api.get("/events/e_doesnotexist", token=cast["stranger"]["access"]).data
        == api.get(path, token=cast["stranger"]["access"]).data
    )  # same answer: no existence leak
    assert api.get(path, token="bad.token.here").status_code == 401  # a token that is sent must be valid


def test_unlisted_is_readable_by_link_but_never_listed(api, make_user):
    owner = make_user()
    event = create(api, owner["access"], "Link only", "unlisted", location=PARIS)
    r = api.get(f"/events/{event['id']}")
    assert r.status_code == 200 and r.data["my_role"] is None and r.data["watermark_text"] is None
    assert event["id"] not in ids(api.get("/events?scope=public"))
    assert event["id"] not in ids(api.get("/events/nearby?lat=48.8566&lon=2.3522&radius_km=5"))
    assert api.get(f"/events/{event['id']}/members").status_code == 200


# ---- permissions --------------------------------------------------------------------------------------------

ACTORS = ("anonymous", "stranger", "viewer", "contributor", "owner", "staff")


def _token(cast, who):
    return None if who == "anonymous" else cast[who]["access"]


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_permission_matrix_patch_and_delete(api, cast, visibility):
    expected_patch = {
        "anonymous": 401,
        "stranger": 403 if visibility == "public" else 404,
        "viewer": 403,
        "contributor": 403,
        "owner": 200,
        "staff": 200,
    }
    event = event_with_members(api, cast, visibility)
    for who in ACTORS:
        r = api.patch(f"/events/{event['id']}", {"description": f"by {who}"}, token=_token(cast, who))
        assert r.status_code == expected_patch[who], (who, r.body)
    assert api.get(f"/events/{event['id']}", token=cast["owner"]["access"]).data["description"] == "by staff"

    for who in ("anonymous", "stranger", "viewer", "contributor"):
        r = api.delete(f"/events/{event['id']}", token=_token(cast, who))
        assert r.status_code == expected_patch[who], (who, r.body)
    assert api.delete(f"/events/{event['id']}", token=cast["staff"]["access"]).status_code == 204
    assert api.get(f"/events/{event['id']}", token=cast["owner"]["access"]).status_code == 404
    other = create(api, cast["owner"]["access"], visibility=visibility)
    assert api.delete(f"/events/{other['id']}", token=cast["owner"]["access"]).status_code == 204


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_permission_matrix_members(api, cast, make_user, visibility):
    event = event_with_members(api, cast, visibility)
    hidden = 403 if visibility == "public" else 404
    expected_add = {"anonymous": 401, "stranger": hidden, "viewer": 403, "contributor": 403, "owner": 201, "staff": 201}
    for who in ACTORS:
        newcomer = make_user()
        r = api.post(
            f"/events/{event['id']}/members",
            {"username": newcomer["username"], "role": "viewer"},
            token=_token(cast, who),
        )
        assert r.status_code == expected_add[who], (who, r.body)

    # removing somebody else: only the owner and staff
    target = make_user()
    add_member(api, cast["owner"], event["id"], target, "contributor")
    expected_remove = {"anonymous": 401, "stranger": hidden, "viewer": 403, "contributor": 403}
    for who, status in expected_remove.items():
        r = api.delete(f"/events/{event['id']}/members/{target['id']}", token=_token(cast, who))
        assert r.status_code == status, (who, r.body)
    assert api.delete(f"/events/{event['id']}/members/{target['id']}", token=cast["staff"]["access"]).status_code == 204
    assert (
        api.delete(f"/events/{event['id']}/members/{cast['viewer']['id']}", token=cast["owner"]["access"]).status_code
        == 204
    )
    # anyone who is a member may leave
    assert (
        api.delete(
            f"/events/{event['id']}/members/{cast['contributor']['id']}", token=cast["contributor"]["access"]
        ).status_code
        == 204
    )


def test_require_readable_and_require_contributor(api, cast):
    from chalicelib.errors import ForbiddenError, NotFoundError
    from chalicelib.services import events as events_service
    from chalicelib.services import tokens

    private = event_with_members(api, cast, "private")
    public = event_with_members(api, cast, "public")
    who = {
        name: tokens.authenticate(cast[name]["access"])
        for name in ("owner", "viewer", "contributor", "stranger", "staff")
    }
    for name in ("owner", "viewer", "contributor", "staff"):
        assert events_service.require_readable(who[name], private["id"]).event_id == private["id"]
    for principal in (None, who["stranger"]):
        with pytest.raises(NotFoundError):
            events_service.require_readable(principal, private["id"])
        assert events_service.require_readable(principal, public["id"]).event_id == public["id"]
    for name in ("owner", "contributor", "staff"):
        for event in (private, public):
            assert events_service.require_contributor(who[name], event["id"]).event_id == event["id"]
    with pytest.raises(ForbiddenError):
        events_service.require_contributor(who["viewer"], private["id"])
    with pytest.raises(ForbiddenError):
        events_service.require_contributor(who["stranger"], public["id"])
    with pytest.raises(NotFoundError):
        events_service.require_contributor(who["stranger"], private["id"])
    with pytest.raises(NotFoundError):
        events_service.require_readable(who["owner"], "e_missing")

    event = events_service.get_event(private["id"])
    assert events_service.get_event("e_missing") is None
    assert [
        events_service.member_role(event, cast[n]["id"]) for n in ("owner", "viewer", "contributor", "stranger")
    ] == ["owner", "viewer", "contributor", None]
    assert events_service.member_role(event, None) is None
    assert sorted(events_service.member_ids(private["id"])) == sorted(
        cast[n]["id"] for n in ("owner", "viewer", "contributor")
    )
    assert events_service.member_ids("e_missing") == []
    assert set(events_service.events_by_ids([private["id"], public["id"], "e_missing"])) == {
        private["id"],
        public["id"],
    }


# ---- members ------------------------------------------------------------------------------------------------


def test_add_list_and_remove_members(api, make_user):
    owner, ann, ben, cid = make_user("owen"), make_user("ann"), make_user("ben"), make_user("cid")
    event = create(api, owner["access"], visibility="private")
    path = f"/events/{event['id']}/members"
    r = api.post(path, {"username": "ANN", "role": "contributor"}, token=owner["access"])  # case-insensitive
    assert r.status_code == 201 and r.data["user"]["id"] == ann["id"] and r.data["role"] == "contributor"
    assert ISO_Z.match(r.data["joined_at"])
    add_member(api, owner, event["id"], ben)
    add_member(api, owner, event["id"], cid)

    r = api.post(path, {"username": "ann", "role": "viewer"}, token=owner["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "already_member"
    r = api.post(path, {"username": "nobody_here", "role": "viewer"}, token=owner["access"])
    assert r.status_code == 404
    r = api.post(path, {"username": "owen", "role": "viewer"}, token=owner["access"])
    assert r.status_code == 400 and "username" in r.data["error"]["details"]
    r = api.post(path, {"username": "ann", "role": "owner"}, token=owner["access"])
    assert r.status_code == 400 and "role" in r.data["error"]["details"]

    listed = api.get(path, token=ben["access"])
    assert listed.status_code == 200
    assert {(m["user"]["username"], m["role"]) for m in listed.data["items"]} == {
        ("ann", "contributor"),
        ("ben", "viewer"),
        ("cid", "viewer"),
    }
    page1 = api.get(f"{path}?limit=2", token=owner["access"]).data
    page2 = api.get(f"{path}?limit=2&cursor={page1['next_cursor']}", token=owner["access"]).data
    assert len(page1["items"]) == 2 and len(page2["items"]) == 1 and page2["next_cursor"] is None
    r = api.get(f"/events/e_other/members?cursor={page1['next_cursor']}", token=owner["access"])
    assert r.status_code == 404  # no such event, before the cursor is even looked at

    # ben leaves; he can no longer see the private event
    assert api.delete(f"{path}/{ben['id']}", token=ben["access"]).status_code == 204
    assert api.get(f"/events/{event['id']}", token=ben["access"]).status_code == 404
    # ann (a contributor) cannot remove cid; the owner can
    assert api.delete(f"{path}/{cid['id']}", token=ann["access"]).status_code == 403
    assert api.delete(f"{path}/{cid['id']}", token=owner["access"]).status_code == 204
    assert api.delete(f"{path}/{cid['id']}", token=owner["access"]).status_code == 404
    r = api.delete(f"{path}/{owner['id']}", token=owner["access"])
    assert r.status_code == 400 and r.data["error"]["code"] == "owner_cannot_leave"
    assert api.delete(f"{path}/{'u' * 500}", token=owner["access"]).status_code == 404
    assert [m["user"]["username"] for m in api.get(path, token=owner["access"]).data["items"]] == ["ann"]


# ---- nearby -------------------------------------------------------------------------------------------------


def _near(api, lat, lon, radius, token=None, extra=""):
    return api.get(f"/events/nearby?lat={lat}&lon={lon}&radius_km={radius}{extra}", token=token)


def test_nearby_filters_by_radius_and_orders_by_distance(api, make_user):
    token = make_user()["access"]
    paris = create(api, token, "Paris", location=PARIS)
    versailles = create(api, token, "Versailles", location=VERSAILLES)
    london = create(api, token, "London", location=LONDON)
    create(api, token, "Secret Paris", "private", location=PARIS)
    create(api, token, "Unlisted Paris", "unlisted", location=PARIS)
    create(api, token, "Nowhere")  # public, no location

    r = _near(api, 48.85, 2.34, 25)
    assert r.status_code == 200, r.body
    assert ids(r) == [paris["id"], versailles["id"]]
    distances = [i["distance_km"] for i in r.data["items"]]
    assert distances == sorted(distances) and 0.5 < distances[0] < 2 and 15 < distances[1] < 20
    assert ids(_near(api, 48.85, 2.34, 5)) == [paris["id"]]
    assert ids(_near(api, 48.80, 2.12, 5)) == [versailles["id"]]
    assert ids(_near(api, 48.85, 2.34, 100)) == [paris["id"], versailles["id"]]  # London is ~340 km away
    assert ids(_near(api, 51.5, -0.12, 100)) == [london["id"]]
    assert ids(_near(api, 0, 0, 100)) == []
    assert r.data["items"][0]["my_role"] is None
    assert _near(api, 48.85, 2.34, 25, token=token).data["items"][0]["my_role"] == "owner"

    page1 = _near(api, 48.85, 2.34, 50, extra="&limit=1").data
    assert [i["id"] for i in page1["items"]] == [paris["id"]] and page1["next_cursor"]
    page2 = _near(api, 48.85, 2.34, 50, extra=f"&limit=1&cursor={page1['next_cursor']}").data
    assert [i["id"] for i in page2["items"]] == [versailles["id"]] and page2["next_cursor"] is None
    r = _near(api, 48.85, 2.34, 49, extra=f"&limit=1&cursor={page1['next_cursor']}")
    assert r.status_code == 400 and r.data["error"]["code"] == "invalid_cursor"


def test_nearby_follows_visibility_and_location_changes(api, make_user):
    from tests.jobs import queued

    seen = []

    def published():
        # one per event id (each consumer has its own queued job); every change's live frame left out
        found = list(dict.fromkeys((j["type"], j["event_id"]) for j in queued() if j["type"] != "event.updated"))
        seen.extend(found)
        drain()
        return found

    token = make_user()["access"]
    event = create(api, token, "Moving", location=PARIS)
    path = f"/events/{event['id']}"
    assert ids(_near(api, 48.8566, 2.3522, 1)) == [event["id"]]

    assert api.patch(path, {"visibility": "private"}, token=token).status_code == 200
    assert published() == [("event.visibility_changed", f"event.visibility_changed:{event['id']}:2")]
    assert ids(_near(api, 48.8566, 2.3522, 1)) == [] and event["id"] not in ids(api.get("/events?scope=public"))
    assert api.patch(path, {"visibility": "public", "location": LONDON}, token=token).status_code == 200
    assert published() == [("event.visibility_changed", f"event.visibility_changed:{event['id']}:3")]
    assert ids(_near(api, 48.8566, 2.3522, 1)) == [] and ids(_near(api, 51.5074, -0.1278, 1)) == [event["id"]]
    assert api.patch(path, {"name": "Same visibility"}, token=token).status_code == 200
    assert published() == [] and len(seen) == 2  # published only when the visibility changes
    assert api.patch(path, {"location": None}, token=token).status_code == 200
    assert ids(_near(api, 51.5074, -0.1278, 1)) == [] and event["id"] in ids(api.get("/events?scope=public"))


def test_nearby_is_not_captured_by_the_event_route_and_validates(api):
    r = api.get("/events/nearby?lat=10&lon=10")
    assert r.status_code == 200 and r.data == {"items": [], "next_cursor": None}
    for qs in (
        "lat=91&lon=0",
        "lat=-91&lon=0",
        "lat=0&lon=181",
        "lat=0&lon=0&radius_km=0",
        "lat=0&lon=0&radius_km=-1",
        "lat=0&lon=0&radius_km=101",
        "lon=0",
        "lat=0",
        "lat=abc&lon=0",
        "lat=nan&lon=0",
        "lat=0&lon=inf",
        "lat=0&lon=0&limit=1000",
    ):
        r = api.get(f"/events/nearby?{qs}")
        assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", qs
    assert "lat" in api.get("/events/nearby?lat=91&lon=0").data["error"]["details"]
    r = api.get("/events/nearby?lat=89.9&lon=0&radius_km=100")
    assert r.status_code == 400 and "radius_km" in r.data["error"]["details"]  # round the pole: too many cells
    assert api.get("/events/nearby?lat=78.2&lon=15.6&radius_km=100").status_code == 200  # Svalbard is fine


def test_events_across_the_antimeridian_are_found(api, make_user):
    token = make_user()["access"]
    fiji = create(api, token, "East of the line", location={"lat": -16.5, "lon": 179.95})
    west = create(api, token, "West of the line", location={"lat": -16.5, "lon": -179.95})
    r = _near(api, -16.5, 179.99, 20)
    assert ids(r) == [fiji["id"], west["id"]]


# ---- deletion -----------------------------------------------------------------------------------------------


def test_delete_publishes_the_event_then_jobs_remove_members(api, cast):
    from chalicelib.models.events import EventMember
    from tests.jobs import queued

    event = event_with_members(api, cast, "private")
    assert len(list(EventMember.query(event["id"]))) == 2
    assert api.delete(f"/events/{event['id']}", token=cast["viewer"]["access"]).status_code == 403
    assert queued() == []
    assert api.delete(f"/events/{event['id']}", token=cast["owner"]["access"]).status_code == 204
    assert {(j["type"], j["consumer"]) for j in queued()} == {
        ("event.deleted", name) for name in ("photos", "members", "rsvps", "invitations", "engagement")
    }
    assert api.get("/events?scope=joined", token=cast["viewer"]["access"]).data["items"] == []  # at once
    drain()
    assert list(EventMember.query(event["id"])) == []


def test_account_deletion_removes_owned_events_and_memberships(api, make_user):
    from tests.conftest import PASSWORD

    leaver, other = make_user("leaver"), make_user("other")
    owned = create(api, leaver["access"], "Leaver's")
    theirs = create(api, other["access"], "Other's", "private")
    add_member(api, other, theirs["id"], leaver)
    assert api.delete("/users/me", {"password": PASSWORD}, token=leaver["access"]).status_code == 204
    drain()
    assert api.get(f"/events/{owned['id']}").status_code == 404
    assert api.get(f"/events/{theirs['id']}/members", token=other["access"]).data["items"] == []


# ---- bad input and cost -------------------------------------------------------------------------------------


@pytest.mark.parametrize("event_id", ["%00", "x" * 3000, "%F0%9F%98%80", "..%2F..%2Fetc", "e_%27%3B--", "%20"])
def test_odd_ids_are_404_never_500(api, make_user, event_id):
    user = make_user()
    for method, path, body in (
        ("GET", f"/events/{event_id}", None),
        ("PATCH", f"/events/{event_id}", {"name": "x"}),
        ("DELETE", f"/events/{event_id}", None),
        ("GET", f"/events/{event_id}/members", None),
        ("POST", f"/events/{event_id}/members", {"username": "abc", "role": "viewer"}),
        ("DELETE", f"/events/{event_id}/members/{event_id}", None),
    ):
        r = api.call(method, path, body, token=user["access"])
        assert r.status_code == 404, (method, path, r.status_code, r.body)


def test_request_costs_and_no_scan(api, cast, counter):
    owner, viewer = cast["owner"], cast["viewer"]
    private = event_with_members(api, cast, "private")
    public = [create(api, owner["access"], f"Nearby {i}", location=PARIS) for i in range(3)]
    budgets = {
        "get anonymous": (lambda: api.get(f"/events/{public[0]['id']}"), 2),  # the event and its owner
        "get member": (lambda: api.get(f"/events/{private['id']}", token=viewer["access"]), 4),
        "private, anonymous": (lambda: api.get(f"/events/{private['id']}"), 1),
        "list mine": (lambda: api.get("/events?scope=mine", token=owner["access"]), 2),
        "list joined": (lambda: api.get("/events?scope=joined", token=viewer["access"]), 4),
        "list public": (lambda: api.get("/events?scope=public", token=viewer["access"]), 4),
        "nearby": (lambda: api.get("/events/nearby?lat=48.85&lon=2.35&radius_km=20", token=viewer["access"]), 12),
        "members": (lambda: api.get(f"/events/{private['id']}/members", token=viewer["access"]), 5),
        "create": (lambda: api.post("/events", {"name": "n", "visibility": "public"}, token=owner["access"]), 2),
        "patch": (lambda: api.patch(f"/events/{private['id']}", {"name": "m"}, token=owner["access"]), 3),
    }
    for name, (call, budget) in budgets.items():
        response, calls = counter.measure(call)
        assert response.status_code < 300 or name == "private, anonymous", (name, response.body)
        dynamo = [c for c in calls if c.startswith("dynamodb.")]
        assert not any(c.endswith(".Scan") for c in calls), (name, calls)
        assert len(dynamo) <= budget, (name, dynamo)


def test_delete_and_its_event_commit_together_or_not_at_all(api, cast, monkeypatch):
    """The row's deletion and ``event.deleted`` are one transaction: when it fails, the event is still there and
    nothing was published (no walk over photos of an event that still exists, no event left without its walk)."""
    from chalicelib import aws
    from chalicelib.models.jobs import JobEvent
    from tests.api.test_processor_damaged import Faults, error
    from tests.conftest import hook_every_client

    event = event_with_members(api, cast, "private")
    faults = Faults()
    with hook_every_client(monkeypatch, faults.hook):
        faults.once("dynamodb.TransactWriteItems", error("ValidationException", 400))
        assert api.delete(f"/events/{event['id']}", token=cast["owner"]["access"]).status_code == 500
        assert faults.fired == ["dynamodb.TransactWriteItems"]
        assert api.get(f"/events/{event['id']}", token=cast["owner"]["access"]).status_code == 200
        assert JobEvent.count(f"event.deleted:{event['id']}") == 0
        assert api.delete(f"/events/{event['id']}", token=cast["owner"]["access"]).status_code == 204  # a retry
    aws.reset()
    assert api.get(f"/events/{event['id']}", token=cast["owner"]["access"]).status_code == 404
    assert JobEvent.get(f"event.deleted:{event['id']}").type == "event.deleted"
