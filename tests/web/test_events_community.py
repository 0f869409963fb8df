"""Event community journeys in the browser (issue 12): the owner creates an event with one seat and invites
someone, who accepts on the Invitations page and takes the seat; the owner's open page counts it live
(`event.updated`); a third person's RSVP is told the event is full; a like, a comment and a reply on the event;
event preferences in settings; a draft photo is hidden from others until its owner publishes it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.kit import axe, call, make_user, shot, ui_login, unique, upload_ready_photo

pytestmark = pytest.mark.xdist_group("local_stack")


def wait_live(page: Page) -> None:
    """The shell's realtime dot: the WebSocket is open, so frames from now on reach this tab."""
    expect(page.locator("header .dot.on")).to_have_count(1)


def test_invite_accept_take_the_last_seat_live_count_and_event_full(page: Page, browser: Browser, stack):
    owner, guest, late = make_user(stack, "evhost"), make_user(stack, "evguest"), make_user(stack, "evlate")
    ui_login(page, owner)
    page.goto("/events/new")
    name = f"Darkroom night {unique('')}"
    page.get_by_label("Event name").fill(name)
    page.get_by_label("Public: anyone, listed").check()
    page.get_by_label("Event type").select_option("study")
    page.get_by_label("Capacity (attendees)").fill("1")
    page.get_by_label("Interest tags").fill("film, darkroom")
    axe(page, context="event form")
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_test_id("going-count")).to_have_text("0/1 going")
    event_id = page.url.rsplit("/", 1)[1]

    page.get_by_role("button", name="Invite people").click()
    dialog = page.get_by_role("dialog", name="Invite people")
    missing = unique("nobody")
    dialog.get_by_label("Usernames").fill(f"@{guest.username}, {missing}")
    dialog.get_by_role("button", name="Invite 2 people").click()
    results = dialog.get_by_role("list", name="Invitation results")
    expect(results.get_by_role("listitem").filter(has_text=guest.username)).to_contain_text("invited")
    expect(results.get_by_role("listitem").filter(has_text=missing)).to_contain_text("skipped (no such user)")
    axe(page, context="invite dialog")
    dialog.get_by_role("button", name="Done").click()
    wait_live(page)

    guest_ctx = browser.new_context(base_url=stack.web_url)
    late_ctx = browser.new_context(base_url=stack.web_url)
    try:
        # The late one opens the page while a seat is still free (they get no live frames: not invited).
        late_page = late_ctx.new_page()
        ui_login(late_page, late, f"/events/{event_id}")
        expect(late_page.get_by_test_id("going-count")).to_have_text("0/1 going")

        guest_page = guest_ctx.new_page()
        ui_login(guest_page, guest)
        guest_page.get_by_role("link", name="Invitations", exact=True).click()
        invites = guest_page.get_by_role("list", name="Pending invitations")
        expect(invites.get_by_role("heading", name=name)).to_be_visible()
        axe(guest_page, context="invitations")
        invites.get_by_role("button", name=f"Accept the invitation to {name}").click()
        expect(guest_page.get_by_role("heading", name=name)).to_be_visible()
        guest_page.get_by_role("button", name="Going", exact=True).click()
        expect(guest_page.get_by_test_id("going-count")).to_have_text("1/1 going")
        expect(guest_page.get_by_role("button", name="Going", exact=True)).to_have_attribute("aria-pressed", "true")
        attendees = guest_page.get_by_role("list", name="Attendees")
        expect(attendees.get_by_role("listitem").filter(has_text=guest.username)).to_contain_text("going")
        axe(guest_page, context="event with RSVP")
        shot(guest_page, "event-rsvp")

        # The owner's open page follows without a reload (event.updated, change "rsvp").
        expect(page.get_by_test_id("going-count")).to_have_text("1/1 going")
        expect(page.get_by_role("list", name="Attendees").get_by_text(guest.username).first).to_be_visible()

        # The late one's page still showed a free seat: the API says 409 event_full, the page says so.
        late_page.get_by_role("button", name="Going", exact=True).click()
        expect(late_page.get_by_role("alert").filter(has_text="This event is full")).to_be_visible()
        expect(late_page.get_by_test_id("going-count")).to_have_text("1/1 going")
        expect(late_page.get_by_role("button", name="Going", exact=True)).to_be_disabled()
    finally:
        guest_ctx.close()
        late_ctx.close()

    # The public list filters by type.
    page.goto("/events?scope=public&type=study")
    expect(page.get_by_role("link", name=name)).to_be_visible()
    page.get_by_label("Event type").select_option("party")
    expect(page.get_by_role("link", name=name)).to_have_count(0)


def test_like_comment_and_reply_on_an_event(page: Page, stack):
    owner = make_user(stack, "evtalk")
    event = call(stack, "POST", "/events", {"name": "Photo walk", "visibility": "public"}, owner.token, 201).json()
    ui_login(page, owner, f"/events/{event['id']}")
    expect(page.get_by_role("heading", name="Photo walk")).to_be_visible()
    page.get_by_role("button", name="Like").click()
    expect(page.get_by_test_id("event-like-count")).to_have_text("1 like")
    expect(page.get_by_role("button", name="Liked")).to_have_attribute("aria-pressed", "true")

    page.get_by_label("Add a comment").fill("Meet at the station?")
    page.get_by_role("button", name="Post comment").click()
    comments = page.get_by_role("list", name="Comments")
    expect(comments.get_by_text("Meet at the station?")).to_be_visible()
    comments.get_by_role("button", name="Reply").click()
    page.get_by_label(re.compile("^Reply to")).fill("Yes, 9 sharp.")
    page.get_by_role("button", name="Post reply").click()
    expect(page.get_by_role("list", name=f"Replies to {owner.username}").get_by_text("Yes, 9 sharp.")).to_be_visible()
    axe(page, context="event comments")
    page.reload()  # stored, not just shown
    expect(page.get_by_test_id("event-like-count")).to_have_text("1 like")
    expect(page.get_by_role("list", name="Comments").get_by_text("Meet at the station?")).to_be_visible()


def test_event_preferences_and_a_draft_photo_hidden_until_published(page: Page, browser: Browser, stack):
    owner, other = make_user(stack, "drafter"), make_user(stack, "peeker")
    ui_login(page, owner, "/settings")
    section = page.get_by_role("region", name="Events near me")
    section.get_by_label("Interests").fill("street, film")
    section.get_by_label("Home latitude").fill("52.37")
    section.get_by_label("Home longitude").fill("4.89")
    section.get_by_label("Radius (km)").fill("30")
    section.get_by_label("Invite me automatically to matching public events").check()
    section.get_by_role("button", name="Save event preferences").click()
    expect(section.get_by_role("status")).to_have_text("Event preferences saved.")
    axe(page, context="settings: events near me")
    me = call(stack, "GET", "/auth/me", token=owner.token, expect_status=200).json()
    assert sorted(me["interests"]) == ["film", "street"] and me["auto_invite"] is True and me["radius_km"] == 30

    photo_id = upload_ready_photo(stack, owner.token, "Unfinished edit", published=False)
    other_ctx = browser.new_context(base_url=stack.web_url)
    try:
        other_page = other_ctx.new_page()
        ui_login(other_page, other, f"/photos/{photo_id}")
        expect(other_page.get_by_role("alert")).to_be_visible()  # not found for anyone else
        expect(other_page.get_by_role("heading", name="Unfinished edit")).to_have_count(0)

        page.goto(f"/photos/{photo_id}")
        draft = page.get_by_test_id("draft")
        expect(draft).to_contain_text("Draft")
        axe(page, context="draft photo")
        draft.get_by_role("button", name="Publish").click()
        expect(draft).to_have_count(0)

        other_page.reload()
        expect(other_page.get_by_role("heading", name="Unfinished edit")).to_be_visible()
    finally:
        other_ctx.close()
