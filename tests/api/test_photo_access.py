"""The entitlement check end to end: unprocessed photos, user tags (cap, removal, pages), share links after
the TTL, and the hooks that let a grant source list exactly the photos it grants in an event."""

from __future__ import annotations

import hashlib

import pytest

from tests.pipeline import jpeg, upload


@pytest.fixture
def event(api, make_user):
    from chalicelib.models.users import User

    people = {n: make_user(n) for n in ("evowner", "evcontrib", "evviewer", "evstaff", "evstranger")}
    User.get(people["evstaff"]["id"]).update(actions=[User.role.set("staff")])
    owner = people["evowner"]["access"]
    event_id = api.post("/events", {"name": "Private", "visibility": "private"}, token=owner).data["id"]
    for username, role in (("evcontrib", "contributor"), ("evviewer", "viewer")):
        api.post(f"/events/{event_id}/members", {"username": username, "role": role}, token=owner)
    return event_id, {n: p["access"] for n, p in people.items()}


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.body
    return [p["id"] for p in response.data["items"]]


# ---- 2.6: before ready, only the uploader and staff --------------------------------------------------------


def test_unprocessed_photos_only_for_the_uploader_and_staff(api, event):
    from chalicelib.models.photos import Photo

    event_id, tokens = event
    ready = upload(api, tokens["evcontrib"], jpeg(64, 48), event_id=event_id)
    rejected = upload(api, tokens["evcontrib"], b"\x00garbage" * 500, event_id=event_id)
    processing = upload(api, tokens["evcontrib"], jpeg(64, 48), event_id=event_id)
    Photo(photo_id=processing).update(actions=[Photo.status.set("processing")])

    for who in ("evcontrib", "evstaff"):
        r = api.get(f"/photos/{rejected}", token=tokens[who])
        assert r.status_code == 200 and r.data["status"] == "rejected" and r.data["rejection_reason"]
        assert api.get(f"/photos/{processing}", token=tokens[who]).data["status"] == "processing"
        listed = _ids(api.get(f"/events/{event_id}/photos", token=tokens[who]))
        assert set(listed) == {ready, rejected, processing}
    for who in ("evowner", "evviewer", "evstranger"):
        for photo_id in (rejected, processing):
            r = api.get(f"/photos/{photo_id}", token=tokens[who])
            assert r.status_code == 404, (who, r.body)
    for who in ("evowner", "evviewer"):
        assert _ids(api.get(f"/events/{event_id}/photos", token=tokens[who])) == [ready]
        assert _ids(api.get(f"/photos?event_id={event_id}", token=tokens[who])) == [ready]
    assert api.get(f"/photos/{ready}", token=tokens["evowner"]).status_code == 200


# ---- 2.5: user tags ----------------------------------------------------------------------------------------


def test_tags_are_capped_per_photo(api, make_user, monkeypatch):
    from chalicelib.models import photos as photo_store
    from chalicelib.models.photos import Photo, PhotoTag

    assert photo_store.MAX_TAGS == 50  # the documented cap; a smaller one keeps the test short
    monkeypatch.setattr(photo_store, "MAX_TAGS", 3)
    owner = make_user("capowner")["access"]
    photo_id = upload(api, owner, jpeg(64, 48))
    for i in range(3):
        make_user(f"capped{i}")
        assert api.post(f"/photos/{photo_id}/tags", {"username": f"capped{i}"}, token=owner).status_code == 201
    make_user("capped3")
    r = api.post(f"/photos/{photo_id}/tags", {"username": "capped3"}, token=owner)
    assert r.status_code == 409 and r.data["error"]["code"] == "too_many_tags"
    assert Photo.get(photo_id).tag_count == 3
    # the transaction enforces it even when the pre-check is passed (a concurrent tag)
    with pytest.raises(Exception) as caught:
        photo_store.add_tag(PhotoTag(photo_id=photo_id, user_id="u_racer", tagged_by="u_racer"))
    assert getattr(caught.value, "code", None) == "too_many_tags"
    # removing one frees a place
    victim = api.get("/users/capped0").data["id"]
    assert api.delete(f"/photos/{photo_id}/tags/{victim}", token=owner).status_code == 204
    assert api.post(f"/photos/{photo_id}/tags", {"username": "capped3"}, token=owner).status_code == 201
    assert Photo.get(photo_id).tag_count == 3


def test_the_photo_owner_removes_any_tag_and_the_tagged_user_untags(api, make_user):
    owner, self_tagger, other = (make_user(n) for n in ("tagowner", "selftagger", "tagother"))
    photo_id = upload(api, owner["access"], jpeg(64, 48))
    assert (
        api.post(f"/photos/{photo_id}/tags", {"username": "selftagger"}, token=self_tagger["access"]).status_code == 201
    )
    assert (
        api.post(f"/photos/{photo_id}/tags", {"username": "tagother"}, token=self_tagger["access"]).status_code == 403
    )
    assert api.delete(f"/photos/{photo_id}/tags/{self_tagger['id']}", token=other["access"]).status_code == 403
    assert api.delete(f"/photos/{photo_id}/tags/{self_tagger['id']}", token=owner["access"]).status_code == 204
    assert api.get(f"/photos/{photo_id}").data["user_tags"] == []
    api.post(f"/photos/{photo_id}/tags", {"username": "tagother"}, token=owner["access"])
    api.patch(f"/photos/{photo_id}", {"visibility": "private"}, token=owner["access"])
    assert api.delete(f"/photos/{photo_id}/tags/{other['id']}", token=other["access"]).status_code == 204
    assert api.delete(f"/photos/{photo_id}/tags/{other['id']}", token=owner["access"]).status_code == 404


def test_tags_are_read_in_bounded_pages(api, make_user, monkeypatch, counter):
    from chalicelib.services import photos as photos_service

    monkeypatch.setattr(photos_service, "TAGS_IN_VIEW", 2)
    owner = make_user("pageowner")["access"]
    photo_id = upload(api, owner, jpeg(64, 48))
    for i in range(5):
        make_user(f"paged{i}")
        api.post(f"/photos/{photo_id}/tags", {"username": f"paged{i}"}, token=owner)
    view, calls = counter.measure(lambda: api.get(f"/photos/{photo_id}"))
    assert len(view.data["user_tags"]) == 2 and view.data["user_tag_count"] == 5
    tag_queries = [c for c in calls if c == "dynamodb.Query"]
    assert len(tag_queries) == 1  # one bounded page, not every tag
    seen, cursor = [], None
    for _ in range(5):
        r = api.get(f"/photos/{photo_id}/tags?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status_code == 200 and len(r.data["items"]) <= 2
        seen += [t["user"]["username"] for t in r.data["items"]]
        cursor = r.data["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"paged{i}" for i in range(5)]
    api.patch(f"/photos/{photo_id}", {"visibility": "private"}, token=owner)
    assert api.get(f"/photos/{photo_id}/tags").status_code == 404


# ---- 2.8: share links after DynamoDB's TTL -----------------------------------------------------------------


def test_expired_share_links_answer_410_after_the_ttl_removed_the_row(api, make_user, monkeypatch):
    from chalicelib.models.photos import ShareLink
    from chalicelib.services import sharing

    owner = make_user("ttlowner")["access"]
    photo_id = upload(api, owner, jpeg(64, 48))
    body = {"variant": "watermarked", "expires_in_seconds": 600}
    expired = api.post(f"/photos/{photo_id}/share", body, token=owner).data["token"]
    live = api.post(f"/photos/{photo_id}/share", body, token=owner).data["token"]
    assert api.get(f"/photos/share/{live}").status_code == 200
    real_epoch = sharing.epoch
    monkeypatch.setattr(sharing, "epoch", lambda: real_epoch() + 8 * 24 * 3600)  # past expiry and the TTL
    ShareLink(token_hash=hashlib.sha256(expired.encode()).hexdigest()).delete()  # what the TTL does
    r = api.get(f"/photos/share/{expired}")
    assert r.status_code == 410 and r.data["error"]["code"] == "share_link_gone"
    # a token we never signed, or one whose signed expiry was edited, is unknown: 404
    payload, _, mac = expired.rpartition(".")
    assert api.get(f"/photos/share/{'1' + payload[1:]}.{mac}").status_code == 404
    assert api.get("/photos/share/garbage-token").status_code == 404
    assert api.get("/photos/share/0.abc.def").status_code == 404
    # validly signed, not expired, but no row (never stored here): 404, not 410
    monkeypatch.setattr(sharing, "epoch", real_epoch)
    ShareLink(token_hash=hashlib.sha256(live.encode()).hexdigest()).delete()
    assert api.get(f"/photos/share/{live}").status_code == 404


def test_share_redemption_goes_through_the_entitlement_check(api, make_user, monkeypatch):
    from chalicelib.services import photos_access

    owner = make_user("shareowner")["access"]
    photo_id = upload(api, owner, jpeg(64, 48))
    api.patch(f"/photos/{photo_id}", {"visibility": "private"}, token=owner)
    token = api.post(f"/photos/{photo_id}/share", {"variant": "original", "expires_in_seconds": 600}, token=owner).data[
        "token"
    ]
    asked = []
    real = photos_access.decide

    def spy(principal, photos, **kw):
        asked.append(kw.get("share"))
        return real(principal, photos, **kw)

    monkeypatch.setattr(photos_access, "decide", spy)
    r = api.get(f"/photos/share/{token}")
    assert r.status_code == 200 and r.data["variant"] == "original"
    assert asked == [{photo_id: frozenset({"original"})}]


# ---- the listing hook: a grant source lists exactly what it grants -------------------------------------------


class _Keys(list):
    last_evaluated_key = None


def test_a_listing_source_lists_exactly_its_photos_of_a_private_event(api, event, monkeypatch):
    """What client assignment (next issue) plugs into: a non-member sees only the photos granted to them."""
    from chalicelib.services import photos_access
    from chalicelib.services.entitlements import Grants
    from chalicelib.services.photos_access import PhotoIndex

    event_id, tokens = event
    photo_ids = [upload(api, tokens["evcontrib"], jpeg(64, 48), event_id=event_id) for _ in range(3)]
    assert api.get(f"/events/{event_id}/photos", token=tokens["evstranger"]).status_code == 404
    stranger_id = api.get("/users/evstranger").data["id"]
    assigned = set(photo_ids[:2])

    class Key:
        def __init__(self, photo_id):
            self.photo_id = photo_id

    def listing(caller, ev, ordering):
        if caller.user_id != stranger_id or ev.event_id != event_id:
            return None
        return PhotoIndex("assigned", lambda limit, last: _Keys(Key(p) for p in sorted(assigned)))

    def grants(caller, page):
        return {
            p.photo_id: Grants(assigned=True) for p in page if caller.user_id == stranger_id and p.photo_id in assigned
        }

    monkeypatch.setattr(photos_access, "LISTING_SOURCES", [listing])
    monkeypatch.setattr(photos_access, "GRANT_SOURCES", [grants])
    r = api.get(f"/events/{event_id}/photos", token=tokens["evstranger"])
    assert set(_ids(r)) == assigned
    assert all(set(p["urls"]) == {"thumb", "watermarked"} for p in r.data["items"])
    assert api.get(f"/photos/{photo_ids[0]}", token=tokens["evstranger"]).status_code == 200
    assert api.get(f"/photos/{photo_ids[2]}", token=tokens["evstranger"]).status_code == 404
    assert api.get(f"/events/{event_id}/photos", token=tokens["evviewer"]).status_code == 200


def test_a_deleted_accounts_tags_leave_the_tag_count_of_other_peoples_photos(api, make_user):
    from chalicelib.models.photos import Photo
    from tests.conftest import PASSWORD
    from tests.jobs import drain

    owner = make_user("countowner")["access"]
    leaver = make_user("countleaver")
    photo_id = upload(api, owner, jpeg(64, 48))
    assert api.post(f"/photos/{photo_id}/tags", {"username": "countleaver"}, token=owner).status_code == 201
    assert Photo.get(photo_id).tag_count == 1
    assert api.delete("/users/me", {"password": PASSWORD}, token=leaver["access"]).status_code == 204
    drain()
    assert Photo.get(photo_id).tag_count == 0  # the cap counts only tags that still exist
    assert api.get(f"/photos/{photo_id}/tags", token=owner).data["items"] == []


@pytest.mark.parametrize("token", ["a.\u00e9", "\u00e9.\u00e9.\u00e9", "0.x.\U0001f600", "a.%C3%A9"])
def test_share_tokens_that_are_not_ascii_are_404_not_500(api, token):
    """API Gateway hands the path parameter over decoded: a non-ASCII token reaches the MAC check."""
    from chalicelib.errors import NotFoundError
    from chalicelib.services import sharing

    assert sharing.signed_expiry(token) is None
    with pytest.raises(NotFoundError):
        sharing.redeem(token, None)
