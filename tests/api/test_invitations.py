"""Event invitations: invite by username (owner only, up to 100), event_invite notifications (inline and in a
job beyond the bound), pending listing, accept (viewer) and decline (remembered), blocks, private events
readable by their invitees."""

from __future__ import annotations

import pytest

from tests.api.test_events import create
from tests.jobs import drain


@pytest.fixture
def people(api, make_user):
    return {name: make_user(name) for name in ("olga", "ivan", "jana", "karl", "lena")}


def invite(api, owner, event_id, *usernames, **kw):
    return api.post(f"/events/{event_id}/invitations", {"usernames": list(usernames)}, token=owner["access"], **kw)


def inbox(api, user):
    r = api.get("/notifications", token=user["access"])
    assert r.status_code == 200, r.body
    return [n for n in r.data["items"] if n["type"] == "event_invite"]


def test_invite_list_accept_decline(api, people):
    olga, ivan, jana = people["olga"], people["ivan"], people["jana"]
    event = create(api, olga["access"], "Secret supper", visibility="private")
    assert api.get(f"/events/{event['id']}", token=ivan["access"]).status_code == 404  # not invited yet

    r = invite(api, olga, event["id"], "ivan", "JANA", "nobody_here", "olga")
    assert r.status_code == 201, r.body
    assert sorted(u["username"] for u in r.data["invited"]) == ["ivan", "jana"]
    assert sorted((s["username"], s["reason"]) for s in r.data["skipped"]) == [
        ("nobody_here", "unknown_user"),
        ("olga", "owner"),
    ]
    [note] = inbox(api, ivan)
    assert note["target"] == {"kind": "event", "id": event["id"]} and note["actor"]["id"] == olga["id"]

    # a pending invitation lets its invitee read the private event (not a stranger)
    r = api.get(f"/events/{event['id']}", token=ivan["access"])
    assert r.status_code == 200 and r.data["my_role"] is None
    assert api.get(f"/events/{event['id']}", token=people["karl"]["access"]).status_code == 404

    r = api.get("/invitations", token=ivan["access"])
    assert r.status_code == 200
    [item] = r.data["items"]
    assert item["event"]["id"] == event["id"] and item["event"]["name"] == "Secret supper"
    assert item["event"]["owner"]["username"] == "olga" and item["invited_by"]["username"] == "olga"
    assert item["status"] == "pending"

    r = api.post(f"/invitations/{event['id']}/accept", token=ivan["access"])
    assert r.status_code == 200 and r.data == {"event_id": event["id"], "status": "accepted", "role": "viewer"}
    assert api.post(f"/invitations/{event['id']}/accept", token=ivan["access"]).status_code == 200  # idempotent
    assert api.get(f"/events/{event['id']}", token=ivan["access"]).data["my_role"] == "viewer"
    assert api.get("/invitations", token=ivan["access"]).data["items"] == []
    assert api.post(f"/invitations/{event['id']}/decline", token=ivan["access"]).status_code == 409

    r = api.post(f"/invitations/{event['id']}/decline", token=jana["access"])
    assert r.status_code == 200 and r.data["status"] == "declined"
    assert api.get(f"/events/{event['id']}", token=jana["access"]).status_code == 404  # no longer invited
    assert api.post(f"/invitations/{event['id']}/accept", token=jana["access"]).status_code == 409

    # declines are remembered, members and repeated invitations skipped
    r = invite(api, olga, event["id"], "jana", "ivan", "karl")
    assert [u["username"] for u in r.data["invited"]] == ["karl"]
    assert sorted((s["username"], s["reason"]) for s in r.data["skipped"]) == [
        ("ivan", "already_member"),
        ("jana", "declined"),
    ]
    assert invite(api, olga, event["id"], "karl").data["skipped"] == [{"username": "karl", "reason": "already_invited"}]
    assert len(inbox(api, people["karl"])) == 1

    assert api.post("/invitations/e_nope/accept", token=karl_token(people)).status_code == 404
    assert api.post(f"/invitations/{event['id']}/accept", token=people["lena"]["access"]).status_code == 404


def karl_token(people):
    return people["karl"]["access"]


def test_only_the_owner_invites_and_bad_input(api, people):
    olga, ivan = people["olga"], people["ivan"]
    event = create(api, olga["access"], visibility="public")
    api.post(f"/events/{event['id']}/members", {"username": "ivan", "role": "contributor"}, token=olga["access"])
    assert invite(api, ivan, event["id"], "jana").status_code == 403
    assert invite(api, olga, "e_missing", "jana").status_code == 404
    r = invite(api, olga, event["id"], *[f"user_{i}" for i in range(101)])
    assert r.status_code == 400 and r.data["error"]["code"] == "validation_error"
    for body in ({"usernames": []}, {"usernames": "ivan"}, {"usernames": ["bad name!"]}, {}, {"usernames": [7]}):
        r = api.post(f"/events/{event['id']}/invitations", body, token=olga["access"])
        assert r.status_code == 400, (body, r.body)
    r = invite(api, olga, event["id"], *[f"ghost_{i}" for i in range(100)])
    assert r.status_code == 201 and len(r.data["skipped"]) == 100 and r.data["invited"] == []


def test_blocked_users_cannot_be_invited_either_way(api, people):
    olga, ivan, jana = people["olga"], people["ivan"], people["jana"]
    event = create(api, olga["access"], visibility="public")
    assert api.post(f"/users/{ivan['id']}/block", token=olga["access"]).status_code == 201  # olga blocked ivan
    assert api.post(f"/users/{olga['id']}/block", token=jana["access"]).status_code == 201  # jana blocked olga
    r = invite(api, olga, event["id"], "ivan", "jana", "karl")
    assert [u["username"] for u in r.data["invited"]] == ["karl"]
    assert sorted((s["username"], s["reason"]) for s in r.data["skipped"]) == [
        ("ivan", "unavailable"),  # one reason either way: the owner does not learn who blocked whom
        ("jana", "unavailable"),
    ]
    assert inbox(api, ivan) == [] and inbox(api, jana) == []


def test_a_block_after_the_invitation_stops_the_accept(api, people):
    olga, ivan, jana = people["olga"], people["ivan"], people["jana"]
    event = create(api, olga["access"], visibility="private")
    assert invite(api, olga, event["id"], "ivan", "jana").status_code == 201
    assert api.post(f"/users/{ivan['id']}/block", token=olga["access"]).status_code == 201  # the owner blocks
    assert api.post(f"/users/{olga['id']}/block", token=jana["access"]).status_code == 201  # the invitee blocks
    for user in (ivan, jana):
        r = api.post(f"/invitations/{event['id']}/accept", token=user["access"])
        assert r.status_code == 403 and r.data["error"]["code"] == "blocked", r.body
        assert api.get(f"/events/{event['id']}", token=user["access"]).data["my_role"] is None  # not a member


def test_notifications_beyond_the_bound_go_to_a_job(api, make_user, tuned):
    tuned(chunk=2, inline=2)
    owner = make_user("host")
    guests = [make_user(f"guest{i}") for i in range(5)]
    event = create(api, owner["access"], visibility="private")
    r = invite(api, owner, event["id"], *[g["username"] for g in guests], headers={"Idempotency-Key": "k-1"})
    assert r.status_code == 201 and len(r.data["invited"]) == 5
    notified = [g for g in guests if inbox(api, g)]
    assert len(notified) == 2  # inline; the other three wait for the job
    again = invite(api, owner, event["id"], *[g["username"] for g in guests], headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.data == r.data  # replayed, not re-run
    drain()
    drain()  # a redelivery notifies nobody twice
    assert all(len(inbox(api, g)) == 1 for g in guests)


def test_deleting_the_event_removes_its_invitations(api, people):
    from chalicelib.models.invitations import Invitation

    olga, ivan = people["olga"], people["ivan"]
    event = create(api, olga["access"], visibility="private")
    invite(api, olga, event["id"], "ivan", "jana")
    assert api.delete(f"/events/{event['id']}", token=olga["access"]).status_code == 204
    assert api.get("/invitations", token=ivan["access"]).data["items"] == []  # the event is gone
    drain()
    assert list(Invitation.query(event["id"], consistent_read=True)) == []
    assert api.post(f"/invitations/{event['id']}/accept", token=ivan["access"]).status_code == 404


def test_request_cost_of_a_full_invitation(api, make_user, counter, tuned):
    tuned(chunk=100, inline=2)
    owner = make_user("host")
    guests = [make_user(f"gst{i}") for i in range(6)]
    event = create(api, owner["access"], visibility="public")
    names = [g["username"] for g in guests] + [f"ghost{i}" for i in range(94)]
    response, calls = counter.measure(lambda: invite(api, owner, event["id"], *names))
    assert response.status_code == 201 and len(response.data["invited"]) == 6
    dynamo = [c for c in calls if c.startswith("dynamodb.")]
    assert not any(c.endswith(".Scan") for c in dynamo)
    # auth, event, claims, users, members, blocks, invitations, one transaction, the outbox: bounded whatever
    # the count; plus two inline notifications (a write and delivery each)
    assert dynamo.count("dynamodb.TransactWriteItems") == 1
    assert len(dynamo) <= 18, dynamo
