"""Suspension (every session and socket ends, login answers 403 account_suspended, reinstatement restores it),
reports (once per reporter and target, only what the reporter can see) and their resolution by staff."""

from __future__ import annotations

import pytest

from tests.moderation_kit import login, promote, report
from tests.pipeline import jpeg, upload
from tests.realtime import connect


@pytest.fixture
def staff(make_user):
    return promote(make_user, "staffer", "staff")


@pytest.fixture
def admin(make_user):
    return promote(make_user, "boss", "admin")


def _media_keys(photo_id: str) -> list[str]:
    from chalicelib import aws
    from chalicelib.config import get_settings

    listed = aws.client("s3").list_objects_v2(Bucket=get_settings().media_bucket, Prefix=f"photos/{photo_id}/")
    return [o["Key"] for o in listed.get("Contents", [])]


# ---- suspension ------------------------------------------------------------------------------------------------


def test_suspension_ends_every_session_and_socket_and_reinstatement_restores_login(api, make_user, staff, live):
    import app as app_module

    target = make_user("target")
    second = login(api, target).data
    socket, answer = connect(app_module, second["access_token"])
    assert answer["statusCode"] == 200

    r = api.post(f"/staff/users/{target['id']}/suspend", {"reason": "Spam"}, token=staff["access"])
    assert r.status_code == 200, r.body
    assert r.data["status"] == "suspended" and r.data["suspension_reason"] == "Spam"

    # access tokens issued before stop at once, refresh and login say why, the socket was closed
    for token in (target["access"], second["access_token"]):
        assert api.get("/auth/me", token=token).status_code == 401
    r = api.post("/auth/token/refresh", {"refresh_token": target["refresh"]})
    assert r.status_code == 403 and r.data["error"]["code"] == "account_suspended"
    r = login(api, target)
    assert r.status_code == 403 and r.data["error"]["code"] == "account_suspended"
    assert r.data.get("access_token") is None
    assert socket in getattr(live, "closed", [])
    assert connect(app_module, second["access_token"])[1]["statusCode"] != 200  # nor can it reconnect

    assert api.post(f"/staff/users/{target['id']}/suspend", {}, token=staff["access"]).status_code == 409
    r = api.post(f"/staff/users/{target['id']}/reinstate", token=staff["access"])
    assert r.status_code == 200 and r.data["status"] == "active" and r.data["suspended_at"] is None
    assert api.post(f"/staff/users/{target['id']}/reinstate", token=staff["access"]).status_code == 409

    fresh = login(api, target)
    assert fresh.status_code == 200
    assert api.get("/auth/me", token=fresh.data["access_token"]).status_code == 200
    # the logins the suspension ended stay ended
    assert api.get("/auth/me", token=target["access"]).status_code == 401
    assert api.post("/auth/token/refresh", {"refresh_token": target["refresh"]}).status_code == 401


def test_who_may_suspend_whom(api, make_user, staff, admin):
    member, other_staff = make_user("member"), promote(make_user, "otherstaff", "staff")

    def suspend(actor, user_id):
        return api.post(f"/staff/users/{user_id}/suspend", {}, token=actor["access"]).status_code

    assert suspend(member, other_staff["id"]) == 403  # members have no staff routes
    assert suspend(staff, staff["id"]) == 403  # nobody suspends themselves
    assert suspend(staff, admin["id"]) == 403  # nor an admin
    assert suspend(admin, admin["id"]) == 403
    assert suspend(staff, other_staff["id"]) == 403  # staff do not suspend staff
    assert suspend(staff, "u_nobody") == 404
    assert suspend(admin, other_staff["id"]) == 200  # admins do
    r = login(api, other_staff)
    assert r.status_code == 403 and r.data["error"]["code"] == "account_suspended"
    assert api.post(f"/staff/users/{other_staff['id']}/reinstate", token=staff["access"]).status_code == 403
    assert api.post(f"/staff/users/{other_staff['id']}/reinstate", token=admin["access"]).status_code == 200
    assert suspend(staff, member["id"]) == 200


def test_a_wrong_password_of_a_suspended_account_says_nothing_about_the_suspension(api, make_user, staff):
    target = make_user("quiet")
    assert api.post(f"/staff/users/{target['id']}/suspend", {}, token=staff["access"]).status_code == 200
    r = api.post("/auth/login", {"login": "quiet", "password": "wrong password here"})
    assert r.status_code == 401 and r.data["error"]["code"] == "invalid_credentials"


# ---- reports ---------------------------------------------------------------------------------------------------


@pytest.fixture
def scene(api, make_user):
    owner, reporter, other = make_user("olga"), make_user("rita"), make_user("sam")
    photo_id = upload(api, owner["access"], jpeg(64, 48))
    return {"owner": owner, "reporter": reporter, "other": other, "photo": photo_id}


def test_a_photo_is_reported_once_per_reporter_and_only_if_visible(api, make_user, scene):
    owner, reporter, photo_id = scene["owner"], scene["reporter"], scene["photo"]
    r = report(api, reporter, "photo", photo_id, "Stolen picture")
    assert r.status_code == 201, r.body
    target = {"type": "photo", "id": photo_id, "conversation_id": None, "photo_id": None, "event_id": None}
    assert r.data["status"] == "open" and r.data["target"] == target
    assert r.data["target_owner_id"] == owner["id"] and r.data["reason"] == "Stolen picture"
    again = report(api, reporter, "photo", photo_id, "Another reason")
    assert again.status_code == 409 and again.data["error"]["code"] == "already_reported"
    assert report(api, scene["other"], "photo", photo_id).status_code == 201  # another reporter may

    r = report(api, owner, "photo", photo_id)
    assert r.status_code == 400 and r.data["error"]["code"] == "cannot_report_self"
    assert report(api, reporter, "photo", "p_doesnotexist").status_code == 404
    private = upload(api, owner["access"], jpeg(64, 48))
    assert api.patch(f"/photos/{private}", {"visibility": "private"}, token=owner["access"]).status_code == 200
    assert report(api, reporter, "photo", private).status_code == 404  # not visible to the reporter: not there


def test_users_comments_and_messages_are_reported(api, scene):
    owner, reporter, photo_id = scene["owner"], scene["reporter"], scene["photo"]
    assert report(api, reporter, "user", owner["id"]).status_code == 201
    assert report(api, reporter, "user", owner["id"]).status_code == 409
    assert report(api, reporter, "user", reporter["id"]).status_code == 400
    assert report(api, reporter, "user", "u_nobody").status_code == 404

    c = api.post(f"/photos/{photo_id}/comments", {"body": "rude words"}, token=owner["access"]).data
    r = report(api, reporter, "comment", c["id"])
    assert r.status_code == 201 and r.data["target"]["photo_id"] == photo_id and r.data["target"]["event_id"] is None
    assert report(api, reporter, "comment", f"c_0000000000000000000000.{photo_id}").status_code == 404
    assert report(api, reporter, "comment", "garbage").status_code == 404

    conversation = api.post("/conversations", {"username": "rita"}, token=owner["access"]).data
    m = api.post(f"/conversations/{conversation['id']}/messages", {"body": "spam"}, token=owner["access"]).data
    r = report(api, reporter, "message", m["id"], conversation_id=conversation["id"])
    assert r.status_code == 201 and r.data["target"]["conversation_id"] == conversation["id"]
    r = report(api, reporter, "message", m["id"])
    assert r.status_code == 400  # a message is reported with its conversation
    assert report(api, scene["other"], "message", m["id"], conversation_id=conversation["id"]).status_code == 404
    assert report(api, owner, "message", m["id"], conversation_id=conversation["id"]).status_code == 400


def test_reporting_takes_an_idempotency_key(api, scene):
    body = {"target": {"type": "photo", "id": scene["photo"]}, "reason": "dup"}
    headers = {"Idempotency-Key": "report-1"}
    first = api.post("/reports", body, token=scene["reporter"]["access"], headers=headers)
    replay = api.post("/reports", body, token=scene["reporter"]["access"], headers=headers)
    assert first.status_code == replay.status_code == 201 and first.data == replay.data


def test_resolve_remove_deletes_the_photo_with_its_files_and_resolves_every_report_of_it(api, scene, staff):
    photo_id = scene["photo"]
    assert _media_keys(photo_id)  # the processor stored variants
    first = report(api, scene["reporter"], "photo", photo_id).data
    second = report(api, scene["other"], "photo", photo_id).data

    assert (
        api.post(
            f"/staff/reports/{first['id']}/resolve", {"action": "remove"}, token=scene["owner"]["access"]
        ).status_code
        == 403
    )
    queue = api.get("/staff/reports?status=open", token=staff["access"]).data
    assert [i["id"] for i in queue["items"]] == [first["id"], second["id"]]  # oldest first

    r = api.post(
        f"/staff/reports/{first['id']}/resolve", {"action": "remove", "note": "copyright"}, token=staff["access"]
    )
    assert r.status_code == 200, r.body
    assert r.data["status"] == "resolved" and r.data["resolution"] == "remove" and r.data["note"] == "copyright"
    assert r.data["resolved_by"] == staff["id"]
    assert api.get(f"/photos/{photo_id}", token=scene["owner"]["access"]).status_code == 404
    assert _media_keys(photo_id) == []

    again = api.post(f"/staff/reports/{first['id']}/resolve", {"action": "dismiss"}, token=staff["access"])
    assert again.status_code == 409 and again.data["error"]["code"] == "report_resolved"
    assert (
        api.post(f"/staff/reports/{second['id']}/resolve", {"action": "dismiss"}, token=staff["access"]).status_code
        == 409
    )
    assert api.get("/staff/reports?status=open", token=staff["access"]).data["items"] == []
    resolved = api.get("/staff/reports?status=resolved&order=newest", token=staff["access"]).data["items"]
    assert {i["id"] for i in resolved} == {first["id"], second["id"]}
    sibling = next(i for i in resolved if i["id"] == second["id"])
    assert sibling["resolved_with"] == first["id"] and sibling["resolution"] == "remove"


def test_resolve_remove_of_a_comment_and_a_message(api, scene, staff):
    owner, reporter, photo_id = scene["owner"], scene["reporter"], scene["photo"]
    c = api.post(f"/photos/{photo_id}/comments", {"body": "rude words"}, token=owner["access"]).data
    rc = report(api, reporter, "comment", c["id"]).data
    conversation = api.post("/conversations", {"username": "rita"}, token=owner["access"]).data
    m = api.post(f"/conversations/{conversation['id']}/messages", {"body": "spam spam"}, token=owner["access"]).data
    rm = report(api, reporter, "message", m["id"], conversation_id=conversation["id"]).data

    assert (
        api.post(f"/staff/reports/{rc['id']}/resolve", {"action": "remove"}, token=staff["access"]).status_code == 200
    )
    assert api.get(f"/photos/{photo_id}/comments").data["items"] == []
    assert (
        api.post(f"/staff/reports/{rm['id']}/resolve", {"action": "remove"}, token=staff["access"]).status_code == 200
    )
    messages = api.get(f"/conversations/{conversation['id']}/messages", token=reporter["access"]).data["items"]
    assert [x["body"] for x in messages] == ["This message was removed by staff."]
    listed = api.get("/conversations", token=reporter["access"]).data["items"]
    assert listed[0]["last_message"]["preview"] == "This message was removed by staff."

    ru = report(api, reporter, "user", owner["id"]).data
    r = api.post(f"/staff/reports/{ru['id']}/resolve", {"action": "remove"}, token=staff["access"])
    assert r.status_code == 400  # a user is suspended, not removed


def test_an_event_comment_is_reported_and_removed(api, scene, staff):
    from tests.api.test_events import create

    owner, reporter = scene["owner"], scene["reporter"]
    event_id = create(api, owner["access"], "Street fair")["id"]
    c = api.post(f"/events/{event_id}/comments", {"body": "rude words"}, token=owner["access"]).data
    api.post(f"/events/{event_id}/comments", {"body": "a reply", "parent_id": c["id"]}, token=reporter["access"])
    r = report(api, reporter, "comment", c["id"])
    assert r.status_code == 201, r.body
    assert r.data["target"]["id"] == c["id"] and r.data["target_owner_id"] == owner["id"]
    assert r.data["target"]["event_id"] == event_id and r.data["target"]["photo_id"] is None  # the console links it
    assert report(api, reporter, "comment", f"c_0000000000000000000000.{event_id}").status_code == 404
    private = create(api, owner["access"], "Closed", visibility="private")["id"]
    hidden = api.post(f"/events/{private}/comments", {"body": "inside"}, token=owner["access"]).data
    assert report(api, reporter, "comment", hidden["id"]).status_code == 404  # not visible to the reporter

    resolved = api.post(f"/staff/reports/{r.data['id']}/resolve", {"action": "remove"}, token=staff["access"])
    assert resolved.status_code == 200, resolved.body
    assert api.get(f"/events/{event_id}/comments").data["items"] == []
    assert api.get(f"/events/{event_id}", token=owner["access"]).data["comment_count"] == 0  # reply included


def test_resolve_suspend_user_suspends_the_owner_of_the_content(api, scene, staff, admin):
    owner, reporter, photo_id = scene["owner"], scene["reporter"], scene["photo"]
    c = api.post(f"/photos/{photo_id}/comments", {"body": "rude words"}, token=owner["access"]).data
    rc = report(api, reporter, "comment", c["id"]).data
    r = api.post(f"/staff/reports/{rc['id']}/resolve", {"action": "suspend_user"}, token=staff["access"])
    assert r.status_code == 200 and r.data["resolution"] == "suspend_user"
    r = login(api, owner)
    assert r.status_code == 403 and r.data["error"]["code"] == "account_suspended"
    assert api.get(f"/photos/{photo_id}/comments").data["items"]  # suspension removes nothing

    # staff cannot suspend an admin through a report either; the report stays open
    ra = report(api, reporter, "user", admin["id"]).data
    assert (
        api.post(f"/staff/reports/{ra['id']}/resolve", {"action": "suspend_user"}, token=staff["access"]).status_code
        == 403
    )
    assert api.get("/staff/reports", token=staff["access"]).data["items"][0]["id"] == ra["id"]
    r = api.post(f"/staff/reports/{ra['id']}/resolve", {"action": "dismiss"}, token=staff["access"])
    assert r.status_code == 200 and r.data["resolution"] == "dismiss"


def test_the_queue_pages_in_either_order_and_refuses_strangers(api, make_user, scene, staff):
    targets = [make_user(f"target{i}") for i in range(3)]
    ids = [report(api, scene["reporter"], "user", t["id"]).data["id"] for t in targets]
    first = api.get("/staff/reports?limit=2", token=staff["access"]).data
    rest = api.get(f"/staff/reports?limit=2&cursor={first['next_cursor']}", token=staff["access"]).data
    assert [i["id"] for i in first["items"] + rest["items"]] == ids
    newest = api.get("/staff/reports?order=newest", token=staff["access"]).data
    assert [i["id"] for i in newest["items"]] == ids[::-1]
    assert api.get("/staff/reports", token=scene["reporter"]["access"]).status_code == 403
    assert api.get("/staff/reports?status=closed", token=staff["access"]).status_code == 400
    assert api.get("/staff/reports?cursor=forged", token=staff["access"]).status_code == 400
    assert (
        api.post("/staff/reports/rp_nothing/resolve", {"action": "dismiss"}, token=staff["access"]).status_code == 404
    )


def test_many_reports_of_one_target_are_resolved_together_beyond_the_inline_bound(api, make_user, staff, monkeypatch):
    from chalicelib.services import moderation
    from tests.jobs import drain

    monkeypatch.setattr(moderation, "SIBLINGS_INLINE", 2)
    target = make_user("popular")
    reporters = [make_user(f"reporter{i}") for i in range(5)]
    ids = [report(api, r, "user", target["id"]).data["id"] for r in reporters]
    r = api.post(f"/staff/reports/{ids[0]}/resolve", {"action": "dismiss"}, token=staff["access"])
    assert r.status_code == 200
    drain()
    assert api.get("/staff/reports", token=staff["access"]).data["items"] == []
    resolved = api.get("/staff/reports?status=resolved&limit=100", token=staff["access"]).data["items"]
    assert sorted(i["id"] for i in resolved) == sorted(ids)


def test_a_deleted_users_open_reports_go_and_their_resolved_ones_stay(api, make_user, staff, tuned):
    from tests.conftest import PASSWORD
    from tests.jobs import drain

    tuned(chunk=2)
    leaving, other = make_user("leaver"), make_user("stayer")
    targets = [make_user(f"reported{i}") for i in range(4)]
    mine = [report(api, leaving, "user", t["id"]).data["id"] for t in targets]
    theirs = report(api, other, "user", targets[0]["id"]).data["id"]
    r = api.post(f"/staff/reports/{mine[3]}/resolve", {"action": "dismiss"}, token=staff["access"])
    assert r.status_code == 200 and r.data["resolved_with"] is None

    assert api.delete("/users/me", {"password": PASSWORD}, token=leaving["access"]).status_code == 204
    drain()  # 3 open reports in chunks of 2: a continuation
    assert [i["id"] for i in api.get("/staff/reports", token=staff["access"]).data["items"]] == [theirs]
    resolved = api.get("/staff/reports?status=resolved", token=staff["access"]).data["items"]
    assert [i["id"] for i in resolved] == [mine[3]]


@pytest.mark.parametrize(
    "body",
    [
        {"target": {"type": "event", "id": "x"}, "reason": "r"},
        {"target": {"type": "photo", "id": ""}, "reason": "r"},
        {"target": {"type": "photo", "id": "p"}, "reason": ""},
        {"target": {"type": "photo", "id": "p"}, "reason": "x" * 1001},
        {"target": {"type": "photo", "id": "p"}, "reason": "\u202e"},
        {"target": {"type": "photo", "id": "p"}},
        {"target": "p", "reason": "r"},
    ],
)
def test_report_bad_input(api, scene, body):
    r = api.post("/reports", body, token=scene["reporter"]["access"])
    assert r.status_code == 400, r.body


def test_concurrent_repeats_give_one_report_one_resolution_and_one_suspension(api, scene, staff):
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.errors import ConflictError
    from chalicelib.models.moderation import AuditEntry
    from chalicelib.services import moderation, tokens

    reporter, staffer = tokens.authenticate(scene["reporter"]["access"]), tokens.authenticate(staff["access"])

    def once(fn):
        def attempt(_):
            try:
                fn()
            except ConflictError:
                return 409
            return 200

        with ThreadPoolExecutor(4) as pool:
            return sorted(pool.map(attempt, range(8)))

    assert once(lambda: moderation.create_report(reporter, "photo", scene["photo"], "dup")) == [200] + [409] * 7
    [open_report] = api.get("/staff/reports", token=staff["access"]).data["items"]
    assert once(lambda: moderation.resolve(staffer, open_report["id"], "dismiss", None)) == [200] + [409] * 7
    owner_id = scene["owner"]["id"]
    assert once(lambda: moderation.suspend(staffer, owner_id, "x")) == [200] + [409] * 7
    actions = [e.action for e in AuditEntry.by_actor.query(staff["id"])]
    assert sorted(actions) == ["report.resolve", "user.suspend"]
