"""Videos through the real path on moto: POST /photos/uploads with a video type -> presigned POST -> the S3 event
in the video queue (never the photo queue) -> process_video_queue -> what a client is served."""

from __future__ import annotations

import requests

from chalicelib.config import get_settings
from tests.pipeline import fetch, post_file, reserve
from tests.video import kit, media


def test_config_lists_the_video_types_and_limit(api):
    upload = api.get("/config").data["upload"]
    assert {"video/mp4", "video/quicktime", "video/webm", "image/jpeg"} <= set(upload["content_types"])
    assert upload["max_video_bytes"] == get_settings().max_video_bytes
    assert upload["max_photo_bytes"] == get_settings().max_upload_bytes


def test_video_uploads_are_validated(api, make_user):
    token = make_user()["access"]
    big = get_settings().max_upload_bytes + 1
    ok = api.post("/photos/uploads", {"filename": "a.mp4", "content_type": "video/mp4", "size": big}, token=token)
    assert ok.status_code == 201  # over the photo limit, within the video limit
    too_big = get_settings().max_video_bytes + 1
    r = api.post("/photos/uploads", {"filename": "a.mp4", "content_type": "video/mp4", "size": too_big}, token=token)
    assert r.status_code == 400 and "files.0.size" in r.data["error"]["details"]
    r = api.post("/photos/uploads", {"filename": "a.avi", "content_type": "video/x-msvideo", "size": 10}, token=token)
    assert r.status_code == 400 and "files.0.content_type" in r.data["error"]["details"]
    r = api.post("/photos/uploads", {"filename": "a.jpg", "content_type": "image/jpeg", "size": big}, token=token)
    assert r.status_code == 400  # photos keep their own limit
    event = api.post("/events", {"name": "Wedding", "visibility": "public"}, token=token)
    assert event.status_code == 201, event.body
    files = [{"filename": "a.mp4", "content_type": "video/mp4", "size": 100}]  # event uploads stay photos only
    r = api.post(f"/events/{event.data['id']}/photos/bulk-upload", {"files": files}, token=token)
    assert r.status_code == 400 and "photos only" in r.data["error"]["details"]["files.0.content_type"]


def test_a_video_goes_to_the_video_queue_and_comes_out_playable(api, make_user, samples):
    from chalicelib.models.photos import Photo

    owner, fan = make_user(), make_user()
    s = get_settings()
    photo_id = kit.upload_video(api, owner["access"], samples["mp4"], pump=False)
    assert kit.queued_keys(s.upload_queue_name) == []  # the photo processor never sees it
    assert kit.queued_keys(s.video_queue_name) == [f"video-uploads/{photo_id}"]
    assert Photo.get(photo_id).kind == "video" and Photo.get(photo_id).upload_key.startswith("video-uploads/")
    responses = kit.pump_videos()  # the event (and S3's test event, sent when the notification was set up)
    assert responses and all(r == {"batchItemFailures": []} for r in responses)

    view = api.get(f"/photos/{photo_id}", token=fan["access"]).data
    assert view["status"] == "ready" and (view["width"], view["height"]) == (160, 120)
    row = Photo.get(photo_id)
    assert row.duration_s == 3 and row.kind == "video"
    assert {"poster", "stream", "thumb"} <= set(view["urls"])

    stream = fetch(view["urls"]["stream"])
    boxes = media.top_level_boxes(stream)
    assert boxes.index("moov") < boxes.index("mdat")
    assert media.LOCATION.encode() not in stream and b"iPhone" not in stream
    ranged = requests.get(view["urls"]["stream"], headers={"Range": "bytes=0-99"}, timeout=30)
    assert ranged.status_code == 206 and len(ranged.content) == 100 and ranged.content == stream[:100]
    assert fetch(view["urls"]["poster"])[:3] == b"\xff\xd8\xff"

    # the raw upload (with its GPS tag) is gone from the inbox
    from chalicelib import aws

    listed = aws.client("s3").list_objects_v2(Bucket=s.uploads_bucket, Prefix="video-uploads/")
    assert listed.get("KeyCount", 0) == 0

    # likes and comments work on it unchanged
    assert api.post(f"/photos/{photo_id}/like", token=fan["access"]).status_code == 201
    comment = api.post(f"/photos/{photo_id}/comments", {"body": "nice clip"}, token=fan["access"])
    assert comment.status_code == 201, comment.body
    assert api.get(f"/photos/{photo_id}", token=fan["access"]).data["like_count"] == 1

    # a redelivery of the same S3 event changes nothing
    before = Photo.get(photo_id)
    body = media_event(s.uploads_bucket, row.upload_key)
    again = kit_handle(body)
    assert again == {"batchItemFailures": []} and Photo.get(photo_id).processed_at == before.processed_at

    # deleting it removes every stored file
    assert api.delete(f"/photos/{photo_id}", token=owner["access"]).status_code == 204
    listed = aws.client("s3").list_objects_v2(Bucket=s.media_bucket, Prefix=f"photos/{photo_id}/")
    assert listed.get("KeyCount", 0) == 0


def media_event(bucket: str, key: str) -> str:
    from tests.pipeline import s3_event_body

    return s3_event_body(bucket, key)


def kit_handle(body: str) -> dict:
    import app as app_module
    from tests.pipeline import sqs_record

    return app_module.process_video_queue({"Records": [sqs_record(body)]}, None)


def test_webm_and_rotated_mov(api, make_user, samples):
    token = make_user()["access"]
    webm = kit.upload_video(api, token, samples["webm"], "video/webm")
    rotated = kit.upload_video(api, token, samples["rotated"], "video/quicktime")
    assert api.get(f"/photos/{webm}", token=token).data["status"] == "ready"
    view = api.get(f"/photos/{rotated}", token=token).data
    assert (view["width"], view["height"]) == (120, 160)  # portrait, as it is shown


def test_bad_videos_are_rejected_with_a_reason_and_leave_nothing(api, make_user, samples):
    from chalicelib import aws

    token = make_user()["access"]
    cases = {
        "jpeg": (media.jpeg(), "video/mp4", "not a video (found: JPEG image)"),
        "bomb": (media.zip_bomb(), "video/quicktime", "not a video (found: ZIP archive)"),
        "truncated": (samples["truncated_index"], "video/mp4", "corrupt or truncated"),
        "long": (samples["two_hours"], "video/mp4", "7200 seconds long"),
    }
    ids = {name: kit.upload_video(api, token, data, kind, pump=False) for name, (data, kind, _) in cases.items()}
    responses = kit.pump_videos(max_rounds=10)
    assert all(r == {"batchItemFailures": []} for r in responses) and len(responses) >= len(cases)
    for name, (_, _, words) in cases.items():
        view = api.get(f"/photos/{ids[name]}", token=token).data
        assert view["status"] == "rejected" and words in view["rejection_reason"], (name, view)
        listed = aws.client("s3").list_objects_v2(Bucket=get_settings().media_bucket, Prefix=f"photos/{ids[name]}/")
        assert listed.get("KeyCount", 0) == 0


def test_a_file_larger_than_declared_is_rejected_before_it_is_read(api, make_user, samples):
    """S3 enforces the policy's size range; moto does not, which lets the processor's own check be seen."""
    token = make_user()["access"]
    photo_id, slot = reserve(api, token, samples["mp4"], content_type="video/mp4", size=len(samples["mp4"]) - 10)
    post_file(slot, samples["mp4"], "video/mp4")
    kit.pump_videos()
    view = api.get(f"/photos/{photo_id}", token=token).data
    assert view["status"] == "rejected" and "larger than" in view["rejection_reason"]


def test_a_low_duration_limit_applies(api, make_user, samples, monkeypatch):
    monkeypatch.setenv("LIGHTBOX_MAX_VIDEO_SECONDS", "2")
    get_settings.cache_clear()
    token = make_user()["access"]
    photo_id = kit.upload_video(api, token, samples["mp4"])
    view = api.get(f"/photos/{photo_id}", token=token).data
    assert view["status"] == "rejected" and "the limit is 2 seconds" in view["rejection_reason"]


def test_an_unexpected_failure_is_retried_then_rejected_on_the_last_delivery(api, make_user, samples, monkeypatch):
    """ffmpeg failing for no reason it names (FfmpegFailed) is not the file's fault: the message is retried, the
    lease released at once; on the queue's last delivery the uploader is told instead of waiting for ever."""
    import app as app_module
    from chalicelib.models.photos import Photo
    from chalicelib.resources import VIDEO_QUEUE_MAX_RECEIVES
    from chalicelib.video import process
    from chalicelib.video.models import FfmpegFailed
    from tests.pipeline import s3_event_body, sqs_record

    def broken(*args, **kwargs):
        raise FfmpegFailed("ffmpeg exited 1", "something odd")

    monkeypatch.setattr(process, "render", broken)
    token = make_user()["access"]
    photo_id = kit.upload_video(api, token, samples["mp4"], pump=False)
    record = sqs_record(s3_event_body(get_settings().uploads_bucket, f"video-uploads/{photo_id}"))
    first = app_module.process_video_queue({"Records": [record]}, None)
    assert first == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    row = Photo.get(photo_id)
    assert row.status == "processing" and not row.lease_until  # released: the redelivery may take over at once
    last = {**record, "attributes": {**record["attributes"], "ApproximateReceiveCount": str(VIDEO_QUEUE_MAX_RECEIVES)}}
    assert app_module.process_video_queue({"Records": [last]}, None)["batchItemFailures"]
    view = api.get(f"/photos/{photo_id}", token=token).data
    assert view["status"] == "rejected" and view["rejection_reason"].startswith("The video could not be processed")


def test_bookmarks_and_live_stats_work_on_a_video_unchanged(app, api, make_user, samples, live):
    import app as app_module
    from tests.realtime import connect, send

    owner, fan = make_user(), make_user()
    photo_id = kit.upload_video(api, owner["access"], samples["mp4"])
    assert api.get(f"/photos/{photo_id}", token=fan["access"]).data["status"] == "ready"

    assert api.put(f"/photos/{photo_id}/bookmark", token=fan["access"]).status_code in (200, 201, 204)
    (saved,) = api.get("/bookmarks", token=fan["access"]).data["items"]
    assert saved["id"] == photo_id and saved["kind"] == "video" and "stream" in saved["urls"]

    connection_id, response = connect(app_module, owner["access"])
    assert response["statusCode"] == 200
    send(app_module, connection_id, {"action": "subscribe", "photo_id": photo_id})
    assert api.post(f"/photos/{photo_id}/like", token=fan["access"]).status_code == 201
    stats = [f for f in live.frames[connection_id] if f["type"] == "photo.stats"]
    assert stats == [{"type": "photo.stats", "photo_id": photo_id, "like_count": 1, "comment_count": 0}]


def test_no_disk_space_is_a_rejection_on_the_first_delivery(api, make_user, samples, monkeypatch):
    """A /tmp without room for the renditions is refused at once with its reason (not retried three times)."""
    import shutil
    import types

    from chalicelib.video import process

    free = process.POSTER_MAX_BYTES + process.IMAGES_BYTES + process.PREVIEW_MAX_BYTES  # none left for the stream
    monkeypatch.setattr(shutil, "disk_usage", lambda path: types.SimpleNamespace(total=free, used=0, free=free))
    token = make_user()["access"]
    photo_id = kit.upload_video(api, token, samples["mp4"], pump=False)
    responses = kit.pump_videos()
    assert responses and responses[0] == {"batchItemFailures": []}, responses
    view = api.get(f"/photos/{photo_id}", token=token).data
    assert view["status"] == "rejected" and view["rejection_reason"] == process.NO_ROOM, view
