"""Request cost: a page of locked items costs the same AWS calls as a page of free ones (the grant sources
are read once per page whatever the items' access; locked items only sign fewer URLs)."""

from __future__ import annotations

import collections

from tests.creators_kit import make_creator_row, seed_posts


def test_a_locked_page_makes_the_same_calls_as_an_unlocked_page(api, make_user, counter):
    free_creator, paid_creator, fan = make_user("costfree"), make_user("costpaid"), make_user("costfan")
    for user in (free_creator, paid_creator):
        make_creator_row(user["id"])
    seed_posts(free_creator["id"], 30)
    seed_posts(paid_creator["id"], 15, "paid")
    seed_posts(paid_creator["id"], 15, "subscribers")

    def page(creator):
        r = api.get(f"/creators/{creator['id']}/posts?limit=30", token=fan["access"])
        assert r.status_code == 200 and len(r.data["items"]) == 30, r.body
        return r.data["items"]

    page(free_creator)  # warm: clients created
    free_items, free_calls = counter.measure(lambda: page(free_creator))
    locked_items, locked_calls = counter.measure(lambda: page(paid_creator))
    assert all(not i["locked"] for i in free_items) and all(i["locked"] for i in locked_items)
    assert collections.Counter(locked_calls) == collections.Counter(free_calls), (locked_calls, free_calls)
    assert len(free_calls) <= 8, free_calls  # bounded: not one call per item
