"""Live event updates: ``event.updated`` frames to the owner, members and pending invitees (not strangers, not
those who declined) on PATCH and DELETE, through one job; the publisher inline for few recipients, a job
beyond; PATCH keeps its DynamoDB call budget."""

from __future__ import annotations

import pytest

from tests.api.test_events import create
from tests.jobs import drain
from tests.realtime import connect


@pytest.fixture
def crowd(api, make_user):
    people = {n: make_user(n) for n in ("hosta", "membr", "invit", "declo", "strng")}
    event = create(api, people["hosta"]["access"], "Live", visibility="private")
    token = people["hosta"]["access"]
    api.post(f"/events/{event['id']}/members", {"username": "membr", "role": "viewer"}, token=token)
    api.post(f"/events/{event['id']}/invitations", {"usernames": ["invit", "declo"]}, token=token)
    api.post(f"/invitations/{event['id']}/decline", token=people["declo"]["access"])
    return people, event


def sockets(app_module, people):
    return {name: connect(app_module, p["access"])[0] for name, p in people.items()}


def frames(live, sockets, event_id):
    return {
        name: [f["change"] for f in live.of_type(cid, "event.updated") if f["event_id"] == event_id]
        for name, cid in sockets.items()
    }


def _event_with_connected_members(api, make_user, app_module, tag: str, name: str, n: int):
    """A public event of ``host<tag>`` with ``n`` viewer members ``guest<tag><i>``, each with a live socket."""
    host = make_user(f"host{tag}")
    event = create(api, host["access"], name, visibility="public")
    guests = [make_user(f"guest{tag}{i}") for i in range(n)]
    for g in guests:
        api.post(f"/events/{event['id']}/members", {"username": g["username"], "role": "viewer"}, token=host["access"])
    conns = {g["username"]: connect(app_module, g["access"])[0] for g in guests}
    drain()
    return host, event, guests, conns


def test_patch_and_delete_reach_members_and_invitees(app, api, crowd, live):
    import app as app_module

    people, event = crowd
    conns = sockets(app_module, people)
    drain()  # what the setup queued
    assert api.patch(f"/events/{event['id']}", {"name": "Live!"}, token=people["hosta"]["access"]).status_code == 200
    assert frames(live, conns, event["id"])["membr"] == []  # through the job, not inline
    drain()
    assert frames(live, conns, event["id"]) == {
        "hosta": ["updated"],
        "membr": ["updated"],
        "invit": ["updated"],
        "declo": [],
        "strng": [],
    }
    assert live.of_type(conns["membr"], "event.updated")[0] == {
        "type": "event.updated",
        "event_id": event["id"],
        "change": "updated",
    }
    # no change, no frame
    api.patch(f"/events/{event['id']}", {"name": "Live!"}, token=people["hosta"]["access"])
    drain()
    assert frames(live, conns, event["id"])["membr"] == ["updated"]

    assert api.delete(f"/events/{event['id']}", token=people["hosta"]["access"]).status_code == 204
    drain()
    got = frames(live, conns, event["id"])
    assert got["hosta"] == ["updated", "deleted"] and got["membr"] == ["updated", "deleted"]
    assert got["invit"] == ["updated", "deleted"] and got["declo"] == [] and got["strng"] == []


def test_publisher_inline_and_in_a_job(app, api, make_user, live, tuned):
    import app as app_module
    from chalicelib.services import event_updates

    tuned(chunk=2, inline=3)
    host, event, _, conns = _event_with_connected_members(api, make_user, app_module, "b", "Big", 2)
    event_updates.publish(event["id"], "rsvp")  # 2 recipients: inline
    assert all(frames(live, conns, event["id"])[g] == ["rsvp"] for g in conns)

    more = [make_user(f"guestc{i}") for i in range(3)]
    for g in more[:2]:
        api.post(f"/events/{event['id']}/members", {"username": g["username"], "role": "viewer"}, token=host["access"])
    api.post(f"/events/{event['id']}/invitations", {"usernames": [more[2]["username"]]}, token=host["access"])
    conns.update({g["username"]: connect(app_module, g["access"])[0] for g in more})
    drain()
    event_updates.publish(event["id"], "rsvp")  # 5 recipients: a job, chunks of 2
    assert frames(live, conns, event["id"])["guestc0"] == []
    drain()
    assert all(frames(live, conns, event["id"])[g][-1:] == ["rsvp"] for g in conns), frames(live, conns, event["id"])
    with pytest.raises(ValueError):
        event_updates.publish(event["id"], "exploded")


def test_patch_keeps_its_call_budget(api, crowd, counter):
    people, event = crowd
    response, calls = counter.measure(
        lambda: api.patch(f"/events/{event['id']}", {"name": "m"}, token=people["hosta"]["access"])
    )
    assert response.status_code == 200 and response.data["name"] == "m" and response.data["version"] == 2
    dynamo = [c for c in calls if c.startswith("dynamodb.")]
    assert dynamo == ["dynamodb.GetItem", "dynamodb.GetItem", "dynamodb.TransactWriteItems"], dynamo
    assert "sqs.SendMessageBatch" in calls


def test_an_rsvp_reaches_members_through_the_route(app, api, crowd, live):
    import app as app_module

    people, event = crowd
    conns = sockets(app_module, people)
    drain()
    token = people["membr"]["access"]
    r = api.put(f"/events/{event['id']}/rsvp", {"status": "going"}, token=token)
    assert r.status_code == 200, r.body
    got = frames(live, conns, event["id"])  # few recipients: inline
    assert got == {"hosta": ["rsvp"], "membr": ["rsvp"], "invit": ["rsvp"], "declo": [], "strng": []}
    assert api.delete(f"/events/{event['id']}/rsvp", token=token).status_code == 204
    assert frames(live, conns, event["id"])["hosta"] == ["rsvp", "rsvp"]


def test_a_burst_of_rsvps_beyond_the_bound_is_one_job(app, api, make_user, live, tuned, monkeypatch):
    from types import SimpleNamespace

    import app as app_module
    from chalicelib.models.jobs import JobEvent
    from chalicelib.services import event_updates

    tuned(chunk=10, inline=1)
    _, event, guests, conns = _event_with_connected_members(api, make_user, app_module, "d", "Busy", 3)
    monkeypatch.setattr(event_updates, "time", SimpleNamespace(time=lambda: 1_000_000.0))
    for g in guests:
        assert api.put(f"/events/{event['id']}/rsvp", {"status": "going"}, token=g["access"]).status_code == 200
    event_updates.publish(event["id"], "rsvp")  # once more in the same window: a no-op, not an error
    published = [
        r
        for r in JobEvent.scan()
        if r.type == "event.updated" and r.event_id.startswith(f"event.updated:{event['id']}:rsvp")
    ]
    assert len(published) == 1, [r.event_id for r in published]
    drain()
    assert all(frames(live, conns, event["id"])[g] == ["rsvp"] for g in conns), frames(live, conns, event["id"])
