"""Creator journeys in the browser: a creator's locked post unlocks after a fan subscribes by card through
Stripe.js (localstripe's fake one, test card 4242), the fan tips from a wallet a staff member funded in the staff
console, the wallet shows it, and the creator sees the earnings with the chart."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from tests.web.kit import axe, call, fill_card, make_admin, make_user, shot, ui_login, wait_ready
from tests.web.kit import upload_photo as kit_upload_photo

pytestmark = pytest.mark.xdist_group("local_stack")
FEE_BPS = 1000  # the local stack's LIGHTBOX_PLATFORM_FEE_BPS


def net(gross: int) -> int:
    return gross - (2 * gross * FEE_BPS + 10_000) // 20_000


def post_file(upload: dict, name: str, data: bytes, content_type: str) -> None:
    r = requests.post(upload["url"], data=upload["fields"], files={"file": (name, data, content_type)}, timeout=60)
    assert r.status_code in (200, 201, 204), r.text


def verify(stack, admin, creator) -> None:
    """A creator verified through the API: the request, the document by its presigned POST, staff approval."""
    document = b"%PDF-1.4\n% passport scan\n" + b"0" * 1000
    body = {
        "legal_name": f"Cleo {creator.username}",
        "country": "IE",
        "document": {"filename": "passport.pdf", "content_type": "application/pdf", "size": len(document)},
    }
    out = call(stack, "POST", "/creators/verification", body, token=creator.token, expect_status=201).json()
    post_file(out["upload"], "passport.pdf", document, "application/pdf")
    call(stack, "POST", f"/staff/verifications/{creator.id}/approve", {}, token=admin.token, expect_status=200)


def upload_photo(stack, user, caption: str) -> str:
    return kit_upload_photo(stack, user.token, caption, colour=(160, 40, 120))


def ready_photo(stack, user, photo_id: str) -> dict:
    return wait_ready(stack, user.token, photo_id)


def fill_test_card(page: Page, number: str = "4242424242424242") -> None:
    fill_card(page.get_by_test_id("card-element"), number)


def test_a_locked_post_unlocks_after_subscribing_then_a_wallet_tip_and_the_earnings_chart(
    page: Page, browser: Browser, stack
):
    creator = make_user(stack, "cleo", role="creator")
    photo_id = upload_photo(stack, creator, "sunset")  # processed while the rest is set up
    paid_id = upload_photo(stack, creator, "harbour")
    admin = make_admin(stack)
    verify(stack, admin, creator)
    call(
        stack,
        "PUT",
        "/creators/me/plan",
        {"price_cents": 900, "currency": "eur"},
        token=creator.token,
        expect_status=200,
    )
    fan = make_user(stack, "fan")
    photo = ready_photo(stack, creator, photo_id)
    call(stack, "PATCH", f"/photos/{photo_id}", {"access": "subscribers"}, token=creator.token, expect_status=200)
    ready_photo(stack, creator, paid_id)
    paid = {"access": "paid", "price_cents": 200, "currency": "eur"}
    call(stack, "PATCH", f"/photos/{paid_id}", paid, token=creator.token, expect_status=200)

    # Anyone may look; paying needs an account.
    page.goto(f"/c/{creator.id}")
    expect(page.get_by_role("link", name="Log in to subscribe or tip")).to_be_visible()
    expect(page.locator(f'li[data-photo-id="{photo_id}"]')).to_have_attribute("data-locked", "true")

    # The fan sees the creator's page: verified, the plan, the post as a locked preview.
    ui_login(page, fan)
    page.goto(f"/c/{creator.id}")
    expect(page.get_by_role("heading", name=creator.username)).to_be_visible()
    expect(page.get_by_text("Verified creator")).to_be_visible()
    post = page.locator(f'li[data-photo-id="{photo["id"]}"]')
    expect(post).to_have_attribute("data-locked", "true")
    expect(post.get_by_text("Locked")).to_be_visible()
    expect(post.get_by_text("Subscribers only")).to_be_visible()
    assert "/preview" in (post.get_by_role("img").get_attribute("src") or "")
    axe(page, context="creator page")
    shot(page, "creator")

    # Subscribes by card through Stripe.js: the post opens in place, without a reload.
    page.get_by_role("button", name="Subscribe for €9.00/month").click()
    dialog = page.get_by_role("dialog", name=f"Subscribe to {creator.username}")
    dialog.get_by_label("Card", exact=True).check()
    fill_test_card(page)
    dialog.get_by_role("button", name="Pay €9.00").click()
    expect(page.get_by_role("status").filter(has_text="You are subscribed")).to_be_visible()
    expect(post).to_have_attribute("data-locked", "false")
    expect(post.get_by_text("Locked")).to_have_count(0)
    assert "/thumb" in (post.get_by_role("img").get_attribute("src") or "")
    expect(page.get_by_test_id("subscription-status")).to_have_text("Subscribed")

    # Staff credit the fan's wallet in the console (as admin, in their own browser).
    staff = browser.new_context(base_url=stack.web_url).new_page()
    ui_login(staff, admin)
    staff.get_by_role("link", name="Staff").click()
    staff.get_by_role("link", name="Wallet deposits").click()
    staff.get_by_label("Find the user to credit").fill(fan.username)
    staff.get_by_role("button", name="Search").click()
    staff.get_by_role("button", name=f"Select {fan.username}").click()
    staff.get_by_label("Amount (EUR)").fill("20")
    staff.get_by_label("Reason").fill("launch credit")
    staff.get_by_role("button", name="Deposit", exact=True).click()
    expect(staff.get_by_role("status").filter(has_text=f"Deposited €20.00 to {fan.username}")).to_be_visible()
    expect(staff.get_by_role("cell", name="launch credit")).to_be_visible()
    staff.context.close()

    # The fan tips from the wallet, with a message.
    page.get_by_role("button", name="Send a tip").click()
    tip = page.get_by_role("dialog", name=f"Tip {creator.username}")
    tip.get_by_label("Amount (EUR)").fill("3")
    tip.get_by_label("Message (optional)").fill("Loved the sunset!")
    tip.get_by_label("Wallet").check()
    tip.get_by_role("button", name="Send tip").click()
    expect(page.get_by_role("status").filter(has_text="Your tip of €3.00 was sent")).to_be_visible()

    # A pay-per-view post (not opened by the subscription) unlocks from the wallet and opens in place.
    bought = page.locator(f'li[data-photo-id="{paid_id}"]')
    expect(bought).to_have_attribute("data-locked", "true")
    bought.get_by_role("button", name="Unlock for €2.00").click()
    unlock = page.get_by_role("dialog", name="Unlock this post")
    unlock.get_by_label("Wallet").check()
    unlock.get_by_role("button", name="Pay €2.00").click()
    opened = page.get_by_role("dialog", name="harbour")
    expect(opened.get_by_role("img", name="harbour")).to_be_visible()
    assert "/preview" not in (opened.get_by_role("img").get_attribute("src") or "")
    opened.get_by_role("button", name="Close").click()
    expect(bought).to_have_attribute("data-locked", "false")

    page.get_by_role("link", name="Wallet").click()
    expect(page.get_by_test_id("wallet-balance")).to_have_text("€15.00")
    expect(page.get_by_role("cell", name="Deposit from Lightbox")).to_be_visible()
    expect(page.get_by_role("cell", name="Tip", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="Unlocked post")).to_be_visible()

    # A top-up by a card that asks for 3-D Secure: once when the card is saved, once for the payment.
    page.get_by_label("Amount (EUR)").fill("10")
    card = page.get_by_label("Which card")  # the card saved by the subscription is offered first
    expect(card).to_have_value(re.compile("^pm_"))
    card.select_option(label="A new card")
    fill_test_card(page, "4000002760003184")
    page.get_by_role("button", name="Top up").click()
    page.get_by_role("button", name="Complete authentication").click()
    expect(page.get_by_role("button", name="Complete authentication")).to_have_count(0)
    page.get_by_role("button", name="Complete authentication").click()
    expect(page.get_by_role("status").filter(has_text="Added €10.00 to your wallet")).to_be_visible()
    expect(page.get_by_test_id("wallet-balance")).to_have_text("€25.00")
    expect(page.get_by_role("cell", name="Top-up")).to_be_visible()
    axe(page, context="wallet")
    shot(page, "wallet")
    page.set_viewport_size({"width": 360, "height": 740})  # a phone: nothing wider than the screen
    expect(page.get_by_test_id("wallet-balance")).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    page.set_viewport_size({"width": 1280, "height": 860})

    # The creator sees the earnings, by source, with the chart.
    mine = browser.new_context(base_url=stack.web_url).new_page()
    ui_login(mine, creator)
    mine.get_by_role("link", name="Creator", exact=True).click()
    expect(mine.get_by_role("heading", name="Creator dashboard")).to_be_visible()
    expect(mine.get_by_test_id("verification-status")).to_contain_text("Verified")
    expect(mine.get_by_test_id("earnings-lifetime")).to_have_text(f"€{(net(900) + net(300) + net(200)) / 100:.2f}")
    expect(mine.get_by_test_id("earnings-chart")).to_have_attribute("data-ready", "true")
    expect(mine.get_by_role("row", name="Subscriptions")).to_contain_text(f"€{net(900) / 100:.2f}")
    expect(mine.get_by_role("cell", name="card", exact=True)).to_be_visible()  # the subscriber, paying by card
    axe(mine, context="creator dashboard")
    mine.get_by_test_id("earnings-chart").scroll_into_view_if_needed()
    shot(mine, "creator-dashboard")
    mine.context.close()
