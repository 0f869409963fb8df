"""Trust and safety journeys in the browser: sign in with the stack's stand-in Google issuer (and the linked
sign-in that cannot be unlinked while it is the only way in), two-factor auth set up in settings then used at login,
a photo reported by a member and removed from the staff queue, a member suspended from the staff users list whose
open tab lands on the login screen, and the admin's audit log showing both."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.kit import axe, call, make_admin, make_user, shot, ui_login, unique, upload_ready_photo

pytestmark = pytest.mark.xdist_group("local_stack")


def test_sign_in_with_the_local_google_issuer_and_see_the_linked_sign_in(page: Page, stack):
    email = f"{unique('gina')}@example.com"
    page.goto("/login")
    page.get_by_role("button", name="Continue with Google").click()
    dialog = page.get_by_role("dialog", name="Sign in with Google (local)")
    axe(page, context="local sign-in dialog")
    dialog.get_by_label("Email at Google").fill(email)
    dialog.get_by_role("button", name="Sign in").click()
    expect(
        page.get_by_role("button", name="Log out", exact=True)
    ).to_be_visible()  # signed in: a new account for that email

    page.goto("/settings")
    linked = page.get_by_role("region", name="Linked sign-ins")
    expect(linked.get_by_text(email)).to_be_visible()
    axe(page, context="settings with a linked sign-in")
    # The account was made by Google and has no password: Google is its only way in.
    linked.get_by_role("button", name="Unlink Google").click()
    expect(linked.get_by_role("alert")).to_contain_text("only way to log in")
    expect(linked.get_by_text(email)).to_be_visible()


def test_two_factor_set_up_in_settings_then_log_in_with_a_code(page: Page, stack):
    user = make_user(stack, "tfa")
    ui_login(page, user, "/settings")
    page.get_by_role("button", name="Set up two-factor authentication").click()
    expect(page.get_by_role("img", name=re.compile("QR code for your authenticator"))).to_be_visible()
    secret = page.get_by_test_id("totp-secret").get_attribute("data-secret")
    assert secret
    totp = pyotp.TOTP(secret)
    axe(page, context="two-factor setup")
    page.get_by_label("Enter the 6-digit code it shows").fill(totp.now())
    page.get_by_role("button", name="Turn on").click()
    codes = page.get_by_test_id("recovery-codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    axe(page, context="recovery codes")
    shot(page, "two-factor")
    page.get_by_role("button", name="I saved them").click()
    expect(page.get_by_text("Logging in asks for a code from your authenticator app")).to_be_visible()

    page.get_by_role("button", name="Log out", exact=True).click()
    page.goto("/login?next=/settings")
    page.get_by_label("Email or username").fill(user.username)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Two-factor code")).to_be_visible()
    axe(page, context="login code step")
    page.get_by_label("Authentication code").fill("000000" if totp.now() != "000000" else "111111")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_be_visible()  # a wrong code keeps the code step
    # The enabling code's step is spent: the next step's code (inside the accepted window) logs in.
    page.get_by_label("Authentication code").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()  # ?next= respected
    expect(page.get_by_role("link", name=user.username)).to_be_visible()


def test_report_remove_suspend_and_the_audit_log(page: Page, browser: Browser, stack):
    owner = make_user(stack, "rowan")
    reporter = make_user(stack, "rita")
    admin = make_admin(stack)
    photo_id = upload_ready_photo(stack, owner.token, "Not for here")

    # A member reports the photo.
    ui_login(page, reporter, f"/photos/{photo_id}")
    page.get_by_role("button", name="Report photo").click()
    dialog = page.get_by_role("dialog", name="Report photo")
    dialog.get_by_label("Spam or scam").check()
    axe(page, context="report dialog")
    dialog.get_by_role("button", name="Send report").click()
    expect(dialog.get_by_role("status")).to_contain_text("Staff will look at it")

    # The owner is logged in elsewhere.
    owner_tab = browser.new_context(base_url=stack.web_url).new_page()
    ui_login(owner_tab, owner)

    # Staff remove it from the queue.
    staff = browser.new_context(base_url=stack.web_url).new_page()
    ui_login(staff, admin, "/staff?tab=reports")
    report = staff.get_by_role("article").filter(has_text="Spam or scam").filter(has_text=photo_id)
    expect(report).to_be_visible()
    axe(staff, context="reports queue")
    shot(staff, "moderation")
    report.get_by_label("Remove the photo").check()
    report.get_by_label("Note").fill("spam")
    report.get_by_role("button", name="Resolve: Remove the photo").click()
    expect(staff.get_by_role("status").filter(has_text="content removed")).to_be_visible()
    expect(report).to_have_count(0)
    call(stack, "GET", f"/photos/{photo_id}", token=owner.token, expect_status=404)

    # Staff suspend the owner from the users list; the owner's open tab lands on the login screen.
    staff.get_by_role("link", name="Users", exact=True).click()
    staff.get_by_label("Name starts with").fill(owner.username)
    staff.get_by_role("button", name="Search").click()
    row = staff.get_by_role("listitem", name=owner.username)
    expect(row.get_by_text("active", exact=True)).to_be_visible()
    axe(staff, context="staff users")
    row.get_by_role("button", name=f"Suspend {owner.username}").click()
    confirm = staff.get_by_role("dialog", name=f"Suspend {owner.username}?")
    confirm.get_by_label("Reason").fill("spam photos")
    confirm.get_by_role("button", name="Yes, suspend").click()
    expect(row.get_by_text("suspended", exact=True)).to_be_visible()
    expect(owner_tab.get_by_role("heading", name="Log in")).to_be_visible()
    call(stack, "POST", "/auth/login", {"login": owner.email, "password": owner.password}, expect_status=403)

    # The admin's audit log has both actions.
    staff.get_by_role("link", name="Audit log").click()
    entries = staff.get_by_role("list", name="Audit entries")
    expect(entries.get_by_role("listitem").filter(has_text="User suspended").filter(has_text=owner.id)).to_be_visible()
    expect(entries.get_by_role("listitem").filter(has_text="Content removed").filter(has_text=photo_id)).to_be_visible()
    axe(staff, context="audit log")
    owner_tab.context.close()
    staff.context.close()
