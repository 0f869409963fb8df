"""An upload whose event is deleted before its file arrives, through the real handlers: the bulk-upload API, the
jobs worker (``tests.jobs.drain``) and the upload processor (``tests.pipeline.pump``). The photo ends gone
with no stored files, and a redelivery of the S3 event changes nothing."""

from __future__ import annotations

from datetime import timedelta

from tests.jobs import drain
from tests.pipeline import jpeg, post_file, pump, reserve, s3_event_body, sqs_record


def bucket_keys(bucket: str) -> list[str]:
    from chalicelib import aws

    return [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])]


def new_event(api, token: str) -> str:
    r = api.post("/events", {"name": "Gala", "visibility": "public"}, token=token)
    assert r.status_code == 201, r.body
    return r.data["id"]


def assert_gone_without_files(api, token: str, photo_id: str) -> None:
    from chalicelib.config import get_settings
    from chalicelib.models.photos import Photo

    assert api.get(f"/photos/{photo_id}", token=token).status_code == 404
    assert Photo.count(photo_id) == 0
    assert bucket_keys(get_settings().media_bucket) == []
    assert bucket_keys(get_settings().uploads_bucket) == []


def redeliver(photo_id: str) -> None:
    import app as app_module
    from chalicelib.config import get_settings

    body = s3_event_body(get_settings().uploads_bucket, f"uploads/{photo_id}")
    assert app_module.process_upload_queue({"Records": [sqs_record(body)]}, None) == {"batchItemFailures": []}
    drain()


def test_a_file_landing_after_its_event_was_deleted_leaves_nothing(api, make_user):
    owner = make_user("gala")
    event_id = new_event(api, owner["access"])
    photo_id, slot = reserve(api, owner["access"], jpeg(), event_id=event_id)
    assert api.delete(f"/events/{event_id}", token=owner["access"]).status_code == 204
    drain()  # the event's deletion job has finished before the presigned POST lands
    assert post_file(slot, jpeg()).status_code in (200, 201, 204)  # the presigned POST is still valid
    assert pump() == [{"batchItemFailures": []}]
    assert_gone_without_files(api, owner["access"], photo_id)
    redeliver(photo_id)
    assert_gone_without_files(api, owner["access"], photo_id)


def test_an_upload_reserved_as_the_event_is_deleted_is_purged_when_its_file_arrives(api, make_user, monkeypatch):
    """Bulk upload checks the event, then writes its rows: a delete (and its whole job) in between leaves a
    pending photo that the job never saw. When its file arrives the processor finds the event gone and
    removes the photo and every file it wrote, instead of publishing a ready photo of no event."""
    from chalicelib.services import events as events_service

    owner = make_user("racer")
    event_id = new_event(api, owner["access"])
    real = events_service.require_contributor

    def deleted_right_after_the_check(principal, eid):
        event = real(principal, eid)
        events_service.delete_event(principal, eid)
        drain()
        return event

    monkeypatch.setattr(events_service, "require_contributor", deleted_right_after_the_check)
    photo_id, slot = reserve(api, owner["access"], jpeg(), event_id=event_id)
    monkeypatch.setattr(events_service, "require_contributor", real)
    assert api.get(f"/events/{event_id}", token=owner["access"]).status_code == 404
    assert post_file(slot, jpeg()).status_code in (200, 201, 204)
    assert pump() == [{"batchItemFailures": []}]
    assert_gone_without_files(api, owner["access"], photo_id)
    from tests.jobs import queued

    assert not [j for j in queued() if j["type"] == "photo.ready"]
    redeliver(photo_id)
    assert_gone_without_files(api, owner["access"], photo_id)


def test_bulk_upload_into_a_deleted_event_is_404(api, make_user):
    owner = make_user("late")
    event_id = new_event(api, owner["access"])
    assert api.delete(f"/events/{event_id}", token=owner["access"]).status_code == 204
    spec = {"filename": "a.jpg", "content_type": "image/jpeg", "size": 100}
    r = api.post(f"/events/{event_id}/photos/bulk-upload", {"files": [spec]}, token=owner["access"])
    assert r.status_code == 404, r.body
    drain()
    r = api.post(f"/events/{event_id}/photos/bulk-upload", {"files": [spec]}, token=owner["access"])
    assert r.status_code == 404, r.body


def test_a_deleted_events_pending_photo_whose_file_never_comes_expires(api, make_user, monkeypatch):
    """The row of an upload that never arrives carries the pending-upload TTL (DynamoDB deletes it) and is not
    served once past it; the uploads bucket's lifecycle rule expires a stray inbox object."""
    from chalicelib.models.photos import Photo
    from chalicelib.services import events as events_service
    from chalicelib.services.photos import PENDING_UPLOAD_TTL

    owner = make_user("never")
    event_id = new_event(api, owner["access"])
    real = events_service.require_contributor

    def deleted_right_after_the_check(principal, eid):
        event = real(principal, eid)
        events_service.delete_event(principal, eid)
        drain()
        return event

    monkeypatch.setattr(events_service, "require_contributor", deleted_right_after_the_check)
    photo_id, _ = reserve(api, owner["access"], jpeg(), event_id=event_id)
    photo = Photo.get(photo_id)
    assert photo.status == "pending_upload" and photo.expires_at is not None
    assert abs(photo.expires_at.timestamp() - photo.created_at.timestamp() - PENDING_UPLOAD_TTL) < 60
    past = photo.created_at - timedelta(hours=1)
    photo.update(actions=[Photo.expires_at.set(past)])  # as if its TTL had passed (DynamoDB deletes it late)
    assert api.get(f"/photos/{photo_id}", token=owner["access"]).status_code == 404
