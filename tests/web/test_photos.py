"""Photo journeys in the browser: a second person likes and comments and the owner sees it live (no reload), then
replies; a like that fails rolls back; bookmarks; a password-protected share link opened in a fresh context,
revoked, and the photo deleted."""

from __future__ import annotations

import re
import time

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from tests.web.kit import axe, call, make_user, shot, ui_login
from tests.web.kit import upload_ready_photo as kit_upload_ready_photo

pytestmark = pytest.mark.xdist_group("local_stack")


def upload_ready_photo(stack, token: str, caption: str = "Harbour at dawn") -> str:
    """A public photo, once it is ready."""
    photo_id = kit_upload_ready_photo(stack, token, caption, colour=(30, 140, 90), size=(1200, 900))
    call(stack, "PATCH", f"/photos/{photo_id}", {"visibility": "public"}, token=token, expect_status=200)
    return photo_id


def open_photo(page: Page, user, photo_id: str, *, phone: bool = False) -> None:
    ui_login(page, user)
    if phone:  # 360 px wide: the shell folds its menu
        page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"/photos/{photo_id}")
    expect(page.get_by_role("heading", name="Harbour at dawn")).to_be_visible()
    # The server confirmed the live subscription: frames from now on reach this page.
    expect(page.locator("article[data-live='true']")).to_be_visible()


def test_likes_and_comments_from_another_person_appear_live_and_the_owner_replies(page: Page, browser: Browser, stack):
    owner, fan = make_user(stack, "owner"), make_user(stack, "fan")
    photo_id = upload_ready_photo(stack, owner.token)

    open_photo(page, owner, photo_id)
    img = page.get_by_role("img", name="Harbour at dawn")
    expect(img).to_have_attribute("srcset", re.compile(r"256w.*1024w.*2048w"))
    expect(img).to_have_attribute("loading", "lazy")
    expect(page.locator("article").get_by_role("link", name=owner.username)).to_have_attribute(
        "href", f"/u/{owner.username}"
    )
    expect(page.get_by_test_id("like-count")).to_have_text("0 likes")
    expect(page.get_by_text("No comments yet")).to_be_visible()
    axe(page, context="photo")

    other = browser.new_context(base_url=stack.web_url)
    try:
        fan_page = other.new_page()
        open_photo(fan_page, fan, photo_id)
        fan_page.get_by_role("button", name="Like", exact=True).click()
        expect(fan_page.get_by_role("button", name="Liked", exact=True)).to_have_attribute("aria-pressed", "true")
        expect(fan_page.get_by_test_id("like-count")).to_have_text("1 like")
        expect(page.get_by_test_id("like-count")).to_have_text("1 like")  # live, no reload

        fan_page.get_by_label("Add a comment").fill("Lovely light on the water")
        fan_page.get_by_role("button", name="Post comment").click()
        comments = page.get_by_role("list", name="Comments")
        expect(comments.get_by_text("Lovely light on the water")).to_be_visible()  # live
        expect(page.get_by_test_id("comment-count")).to_have_text("1 comment")

        page.get_by_role("button", name="Reply", exact=True).click()
        page.get_by_label(f"Reply to {fan.username}").fill("Thank you, it was 6 am")
        page.get_by_role("button", name="Post reply").click()
        expect(page.get_by_role("list", name=f"Replies to {fan.username}").get_by_text("Thank you")).to_be_visible()
        expect(fan_page.get_by_text("Thank you, it was 6 am")).to_be_visible()  # live on the fan's page
        shot(page, "photo")

        # The owner tags the fan; the tag links to their profile.
        page.get_by_label("Tag someone by username").fill(fan.username)
        page.get_by_role("button", name="Tag", exact=True).click()
        people = page.get_by_role("region", name="People in this photo")
        expect(people.get_by_role("link", name=f"@{fan.username}")).to_have_attribute("href", f"/u/{fan.username}")

        # A like the API refuses rolls back, with the API's message.
        fail = {"error": {"code": "unavailable", "message": "Likes are resting for a moment."}}
        cors = {"Access-Control-Allow-Origin": stack.web_url, "Access-Control-Allow-Credentials": "true"}

        def refuse(route):
            if route.request.method == "OPTIONS":
                return route.continue_()
            return route.fulfill(status=503, json=fail, headers=cors)

        page.route(f"**/photos/{photo_id}/like", refuse)
        page.get_by_role("button", name="Like", exact=True).click()
        expect(page.get_by_role("alert")).to_contain_text("Likes are resting for a moment.")
        expect(page.get_by_role("button", name="Like", exact=True)).to_have_attribute("aria-pressed", "false")
        expect(page.get_by_test_id("like-count")).to_have_text("1 like")
        page.unroute(f"**/photos/{photo_id}/like")

        # Bookmarks stick across a reload.
        is_put = lambda r: r.url.endswith(f"/photos/{photo_id}/bookmark") and r.request.method == "PUT"  # noqa: E731
        with fan_page.expect_response(is_put) as saved:  # the optimistic state shows first; reload once saved
            fan_page.get_by_role("button", name="Bookmark", exact=True).click()
        assert saved.value.status == 204
        expect(fan_page.get_by_role("button", name="Bookmarked", exact=True)).to_have_attribute("aria-pressed", "true")
        fan_page.reload()
        expect(fan_page.get_by_role("button", name="Bookmarked", exact=True)).to_have_attribute("aria-pressed", "true")
        expect(fan_page.get_by_role("button", name="Liked", exact=True)).to_have_attribute("aria-pressed", "true")

        # The fan deletes their own comment.
        fan_page.get_by_role("button", name="Delete comment: Lovely light").click()
        expect(fan_page.get_by_text("Lovely light on the water")).to_have_count(0)
        expect(fan_page.get_by_text("No comments yet")).to_be_visible()
    finally:
        other.close()


def test_share_link_with_a_password_then_revoked_and_the_photo_deleted(page: Page, browser: Browser, stack):
    owner = make_user(stack, "sharer")
    photo_id = upload_ready_photo(stack, owner.token)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_photo(page, owner, photo_id)

    page.get_by_role("button", name="Edit", exact=True).click()
    page.get_by_label("Caption").fill("Harbour at dusk")
    page.get_by_label("Tags").fill("harbour, #boats")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", name="Harbour at dusk")).to_be_visible()
    expect(page.get_by_role("list", name="Tags")).to_have_text(re.compile(r"#harbour\s*#boats"))

    page.get_by_role("button", name="Share link").click()
    dialog = page.get_by_role("dialog", name="Share links")
    expect(dialog.get_by_text("No active links for this photo.")).to_be_visible()
    dialog.get_by_label("Expires after").select_option(label="1 day")
    dialog.get_by_label("Password (optional)").fill("harbour-secret")
    dialog.get_by_label("Download limit (optional)").fill("5")
    dialog.get_by_role("button", name="Create link").click()
    link_box = dialog.get_by_label("Link", exact=True)
    expect(link_box).to_have_value(re.compile(r"/s/.+"))
    link = link_box.input_value()
    dialog.get_by_role("button", name="Copy link").click()
    expect(dialog.get_by_text("Copied.")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == link
    expect(dialog.get_by_role("list", name="Active share links").get_by_role("listitem")).to_have_count(1)
    axe(page, context="share dialog")

    anon = browser.new_context(base_url=stack.web_url)
    try:
        visitor = anon.new_page()
        visitor.goto(link)
        expect(visitor.get_by_text("This photo is protected by a password.")).to_be_visible()
        axe(visitor, context="share page")
        visitor.get_by_label("Password").fill("not it")
        visitor.get_by_role("button", name="Open").click()
        expect(visitor.get_by_role("alert")).to_contain_text("The password is wrong")
        visitor.get_by_label("Password").fill("harbour-secret")
        visitor.get_by_role("button", name="Open").click()
        expect(visitor.get_by_role("img", name="Shared with you on Lightbox")).to_be_visible()
        expect(visitor.get_by_role("link", name="Download")).to_have_attribute("href", re.compile(r"^https?://"))
        assert visitor.evaluate("() => document.querySelector('figure img').naturalWidth") > 0

        dialog.get_by_role("button", name=re.compile("^Revoke")).click()
        expect(dialog.get_by_text("No active links for this photo.")).to_be_visible()
        visitor.reload()
        expect(visitor.get_by_text("This link has expired or was revoked")).to_be_visible()
    finally:
        anon.close()

    dialog.get_by_role("button", name="Close").click()
    page.get_by_role("button", name="Delete", exact=True).click()
    confirm = page.get_by_role("dialog", name="Delete this photo?")
    confirm.get_by_role("button", name="Delete photo").click()
    expect(page).to_have_url(re.compile(r"/$"))
    assert call(stack, "GET", f"/photos/{photo_id}", token=owner.token).status_code == 404


# Resolves with currentTime once a seek to 2 s is done; rejects on a media error or after 20 s.
SEEK_TO_2S = """v => new Promise((resolve, reject) => {
    const fail = () => reject(new Error("media error " + (v.error && v.error.code)));
    if (v.error) return fail();
    v.addEventListener("error", fail, {once: true});
    setTimeout(() => reject(new Error("no seek in 20 s, readyState " + v.readyState)), 20000);
    const go = () => {
        v.addEventListener("seeked", () => resolve(v.currentTime), {once: true});
        v.currentTime = 2;
    };
    if (v.readyState >= 1) go(); else v.addEventListener("loadedmetadata", go, {once: true});
})"""


def test_a_video_plays_from_its_stream_with_a_poster_and_seeks(page: Page, stack, tmp_path):
    from tests.video import media

    owner = make_user(stack, "vid")
    data = media.make(tmp_path / "clip.mp4", *media.testsrc(3), *media.sine(3), *media.X264, "-c:a", "aac")
    body = {"filename": "clip.mp4", "content_type": "video/mp4", "size": len(data), "caption": "Harbour at dawn"}
    slot = call(stack, "POST", "/photos/uploads", body, token=owner.token, expect_status=201).json()["uploads"][0]
    files = {"file": ("clip.mp4", data, "video/mp4")}
    requests.post(slot["upload"]["url"], data=slot["upload"]["fields"], files=files, timeout=30).raise_for_status()
    deadline = time.time() + 90
    while call(stack, "GET", f"/photos/{slot['photo_id']}", token=owner.token).json()["status"] != "ready":
        assert time.time() < deadline, "video never became ready"
        time.sleep(0.5)

    open_photo(page, owner, slot["photo_id"], phone=True)
    video = page.get_by_label("Harbour at dawn", exact=True).and_(page.locator("video"))
    expect(video).to_have_attribute("src", re.compile(r"^https?://"))
    expect(video).to_have_attribute("poster", re.compile(r"^https?://"))
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360  # nothing wider than a phone
    # The stream answers Range requests: the browser can seek to the middle without the whole file.
    seeked = video.evaluate(SEEK_TO_2S)
    assert seeked == pytest.approx(2, abs=0.5)
    axe(page, context="video")
