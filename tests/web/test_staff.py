"""Staff console journeys in the browser: a pending creator verification approved from the queue with its
document shown, the ledger check, and (admin) a role change."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.web.kit import axe, call, make_admin, make_user, shot, ui_login
from tests.web.test_creators import post_file

pytestmark = pytest.mark.xdist_group("local_stack")


def test_staff_approve_a_pending_verification_check_the_ledger_and_change_a_role(page: Page, stack):
    admin = make_admin(stack)
    creator = make_user(stack, "vera", role="creator")
    buffer = io.BytesIO()
    Image.new("RGB", (400, 260), (30, 90, 160)).save(buffer, "PNG")
    document = buffer.getvalue()
    legal = f"Vera {creator.username}"
    body = {
        "legal_name": legal,
        "country": "FR",
        "document": {"filename": "id-card.png", "content_type": "image/png", "size": len(document)},
    }
    out = call(stack, "POST", "/creators/verification", body, token=creator.token, expect_status=201).json()
    post_file(out["upload"], "id-card.png", document, "image/png")
    member = make_user(stack, "maya")

    ui_login(page, admin)
    page.get_by_role("link", name="Staff").click()
    expect(page.get_by_role("heading", name="Pending verifications")).to_be_visible()
    request = page.get_by_role("article", name=f"Verification of {legal}")
    image = request.get_by_role("img", name=f"Identity document of {legal}")
    expect(image).to_be_visible()
    # The 5-minute document URL loads under the CSP (img-src allows the media origin).
    page.wait_for_function("img => img.complete && img.naturalWidth === 400", arg=image.element_handle())
    axe(page, context="staff console")
    shot(page, "staff")
    request.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status").filter(has_text=f"{legal}: approved.")).to_be_visible()
    expect(request).to_have_count(0)
    status = call(stack, "GET", "/creators/verification", token=creator.token, expect_status=200).json()
    assert status["status"] == "approved"

    page.get_by_role("link", name="Ledger").click()
    page.get_by_role("button", name="Run the check").click()
    expect(page.get_by_role("status").filter(has_text="Balanced")).to_be_visible()

    page.get_by_role("link", name="Roles").click()
    page.get_by_label("Find the user").fill(member.username)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name=f"Select {member.username}").click()
    page.get_by_label(f"Role of {member.username}").select_option("photographer")
    page.get_by_role("button", name="Save role").click()
    expect(page.get_by_role("status").filter(has_text=f"{member.username} is now photographer.")).to_be_visible()
    axe(page, context="staff roles")
    me = call(stack, "GET", "/auth/me", token=member.token)
    assert me.status_code != 200 or me.json()["role"] == "photographer"
