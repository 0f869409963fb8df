"""Account journeys in the browser: sign up with the emailed code, the session surviving a reload (HttpOnly
refresh cookie, access token in memory only), log out."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.web.kit import PASSWORD, axe, latest_code, shot, unique

pytestmark = pytest.mark.xdist_group("local_stack")


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
