"""Creator discovery: the public card (verified badge, plan, counts) and a creator's posts, newest first,
with locked previews for callers not entitled; post_count counts each ready photo exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.creators_kit import staff_user, submit_and_upload, verified_creator
from tests.pipeline import jpeg, upload


@pytest.fixture
def staff(make_user):
    return staff_user(make_user)


@pytest.fixture
def creator(api, make_user, staff):
    return verified_creator(api, make_user, staff, "discoc")


def card(api, user_id, token=None):
    r = api.get(f"/creators/{user_id}", token=token)
    assert r.status_code == 200, r.body
    return r.data


def test_the_card_shows_the_badge_the_plan_and_the_counts(api, make_user, creator):
    from chalicelib.models.creators import CreatorProfile

    assert card(api, creator["id"]) == {
        "user_id": creator["id"],
        "username": "discoc",
        "display_name": "Discoc",
        "verified": True,
        "plan": None,
        "subscriber_count": 0,
        "post_count": 0,
    }
    upload(api, creator["access"], jpeg())
    upload(api, creator["access"], jpeg())
    CreatorProfile(user_id=creator["id"]).update(
        actions=[CreatorProfile.plan_price_cents.set(900), CreatorProfile.plan_currency.set("eur")]
    )
    fan = make_user("discofan")
    for token in (None, fan["access"]):
        data = card(api, creator["id"], token)
        assert data["post_count"] == 2 and data["plan"] == {"price_cents": 900, "currency": "eur"}


def test_unverified_creators_show_no_badge_and_others_are_not_creators(api, make_user):
    pending = make_user("discopend", role="creator")
    submit_and_upload(api, pending)
    assert card(api, pending["id"])["verified"] is False
    member = make_user("discomember")
    for user_id in (member["id"], "u_nobody", "nobody"):
        r = api.get(f"/creators/{user_id}")
        assert r.status_code == 404 and r.data["error"]["code"] == "not_found"
        assert api.get(f"/creators/{user_id}/posts").status_code == 404
    assert api.get(f"/creators/{pending['id']}", token="not-a-token").status_code == 401


def test_posts_page_newest_first_with_locked_previews(api, make_user, creator):
    fan = make_user("postsfan")
    ids = [upload(api, creator["access"], jpeg()) for _ in range(3)]
    r = api.patch(f"/photos/{ids[1]}", {"access": "subscribers"}, token=creator["access"])
    assert r.status_code == 200
    private = upload(api, creator["access"], jpeg())
    assert api.patch(f"/photos/{private}", {"visibility": "private"}, token=creator["access"]).status_code == 200

    first = api.get(f"/creators/{creator['id']}/posts?limit=2", token=fan["access"]).data
    rest = api.get(f"/creators/{creator['id']}/posts?limit=2&cursor={first['next_cursor']}", token=fan["access"]).data
    seen = [i["id"] for i in first["items"] + rest["items"]]
    assert seen == [ids[2], ids[1], ids[0]]  # newest first, the private one left out
    locked = {i["id"]: i for i in first["items"] + rest["items"]}[ids[1]]
    assert locked["locked"] is True and set(locked["urls"]) == {"preview"}
    own = api.get(f"/creators/{creator['id']}/posts", token=creator["access"]).data["items"]
    assert [i["id"] for i in own] == [private, ids[2], ids[1], ids[0]]
    # Another caller's cursor is refused.
    assert api.get(f"/creators/{creator['id']}/posts?cursor={first['next_cursor']}").status_code == 400


def test_post_count_counts_each_photo_once_and_forgets_deleted_ones(api, creator):
    from chalicelib.services import discovery
    from tests.jobs import drain

    photo_id = upload(api, creator["access"], jpeg())
    other = upload(api, creator["access"], jpeg())
    assert card(api, creator["id"])["post_count"] == 2
    payload = {"photo_id": photo_id, "owner_id": creator["id"], "event_id": None}
    # A redelivered photo.ready, even several at once, adds nothing.
    discovery.on_photo_ready(payload, None, 10)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: discovery.on_photo_ready(payload, None, 10), range(8)))
    drain()
    assert card(api, creator["id"])["post_count"] == 2

    assert api.delete(f"/photos/{photo_id}", token=creator["access"]).status_code == 204
    assert card(api, creator["id"])["post_count"] == 1
    discovery.on_photo_ready(payload, None, 10)  # late, after the deletion
    assert card(api, creator["id"])["post_count"] == 1
    assert api.delete(f"/photos/{other}", token=creator["access"]).status_code == 204
    assert card(api, creator["id"])["post_count"] == 0


def test_a_photo_deleted_before_its_count_is_never_counted(api, creator):
    """photo.ready not yet consumed when the photo is deleted: the mark says "never", so the count stays 0."""
    from chalicelib.models.creators import uncount_post
    from chalicelib.models.photos import Photo
    from chalicelib.services import discovery

    photo_id = upload(api, creator["access"], jpeg())
    assert card(api, creator["id"])["post_count"] == 1
    uncount_post(photo_id, creator["id"])  # as purge does
    assert Photo.get(photo_id).post_counted is False
    uncount_post(photo_id, creator["id"])  # twice: nothing more
    discovery.on_photo_ready({"photo_id": photo_id}, None, 10)
    assert card(api, creator["id"])["post_count"] == 0


def test_members_photos_are_not_counted(api, make_user):
    from chalicelib.models.creators import profile

    member = make_user("discocount")
    upload(api, member["access"], jpeg())
    assert profile(member["id"]) is None


def test_post_count_counts_public_posts_only(api, make_user, creator):
    """What a stranger can list: a private post is not counted, nor an event photo; a post made private
    leaves the count, made public again joins it once."""
    from chalicelib.services import discovery

    event = api.post("/events", {"name": "Private show", "visibility": "private"}, token=creator["access"]).data
    upload(api, creator["access"], jpeg(), event_id=event["id"])
    photo_id = upload(api, creator["access"], jpeg())
    assert card(api, creator["id"])["post_count"] == 1
    stranger = make_user("discostranger")
    listed = api.get(f"/creators/{creator['id']}/posts", token=stranger["access"]).data["items"]
    assert [i["id"] for i in listed] == [photo_id]

    assert api.patch(f"/photos/{photo_id}", {"visibility": "private"}, token=creator["access"]).status_code == 200
    assert card(api, creator["id"])["post_count"] == 0
    assert api.get(f"/creators/{creator['id']}/posts", token=stranger["access"]).data["items"] == []
    discovery.on_photo_ready({"photo_id": photo_id}, None, 10)  # a late or redelivered photo.ready
    assert api.patch(f"/photos/{photo_id}", {"visibility": "private"}, token=creator["access"]).status_code == 200
    assert card(api, creator["id"])["post_count"] == 0

    for _ in range(2):
        assert api.patch(f"/photos/{photo_id}", {"visibility": "public"}, token=creator["access"]).status_code == 200
    discovery.on_photo_ready({"photo_id": photo_id}, None, 10)
    assert card(api, creator["id"])["post_count"] == 1
    assert api.patch(f"/photos/{photo_id}", {"visibility": "private"}, token=creator["access"]).status_code == 200
    assert api.delete(f"/photos/{photo_id}", token=creator["access"]).status_code == 204
    assert card(api, creator["id"])["post_count"] == 0


def test_a_photo_made_private_while_processing_is_not_counted(api, creator):
    from chalicelib.models.photos import Photo
    from tests.pipeline import post_file, pump, reserve

    data = jpeg()
    photo_id, slot = reserve(api, creator["access"], data)
    Photo.get(photo_id).update(actions=[Photo.visibility.set("private")])  # what PATCH does before it is ready
    assert post_file(slot, data).status_code in (200, 201, 204)
    pump()
    assert Photo.get(photo_id).status == "ready"
    assert card(api, creator["id"])["post_count"] == 0
