"""The audit log: every staff and admin action gets one entry (role change, verification decision, deposit, refund,
removal, suspension, reinstatement, report resolution); admins page through it, newest first, by actor and
action; staff and members cannot read it."""

from __future__ import annotations

import pytest

from tests.creators_kit import submit_and_upload
from tests.moderation_kit import audit_entries, promote, report
from tests.pipeline import jpeg, upload
from tests.wallet_kit import deposit, make_creator, paid_photo


@pytest.fixture
def staff(make_user):
    return promote(make_user, "staffer", "staff")


@pytest.fixture
def admin(make_user):
    return promote(make_user, "boss", "admin")


def _actions(entries) -> list[str]:
    return [e["action"] for e in entries]


def test_each_staff_action_is_audited_once(api, make_user, staff, admin):
    member = make_user("member")
    # a role change
    r = api.put(f"/users/{member['id']}/role", {"role": "photographer"}, token=staff["access"])
    assert r.status_code == 200, r.body
    assert api.put(f"/users/{member['id']}/role", {"role": "photographer"}, token=staff["access"]).status_code == 200
    [role] = audit_entries(api, admin, action="user.role_change")
    assert role["actor_id"] == staff["id"] and role["target"] == {"type": "user", "id": member["id"]}
    assert role["details"] == {"from": "member", "to": "photographer"}  # the no-op repeat logged nothing

    # a verification decision
    creator = make_user("maker", role="creator")
    submit_and_upload(api, creator)
    assert api.post(f"/staff/verifications/{creator['id']}/approve", {}, token=staff["access"]).status_code == 200
    [decision] = audit_entries(api, admin, action="verification.approve")
    assert decision["target"]["id"] == creator["id"] and decision["details"]["request_id"]

    # a deposit, retried with the same key: one entry
    deposit(api, staff, member, 700, "dep-1", reason="goodwill")
    deposit(api, staff, member, 700, "dep-1", reason="goodwill")
    [dep] = audit_entries(api, admin, action="wallet.deposit")
    assert dep["details"]["amount_cents"] == 700 and dep["details"]["reason"] == "goodwill"

    # a suspension and a reinstatement
    assert (
        api.post(f"/staff/users/{member['id']}/suspend", {"reason": "spam"}, token=staff["access"]).status_code == 200
    )
    assert api.post(f"/staff/users/{member['id']}/suspend", {}, token=staff["access"]).status_code == 409
    assert api.post(f"/staff/users/{member['id']}/reinstate", token=staff["access"]).status_code == 200
    assert _actions(audit_entries(api, admin, actor=staff["id"]))[:2] == ["user.reinstate", "user.suspend"]
    [suspension] = audit_entries(api, admin, action="user.suspend")
    assert suspension["details"]["reason"] == "spam"

    # a report resolved by removing the photo: the removal and the resolution
    photo_id = upload(api, creator["access"], jpeg(64, 48))
    rep = report(api, make_user("witness"), "photo", photo_id).data  # the member's sessions ended above
    assert (
        api.post(f"/staff/reports/{rep['id']}/resolve", {"action": "remove"}, token=staff["access"]).status_code == 200
    )
    [removal] = audit_entries(api, admin, action="content.remove")
    assert removal["target"] == {"type": "photo", "id": photo_id} and removal["details"]["report_id"] == rep["id"]
    [resolution] = audit_entries(api, admin, action="report.resolve")
    assert resolution["target"] == {"type": "report", "id": rep["id"]}
    assert resolution["details"]["resolution"] == "remove"

    everything = audit_entries(api, admin, limit=100)
    assert len(everything) == 7 and all(e["actor_id"] == staff["id"] for e in everything)
    assert [e["at"] for e in everything] == sorted((e["at"] for e in everything), reverse=True)  # newest first


def test_a_refund_is_audited_once(api, make_user, staff, admin):
    creator = make_creator(make_user, "seller")
    fan = make_user("fan")
    photo = paid_photo(creator["id"])
    deposit(api, staff, fan, 500, "d")
    r = api.post(
        f"/photos/{photo}/purchase", {"payment_method": "wallet"}, token=fan["access"], headers={"Idempotency-Key": "b"}
    )
    assert r.status_code == 201, r.body
    pid = r.data["purchase"]["id"]
    for key in ("rf-1", "rf-2"):
        r = api.post(f"/staff/payments/purchases/{pid}/refund", token=staff["access"], headers={"Idempotency-Key": key})
        assert r.status_code == 200, r.body
    [refund] = audit_entries(api, admin, action="payment.refund")
    assert refund["target"] == {"type": "purchase", "id": pid} and refund["details"]["amount_cents"] == 500


def test_only_admins_read_the_log_and_it_pages_by_actor_and_action(api, make_user, staff, admin):
    members = [make_user(f"member{i}") for i in range(3)]
    for m in members:
        assert api.post(f"/staff/users/{m['id']}/suspend", {}, token=staff["access"]).status_code == 200
    assert api.post(f"/staff/users/{members[0]['id']}/reinstate", token=admin["access"]).status_code == 200

    assert api.get("/staff/audit", token=staff["access"]).status_code == 403
    assert api.get("/staff/audit", token=members[1]["access"]).status_code == 401  # suspended: no session at all
    assert api.get("/staff/audit").status_code == 401

    first = api.get("/staff/audit?limit=2", token=admin["access"]).data
    rest = api.get(f"/staff/audit?limit=2&cursor={first['next_cursor']}", token=admin["access"]).data
    pages = first["items"] + rest["items"]
    assert _actions(pages) == ["user.reinstate", "user.suspend", "user.suspend", "user.suspend"]
    assert [e["target"]["id"] for e in pages[1:]] == [m["id"] for m in members[::-1]]

    assert _actions(audit_entries(api, admin, actor=admin["id"])) == ["user.reinstate"]
    assert len(audit_entries(api, admin, actor=staff["id"], action="user.suspend")) == 3
    assert audit_entries(api, admin, actor=staff["id"], action="user.reinstate") == []
    for query in ("action=user.delete", "limit=101", "cursor=forged", f"actor={'x' * 129}"):
        assert api.get(f"/staff/audit?{query}", token=admin["access"]).status_code == 400, query
    # a cursor of one filter is refused by another
    other = api.get(f"/staff/audit?limit=2&action=user.suspend&cursor={first['next_cursor']}", token=admin["access"])
    assert other.status_code == 400


def test_the_log_has_no_route_that_changes_it(api):
    from chalicelib.api.routing import load_all

    audit_routes = {(s.method, s.path) for s in load_all() if s.path.startswith("/staff/audit")}
    assert audit_routes == {("GET", "/staff/audit")}


def test_staff_actions_through_ordinary_routes_are_audited_once(api, make_user, staff, admin):
    from tests.api.test_events import create

    owner, fan = make_user("owner"), make_user("fanatic")
    photo_id = upload(api, owner["access"], jpeg(64, 48))
    event_id = create(api, owner["access"], "Fair")["id"]
    photo_comment = api.post(f"/photos/{photo_id}/comments", {"body": "hm"}, token=fan["access"]).data
    event_comment = api.post(f"/events/{event_id}/comments", {"body": "hm"}, token=fan["access"]).data
    own = api.post(f"/photos/{photo_id}/comments", {"body": "mine"}, token=staff["access"]).data
    link = api.post(
        f"/photos/{photo_id}/share", {"variant": "watermarked", "expires_in_seconds": 600}, token=owner["access"]
    )
    assert link.status_code == 201, link.body

    # the owners' own actions are not staff actions
    assert api.delete(f"/photos/{photo_id}/comments/{own['id']}", token=staff["access"]).status_code == 204
    assert audit_entries(api, admin) == []

    assert api.delete(f"/photos/{photo_id}/comments/{photo_comment['id']}", token=staff["access"]).status_code == 204
    assert api.delete(f"/events/{event_id}/comments/{event_comment['id']}", token=staff["access"]).status_code == 204
    for _ in range(2):  # a repeat revokes nothing new and logs nothing
        assert api.delete(f"/photos/share/{link.data['token']}", token=staff["access"]).status_code == 204
    assert api.patch(f"/events/{event_id}", {"name": "Renamed"}, token=staff["access"]).status_code == 200
    assert api.delete(f"/photos/{photo_id}", token=staff["access"]).status_code == 204
    assert api.delete(f"/photos/{photo_id}", token=staff["access"]).status_code == 404
    assert api.delete(f"/events/{event_id}", token=staff["access"]).status_code == 204

    entries = audit_entries(api, admin, actor=staff["id"], limit=100)
    seen = sorted((e["action"], e["target"]["type"], e["target"]["id"]) for e in entries)
    assert seen == sorted(
        [
            ("content.remove", "comment", photo_comment["id"]),
            ("content.remove", "comment", event_comment["id"]),
            ("share_link.revoke", "share_link", entries_link_id(entries)),
            ("event.update", "event", event_id),
            ("content.remove", "photo", photo_id),
            ("event.delete", "event", event_id),
        ]
    )
    assert all(e["details"]["owner_id"] in (owner["id"], fan["id"]) for e in entries)
    [update] = audit_entries(api, admin, action="event.update")
    assert update["details"]["fields"] == ["name"]
    [event_removal] = [e for e in entries if e["target"]["id"] == event_comment["id"]]
    assert event_removal["details"] == {"owner_id": fan["id"], "event_id": event_id}


def entries_link_id(entries) -> str:
    return next(e["target"]["id"] for e in entries if e["action"] == "share_link.revoke")
