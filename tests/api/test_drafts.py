"""Drafts (``published: false``): seen by their owner and staff only, kept out of the public indexes, search,
feeds, event listings, tagged-in and share links until published; and GET /photos' created_after /
created_before / ordering=recent|oldest|popular as key conditions (pages stay full)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.jobs import drain
from tests.pipeline import jpeg, post_file, pump


def _upload(api, token: str, *, published: bool | None = None, caption: str | None = None, event_id=None) -> str:
    data = jpeg(64, 48)
    spec: dict = {"filename": "p.jpg", "content_type": "image/jpeg", "size": len(data)}
    if caption is not None:
        spec["caption"] = caption
    if published is not None:
        spec["published"] = published
    if event_id:
        r = api.post(f"/events/{event_id}/photos/bulk-upload", {"files": [spec]}, token=token)
    else:
        r = api.post("/photos/uploads", spec, token=token)
    assert r.status_code == 201, r.body
    slot = r.data["uploads"][0]
    assert post_file(slot["upload"], data).status_code in (200, 201, 204)
    pump()
    return slot["photo_id"]


def _ids(r) -> list[str]:
    assert r.status_code == 200, r.body
    return [p["id"] for p in r.data["items"]]


def _search_rows(photo_id: str) -> list:
    from chalicelib.models.photos import Photo
    from chalicelib.models.search import SearchEntry

    photo = Photo.get(photo_id)
    sk = f"{photo.created_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}#{photo_id}"
    return [e for e in SearchEntry.query("photo:sunset") if e.sk == sk]


@pytest.fixture
def people(make_user):
    from chalicelib.models.users import User

    cast = {n: make_user(n) for n in ("dora", "sam", "stella")}
    User.get(cast["stella"]["id"]).update(actions=[User.role.set("staff")])
    return cast


def test_a_draft_is_seen_by_its_owner_and_staff_only_and_is_in_no_public_index(api, people):
    from chalicelib.models.photos import Photo

    dora, sam, stella = people["dora"], people["sam"], people["stella"]
    draft = _upload(api, dora["access"], published=False, caption="Secret sunset")
    shown = _upload(api, dora["access"], caption="Public sunset")
    view = api.get(f"/photos/{draft}", token=dora["access"])
    assert view.status_code == 200 and view.data["published"] is False and view.data["status"] == "ready"
    assert view.data["urls"]  # the owner sees every variant
    assert api.get(f"/photos/{draft}", token=stella["access"]).status_code == 200
    assert api.get(f"/photos/{draft}", token=sam["access"]).status_code == 404
    assert api.get(f"/photos/{draft}").status_code == 404
    assert api.get(f"/photos/{shown}").data["published"] is True
    # Kept out of the public indexes and search altogether (not filtered after the read).
    row = Photo.get(draft)
    assert row.public_bucket is None and not row.search_terms and _search_rows(draft) == []
    assert _ids(api.get("/photos")) == [shown]
    for token in (None, dora["access"], stella["access"]):
        assert _ids(api.get("/photos/search?q=sunset", token=token)) == [shown]
    # The owner's listing shows the owner their drafts; nobody else.
    assert _ids(api.get("/photos?owner=me", token=dora["access"])) == [shown, draft]
    assert _ids(api.get("/photos?owner=dora", token=sam["access"])) == [shown]
    assert _ids(api.get("/photos?owner=dora")) == [shown]
    # Likes and comments need the photo too.
    assert api.post(f"/photos/{draft}/like", token=sam["access"]).status_code == 404


def test_publishing_and_unpublishing_moves_the_photo_in_and_out_of_every_listing(api, people):
    from chalicelib.models.photos import Photo

    dora, sam = people["dora"], people["sam"]
    assert api.post("/users/dora/follow", token=sam["access"]).status_code in (200, 201, 204)
    draft = _upload(api, dora["access"], published=False, caption="Secret sunset")
    assert _ids(api.get("/feed", token=sam["access"])) == []
    assert _ids(api.get("/feed", token=dora["access"])) == []  # not even the owner's own drafts
    r = api.patch(f"/photos/{draft}", {"published": True}, token=dora["access"])
    assert r.status_code == 200 and r.data["published"] is True
    assert Photo.get(draft).public_bucket == "public" and len(_search_rows(draft)) == 1
    assert _ids(api.get("/photos")) == [draft]
    assert _ids(api.get("/photos/search?q=sunset")) == [draft]
    assert _ids(api.get("/feed", token=sam["access"])) == [draft]
    assert api.get(f"/photos/{draft}", token=sam["access"]).status_code == 200
    r = api.patch(f"/photos/{draft}", {"published": False}, token=dora["access"])
    assert r.status_code == 200 and r.data["published"] is False
    assert Photo.get(draft).public_bucket is None and _search_rows(draft) == []
    assert _ids(api.get("/photos")) == [] and _ids(api.get("/photos/search?q=sunset")) == []
    assert _ids(api.get("/feed", token=sam["access"])) == []
    assert api.get(f"/photos/{draft}", token=sam["access"]).status_code == 404
    # Others cannot publish it; bad values are 400.
    assert api.patch(f"/photos/{draft}", {"published": True}, token=sam["access"]).status_code == 404
    for bad in (None, "yes", 1):
        r = api.patch(f"/photos/{draft}", {"published": bad}, token=dora["access"])
        assert r.status_code == 400 and "published" in r.data["error"]["details"], bad


def test_a_bought_item_cannot_be_made_a_draft(api, people, monkeypatch):
    """A draft is hidden from its buyers too: once bought (``purchase_count`` > 0, ADDed when a purchase is
    booked) it stays published, and a purchase landing during the edit fails it (the update's condition)."""
    from chalicelib.models.photos import Photo
    from chalicelib.services import photos

    dora = people["dora"]
    bought, racing = _upload(api, dora["access"]), _upload(api, dora["access"])
    Photo(photo_id=bought).update(actions=[Photo.purchase_count.add(1)])
    r = api.patch(f"/photos/{bought}", {"published": False}, token=dora["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "photo_has_buyers", r.body
    assert Photo.get(bought, consistent_read=True).published is None  # still published
    assert api.patch(f"/photos/{bought}", {"caption": "Still mine"}, token=dora["access"]).status_code == 200
    # Bought between the read and the write: the conditioned update refuses it.
    original = photos._update_unbought

    def bought_meanwhile(photo, *args):
        Photo(photo_id=photo.photo_id).update(actions=[Photo.purchase_count.add(1)])
        return original(photo, *args)

    monkeypatch.setattr(photos, "_update_unbought", bought_meanwhile)
    r = api.patch(f"/photos/{racing}", {"published": False}, token=dora["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "photo_has_buyers", r.body
    assert Photo.get(racing, consistent_read=True).published is None


def test_a_photo_marked_sold_cannot_be_made_a_draft_even_when_sold_meanwhile(api, people, monkeypatch):
    """``sold_at`` (a paid order's digital item, tests/api/test_orders.py) refuses drafting like
    ``purchase_count``, also when it lands between the edit's read and its write; marking again keeps the first
    instant, and a photo that is gone is not created by it."""
    from chalicelib.models.photos import Photo
    from chalicelib.services import photos, purchases

    dora = people["dora"]
    sold, racing = _upload(api, dora["access"]), _upload(api, dora["access"])
    purchases.mark_sold([sold])
    first = Photo.get(sold, consistent_read=True).sold_at
    purchases.mark_sold([sold])
    assert first is not None and Photo.get(sold, consistent_read=True).sold_at == first
    r = api.patch(f"/photos/{sold}", {"published": False}, token=dora["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "photo_has_buyers", r.body
    assert Photo.get(sold, consistent_read=True).published is None

    original = photos._update_unbought

    def sold_meanwhile(photo, *args):
        purchases.mark_sold([photo.photo_id])
        return original(photo, *args)

    monkeypatch.setattr(photos, "_update_unbought", sold_meanwhile)
    r = api.patch(f"/photos/{racing}", {"published": False}, token=dora["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "photo_has_buyers", r.body
    assert Photo.get(racing, consistent_read=True).published is None
    purchases.mark_sold(["no-such-photo"])  # a purged photo is skipped, not created
    assert Photo.count("no-such-photo") == 0


def test_event_drafts_stay_out_of_the_event_and_its_members_hear_of_them_only_when_published(api, people):
    from chalicelib.models.notifications import Notification

    dora, sam, stella = people["dora"], people["sam"], people["stella"]
    r = api.post("/events", {"name": "Gala", "visibility": "public"}, token=sam["access"])
    event_id = r.data["id"]
    r = api.post(f"/events/{event_id}/members", {"username": "dora", "role": "contributor"}, token=sam["access"])
    assert r.status_code in (200, 201)
    draft = _upload(api, dora["access"], published=False, event_id=event_id)
    drain()
    # The event's owner does not see a contributor's draft; the uploader and staff do.
    assert _ids(api.get(f"/events/{event_id}/photos", token=sam["access"])) == []
    assert _ids(api.get(f"/events/{event_id}/photos")) == []
    assert _ids(api.get(f"/photos?event_id={event_id}", token=sam["access"])) == []
    assert _ids(api.get(f"/events/{event_id}/photos", token=dora["access"])) == [draft]
    assert _ids(api.get(f"/events/{event_id}/photos", token=stella["access"])) == [draft]
    assert api.get(f"/photos/{draft}", token=sam["access"]).status_code == 404
    assert [n.type for n in Notification.query(sam["id"])] == []
    assert api.patch(f"/photos/{draft}", {"published": True}, token=dora["access"]).status_code == 200
    drain()
    assert _ids(api.get(f"/events/{event_id}/photos", token=sam["access"])) == [draft]
    assert _ids(api.get("/photos")) == [draft]  # a public event's published photo is public
    assert [n.type for n in Notification.query(sam["id"])] == ["event_photo_added"]


def test_bulk_upload_entries_take_published(api, people):
    dora = people["dora"]
    r = api.post("/events", {"name": "Trip", "visibility": "public"}, token=dora["access"])
    event_id = r.data["id"]
    files = [
        {"filename": "a.jpg", "content_type": "image/jpeg", "size": 10, "published": False},
        {"filename": "b.jpg", "content_type": "image/jpeg", "size": 10},
    ]
    r = api.post(f"/events/{event_id}/photos/bulk-upload", {"files": files}, token=dora["access"])
    assert r.status_code == 201
    from chalicelib.models.photos import Photo

    first, second = (Photo.get(u["photo_id"]) for u in r.data["uploads"])
    assert first.published is False and second.published is None
    bad = [{"filename": "a.jpg", "content_type": "image/jpeg", "size": 10, "published": "no"}]
    r = api.post(f"/events/{event_id}/photos/bulk-upload", {"files": bad}, token=dora["access"])
    assert r.status_code == 400 and "files.0.published" in r.data["error"]["details"]
    r = api.post(
        "/photos/uploads",
        {"files": [{"filename": "a.jpg", "content_type": "image/jpeg", "size": 10}], "published": False},
        token=dora["access"],
    )
    assert r.status_code == 400  # either the files or the top-level fields


def test_share_links_of_drafts(api, people):
    dora = people["dora"]
    body = {"variant": "watermarked", "expires_in_seconds": 600}
    draft = _upload(api, dora["access"], published=False)
    r = api.post(f"/photos/{draft}/share", body, token=dora["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "photo_not_published"
    shown = _upload(api, dora["access"])
    token = api.post(f"/photos/{shown}/share", body, token=dora["access"]).data["token"]
    assert api.get(f"/photos/share/{token}").status_code == 200
    assert api.patch(f"/photos/{shown}", {"published": False}, token=dora["access"]).status_code == 200
    r = api.get(f"/photos/share/{token}")
    assert r.status_code == 410 and r.data["error"]["code"] == "share_link_gone"
    assert api.patch(f"/photos/{shown}", {"published": True}, token=dora["access"]).status_code == 200
    assert api.get(f"/photos/share/{token}").status_code == 200


def test_drafts_cannot_be_tagged_in_and_leave_tagged_in_listings(api, people):
    dora, sam = people["dora"], people["sam"]
    draft = _upload(api, dora["access"], published=False)
    r = api.post(f"/photos/{draft}/tags", {"username": "sam"}, token=dora["access"])
    assert r.status_code == 403 and r.data["error"]["code"] == "cannot_see_photo"
    shown = _upload(api, dora["access"])
    assert api.post(f"/photos/{shown}/tags", {"username": "sam"}, token=dora["access"]).status_code == 201
    assert _ids(api.get("/photos/photos-tagged-in", token=sam["access"])) == [shown]
    assert api.patch(f"/photos/{shown}", {"published": False}, token=dora["access"]).status_code == 200
    assert _ids(api.get("/photos/photos-tagged-in", token=sam["access"])) == []
    assert _ids(api.get("/photos/photos-tagged-in?user=sam")) == []


def test_a_draft_is_no_avatar(api, people):
    dora = people["dora"]
    draft = _upload(api, dora["access"], published=False)
    r = api.patch("/auth/me", {"avatar_photo_id": draft}, token=dora["access"])
    assert r.status_code in (400, 404, 409), r.body


# ---- created_after / created_before / ordering ----------------------------------------------------------------

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _stamp(z: datetime) -> str:
    return z.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def dated(people):
    """Five published public photos of dora created an hour apart (T0 .. T0+4h), rows written directly."""
    from chalicelib.models.base import new_id
    from chalicelib.models.photos import READY, Photo

    ids = []
    for n in range(5):
        photo = Photo(
            photo_id=new_id("p_"),
            owner_id=people["dora"]["id"],
            status=READY,
            content_type="image/jpeg",
            declared_size=1,
            upload_key=f"uploads/x{n}",
            public_bucket="public",
            created_at=T0 + timedelta(hours=n),
            like_count=n % 3,
        )
        photo.save()
        ids.append(photo.photo_id)
    return ids


@pytest.mark.parametrize("owner", ["", "owner=dora&"])
def test_created_window_and_ordering_are_key_conditions_so_pages_stay_full(api, people, dated, owner):
    after, before = _stamp(T0), _stamp(T0 + timedelta(hours=4))  # strictly between: photos 1, 2, 3
    base = f"/photos?{owner}created_after={after}&created_before={before}"
    page1 = api.get(f"{base}&ordering=oldest&limit=2")
    assert _ids(page1) == dated[1:3]  # full: not the first two keys filtered down to one
    page2 = api.get(f"{base}&ordering=oldest&limit=2&cursor={page1.data['next_cursor']}")
    assert _ids(page2) == [dated[3]]
    assert _ids(api.get(f"{base}&ordering=recent&limit=2")) == [dated[3], dated[2]]
    assert _ids(api.get(f"/photos?{owner}created_after={_stamp(T0 + timedelta(hours=2))}")) == dated[:2:-1]
    assert (
        _ids(api.get(f"/photos?{owner}created_before={_stamp(T0 + timedelta(hours=2))}&ordering=oldest")) == (dated[:2])
    )
    assert _ids(api.get(f"/photos?{owner}ordering=oldest")) == dated
    assert _ids(api.get(f"/photos?{owner}ordering=recent")) == dated[::-1]
    # An offset and a naive time (read as UTC) mean the same instants.
    assert _ids(api.get(f"/photos?{owner}created_after=2026-03-01T15:30:00%2B02:00&ordering=oldest")) == dated[2:]
    assert _ids(api.get(f"/photos?{owner}created_after=2026-03-01T13:30:00&ordering=oldest")) == dated[2:]
    # A cursor of one window is refused by another.
    other = api.get(
        f"/photos?{owner}created_after={_stamp(T0)}&ordering=oldest&limit=2&cursor={page1.data['next_cursor']}"
    )
    assert other.status_code == 400 and other.data["error"]["code"] == "invalid_cursor"


def test_bad_windows_and_orderings_are_400(api, people, dated):
    for query in (
        "created_after=yesterday",
        "created_before=2026-13-01T00:00:00Z",
        "created_after=",
        "ordering=newest",
        f"created_after={_stamp(T0)}&ordering=popular",
        f"created_after={_stamp(T0)}&created_before={_stamp(T0)}",
        f"created_after={_stamp(T0 + timedelta(hours=1))}&created_before={_stamp(T0)}",
    ):
        r = api.get(f"/photos?{query}")
        assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", (query, r.body)
    popular = _ids(api.get("/photos?owner=dora&ordering=popular"))
    assert popular[0] == dated[2] and set(popular[1:3]) == {dated[1], dated[4]}  # 2 likes, then 1 each


def test_an_event_listing_takes_the_window_too(api, people):
    from chalicelib.models.base import new_id
    from chalicelib.models.photos import READY, Photo

    dora = people["dora"]
    event_id = api.post("/events", {"name": "Day", "visibility": "public"}, token=dora["access"]).data["id"]
    ids = []
    for n in range(3):
        photo = Photo(
            photo_id=new_id("p_"),
            owner_id=dora["id"],
            event_id=event_id,
            status=READY,
            content_type="image/jpeg",
            declared_size=1,
            upload_key=f"uploads/e{n}",
            created_at=T0 + timedelta(hours=n),
        )
        photo.save()
        ids.append(photo.photo_id)
    r = api.get(f"/photos?event_id={event_id}&created_after={_stamp(T0)}&ordering=oldest")
    assert _ids(r) == ids[1:]
    r = api.get(f"/photos?event_id={event_id}&created_before={_stamp(T0 + timedelta(hours=2))}")
    assert _ids(r) == [ids[1], ids[0]]
