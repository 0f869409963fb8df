"""Every photo route as anonymous, stranger, viewer, contributor, owner and staff, in a private event;
event notifications, bulk uploads and the event-deletion cascade."""

from __future__ import annotations

import pytest

from tests.jobs import drain
from tests.pipeline import jpeg, post_file, pump, reserve, upload

ROLES = ("anonymous", "stranger", "viewer", "contributor", "owner", "staff")


@pytest.fixture
def world(api, make_user):
    from chalicelib.models.users import User

    people = {name: make_user(name) for name in ("owner1", "stranger1", "viewer1", "contrib1", "staff1")}
    User.get(people["staff1"]["id"]).update(actions=[User.role.set("staff")])
    owner = people["owner1"]["access"]
    r = api.post("/events", {"name": "Private wedding", "visibility": "private"}, token=owner)
    assert r.status_code == 201, r.body
    event_id = r.data["id"]
    for username, role in (("viewer1", "viewer"), ("contrib1", "contributor")):
        assert (
            api.post(f"/events/{event_id}/members", {"username": username, "role": role}, token=owner).status_code
            == 201
        )
    photo_id = upload(api, people["contrib1"]["access"], jpeg(), event_id=event_id, caption="first dance")
    tokens = {
        "anonymous": None,
        "stranger": people["stranger1"]["access"],
        "viewer": people["viewer1"]["access"],
        "contributor": people["contrib1"]["access"],
        "owner": owner,
        "staff": people["staff1"]["access"],
    }
    return {"event_id": event_id, "photo_id": photo_id, "tokens": tokens, "people": people}


EXPECTED_VARIANTS = {
    "anonymous": None,
    "stranger": None,
    "viewer": {"thumb", "medium", "large", "watermarked"},
    "contributor": {"thumb", "medium", "large", "watermarked", "preview", "original"},
    "owner": {"thumb", "medium", "large", "watermarked", "preview", "original"},
    "staff": {"thumb", "medium", "large", "watermarked", "preview", "original"},
}


@pytest.mark.parametrize("role", ROLES)
def test_read_routes(api, world, role):
    token, photo_id, event_id = world["tokens"][role], world["photo_id"], world["event_id"]
    r = api.get(f"/photos/{photo_id}", token=token)
    if EXPECTED_VARIANTS[role] is None:
        assert r.status_code == 404
        assert api.get(f"/events/{event_id}/photos", token=token).status_code == 404
        assert api.get(f"/photos?event_id={event_id}", token=token).status_code == 404
    else:
        assert r.status_code == 200 and set(r.data["urls"]) == EXPECTED_VARIANTS[role]
        assert [p["id"] for p in api.get(f"/events/{event_id}/photos", token=token).data["items"]] == [photo_id]
    # never in public listings or in search for outsiders
    assert photo_id not in [p["id"] for p in api.get("/photos", token=token).data["items"]]
    found = [p["id"] for p in api.get("/photos/search?q=dance", token=token).data["items"]]
    assert (photo_id in found) == (EXPECTED_VARIANTS[role] is not None)
    owner_listing = api.get("/photos?owner=contrib1", token=token).data["items"]
    assert (photo_id in [p["id"] for p in owner_listing]) == (EXPECTED_VARIANTS[role] is not None)


WRITE_EXPECTATIONS = {
    # role: (upload, patch, tag someone, share, delete)
    "anonymous": (401, 401, 401, 401, 401),
    "stranger": (404, 404, 404, 404, 404),
    "viewer": (403, 403, 201, 403, 403),
    "contributor": (201, 200, 201, 201, 204),  # the contributor uploaded the photo
    "owner": (201, 403, 201, 403, 204),  # the event owner may delete, not edit someone else's photo
    "staff": (201, 200, 201, 201, 204),
}


@pytest.mark.parametrize("role", ROLES)
def test_write_routes(api, world, role, make_user):
    token, photo_id, event_id = world["tokens"][role], world["photo_id"], world["event_id"]
    upload_s, patch_s, tag_s, share_s, delete_s = WRITE_EXPECTATIONS[role]
    spec = {"filename": "a.jpg", "content_type": "image/jpeg", "size": 100}
    assert api.post(f"/events/{event_id}/photos/bulk-upload", {"files": [spec]}, token=token).status_code == upload_s
    assert api.patch(f"/photos/{photo_id}", {"caption": "edited"}, token=token).status_code == patch_s
    tag_target = "viewer1" if role != "viewer" else "contrib1"
    assert api.post(f"/photos/{photo_id}/tags", {"username": tag_target}, token=token).status_code == tag_s
    share = {"variant": "watermarked", "expires_in_seconds": 600}
    assert api.post(f"/photos/{photo_id}/share", share, token=token).status_code == share_s
    assert api.delete(f"/photos/{photo_id}", token=token).status_code == delete_s


def test_event_photo_added_notifies_members_once(api, world):
    from chalicelib.models.notifications import Notification

    photo_id = world["photo_id"]
    for name in ("owner1", "viewer1"):
        kinds = [(n.type, n.target["id"]) for n in Notification.query(world["people"][name]["id"])]
        assert kinds.count(("event_photo_added", photo_id)) == 1
    assert not list(Notification.query(world["people"]["contrib1"]["id"]))  # never to yourself
    assert not list(Notification.query(world["people"]["stranger1"]["id"]))


def test_bulk_upload_limits(api, world):
    token, event_id = world["tokens"]["contributor"], world["event_id"]
    spec = {"filename": "a.jpg", "content_type": "image/jpeg", "size": 100}
    assert api.post(f"/events/{event_id}/photos/bulk-upload", {"files": []}, token=token).status_code == 400
    assert api.post(f"/events/{event_id}/photos/bulk-upload", {"files": [spec] * 101}, token=token).status_code == 400
    r = api.post(f"/events/{event_id}/photos/bulk-upload", {"files": [spec] * 100}, token=token)
    assert r.status_code == 201 and len({u["photo_id"] for u in r.data["uploads"]}) == 100
    assert api.post("/events/nope/photos/bulk-upload", {"files": [spec]}, token=token).status_code == 404


def test_bulk_upload_processes_every_file(api, world):
    token, event_id = world["tokens"]["contributor"], world["event_id"]
    files = [jpeg(300 + i, 200, (i * 40, 100, 100)) for i in range(3)] + [b"not an image at all" * 10]
    specs = [{"filename": f"{i}.jpg", "content_type": "image/jpeg", "size": len(d)} for i, d in enumerate(files)]
    uploads = api.post(f"/events/{event_id}/photos/bulk-upload", {"files": specs}, token=token).data["uploads"]
    for slot, data in zip(uploads, files, strict=False):
        post_file(slot["upload"], data)
    pump()
    statuses = [api.get(f"/photos/{u['photo_id']}", token=token).data["status"] for u in uploads]
    assert statuses == ["ready", "ready", "ready", "rejected"]


def test_deleting_the_event_removes_photos_and_files(api, world):
    from chalicelib import aws
    from chalicelib.config import get_settings

    s3 = aws.client("s3")
    assert s3.list_objects_v2(Bucket=get_settings().media_bucket)["KeyCount"] == 6  # five variants and the original
    assert api.delete(f"/events/{world['event_id']}", token=world["tokens"]["owner"]).status_code == 204
    drain()  # event.deleted: the photos and their files go in jobs
    assert api.get(f"/photos/{world['photo_id']}", token=world["tokens"]["contributor"]).status_code == 404
    assert s3.list_objects_v2(Bucket=get_settings().media_bucket)["KeyCount"] == 0
    assert api.get("/photos/search?q=dance", token=world["tokens"]["contributor"]).data["items"] == []


def test_public_event_photos_are_public_and_follow_visibility_changes(api, make_user):
    owner = make_user("pubowner")
    event_id = api.post("/events", {"name": "Open day", "visibility": "public"}, token=owner["access"]).data["id"]
    photo_id = upload(api, owner["access"], jpeg(), event_id=event_id)
    assert api.get(f"/photos/{photo_id}").status_code == 200
    assert photo_id in [p["id"] for p in api.get("/photos").data["items"]]
    assert api.patch(f"/events/{event_id}", {"visibility": "private"}, token=owner["access"]).status_code == 200
    assert api.get(f"/photos/{photo_id}").status_code == 404
    assert photo_id not in [p["id"] for p in api.get("/photos").data["items"]]


def test_pending_photo_is_visible_only_to_its_uploader(api, world):
    token, event_id = world["tokens"]["contributor"], world["event_id"]
    photo_id, _ = reserve(api, token, jpeg(), event_id=event_id)
    assert api.get(f"/photos/{photo_id}", token=token).data["status"] == "pending_upload"
    assert api.get(f"/photos/{photo_id}", token=world["tokens"]["viewer"]).status_code == 404


def test_unlisted_event_photos_are_readable_by_link_but_never_discovered(api, make_user):
    owner, stranger, member = make_user("unl1"), make_user("unl2"), make_user("unl3")
    event_id = api.post("/events", {"name": "Link only", "visibility": "unlisted"}, token=owner["access"]).data["id"]
    api.post(f"/events/{event_id}/members", {"username": "unl3", "role": "viewer"}, token=owner["access"])
    photo_id = upload(api, owner["access"], jpeg(), event_id=event_id, caption="zebracorn party")
    api.post(f"/photos/{photo_id}/tags", {"username": "unl3"}, token=owner["access"])
    for token in (None, stranger["access"]):
        assert api.get(f"/photos/{photo_id}", token=token).status_code == 200  # the link works
        assert [p["id"] for p in api.get(f"/events/{event_id}/photos", token=token).data["items"]] == [photo_id]
        for listing in (
            "/photos/search?q=zebracorn",
            "/photos?owner=unl1",
            "/photos",
            "/photos/photos-tagged-in?user=unl3",
        ):
            assert photo_id not in [p["id"] for p in api.get(listing, token=token).data["items"]], listing
    for listing in ("/photos/search?q=zebracorn", "/photos?owner=unl1", "/photos/photos-tagged-in?user=unl3"):
        assert photo_id in [p["id"] for p in api.get(listing, token=member["access"]).data["items"]], listing
        assert photo_id in [p["id"] for p in api.get(listing, token=owner["access"]).data["items"]], listing


def test_owner_and_event_filters_combine(api, make_user):
    owner, guest = make_user("combo1"), make_user("combo2")
    event_id = api.post("/events", {"name": "Both", "visibility": "public"}, token=owner["access"]).data["id"]
    api.post(f"/events/{event_id}/members", {"username": "combo2", "role": "contributor"}, token=owner["access"])
    mine = upload(api, owner["access"], jpeg(), event_id=event_id)
    theirs = upload(api, guest["access"], jpeg(), event_id=event_id)
    assert [p["id"] for p in api.get(f"/photos?event_id={event_id}&owner=combo2").data["items"]] == [theirs]
    assert {p["id"] for p in api.get(f"/photos?event_id={event_id}").data["items"]} == {mine, theirs}


def test_tag_targets_must_see_the_photo_and_can_always_untag(api, world, make_user):
    make_user("outsider9")
    photo_id, owner = world["photo_id"], world["tokens"]["owner"]
    r = api.post(f"/photos/{photo_id}/tags", {"username": "outsider9"}, token=owner)
    assert r.status_code == 403 and r.data["error"]["code"] == "cannot_see_photo"
    assert api.post(f"/photos/{photo_id}/tags", {"username": "viewer1"}, token=owner).status_code == 201
    viewer = world["people"]["viewer1"]
    assert api.delete(f"/events/{world['event_id']}/members/{viewer['id']}", token=owner).status_code == 204
    assert api.get(f"/photos/{photo_id}", token=viewer["access"]).status_code == 404  # no longer a member
    assert api.delete(f"/photos/{photo_id}/tags/{viewer['id']}", token=viewer["access"]).status_code == 204


def test_blocks_stop_likes_and_tags(api, make_user):
    owner, pest = make_user("blocker1"), make_user("pest1")
    photo_id = upload(api, owner["access"], jpeg())
    assert api.post(f"/users/{pest['id']}/block", token=owner["access"]).status_code == 201
    r = api.post(f"/photos/{photo_id}/like", token=pest["access"])
    assert r.status_code == 403 and r.data["error"]["code"] == "blocked"
    other = upload(api, pest["access"], jpeg())
    assert api.post(f"/photos/{other}/tags", {"username": "blocker1"}, token=pest["access"]).status_code == 403
    assert [n["type"] for n in api.get("/notifications", token=owner["access"]).data["items"]] == []
