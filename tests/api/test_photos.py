"""Photos outside events: presigned uploads, processing through S3 -> SQS -> processor, views, edits,
search, share links, user tags, deletion. Event permissions are in test_photo_permissions.py."""

from __future__ import annotations

import base64
import datetime
import io
import json
import time

import pytest
from PIL import Image

from tests.conftest import PASSWORD
from tests.jobs import drain
from tests.pipeline import fetch, jpeg, post_file, pump, reserve, s3_event_body, sqs_record, upload


def test_upload_policy_pins_key_type_size_and_expiry(api, make_user):
    user = make_user("poli")
    photo_id, slot = reserve(api, user["access"], b"x" * 1234)
    policy = json.loads(base64.b64decode(slot["fields"]["policy"]))
    conditions = policy["conditions"]
    assert {"key": f"uploads/{photo_id}"} in conditions
    assert {"Content-Type": "image/jpeg"} in conditions
    assert ["content-length-range", 1, 1234] in conditions
    expires = time.mktime(time.strptime(policy["expiration"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert 14 * 60 <= expires - time.time() <= 15 * 60 + 5
    assert slot["fields"]["key"] == f"uploads/{photo_id}"
    r = api.get(f"/photos/{photo_id}", token=user["access"])
    assert r.status_code == 200 and r.data["status"] == "pending_upload" and r.data["urls"] == {}


@pytest.mark.parametrize(
    "spec,field",
    [
        ({"filename": "a.tif", "content_type": "image/tiff", "size": 10}, "files.0.content_type"),
        ({"filename": "a.jpg", "content_type": "image/jpeg", "size": 60 * 1024 * 1024}, "files.0.size"),
        ({"filename": "a.jpg", "content_type": "image/jpeg", "size": 0}, "size"),
        ({"filename": "a.jpg", "content_type": "image/jpeg"}, "body"),
    ],
)
def test_upload_validation(api, make_user, spec, field):
    user = make_user("valid8")
    r = api.post("/photos/uploads", spec, token=user["access"])
    assert r.status_code == 400 and field in r.data["error"]["details"], r.data


def test_upload_process_view_and_variants(api, make_user):
    user = make_user("vera")
    data = jpeg(3000, 2000)
    photo_id = upload(api, user["access"], data, caption="Sunset at the #Beach", tags=["Holiday"])
    r = api.get(f"/photos/{photo_id}", token=user["access"])
    assert r.status_code == 200, r.body
    photo = r.data
    assert photo["status"] == "ready" and (photo["width"], photo["height"]) == (3000, 2000)
    assert set(photo["urls"]) == {"thumb", "medium", "large", "watermarked", "preview", "original"}  # the uploader
    assert photo["tags"] == ["holiday", "beach"]
    sizes = {}
    for name, url in photo["urls"].items():
        image = Image.open(io.BytesIO(fetch(url)))
        sizes[name] = image.size
        assert not image.getexif(), name
    assert max(sizes["thumb"]) <= 256 and max(sizes["medium"]) <= 1024 and max(sizes["large"]) <= 2048
    assert sizes["original"] == (3000, 2000)
    # anonymous callers see the public photo, but not its original
    anon = api.get(f"/photos/{photo_id}").data
    assert set(anon["urls"]) == {"thumb", "medium", "large", "watermarked"}
    # the raw upload is gone from the inbox bucket
    from chalicelib import aws
    from chalicelib.config import get_settings

    listed = aws.client("s3").list_objects_v2(Bucket=get_settings().uploads_bucket).get("KeyCount")
    assert listed == 0


def test_gps_is_kept_only_on_the_owners_record(api, make_user):
    owner = make_user("gina")
    other = make_user("otto")
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    exif[0x8825] = gps
    photo_id = upload(api, owner["access"], jpeg(800, 600, exif=exif))
    mine = api.get(f"/photos/{photo_id}", token=owner["access"]).data
    assert mine["location"]["lat"] == pytest.approx(48.8567, abs=1e-3)
    theirs = api.get(f"/photos/{photo_id}", token=other["access"]).data
    assert "location" not in theirs
    for url in mine["urls"].values():
        assert 0x8825 not in Image.open(io.BytesIO(fetch(url))).getexif()


def test_duplicate_s3_events_change_nothing(api, make_user):
    user = make_user("dupe")
    photo_id = upload(api, user["access"], jpeg())
    from chalicelib.models.photos import Photo

    before = Photo.get(photo_id).attribute_values.copy()
    import app as app_module
    from chalicelib.config import get_settings

    body = s3_event_body(get_settings().uploads_bucket, f"uploads/{photo_id}")
    response = app_module.process_upload_queue({"Records": [sqs_record(body), sqs_record(body)]}, None)
    assert response == {"batchItemFailures": []}
    assert Photo.get(photo_id).attribute_values == before


def test_crash_midway_is_taken_over_after_the_lease(api, make_user):
    user = make_user("crash")
    photo_id, slot = reserve(api, user["access"], jpeg())
    from chalicelib.models.photos import Photo

    Photo.get(photo_id).update(actions=[Photo.status.set("processing"), Photo.lease_until.set(int(time.time()) + 60)])
    post_file(slot, jpeg())
    responses = pump(max_rounds=1)
    assert responses[0]["batchItemFailures"], "a live lease means retry later"
    Photo.get(photo_id).update(actions=[Photo.lease_until.set(int(time.time()) - 1)])
    pump()
    assert Photo.get(photo_id).status == "ready"


def test_rejections_have_reasons_delete_bytes_and_notify(api, make_user):
    user = make_user("rita")
    bad_id = upload(api, user["access"], b"\x00garbage" * 500)
    r = api.get(f"/photos/{bad_id}", token=user["access"]).data
    assert r["status"] == "rejected" and r["rejection_reason"] and r["urls"] == {}
    data = jpeg()
    big_id, slot = reserve(api, user["access"], data, size=100)
    post_file(slot, data)  # moto does not enforce the policy's size; the processor re-checks it
    pump()
    r = api.get(f"/photos/{big_id}", token=user["access"]).data
    assert r["status"] == "rejected" and "larger" in r["rejection_reason"]
    from chalicelib import aws
    from chalicelib.config import get_settings
    from chalicelib.models.notifications import Notification

    assert aws.client("s3").list_objects_v2(Bucket=get_settings().uploads_bucket).get("KeyCount") == 0
    kinds = [(n.type, n.target["id"]) for n in Notification.query(user["id"])]
    assert ("rejected", bad_id) in kinds and ("rejected", big_id) in kinds
    assert api.get(f"/photos/{bad_id}", token=make_user("stranger1")["access"]).status_code == 404


def test_patch_and_delete_photo(api, make_user):
    owner = make_user("pat")
    other = make_user("pete")
    photo_id = upload(api, owner["access"], jpeg(), caption="old words")
    assert api.patch(f"/photos/{photo_id}", {"caption": "x"}, token=other["access"]).status_code == 403
    r = api.patch(f"/photos/{photo_id}", {"caption": "Brand new #Caption", "tags": ["extra"]}, token=owner["access"])
    assert r.status_code == 200 and r.data["caption"] == "Brand new #Caption"
    assert set(r.data["tags"]) == {"extra", "caption"}
    assert api.get("/photos/search?q=old").data["items"] == []
    assert [p["id"] for p in api.get("/photos/search?q=brand").data["items"]] == [photo_id]
    r = api.patch(f"/photos/{photo_id}", {"visibility": "private"}, token=owner["access"])
    assert r.status_code == 200
    assert api.get(f"/photos/{photo_id}", token=other["access"]).status_code == 404
    assert api.get(f"/photos/{photo_id}").status_code == 404
    assert photo_id not in [p["id"] for p in api.get("/photos").data["items"]]

    assert api.delete(f"/photos/{photo_id}", token=other["access"]).status_code == 404
    assert api.delete(f"/photos/{photo_id}", token=owner["access"]).status_code == 204
    assert api.get(f"/photos/{photo_id}", token=owner["access"]).status_code == 404
    from chalicelib import aws
    from chalicelib.config import get_settings

    assert aws.client("s3").list_objects_v2(Bucket=get_settings().media_bucket).get("KeyCount") == 0


def test_search_by_caption_words_and_keyword_tags(api, make_user):
    user = make_user("sue")
    a = upload(api, user["access"], jpeg(), caption="Golden hour at the lake", tags=["nature"])
    b = upload(api, user["access"], jpeg(), caption="Lake party #friends")
    c = upload(api, user["access"], jpeg(), caption="City lights")

    def ids(q):
        return [p["id"] for p in api.get(f"/photos/search?q={q}").data["items"]]

    assert ids("lake") == [b, a]  # newest first
    assert ids("LAKE%20golden") == [a]
    assert ids("friends") == [b] and ids("nature") == [a] and ids("city") == [c]
    assert ids("nothing") == []
    assert api.get("/photos/search?q=%20").status_code == 400


def test_listing_by_owner_recent_and_popular(api, make_user):
    user = make_user("lisa")
    ids = [upload(api, user["access"], jpeg()) for _ in range(3)]
    from chalicelib.models.photos import Photo

    Photo.get(ids[0]).update(actions=[Photo.like_count.set(9)])
    Photo.get(ids[1]).update(actions=[Photo.like_count.set(4)])
    recent = [p["id"] for p in api.get("/photos?owner=lisa").data["items"]]
    assert recent == ids[::-1]
    popular = [p["id"] for p in api.get(f"/photos?owner={user['id']}&ordering=popular").data["items"]]
    assert popular == [ids[0], ids[1], ids[2]]
    page1 = api.get("/photos?owner=lisa&limit=2").data
    page2 = api.get(f"/photos?owner=lisa&limit=2&cursor={page1['next_cursor']}").data
    assert [p["id"] for p in page1["items"] + page2["items"]] == ids[::-1]
    assert api.get("/photos?ordering=sideways").status_code == 400


def test_user_tags(api, make_user):
    owner = make_user("tara")
    friend = make_user("tom")
    stranger = make_user("tim")
    photo_id = upload(api, owner["access"], jpeg())
    r = api.post(f"/photos/{photo_id}/tags", {"username": "tom"}, token=owner["access"])
    assert r.status_code == 201
    assert api.post(f"/photos/{photo_id}/tags", {"username": "TOM"}, token=owner["access"]).status_code == 409
    assert api.post(f"/photos/{photo_id}/tags", {"username": "tom"}, token=stranger["access"]).status_code in (403, 409)
    assert api.post(f"/photos/{photo_id}/tags", {"username": "tara"}, token=stranger["access"]).status_code == 403
    assert api.post(f"/photos/{photo_id}/tags", {"username": "nobody"}, token=owner["access"]).status_code == 404
    tagged = api.get("/photos/photos-tagged-in", token=friend["access"]).data["items"]
    assert [p["id"] for p in tagged] == [photo_id]
    assert api.get(f"/photos/{photo_id}").data["user_tags"] == ["tom"]
    from chalicelib.models.notifications import Notification

    assert [n.type for n in Notification.query(friend["id"])] == ["tagged"]
    assert api.delete(f"/photos/{photo_id}/tags/{friend['id']}", token=stranger["access"]).status_code == 403
    assert api.delete(f"/photos/{photo_id}/tags/{friend['id']}", token=friend["access"]).status_code == 204
    assert api.get("/photos/photos-tagged-in?user=tom").data["items"] == []


def test_share_links(api, make_user):
    owner = make_user("shay")
    other = make_user("olga")
    photo_id = upload(api, owner["access"], jpeg(1200, 900))
    body = {"variant": "original", "expires_in_seconds": 3600, "password": "opensesame", "max_downloads": 2}
    assert api.post(f"/photos/{photo_id}/share", body, token=other["access"]).status_code == 403
    r = api.post(f"/photos/{photo_id}/share", body, token=owner["access"])
    assert r.status_code == 201 and r.data["expires_at"].endswith("Z")
    token = r.data["token"]
    assert r.data["url"].endswith(f"/photos/share/{token}")
    assert api.get(f"/photos/share/{token}").status_code == 401
    assert api.get(f"/photos/share/{token}?password=wrong").status_code == 403
    first = api.get(f"/photos/share/{token}?password=opensesame")
    assert first.status_code == 200 and first.data["variant"] == "original"
    assert Image.open(io.BytesIO(fetch(first.data["url"]))).size == (1200, 900)
    assert api.get(f"/photos/share/{token}?password=opensesame").status_code == 200
    gone = api.get(f"/photos/share/{token}?password=opensesame")
    assert gone.status_code == 410 and gone.data["error"]["code"] == "share_link_gone"

    r = api.post(
        f"/photos/{photo_id}/share", {"variant": "watermarked", "expires_in_seconds": 600}, token=owner["access"]
    )
    second = r.data["token"]
    listed = api.get("/photos/share-links", token=owner["access"]).data["items"]
    assert len(listed) == 2 and all("token" not in link for link in listed)
    assert api.delete(f"/photos/share/{second}", token=other["access"]).status_code == 404
    assert api.delete(f"/photos/share/{second}", token=owner["access"]).status_code == 204
    assert api.get(f"/photos/share/{second}").status_code == 410
    assert api.get("/photos/share/not-a-token").status_code == 404

    from chalicelib.models.photos import ShareLink

    r = api.post(
        f"/photos/{photo_id}/share", {"variant": "watermarked", "expires_in_seconds": 600}, token=owner["access"]
    )
    import hashlib

    ShareLink.get(hashlib.sha256(r.data["token"].encode()).hexdigest()).update(
        actions=[ShareLink.valid_until.set(int(time.time()) - 1)]
    )
    assert api.get(f"/photos/share/{r.data['token']}").status_code == 410
    assert (
        api.post(
            f"/photos/{photo_id}/share", {"variant": "thumb", "expires_in_seconds": 600}, token=owner["access"]
        ).status_code
        == 400
    )


def test_a_listed_share_link_is_revoked_by_its_id(api, make_user):
    """The listing never shows tokens, so its `id` revokes too (the web client's share dialog does this)."""
    owner, other = make_user("rita"), make_user("rob")
    photo_id = upload(api, owner["access"], jpeg(400, 300))
    body = {"variant": "watermarked", "expires_in_seconds": 600}
    token = api.post(f"/photos/{photo_id}/share", body, token=owner["access"]).data["token"]
    [link] = api.get("/photos/share-links", token=owner["access"]).data["items"]
    assert api.delete(f"/photos/share/{link['id']}", token=other["access"]).status_code == 404  # not theirs
    assert api.get(f"/photos/share/{token}").status_code == 200  # still open
    assert api.delete(f"/photos/share/{'0' * 64}", token=owner["access"]).status_code == 404
    assert api.delete(f"/photos/share/{link['id'][:16]}", token=owner["access"]).status_code == 404
    assert api.delete(f"/photos/share/{link['id']}", token=owner["access"]).status_code == 204
    assert api.get(f"/photos/share/{token}").status_code == 410
    assert api.get("/photos/share-links", token=owner["access"]).data["items"] == []
    assert api.delete(f"/photos/share/{link['id']}", token=owner["access"]).status_code == 204  # again: still 204


def test_an_old_share_link_is_revoked_by_its_id_past_the_newest_hundred(api, make_user):
    """The id resolves with a GetItem: a link behind 100 newer ones (the dialog lists up to 500) revokes too."""
    from chalicelib.models.photos import ShareLink

    owner = make_user("olly")
    photo_id = upload(api, owner["access"], jpeg(400, 300))
    body = {"variant": "watermarked", "expires_in_seconds": 600}
    oldest = api.post(f"/photos/{photo_id}/share", body, token=owner["access"]).data["token"]
    [listed] = api.get("/photos/share-links", token=owner["access"]).data["items"]
    template = ShareLink.get(listed["id"])
    with ShareLink.batch_write() as batch:  # 100 newer links, written straight into the table
        for i in range(100):
            batch.save(
                ShareLink(
                    token_hash=f"{i:064x}",
                    photo_id=photo_id,
                    owner_id=owner["id"],
                    variant="watermarked",
                    valid_until=template.valid_until,
                    created_at=template.created_at + datetime.timedelta(seconds=1 + i),
                )
            )
    newest = api.get("/photos/share-links?limit=100", token=owner["access"]).data
    assert listed["id"] not in [link["id"] for link in newest["items"]] and newest["next_cursor"]
    assert api.delete(f"/photos/share/{listed['id']}", token=owner["access"]).status_code == 204
    assert api.get(f"/photos/share/{oldest}").status_code == 410


def test_share_link_download_cap_is_exact_under_concurrency(api, make_user):
    import threading

    owner = make_user("capper")
    photo_id = upload(api, owner["access"], jpeg())
    token = api.post(
        f"/photos/{photo_id}/share",
        {"variant": "watermarked", "expires_in_seconds": 600, "max_downloads": 3},
        token=owner["access"],
    ).data["token"]
    statuses = []
    threads = [
        threading.Thread(target=lambda: statuses.append(api.get(f"/photos/share/{token}").status_code))
        for _ in range(10)
    ]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(statuses) == [200] * 3 + [410] * 7


def test_avatar(api, make_user):
    user = make_user("ava")
    other = make_user("abe")
    photo_id = upload(api, user["access"], jpeg())
    theirs = upload(api, other["access"], jpeg())
    assert api.patch("/auth/me", {"avatar_photo_id": theirs}, token=user["access"]).status_code == 400
    r = api.patch("/auth/me", {"avatar_photo_id": photo_id}, token=user["access"])
    assert r.status_code == 200 and r.data["avatar_url"]
    profile = api.get("/users/ava").data
    assert Image.open(io.BytesIO(fetch(profile["avatar_url"]))).size[0] <= 256
    assert api.patch("/auth/me", {"avatar_photo_id": None}, token=user["access"]).data["avatar_url"] is None


def test_account_deletion_removes_photos(api, make_user):
    user = make_user("gone")
    photo_id = upload(api, user["access"], jpeg())
    assert api.delete("/users/me", {"password": PASSWORD}, token=user["access"]).status_code == 204
    assert api.get(f"/photos/{photo_id}").status_code == 404  # at once, before the job removes it
    drain()
    from chalicelib.models.photos import Photo

    assert Photo.count(photo_id) == 0


def test_work_after_ready_is_repeated_on_redelivery(api, make_user, monkeypatch):
    """A crash after the photo became ready (before search rows and notifications) is repaired by the retry."""
    from chalicelib.models.photos import Photo
    from chalicelib.services import photos as photos_service
    from chalicelib.triggers import uploads

    user = make_user("retry")
    real = photos_service._index_terms
    crashed = []

    def flaky(photo, old, new):
        if not crashed and Photo.get(photo.photo_id).status == "ready":
            crashed.append(photo.photo_id)  # the Lambda dies right after the photo became ready
            raise RuntimeError("lambda timed out")
        return real(photo, old, new)

    monkeypatch.setattr(photos_service, "_index_terms", flaky)
    photo_id, slot = reserve(api, user["access"], jpeg(), caption="retry me #please")
    post_file(slot, jpeg())
    first = pump(max_rounds=1)
    assert first[0]["batchItemFailures"]
    assert api.get(f"/photos/{photo_id}", token=user["access"]).data["status"] == "ready"
    pump()  # the redelivery repeats the idempotent after-ready steps
    assert [p["id"] for p in api.get("/photos/search?q=please").data["items"]] == [photo_id]
    assert photo_id in [p["id"] for p in api.get("/photos").data["items"]]
    assert crashed == [photo_id] and uploads


def test_a_photo_deleted_while_processing_leaves_no_files(api, make_user, monkeypatch):
    from chalicelib import aws, storage
    from chalicelib.config import get_settings
    from chalicelib.models.photos import Photo

    user = make_user("midflight")
    photo_id, slot = reserve(api, user["access"], jpeg())
    post_file(slot, jpeg())
    real_put = storage.put_media

    def delete_during(key, data, content_type):
        real_put(key, data, content_type)
        if key.endswith("/original"):
            Photo(photo_id=photo_id).delete()  # the owner deletes the photo mid-processing

    monkeypatch.setattr(storage, "put_media", delete_during)
    pump()
    assert aws.client("s3").list_objects_v2(Bucket=get_settings().media_bucket).get("KeyCount") == 0
    assert not Photo.count(photo_id)  # and no ghost row was recreated


def test_last_failed_delivery_rejects_the_photo(api, make_user, monkeypatch):
    import app as app_module
    from chalicelib import imaging
    from chalicelib.config import get_settings
    from chalicelib.models.notifications import Notification

    user = make_user("doomed")
    photo_id, slot = reserve(api, user["access"], jpeg())
    post_file(slot, jpeg())

    def crash(*args, **kwargs):
        raise MemoryError("out of memory")

    monkeypatch.setattr(imaging, "process_image", crash)
    body = s3_event_body(get_settings().uploads_bucket, f"uploads/{photo_id}")
    record = sqs_record(body)
    record["attributes"]["ApproximateReceiveCount"] = "5"
    from chalicelib.models.photos import Photo

    Photo.get(photo_id).update(actions=[Photo.lease_until.set(0)])
    response = app_module.process_upload_queue({"Records": [record]}, None)
    assert response["batchItemFailures"]  # it still goes to the dead-letter queue for an engineer to see
    photo = api.get(f"/photos/{photo_id}", token=user["access"]).data
    assert photo["status"] == "rejected" and "could not be processed" in photo["rejection_reason"]
    assert [n.type for n in Notification.query(user["id"])] == ["rejected"]


def test_explicit_nulls_never_change_visibility_or_crash(api, make_user):
    owner, other = make_user("nully"), make_user("nosy")
    photo_id = upload(api, owner["access"], jpeg())
    assert api.patch(f"/photos/{photo_id}", {"visibility": "private"}, token=owner["access"]).status_code == 200
    for body in ({"visibility": None}, {"tags": None}):
        r = api.patch(f"/photos/{photo_id}", body, token=owner["access"])
        assert r.status_code == 400 and list(body)[0] in r.data["error"]["details"]
    assert api.get(f"/photos/{photo_id}", token=other["access"]).status_code == 404
    assert api.patch(f"/photos/{photo_id}", {"caption": None}, token=owner["access"]).status_code == 200


def test_oversized_ids_in_paths_are_404_not_500(api, make_user):
    user = make_user("longids")
    for path in (f"/photos/p_{'x' * 3000}", f"/users/{'y' * 3000}", f"/photos/share/{'z' * 3000}"):
        assert api.get(path, token=user["access"]).status_code == 404
    assert api.patch(f"/notifications/n_{'x' * 3000}", {"read": True}, token=user["access"]).status_code == 404


def test_share_link_passwords_are_rate_limited(api, make_user):
    owner = make_user("guarded")
    photo_id = upload(api, owner["access"], jpeg())
    token = api.post(
        f"/photos/{photo_id}/share",
        {"variant": "watermarked", "expires_in_seconds": 600, "password": "right one"},
        token=owner["access"],
    ).data["token"]
    assert api.get(f"/photos/share/{token}?password=right%20one").status_code == 200  # success is not counted
    for i in range(5):
        assert api.get(f"/photos/share/{token}?password=guess{i}").status_code == 403
    r = api.get(f"/photos/share/{token}?password=right%20one")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def test_share_url_uses_api_gateway_domain_and_stage():
    from types import SimpleNamespace

    from chalicelib.api.photos import _base_url

    request = SimpleNamespace(
        context={"domainName": "abc123.execute-api.eu-west-1.amazonaws.com", "stage": "api"},
        headers={"host": "evil.example"},
    )
    assert _base_url(SimpleNamespace(request=request)) == "https://abc123.execute-api.eu-west-1.amazonaws.com/api"
