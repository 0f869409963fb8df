"""Premium media: a verified creator locks a photo (subscribers or paid); callers not entitled see it
everywhere with ``locked: true`` and its preview only; bad input and bought items are refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.creators_kit import staff_user, verified_creator
from tests.pipeline import fetch, jpeg, upload


@pytest.fixture
def staff(make_user):
    return staff_user(make_user)


@pytest.fixture
def creator(api, make_user, staff):
    return verified_creator(api, make_user, staff, "premiumc")


def _patch(api, user, photo_id, **fields):
    return api.patch(f"/photos/{photo_id}", fields, token=user["access"])


def _locked_view_ok(view, access, price=None):
    assert view["locked"] is True and view["access"] == access, view
    assert set(view["urls"]) == {"preview"}, view["urls"]
    assert view["price_cents"] == price
    assert view["kind"] == "photo"
    preview = Image.open(io.BytesIO(fetch(view["urls"]["preview"])))
    assert preview.format == "JPEG" and max(preview.size) <= 640


def test_a_paid_photo_is_locked_for_everyone_but_its_creator(api, make_user, creator):
    fan = make_user("premiumfan")
    photo_id = upload(api, creator["access"], jpeg(1600, 1200), caption="golden sunset")
    r = _patch(api, creator, photo_id, access="paid", price_cents=500)
    assert r.status_code == 200, r.body
    assert r.data["access"] == "paid" and r.data["price_cents"] == 500 and r.data["currency"] == "eur"
    assert r.data["locked"] is False and {"large", "original", "preview"} <= set(r.data["urls"])  # the owner

    for token in (None, fan["access"]):
        view = api.get(f"/photos/{photo_id}", token=token).data
        _locked_view_ok(view, "paid", 500)
    # The preview is not the picture: a blurred, small image, far from the large variant.
    owner_view = api.get(f"/photos/{photo_id}", token=creator["access"]).data
    preview = Image.open(io.BytesIO(fetch(owner_view["urls"]["preview"])))
    assert preview.size == (640, 480)


def test_locked_items_appear_in_every_listing_with_their_preview_only(api, make_user, creator):
    fan = make_user("listfan")
    event = api.post("/events", {"name": "Show", "visibility": "public"}, token=creator["access"]).data
    free_id = upload(api, creator["access"], jpeg(), caption="sunset free")
    paid_id = upload(api, creator["access"], jpeg(), caption="sunset paid")
    subs_id = upload(api, creator["access"], jpeg(), caption="sunset subscribers")
    event_photo = upload(api, creator["access"], jpeg(), event_id=event["id"])
    assert _patch(api, creator, paid_id, access="paid", price_cents=300).status_code == 200
    assert _patch(api, creator, subs_id, access="subscribers").status_code == 200
    assert _patch(api, creator, event_photo, access="subscribers").status_code == 200
    assert api.post(f"/users/{creator['id']}/follow", token=fan["access"]).status_code == 201

    listings = {
        "owner": f"/photos?owner={creator['id']}",
        "public": "/photos",
        "search": "/photos/search?q=sunset",
        "posts": f"/creators/{creator['id']}/posts",
        "event": f"/events/{event['id']}/photos",
        "feed": "/feed",
    }
    for name, path in listings.items():
        for token in (None, fan["access"]) if name != "feed" else (fan["access"],):
            r = api.get(path, token=token)
            assert r.status_code == 200, (name, r.body)
            items = {i["id"]: i for i in r.data["items"]}
            expected = {"event": {event_photo}, "search": {free_id, paid_id, subs_id}}.get(
                name, {free_id, paid_id, subs_id, event_photo} if name != "public" else None
            )
            if expected is not None:
                assert expected <= set(items), (name, set(items))
            for photo_id, view in items.items():
                if photo_id == paid_id:
                    _locked_view_ok(view, "paid", 300)
                elif photo_id in (subs_id, event_photo):
                    _locked_view_ok(view, "subscribers")
                elif photo_id == free_id:
                    assert view["locked"] is False and "large" in view["urls"] and "preview" not in view["urls"]
    mine = api.get(f"/creators/{creator['id']}/posts", token=creator["access"]).data["items"]
    assert all(not i["locked"] and "original" in i["urls"] for i in mine)


def test_a_locked_video_shows_its_clip_and_blurred_frame_never_the_clean_poster(api, make_user, creator):
    from chalicelib import storage
    from chalicelib.models.photos import Photo

    fan = make_user("videofan")
    photo_id = upload(api, creator["access"], jpeg())
    variants = ["thumb", "medium", "large", "poster", "preview", "preview_poster", "stream", "original"]
    for v in variants:
        storage.put_media(storage.variant_key(photo_id, v), f"<{v}>".encode(), "application/octet-stream")
    Photo.get(photo_id).update(
        actions=[Photo.kind.set("video"), Photo.duration_s.set(12.5), Photo.variant_keys.set(variants)]
    )
    assert _patch(api, creator, photo_id, access="paid", price_cents=200).status_code == 200
    for token in (None, fan["access"]):
        view = api.get(f"/photos/{photo_id}", token=token).data
        assert view["kind"] == "video" and view["duration_s"] == 12.5 and view["locked"] is True
        assert set(view["urls"]) == {"preview", "poster"}
        assert fetch(view["urls"]["poster"]) == b"<preview_poster>"
        assert fetch(view["urls"]["preview"]) == b"<preview>"
        for name in ("stream", "thumb", "medium", "large", "original"):
            assert storage.variant_key(photo_id, name) not in " ".join(view["urls"].values())
    view = api.get(f"/photos/{photo_id}", token=creator["access"]).data
    assert view["locked"] is False and fetch(view["urls"]["stream"]) == b"<stream>"
    assert fetch(view["urls"]["poster"]) == b"<poster>"


def test_only_a_verified_creator_sets_access(api, make_user, staff):
    member = make_user("premmember")
    pending = make_user("prempending", role="creator")
    for user in (member, pending):
        photo_id = upload(api, user["access"], jpeg())
        r = _patch(api, user, photo_id, access="subscribers")
        assert r.status_code == 403 and r.data["error"]["code"] == "creator_not_verified"
        assert api.get(f"/photos/{photo_id}").data["access"] == "free"
        assert _patch(api, user, photo_id, caption="still editable").status_code == 200
    creator = verified_creator(api, make_user, staff, "premother")
    photo_id = upload(api, creator["access"], jpeg())
    assert _patch(api, staff, photo_id, access="free").status_code == 403  # staff edit captions, not prices
    assert api.patch(f"/photos/{photo_id}", {"access": "paid"}).status_code == 401


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"access": "premium"}, "access"),
        ({"access": None}, "access"),
        ({"access": "paid"}, "price_cents"),  # a price is required
        ({"access": "paid", "price_cents": 10}, "price_cents"),  # below Stripe's minimum
        ({"access": "paid", "price_cents": 100_001}, "price_cents"),  # above the maximum
        ({"access": "paid", "price_cents": -5}, "price_cents"),
        ({"access": "paid", "price_cents": "500"}, "price_cents"),
        ({"access": "paid", "price_cents": 500, "currency": "xyz"}, "currency"),
        ({"access": "paid", "price_cents": 500, "currency": "EUR"}, "currency"),
        ({"access": "subscribers", "price_cents": 500}, "price_cents"),
        ({"price_cents": 500}, "price_cents"),  # on a free item
    ],
)
def test_bad_access_or_price_is_400_and_changes_nothing(api, creator, fields, field):
    photo_id = upload(api, creator["access"], jpeg())
    r = _patch(api, creator, photo_id, **fields)
    assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", r.body
    assert field in r.data["error"]["details"], r.data
    assert api.get(f"/photos/{photo_id}").data["access"] == "free"


def test_a_bought_item_keeps_its_access_and_price(api, creator):
    from chalicelib.models.photos import Photo

    photo_id = upload(api, creator["access"], jpeg())
    assert _patch(api, creator, photo_id, access="paid", price_cents=400, currency="usd").status_code == 200
    assert _patch(api, creator, photo_id, price_cents=450).status_code == 200  # not bought yet: fine
    Photo.get(photo_id).update(actions=[Photo.purchase_count.add(1)])  # what a purchase does
    for change in ({"price_cents": 500}, {"access": "free"}, {"access": "subscribers"}, {"currency": "eur"}):
        r = _patch(api, creator, photo_id, **change)
        assert r.status_code == 409 and r.data["error"]["code"] == "already_purchased", (change, r.body)
    assert _patch(api, creator, photo_id, price_cents=450, caption="same price").status_code == 200  # no change
    view = api.get(f"/photos/{photo_id}").data
    assert (view["access"], view["price_cents"], view["currency"]) == ("paid", 450, "usd")


def test_a_purchase_racing_the_edit_wins(api, creator, monkeypatch):
    """The edit is conditioned on the item being unbought: a purchase between its read and its write fails it."""
    from chalicelib.models.photos import Photo
    from chalicelib.services import photos

    photo_id = upload(api, creator["access"], jpeg())
    assert _patch(api, creator, photo_id, access="paid", price_cents=400).status_code == 200
    real = photos._update_unbought

    def bought_meanwhile(photo, actions, condition):
        Photo.get(photo_id).update(actions=[Photo.purchase_count.add(1)])
        return real(photo, actions, condition)

    monkeypatch.setattr(photos, "_update_unbought", bought_meanwhile)
    r = _patch(api, creator, photo_id, price_cents=900)
    assert r.status_code == 409 and r.data["error"]["code"] == "already_purchased"
    assert api.get(f"/photos/{photo_id}").data["price_cents"] == 400


# ---- access set at upload: locked from the moment the item is ready ---------------------------------------


def _reserve(api, user, path="/photos/uploads", **fields):
    spec = {"filename": "p.jpg", "content_type": "image/jpeg", "size": len(jpeg()), **fields}
    body = {"files": [spec]} if "bulk-upload" in path else spec
    return api.post(path, body, token=user["access"])


def test_an_item_uploaded_as_premium_is_never_public_while_free(api, make_user, creator):
    from tests.pipeline import post_file, pump

    stranger = make_user("uploadstranger")
    assert api.post(f"/users/{creator['id']}/follow", token=stranger["access"]).status_code == 201
    r = _reserve(api, creator, caption="locked sunrise", access="subscribers")
    assert r.status_code == 201, r.body
    subs_id = r.data["uploads"][0]["photo_id"]
    assert post_file(r.data["uploads"][0]["upload"], jpeg()).status_code in (200, 201, 204)
    r = _reserve(api, creator, caption="paid sunrise", access="paid", price_cents=700, currency="usd")
    assert r.status_code == 201, r.body
    paid_id = r.data["uploads"][0]["photo_id"]
    assert post_file(r.data["uploads"][0]["upload"], jpeg()).status_code in (200, 201, 204)
    pump()

    for token in (None, stranger["access"]):
        _locked_view_ok(api.get(f"/photos/{subs_id}", token=token).data, "subscribers")
        _locked_view_ok(api.get(f"/photos/{paid_id}", token=token).data, "paid", 700)
        for path in (f"/photos?owner={creator['id']}", "/photos/search?q=sunrise", f"/creators/{creator['id']}/posts"):
            items = {i["id"]: i for i in api.get(path, token=token).data["items"]}
            assert {subs_id, paid_id} <= set(items), (path, items)
            _locked_view_ok(items[subs_id], "subscribers")
            _locked_view_ok(items[paid_id], "paid", 700)
    feed = {i["id"]: i for i in api.get("/feed", token=stranger["access"]).data["items"]}
    _locked_view_ok(feed[subs_id], "subscribers")
    assert api.get(f"/photos/{paid_id}", token=creator["access"]).data["currency"] == "usd"


def test_event_bulk_upload_takes_access_per_file(api, creator):
    event = api.post("/events", {"name": "Gig", "visibility": "public"}, token=creator["access"]).data
    spec = {"filename": "p.jpg", "content_type": "image/jpeg", "size": 100}
    files = [{**spec, "access": "paid", "price_cents": 300}, spec]
    r = api.post(f"/events/{event['id']}/photos/bulk-upload", {"files": files}, token=creator["access"])
    assert r.status_code == 201, r.body
    from chalicelib.models.photos import Photo

    rows = [Photo.get(u["photo_id"]) for u in r.data["uploads"]]
    assert [(p.access, p.price_cents) for p in rows] == [("paid", 300), (None, None)]


def test_only_a_verified_creator_uploads_premium(api, make_user, staff):
    from chalicelib.models.photos import Photo

    for user in (make_user("upmember"), make_user("uppending", role="creator")):
        r = _reserve(api, user, access="subscribers")
        assert r.status_code == 403 and r.data["error"]["code"] == "creator_not_verified", r.body
        r = _reserve(api, user, access="free")  # saying free is what everyone gets
        assert r.status_code == 201, r.body
        assert Photo.get(r.data["uploads"][0]["photo_id"]).access is None


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"access": "premium"}, "access"),
        ({"access": "paid"}, "files.0.price_cents"),
        ({"access": "paid", "price_cents": 10}, "files.0.price_cents"),
        ({"access": "paid", "price_cents": 100_001}, "files.0.price_cents"),
        ({"access": "paid", "price_cents": -5}, "price_cents"),
        ({"access": "paid", "price_cents": 500, "currency": "xyz"}, "files.0.currency"),
        ({"access": "paid", "price_cents": 500, "currency": "EUR"}, "currency"),
        ({"access": "subscribers", "price_cents": 500}, "files.0.price_cents"),
        ({"price_cents": 500}, "files.0.price_cents"),
    ],
)
def test_bad_access_or_price_at_upload_is_400_and_reserves_nothing(api, creator, fields, field):
    from chalicelib.models.photos import Photo

    before = Photo.by_owner.count(creator["id"])
    r = _reserve(api, creator, **fields)
    assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", r.body
    assert any(field in k for k in r.data["error"]["details"]), r.data
    assert Photo.by_owner.count(creator["id"]) == before


def test_a_premium_avatar_shows_its_preview_never_the_clean_thumb(api, make_user, creator):
    from chalicelib import storage
    from chalicelib.models.photos import Photo

    fan = make_user("avatarfan")
    assert api.post(f"/users/{creator['id']}/follow", token=fan["access"]).status_code == 201
    photo_id = upload(api, creator["access"], jpeg(1600, 1200))
    assert _patch(api, creator, photo_id, access="subscribers").status_code == 200
    assert api.patch("/auth/me", {"avatar_photo_id": photo_id}, token=creator["access"]).status_code == 200

    def avatars():
        one = api.get(f"/users/{creator['id']}", token=fan["access"]).data["avatar_url"]
        page = api.get(f"/users/{fan['id']}/following", token=fan["access"]).data["items"]
        [listed] = [u["avatar_url"] for u in page if u["id"] == creator["id"]]
        me = api.get("/auth/me", token=creator["access"]).data["avatar_url"]
        return [one, listed, me]

    for url in avatars():
        assert f"/{photo_id}/preview?" in url and "/thumb" not in url, url
        assert Image.open(io.BytesIO(fetch(url))).size == (640, 480)  # the blurred preview
    # A locked video's avatar is its blurred frame, never its clean poster thumb.
    video_id = upload(api, creator["access"], jpeg())
    variants = ["thumb", "medium", "large", "poster", "preview", "preview_poster", "stream", "original"]
    for v in variants:
        storage.put_media(storage.variant_key(video_id, v), f"<{v}>".encode(), "application/octet-stream")
    Photo.get(video_id).update(actions=[Photo.kind.set("video"), Photo.variant_keys.set(variants)])
    assert _patch(api, creator, video_id, access="paid", price_cents=300).status_code == 200
    assert api.patch("/auth/me", {"avatar_photo_id": video_id}, token=creator["access"]).status_code == 200
    for url in avatars():
        assert fetch(url) == b"<preview_poster>", url
    # Made free again: the thumb.
    assert _patch(api, creator, video_id, access="free").status_code == 200
    assert all(fetch(url) == b"<thumb>" for url in avatars())
