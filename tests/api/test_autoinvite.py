"""Auto-invite: opted-in users near an event (within THEIR radius) with overlapping interests are invited by the
``event.auto_invite`` job through the interest x cell index; far, other-interest, opted-out, declined, blocked
users and members are not; a repeat run invites no one twice; the index follows settings changes."""

from __future__ import annotations

import pytest

from tests.api.test_events import create
from tests.jobs import drain

PARIS = {"lat": 48.8566, "lon": 2.3522, "name": "Paris"}
NEAR = {"lat": 48.90, "lon": 2.40}  # ~6 km from the event
VERSAILLES = {"lat": 48.8049, "lon": 2.1204}  # ~18 km
LYON = {"lat": 45.764, "lon": 4.8357}  # ~390 km


def settle(api, user, **settings):
    r = api.patch("/auth/me", settings, token=user["access"])
    assert r.status_code == 200, r.body
    return r.data


def invited_ids(event_id):
    from chalicelib.models.invitations import Invitation

    return {row.user_id for row in Invitation.query(event_id, consistent_read=True)}


@pytest.fixture
def town(api, make_user):
    people = {}

    def person(name, home, radius, interests=("jazz",), opt_in=True):
        people[name] = make_user(name)
        settle(api, people[name], interests=list(interests), home=home, radius_km=radius, auto_invite=opt_in)

    person("near_jazz", NEAR, 10)
    person("near_caps", NEAR, 10, interests=("  JAZZ  ", "Food"))
    person("versailles_small", VERSAILLES, 5)  # 18 km away, radius 5: no
    person("versailles_wide", VERSAILLES, 30)  # radius 30: yes
    person("lyon_huge", LYON, 500)  # 390 km away but a 500 km radius: yes
    person("lyon_small", LYON, 50)  # no
    person("near_rock", NEAR, 10, interests=("rock",))  # other interests
    person("near_out", NEAR, 10, opt_in=False)  # opted out
    person("near_decl", NEAR, 10)
    person("near_block", NEAR, 10)
    person("near_member", NEAR, 10)
    drain()  # the index rows
    return people


def test_invites_exactly_the_matching_users_once(api, make_user, town):
    host = make_user("hostz")
    seed = create(api, host["access"], "Seed", visibility="public", location=PARIS)
    # near_decl declined an earlier invitation to the real event: arrange it on the event itself below
    assert api.post(f"/users/{town['near_block']['id']}/block", token=host["access"]).status_code == 201
    event = create(
        api, host["access"], "Jazz night", visibility="public", location=PARIS, interest_tags=["Jazz", "blues"]
    )
    assert event["interest_tags"] == ["blues", "jazz"] and event["auto_invite"] is False
    api.post(f"/events/{event['id']}/members", {"username": "near_member", "role": "viewer"}, token=host["access"])
    api.post(f"/events/{event['id']}/invitations", {"usernames": ["near_decl"]}, token=host["access"])
    assert api.post(f"/invitations/{event['id']}/decline", token=town["near_decl"]["access"]).status_code == 200
    drain()
    assert invited_ids(event["id"]) == {town["near_decl"]["id"]}  # nothing automatic until enabled

    r = api.patch(f"/events/{event['id']}", {"auto_invite": True}, token=host["access"])
    assert r.status_code == 200 and r.data["auto_invite"] is True
    drain()
    expected = {town[n]["id"] for n in ("near_jazz", "near_caps", "versailles_wide", "lyon_huge", "near_decl")}
    assert invited_ids(event["id"]) == expected
    from chalicelib.models.invitations import Invitation

    auto = [r for r in Invitation.query(event["id"]) if r.source == "auto"]
    assert len(auto) == 4 and all(r.status == "pending" and r.inviter_id is None for r in auto)
    notes = api.get("/notifications", token=town["lyon_huge"]["access"]).data["items"]
    assert [n["type"] for n in notes] == ["event_invite"] and notes[0]["actor"]["id"] == host["id"]
    assert invited_ids(seed["id"]) == set()  # no tags, no auto-invite

    # a repeat run (toggled off and on) invites no one twice; the counter stays exact
    api.patch(f"/events/{event['id']}", {"auto_invite": False}, token=host["access"])
    api.patch(f"/events/{event['id']}", {"auto_invite": True}, token=host["access"])
    drain()
    assert invited_ids(event["id"]) == expected
    assert len(api.get("/notifications", token=town["lyon_huge"]["access"]).data["items"]) == 1
    from chalicelib.services.autoinvite import AutoInvited

    assert AutoInvited.get(event["id"]).auto_invited == 4


def test_private_events_and_created_enabled(api, make_user, town):
    host = make_user("hosty")
    private = create(
        api, host["access"], "Quiet", visibility="private", location=PARIS, interest_tags=["jazz"], auto_invite=True
    )
    unlocated = create(api, host["access"], "Nowhere", visibility="public", interest_tags=["jazz"], auto_invite=True)
    public = create(
        api, host["access"], "Loud", visibility="public", location=PARIS, interest_tags=["food"], auto_invite=True
    )
    drain()
    assert invited_ids(private["id"]) == set() and invited_ids(unlocated["id"]) == set()
    assert invited_ids(public["id"]) == {town["near_caps"]["id"]}


def test_the_index_follows_settings(api, make_user, town):
    from chalicelib.models.autoinvite import InterestCell

    user = town["near_jazz"]
    rows = list(InterestCell.by_user.query(user["id"]))
    assert rows and all(r.cell_key.startswith("jazz#") for r in rows)
    me = settle(api, user, interests=["Rock", "rock", "Blues"])
    assert me["interests"] == ["blues", "rock"] and me["radius_km"] == 10 and me["auto_invite"] is True
    drain()
    keys = {r.cell_key.split("#")[0] for r in InterestCell.by_user.query(user["id"])}
    assert keys == {"blues", "rock"}
    settle(api, user, auto_invite=False)
    drain()
    assert list(InterestCell.by_user.query(user["id"])) == []
    host = make_user("hostx")
    event = create(
        api, host["access"], "Rock", visibility="public", location=PARIS, interest_tags=["rock"], auto_invite=True
    )
    drain()
    assert invited_ids(event["id"]) == {town["near_rock"]["id"]}  # the opted-out user is no longer found


def test_stale_index_rows_only_nominate(api, make_user, town):
    """The index may lag the users' rows (its rewrite job not run yet, or an eventually consistent read): each
    page's candidates are read again and only those whose row still matches are invited."""
    from datetime import UTC, datetime

    from chalicelib.models.users import User

    def change(name, *actions):  # the user's row changes; the index rows are not rewritten
        User(user_id=town[name]["id"]).update(actions=list(actions))

    change("near_jazz", User.auto_invite.set(False))  # opted out
    change("near_caps", User.home_lat.set(LYON["lat"]), User.home_lon.set(LYON["lon"]))  # moved away
    change("versailles_wide", User.interests.set({"rock"}))  # other interests now
    change("lyon_huge", User.suspended_at.set(datetime.now(UTC)))  # suspended
    change("near_decl", User.deleted.set(True))  # deleted (its user.deleted job not run)
    host = make_user("hostw")
    event = create(
        api, host["access"], "Jazz", visibility="public", location=PARIS, interest_tags=["jazz"], auto_invite=True
    )
    drain()
    assert invited_ids(event["id"]) == {town["near_block"]["id"], town["near_member"]["id"]}


def test_bad_settings_are_400(api, make_user):
    user = make_user("picky")
    for body in (
        {"radius_km": 0},
        {"radius_km": 501},
        {"radius_km": "ten"},
        {"interests": ["x" * 33]},
        {"interests": [f"t{i}" for i in range(11)]},
        {"interests": "jazz"},
        {"home": {"lat": 91, "lon": 0}},
        {"home": {"lat": 1}},
        {"auto_invite": "yes"},
    ):
        r = api.patch("/auth/me", body, token=user["access"])
        assert r.status_code == 400, (body, r.body)
    r = api.patch("/auth/me", {"home": {"lat": 89.9, "lon": 0}, "radius_km": 500}, token=user["access"])
    assert r.status_code == 400 and "radius_km" in r.data["error"]["details"]
    r = api.post(
        "/events", {"name": "x", "visibility": "public", "interest_tags": ["a"] * 2 + ["b" * 40]}, token=user["access"]
    )
    assert r.status_code == 400


def test_deleting_the_account_forgets_home_interests_and_staff_notes(api, make_user):
    from chalicelib.models.base import now
    from chalicelib.models.users import User

    user = make_user("leaving")
    settle(api, user, interests=["jazz"], home=NEAR, radius_km=10, auto_invite=True)
    User(user_id=user["id"]).update(
        actions=[
            User.suspended_by.set("staff-1"),  # as a lifted suspension leaves them (suspended_at stays unset)
            User.suspension_reason.set("spam"),
            User.last_activity_at.set(now()),
        ]
    )
    assert api.delete("/users/me", {"password": user["password"]}, token=user["access"]).status_code == 204
    row = User.get(user["id"], consistent_read=True)
    attrs = ("interests", "home_lat", "home_lon", "radius_km", "auto_invite")
    attrs += ("suspended_by", "suspension_reason", "last_activity_at")
    assert {a: getattr(row, a) for a in attrs} == dict.fromkeys(attrs)


def test_a_profile_patch_is_one_update_so_a_refused_field_changes_nothing(api, make_user, monkeypatch):
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb.models import DynamoDBBackend

    from chalicelib.models.users import User

    user = make_user("partial")
    settle(api, user, interests=["jazz"])

    def stored():
        row = User.get(user["id"], consistent_read=True)
        return row.display_name, set(row.interests or ()), row.home_lat

    before = stored()
    for body in (
        {"interests": ["food"], "display_name": "x" * 65},  # refused by the schema
        {"display_name": "New name", "home": {"lat": 89.9, "lon": 0}, "radius_km": 500},  # cannot be indexed
    ):
        r = api.patch("/auth/me", body, token=user["access"])
        assert r.status_code == 400, (body, r.body)
        assert stored() == before, body
    # The write itself failing leaves nothing half done: interests and name are one update.
    original = DynamoDBBackend.update_item
    failing_writes = {"on": True}

    def failing(self, table_name, key, update_expression, expression_attribute_names, *args, **kwargs):
        if failing_writes["on"] and "display_name" in (expression_attribute_names or {}).values():
            raise JsonRESTError("ValidationException", "refused")
        return original(self, table_name, key, update_expression, expression_attribute_names, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", failing)
    r = api.patch("/auth/me", {"interests": ["food"], "display_name": "New name"}, token=user["access"])
    assert r.status_code >= 400
    assert stored() == before
    failing_writes["on"] = False
    r = api.patch("/auth/me", {"interests": ["food"], "display_name": "New name"}, token=user["access"])
    assert r.status_code == 200 and r.data["display_name"] == "New name" and r.data["interests"] == ["food"]
