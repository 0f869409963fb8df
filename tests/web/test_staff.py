"""Staff console journeys in the browser: a creator requests verification from the dashboard (the document sent
straight to the private bucket by its presigned POST), staff approve it from the queue with the document shown,
and the creator's dashboard turns verified live; the ledger check; (admin) a role change."""

from __future__ import annotations

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.web.kit import axe, call, make_admin, make_user, shot, ui_login

pytestmark = pytest.mark.xdist_group("local_stack")


def test_a_verification_requested_in_the_dashboard_is_approved_in_the_console(
    page: Page, browser: Browser, stack, tmp_path
):
    creator = make_user(stack, "vera", role="creator")
    member = make_user(stack, "maya")
    admin = make_admin(stack)
    document = tmp_path / "id-card.png"
    Image.new("RGB", (400, 260), (30, 90, 160)).save(document, "PNG")
    legal = f"Vera {creator.username}"

    # The creator asks to be verified from the dashboard.
    ui_login(page, creator)
    page.get_by_role("link", name="Creator", exact=True).click()
    expect(page.get_by_test_id("verification-status")).to_contain_text("Not requested")
    axe(page, context="creator dashboard, unverified")
    page.get_by_label("Legal name").fill(legal)
    page.get_by_label("Country (2-letter code)").fill("fr")
    page.get_by_label("Identity document").set_input_files(document)
    page.get_by_role("button", name="Request verification").click()
    expect(page.get_by_test_id("verification-status")).to_contain_text("Pending review")

    # Staff see it in the queue with the document, and approve it.
    staff = browser.new_context(base_url=stack.web_url).new_page()
    ui_login(staff, admin)
    staff.get_by_role("link", name="Staff").click()
    expect(staff.get_by_role("heading", name="Pending verifications")).to_be_visible()
    request = staff.get_by_role("article", name=f"Verification of {legal}")
    image = request.get_by_role("img", name=f"Identity document of {legal}")
    expect(image).to_be_visible()
    # The 5-minute document URL loads under the CSP (img-src allows the media origin): the uploaded file.
    staff.wait_for_function("img => img.complete && img.naturalWidth === 400", arg=image.element_handle())
    axe(staff, context="staff console")
    shot(staff, "staff")
    request.get_by_role("button", name="Approve").click()
    expect(staff.get_by_role("status").filter(has_text=f"{legal}: approved.")).to_be_visible()
    expect(request).to_have_count(0)

    # The creator's open dashboard turns verified live (the verification notification) and offers the plan.
    expect(page.get_by_test_id("verification-status")).to_contain_text("Verified")
    expect(page.get_by_role("heading", name="Monthly plan")).to_be_visible()

    staff.get_by_role("link", name="Ledger").click()
    staff.get_by_role("button", name="Run the check").click()
    expect(staff.get_by_role("status").filter(has_text="Balanced")).to_be_visible()

    staff.get_by_role("link", name="Roles").click()
    staff.get_by_label("Find the user").fill(member.username)
    staff.get_by_role("button", name="Search").click()
    staff.get_by_role("button", name=f"Select {member.username}").click()
    staff.get_by_label(f"Role of {member.username}").select_option("photographer")
    staff.get_by_role("button", name="Save role").click()
    expect(staff.get_by_role("status").filter(has_text=f"{member.username} is now photographer.")).to_be_visible()
    axe(staff, context="staff roles")
    found = call(stack, "GET", f"/auth/search?q={member.username}", token=admin.token, expect_status=200).json()
    assert [u["role"] for u in found["items"] if u["id"] == member.id] == ["photographer"]
    staff.context.close()
