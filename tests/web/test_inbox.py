"""Inbox journeys in the browser: the notification badge counting up live and down after reading, new
notifications arriving on the open list; an event's like and comment notifications opening the event; a chat
between two browser contexts with live messages both ways and the unread-conversations badge."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.kit import axe, call, make_user, shot, ui_login

pytestmark = pytest.mark.xdist_group("local_stack")


def wait_live(page: Page) -> None:
    """The shell's realtime dot: the WebSocket is open, so frames from now on reach this tab."""
    expect(page.locator("header .dot.on")).to_have_count(1)


def test_the_notification_badge_counts_up_live_and_down_after_reading(page: Page, stack):
    me, ana, ben = make_user(stack, "nora"), make_user(stack, "ana"), make_user(stack, "ben")
    ui_login(page, me)
    wait_live(page)
    badge = page.get_by_test_id("unread-notifications")
    expect(badge).to_have_count(0)

    call(stack, "POST", f"/users/{me.id}/follow", token=ana.token, expect_status=201)
    expect(badge).to_have_text(re.compile(r"^1\s*unread$"))
    call(stack, "POST", "/friends/requests", {"username": me.username}, token=ben.token, expect_status=201)
    expect(badge).to_have_text(re.compile(r"^2\s*unread$"))

    page.get_by_role("link", name=re.compile("^Notifications")).click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    notes = page.get_by_role("list", name="Notifications")
    expect(notes.get_by_role("listitem")).to_have_count(2)
    expect(notes.get_by_role("link", name=f"{ben.username} sent you a friend request")).to_be_visible()
    axe(page, context="notifications")
    shot(page, "notifications")

    # One more while the list is open: it appears at the top without a reload.
    cleo = make_user(stack, "cleo")
    call(stack, "POST", f"/users/{me.id}/follow", token=cleo.token, expect_status=201)
    expect(notes.get_by_role("listitem").first).to_contain_text(f"{cleo.username} started following you")
    expect(badge).to_have_text(re.compile(r"^3\s*unread$"))

    # Opening one marks it read and leads to its target (the follower's profile).
    notes.get_by_role("link", name=f"{ana.username} started following you").click()
    expect(page).to_have_url(re.compile(f"/u/{ana.username}$"))
    expect(badge).to_have_text(re.compile(r"^2\s*unread$"))
    page.go_back()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    page.get_by_role("button", name="Mark all read").click()
    expect(badge).to_have_count(0)
    page.get_by_role("button", name="Unread", exact=True).click()
    expect(page.get_by_text("You're all caught up.")).to_be_visible()
    page.reload()
    expect(page.get_by_text("You're all caught up.")).to_be_visible()
    expect(badge).to_have_count(0)


def test_event_like_and_comment_notifications_open_the_event(page: Page, stack):
    host, fan = make_user(stack, "hostel"), make_user(stack, "fanboy")
    event = call(stack, "POST", "/events", {"name": "Night market", "visibility": "public"}, host.token, 201).json()
    call(stack, "POST", f"/events/{event['id']}/like", token=fan.token, expect_status=201)
    call(stack, "POST", f"/events/{event['id']}/comments", {"body": "Count me in"}, token=fan.token, expect_status=201)
    ui_login(page, host, "/notifications")
    notes = page.get_by_role("list", name="Notifications")
    expect(notes.get_by_role("listitem")).to_have_count(2)
    expect(notes.get_by_role("link", name=f"{fan.username} liked your event")).to_be_visible()
    notes.get_by_role("link", name=f"{fan.username} commented on your event").click()
    expect(page).to_have_url(re.compile(f"/events/{event['id']}$"))
    expect(page.get_by_role("heading", name="Night market")).to_be_visible()


def test_a_chat_between_two_people_live_both_ways_with_the_unread_badge(page: Page, browser: Browser, stack):
    ava, bob = make_user(stack, "ava"), make_user(stack, "bob")
    ui_login(page, ava)
    page.get_by_role("link", name=re.compile("^Messages")).click()
    expect(page.get_by_role("heading", name="Messages")).to_be_visible()
    expect(page.get_by_text("No conversations yet.")).to_be_visible()
    axe(page, context="messages")

    other = browser.new_context(base_url=stack.web_url)
    try:
        bob_page = other.new_page()
        ui_login(bob_page, bob)
        wait_live(bob_page)

        page.get_by_label("Start a conversation with").fill(bob.username)
        page.get_by_role("button", name="Start", exact=True).click()
        expect(page).to_have_url(re.compile(r"/messages/[^/]+$"))
        expect(page.get_by_role("heading", name=bob.username)).to_be_visible()
        wait_live(page)
        page.get_by_label("Message", exact=True).fill("Hi Bob, are the prints ready?")
        page.get_by_role("button", name="Send").click()
        thread = page.get_by_role("list", name=f"Messages with {bob.username}")
        expect(thread.get_by_text("Hi Bob, are the prints ready?")).to_be_visible()

        bob_badge = bob_page.get_by_test_id("unread-messages")
        expect(bob_badge).to_have_text(re.compile(r"^1\s*unread conversations$"))  # live, no reload
        bob_page.get_by_role("link", name=re.compile("^Messages")).click()
        conv = bob_page.get_by_role("list", name="Conversations").get_by_role("link", name=re.compile(ava.username))
        expect(conv).to_contain_text("1 unread")
        conv.click()
        bob_thread = bob_page.get_by_role("list", name=f"Messages with {ava.username}")
        expect(bob_thread.get_by_text("Hi Bob, are the prints ready?")).to_be_visible()
        expect(bob_badge).to_have_count(0)  # read on open
        axe(bob_page, context="conversation")

        bob_page.get_by_label("Message", exact=True).fill("Yes, picking them up at 5")
        bob_page.get_by_label("Message", exact=True).press("Enter")
        expect(bob_thread.get_by_text("Yes, picking them up at 5")).to_be_visible()
        expect(thread.get_by_text("Yes, picking them up at 5")).to_be_visible()  # live on Ava's side
        # Ava has it open: it is read at once, so her badge stays away.
        expect(page.get_by_role("list", name="Conversations").get_by_text("Yes, picking them up at 5")).to_be_visible()
        expect(page.get_by_test_id("unread-messages")).to_have_count(0)

        page.get_by_label("Message", exact=True).fill("Great, thanks!")
        page.get_by_role("button", name="Send").click()
        expect(bob_thread.get_by_text("Great, thanks!")).to_be_visible()
        expect(bob_badge).to_have_count(0)

        # On a 360 px phone the open conversation takes the screen, with a way back to the list.
        page.set_viewport_size({"width": 360, "height": 740})
        expect(page.get_by_role("link", name="All conversations")).to_be_visible()
        expect(page.get_by_role("list", name="Conversations")).to_be_hidden()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    finally:
        other.close()
