"""Account journeys in the browser: sign up with the emailed code, the session surviving a reload (HttpOnly
refresh cookie, access token in memory only), log out."""

from __future__ import annotations

import io

import pytest
from playwright.sync_api import Page, expect

from tests.web.kit import PASSWORD, axe, call, latest_code, mail_count, make_user, shot, ui_login, unique

pytestmark = pytest.mark.xdist_group("local_stack")


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 320), (200, 80, 60)).save(buffer, "PNG")
    return buffer.getvalue()


def test_sign_up_with_the_emailed_code_and_stay_logged_in_across_a_reload(page: Page, stack):
    username = unique("web")
    email = f"{username}@example.com"
    page.goto("/signup")
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    axe(page, context="signup")
    shot(page, "auth")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    expect(page.get_by_role("button", name="Resend in")).to_be_disabled()
    page.get_by_label("Code").fill(latest_code(stack, email))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("link", name=username)).to_be_visible()

    # Nothing secret in storage; the refresh token is an HttpOnly cookie the page cannot read.
    storage = page.evaluate("() => JSON.stringify({...localStorage}) + JSON.stringify({...sessionStorage})")
    assert "ey" not in storage and "token" not in storage.lower()
    assert page.evaluate("() => document.cookie") == ""
    cookies = page.context.cookies()
    assert any(c["httpOnly"] and c["path"].endswith("/auth") for c in cookies), cookies

    page.reload()
    expect(page.get_by_role("link", name=username)).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_a_wrong_password_shows_the_api_message(page: Page, stack):
    page.goto("/login")
    page.get_by_label("Email or username").fill(unique("nobody"))
    page.get_by_label("Password").fill("wrong password here")
    page.get_by_role("button", name="Log in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    assert "[object" not in alert.inner_text() and "Traceback" not in alert.inner_text()


def test_forgot_password_reset_with_the_emailed_code_then_log_in_with_the_new_one(page: Page, stack):
    user = make_user(stack, "forgot")
    page.goto("/login")
    page.get_by_role("link", name="Forgot password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    before = mail_count(stack)
    page.get_by_label("Email").fill(user.email)
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("Code").fill(latest_code(stack, user.email, after=before))
    page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    page.get_by_label("Repeat new password").fill("a brand new passphrase")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_text("Your password was changed. Log in with the new one.")).to_be_visible()

    page.get_by_label("Email or username").fill(user.username)
    page.get_by_label("Password").fill(user.password)  # the old one no longer works
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("Password").fill("a brand new passphrase")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name=user.username)).to_be_visible()


def test_settings_change_username_then_the_cooldown_and_edit_the_profile(page: Page, stack):
    user = make_user(stack, "renamer")
    ui_login(page, user)
    page.get_by_role("link", name=user.username).click()
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    expect(page.get_by_label("Display name")).to_be_visible()
    axe(page, context="settings")

    # A new profile picture, uploaded straight to storage by its presigned POST, then processed.
    page.get_by_label("Upload a new picture").set_input_files(
        {"name": "me.png", "mimeType": "image/png", "buffer": _png()}
    )
    expect(page.get_by_text("Profile picture updated.")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("img", name="Your current avatar")).to_be_visible()
    shot(page, "settings")

    page.get_by_label("Display name").fill("Rena Mer")
    page.get_by_label("Bio").fill("Street and portraits")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Profile saved.")).to_be_visible()

    section = page.get_by_role("region", name="Username")
    renamed = unique("renamed")
    section.get_by_label("New username").fill(renamed)
    section.get_by_label("Password").fill(user.password)
    section.get_by_role("button", name="Change username").click()
    expect(section.get_by_text(f"Your username is now {renamed}.")).to_be_visible()
    expect(page.get_by_role("link", name=renamed)).to_be_visible()  # the shell's link follows

    section.get_by_label("New username").fill(unique("again"))
    section.get_by_label("Password").fill(user.password)
    section.get_by_role("button", name="Change username").click()
    expect(section.get_by_role("alert")).to_contain_text("You can change your username again in 30 days")

    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360

    page.goto(f"/u/{renamed}")
    expect(page.get_by_role("heading", name="Rena Mer")).to_be_visible()
    expect(page.get_by_text("Street and portraits")).to_be_visible()


def test_a_revoked_session_lands_on_the_login_screen(page: Page, stack):
    user = make_user(stack, "revoked")
    ui_login(page, user)
    expect(page.get_by_role("heading", name="Hello")).to_be_visible()
    # The same person, logged in elsewhere, logs out of every session.
    other = call(stack, "POST", "/auth/login", {"login": user.email, "password": user.password}, expect_status=200)
    call(stack, "POST", "/auth/logout-all", token=other.json()["access_token"], expect_status=204)

    page.get_by_role("link", name="Bookmarks").click()  # the next call is refused, its refresh too
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_text("Your session ended. Please log in again.")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_change_email_log_out_everywhere_then_delete_the_account(page: Page, stack):
    user = make_user(stack, "leaver")
    ui_login(page, user, next_path="/settings")
    email = page.get_by_role("region", name="Email")
    new_email = f"{unique('moved')}@example.com"
    before = mail_count(stack)
    email.get_by_label("New email").fill(new_email)
    email.get_by_label("Password").fill(user.password)
    email.get_by_role("button", name="Change email").click()
    email.get_by_label("Code from the new address").fill(latest_code(stack, new_email, after=before))
    email.get_by_role("button", name="Confirm new email").click()
    expect(email.get_by_text(f"Your email is now {new_email}.")).to_be_visible()

    page.get_by_role("button", name="Log out of all sessions").click()
    expect(page.get_by_text("You were logged out everywhere.")).to_be_visible()
    page.get_by_label("Email or username").fill(new_email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name=user.username).click()

    page.get_by_role("region", name="Delete account").get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Delete my account").click()
    dialog = page.get_by_role("dialog", name="Delete your account?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Yes, delete my account").click()
    expect(page.get_by_text("Your account was deleted.")).to_be_visible()
    page.get_by_label("Email or username").fill(user.username)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
