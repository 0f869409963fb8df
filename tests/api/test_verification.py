"""Creator identity verification: submit with a private document, the staff queue, approve/reject, and the
document never reachable but by staff's short-lived URL."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.conftest import sent_emails
from tests.creators_kit import DOCUMENT, staff_user, submit, submit_and_upload
from tests.realtime import connect


@pytest.fixture
def staff(make_user):
    return staff_user(make_user)


def _uploads_object(key):
    from chalicelib import aws
    from chalicelib.config import get_settings

    s3 = aws.client("s3")
    try:
        return s3.get_object(Bucket=get_settings().uploads_bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None


def _pending(api, staff, **query):
    qs = "&".join(f"{k}={v}" for k, v in {"status": "pending", **query}.items())
    r = api.get(f"/staff/verifications?{qs}", token=staff["access"])
    assert r.status_code == 200, r.body
    return r.data


def test_a_creator_submits_staff_sees_the_document_and_approves(api, make_user, staff, live):
    import app as app_module

    creator = make_user("vcreator", role="creator")
    assert api.get("/creators/verification", token=creator["access"]).data == {"status": "none"}
    submitted = submit_and_upload(api, creator)
    assert submitted["status"] == "pending"
    key = submitted["upload"]["fields"]["key"]
    assert key.startswith(f"verification/{creator['id']}/")
    assert _uploads_object(key) == DOCUMENT
    assert api.get("/creators/verification", token=creator["access"]).data["status"] == "pending"

    [item] = _pending(api, staff)["items"]
    assert item["user_id"] == creator["id"] and item["legal_name"] == "Ada Lovelace" and item["country"] == "GB"
    assert requests.get(item["document"]["url"], timeout=10).content == DOCUMENT
    assert parse_qs(urlparse(item["document"]["url"]).query)["X-Amz-Expires"] == ["300"]  # five minutes

    phone, _ = connect(app_module, creator["access"])
    r = api.post(f"/staff/verifications/{creator['id']}/approve", {}, token=staff["access"])
    assert r.status_code == 200 and r.data["status"] == "approved"
    assert api.get("/creators/verification", token=creator["access"]).data["status"] == "approved"
    assert api.get("/auth/me", token=creator["access"]).data["creator_verified"] is True
    assert _uploads_object(key) is None  # deleted at once
    assert requests.get(item["document"]["url"], timeout=10).status_code == 404
    [note] = api.get("/notifications", token=creator["access"]).data["items"]
    assert note["type"] == "verification" and note["target"]["status"] == "approved"
    assert [f["notification"] for f in live.of_type(phone, "notification")] == [note]
    assert any(m["to"] == [creator["email"]] and "verified" in m["subject"] for m in sent_emails())
    assert _pending(api, staff)["items"] == []
    # Decided: a second decision or a new request conflicts.
    assert (
        api.post(f"/staff/verifications/{creator['id']}/reject", {"reason": "x"}, token=staff["access"]).status_code
        == 409
    )
    assert submit(api, creator).status_code == 409


def test_a_rejection_needs_a_reason_tells_it_and_allows_a_new_request(api, make_user, staff):
    creator = make_user("vrejected", role="creator")
    first = submit_and_upload(api, creator)
    assert submit(api, creator).status_code == 409  # pending: one at a time
    r = api.post(f"/staff/verifications/{creator['id']}/reject", {}, token=staff["access"])
    assert r.status_code == 400 and "reason" in r.data["error"]["details"]
    r = api.post(
        f"/staff/verifications/{creator['id']}/reject", {"reason": "The photo is blurred"}, token=staff["access"]
    )
    assert r.status_code == 200, r.body
    assert api.get("/creators/verification", token=creator["access"]).data == {
        "status": "rejected",
        "reason": "The photo is blurred",
    }
    assert _uploads_object(first["upload"]["fields"]["key"]) is None
    assert any("not approved" in m["subject"] and "blurred" in m["text"] for m in sent_emails())
    note = api.get("/notifications", token=creator["access"]).data["items"][0]
    assert note["target"] == {"kind": "verification", "status": "rejected", "reason": "The photo is blurred"}
    # A new request after the rejection.
    second = submit_and_upload(api, creator)
    assert second["upload"]["fields"]["key"] != first["upload"]["fields"]["key"]
    assert api.get("/creators/verification", token=creator["access"]).data["status"] == "pending"
    [item] = _pending(api, staff)["items"]
    assert item["request_id"] in second["upload"]["fields"]["key"]


def test_the_staff_queue_pages_oldest_first(api, make_user, staff):
    creators = [make_user(f"vqueue{i}", role="creator") for i in range(3)]
    for c in creators:
        submit_and_upload(api, c)
    first = _pending(api, staff, limit=2)
    assert [i["user_id"] for i in first["items"]] == [c["id"] for c in creators[:2]]
    rest = _pending(api, staff, limit=2, cursor=first["next_cursor"])
    assert [i["user_id"] for i in rest["items"]] == [creators[2]["id"]]
    assert api.get("/staff/verifications?cursor=forged", token=staff["access"]).status_code == 400


def test_who_may_call_what(api, make_user, staff):
    creator, member = make_user("vwho", role="creator"), make_user("vmember")
    assert api.post("/creators/verification", {}).status_code == 401
    assert api.get("/creators/verification").status_code == 401
    assert submit(api, member).status_code == 403
    assert api.get("/creators/verification", token=member["access"]).status_code == 403
    submit_and_upload(api, creator)
    for user in (member, creator):
        assert api.get("/staff/verifications", token=user["access"]).status_code == 403
        r = api.post(f"/staff/verifications/{creator['id']}/approve", {}, token=user["access"])
        assert r.status_code == 403
    assert api.post(f"/staff/verifications/{member['id']}/approve", {}, token=staff["access"]).status_code == 404
    assert api.get("/creators/verification", token=creator["access"]).data["status"] == "pending"


@pytest.mark.parametrize(
    "change,field",
    [
        ({"country": "gb"}, "country"),
        ({"country": "GBR"}, "country"),
        ({"legal_name": " "}, "legal_name"),
        ({"document": {"filename": "id.gif", "content_type": "image/gif", "size": 10}}, "document.content_type"),
        (
            {"document": {"filename": "id.pdf", "content_type": "application/pdf", "size": 10 * 2**20 + 1}},
            "document.size",
        ),
        ({"document": {"filename": "id.pdf", "content_type": "application/pdf", "size": 0}}, "document.size"),
    ],
)
def test_bad_requests_are_400_and_change_nothing(api, make_user, change, field):
    creator = make_user(f"vbad{abs(hash(field)) % 10000}", role="creator")
    body = {
        "legal_name": "Ada",
        "country": "GB",
        "document": {"filename": "id.pdf", "content_type": "application/pdf", "size": 100},
        **change,
    }
    r = api.post("/creators/verification", body, token=creator["access"])
    assert r.status_code == 400 and r.data["error"]["code"] == "validation_error"
    assert any(k.startswith(field) for k in r.data["error"]["details"]), r.data
    assert api.get("/creators/verification", token=creator["access"]).data["status"] == "none"


def test_the_upload_policy_pins_the_key_type_and_size(api, make_user):
    import base64
    import json

    creator = make_user("vpolicy", role="creator")
    upload = submit(api, creator).data["upload"]
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    key = upload["fields"]["key"]
    assert {"key": key} in policy["conditions"]
    assert {"Content-Type": "application/pdf"} in policy["conditions"]
    assert ["content-length-range", 1, len(DOCUMENT)] in policy["conditions"]
    # Short: a document sent long after the request (after a decision, say) is refused by S3 itself.
    from datetime import UTC, datetime

    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert 0 < (expires - datetime.now(UTC)).total_seconds() <= 600


def test_approving_a_request_whose_document_never_arrived_is_409(api, make_user, staff):
    creator = make_user("vnodoc", role="creator")
    assert submit(api, creator).status_code == 201  # the document is never POSTed
    r = api.post(f"/staff/verifications/{creator['id']}/approve", {}, token=staff["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "document_missing", r.body
    assert api.get("/creators/verification", token=creator["access"]).data["status"] == "pending"
    assert api.get("/auth/me", token=creator["access"]).data["creator_verified"] is False
    r = api.post(f"/staff/verifications/{creator['id']}/reject", {"reason": "No document"}, token=staff["access"])
    assert r.status_code == 200, r.body


def test_a_failing_notification_or_email_does_not_fail_the_decision(api, make_user, staff, monkeypatch):
    from chalicelib import storage
    from chalicelib.services import mailer, notifications

    def broken(*args, **kwargs):
        raise RuntimeError("down")

    creator = make_user("vnotify", role="creator")
    submit_and_upload(api, creator)
    monkeypatch.setattr(notifications, "notify", broken)
    monkeypatch.setattr(mailer, "send", broken)
    monkeypatch.setattr(storage, "delete_keys", broken)
    r = api.post(f"/staff/verifications/{creator['id']}/approve", {}, token=staff["access"])
    assert r.status_code == 200 and r.data["status"] == "approved", r.body
    assert api.get("/creators/verification", token=creator["access"]).data["status"] == "approved"


def test_the_email_goes_even_when_the_notification_fails(api, make_user, staff, monkeypatch):
    from chalicelib.services import notifications

    def broken(*args, **kwargs):
        raise RuntimeError("down")

    creator = make_user("vnotify2", role="creator")
    submit_and_upload(api, creator)
    monkeypatch.setattr(notifications, "notify", broken)
    r = api.post(f"/staff/verifications/{creator['id']}/reject", {"reason": "Expired passport"}, token=staff["access"])
    assert r.status_code == 200, r.body
    assert any(m["to"] == [creator["email"]] and "Expired passport" in m["text"] for m in sent_emails())


def test_the_document_is_never_processed_nor_served_by_a_photo_route(api, make_user, staff):
    from chalicelib import storage
    from chalicelib.services import photos_access
    from tests.pipeline import pump

    creator = make_user("vprivate", role="creator")
    submitted = submit_and_upload(api, creator)
    key = submitted["upload"]["fields"]["key"]
    # S3's notification filter (the prefix) keeps it off the upload queue in AWS; moto delivers it anyway,
    # and the processor ignores every key outside the upload prefix: no photo, no media.
    assert all(not r["batchItemFailures"] for r in pump())
    assert _uploads_object(key) == DOCUMENT
    _, user_id, request_id = key.split("/")
    # Photo routes look ids up in the photos table and sign only photos/<id>/<variant> keys of the media bucket.
    for guess in (request_id, user_id, key, f"..%2F{key}"):
        for token in (None, creator["access"], staff["access"]):
            r = api.get(f"/photos/{guess}", token=token)
            assert r.status_code in (403, 404) and "X-Amz-Signature" not in r.body.decode(), (guess, r.status_code)
    for variant in ("original", "preview", "thumb"):
        assert storage.variant_key(request_id, variant).startswith("photos/")
    assert api.get(f"/photos/share/{request_id}").status_code == 404
    # What the photo routes sign is a media-bucket URL, never the uploads bucket.
    from chalicelib.config import get_settings

    class Fake:
        photo_id, variant_keys, status, original_format = request_id, ["original"], "ready", "jpeg"

    url = photos_access.sign(Fake(), "original")  # type: ignore[arg-type]
    assert get_settings().media_bucket in url and get_settings().uploads_bucket not in url
    assert requests.get(url, timeout=10).status_code in (403, 404)  # nothing there


def test_two_staff_deciding_at_once_one_wins(api, make_user, staff):
    from concurrent.futures import ThreadPoolExecutor

    other = staff_user(make_user, "staffer2")
    creator = make_user("vrace", role="creator")
    submit_and_upload(api, creator)

    def approve(who):
        return api.post(f"/staff/verifications/{creator['id']}/approve", {}, token=who["access"]).status_code

    def reject(who):
        return api.post(
            f"/staff/verifications/{creator['id']}/reject", {"reason": "no"}, token=who["access"]
        ).status_code

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(approve, staff), pool.submit(reject, other)]
        results = sorted(f.result() for f in futures)
    assert results == [200, 409]
    status = api.get("/creators/verification", token=creator["access"]).data["status"]
    assert status in ("approved", "rejected")
    assert len(api.get("/notifications", token=creator["access"]).data["items"]) == 1


def test_deleting_the_account_deletes_the_request_and_the_document(api, make_user, staff):
    from chalicelib.models.creators import verification
    from tests.jobs import drain

    creator = make_user("vdeleted", role="creator")
    key = submit_and_upload(api, creator)["upload"]["fields"]["key"]
    assert api.delete("/users/me", {"password": creator["password"]}, token=creator["access"]).status_code == 204
    drain()
    assert verification(creator["id"]) is None
    assert _uploads_object(key) is None
    assert _pending(api, staff)["items"] == []
