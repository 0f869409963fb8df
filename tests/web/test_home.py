"""Home and discovery in the browser: find a person by search, follow them from their profile and see their photo
in the feed; friend requests on the friends screen; popular; bookmarks' empty state."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.web.kit import axe, call, make_user, shot, ui_login, upload_ready_photo

pytestmark = pytest.mark.xdist_group("local_stack")


def test_find_a_person_follow_them_and_see_their_photo_in_the_feed(page: Page, stack):
    me, ann = make_user(stack, "feeder"), make_user(stack, "annlake")
    call(stack, "PATCH", "/auth/me", {"display_name": "Ann Lake", "bio": "Lakes at dawn"}, token=ann.token)
    photo_id = upload_ready_photo(stack, ann.token, "misty lake at dawn")

    csp = []
    page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
    ui_login(page, me)
    expect(page.get_by_text("Your feed is empty.")).to_be_visible()
    axe(page, context="home (empty)")

    page.get_by_role("link", name="Search").click()
    page.get_by_role("searchbox", name="Search photos and people").fill("misty")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator(f'[data-photo-id="{photo_id}"] img')).to_be_visible()
    page.get_by_role("tab", name="People").click()
    page.get_by_role("searchbox", name="Search photos and people").fill(ann.username[:7])
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("link", name="Ann Lake")).to_be_visible()
    axe(page, context="search")

    page.get_by_role("link", name="Ann Lake").click()
    expect(page.get_by_role("heading", name="Ann Lake")).to_be_visible()
    expect(page.get_by_text("Lakes at dawn")).to_be_visible()
    expect(page.locator(f'[data-photo-id="{photo_id}"] img')).to_be_visible()  # their photos
    axe(page, context="profile")
    shot(page, "profile")
    page.get_by_role("button", name="Follow", exact=True).click()
    expect(page.get_by_role("button", name="Following")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("follower-count")).to_have_text("1")
    page.get_by_role("tab", name="Followers").click()
    expect(page.get_by_role("list", name="Followers").get_by_role("link", name=me.username)).to_be_visible()

    page.get_by_role("link", name="Home").click()
    expect(page.locator(f'[data-photo-id="{photo_id}"] img')).to_be_visible()
    axe(page, context="home")
    shot(page, "home")
    page.get_by_role("tab", name="Popular").click()
    expect(page.locator(f'[data-photo-id="{photo_id}"]')).to_be_visible()

    # The follow is kept: after a reload the profile still says so.
    page.goto(f"/u/{ann.username}")
    expect(page.get_by_role("button", name="Following")).to_be_visible()
    page.get_by_role("button", name="Following").click()
    expect(page.get_by_role("button", name="Follow", exact=True)).to_be_visible()
    expect(page.get_by_test_id("follower-count")).to_have_text("0")

    page.set_viewport_size({"width": 360, "height": 740})  # a small phone: nothing wider than the screen
    expect(page.get_by_role("heading", name="Ann Lake")).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    assert csp == [], csp  # avatars sized with style: directives (CSSOM), never inline style


def test_friend_requests_on_the_friends_screen_and_empty_bookmarks(page: Page, stack):
    me, bob, cid = make_user(stack, "friendly"), make_user(stack, "bobpal"), make_user(stack, "cidpal")
    call(stack, "POST", "/friends/requests", {"username": me.username}, token=bob.token, expect_status=201)

    ui_login(page, me, next_path="/friends")
    requests_list = page.get_by_role("list", name="Friend requests")
    expect(requests_list.get_by_role("link", name=bob.username)).to_be_visible()
    axe(page, context="friends")
    requests_list.get_by_role("button", name=f"Accept {bob.username}").click()
    expect(page.get_by_role("list", name="Your friends").get_by_role("link", name=bob.username)).to_be_visible()
    expect(page.get_by_role("list", name="Friend requests")).to_have_count(0)

    # Ask someone from their profile; they accept (through the API); the profile then says friends.
    page.goto(f"/u/{cid.username}")
    page.get_by_role("button", name="Add friend").click()
    expect(page.get_by_role("button", name="Cancel friend request")).to_be_visible()
    sent = call(stack, "GET", "/friends/requests", token=cid.token).json()["items"]
    call(stack, "POST", f"/friends/requests/{sent[0]['id']}/accept", token=cid.token, expect_status=200)
    page.reload()
    expect(page.get_by_role("button", name="Remove friend")).to_be_visible()

    page.get_by_role("link", name="Bookmarks").click()
    expect(page.get_by_text("No bookmarks yet.")).to_be_visible()
