"""Event journeys in the browser: create an event, bulk-upload photos straight to S3 with per-file progress and
watch each become ready (the real S3 -> SQS -> processor path), a refused type is never sent, a failed S3 POST is
retried, the owner adds a member by username."""

from __future__ import annotations

import io
import re

import pytest
import requests
from PIL import Image
from playwright.sync_api import Page, expect

from tests.web.kit import axe, call, make_user, shot, ui_login, unique

pytestmark = pytest.mark.xdist_group("local_stack")


def jpeg(path, colour) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(buf, "JPEG", quality=80)
    path.write_bytes(buf.getvalue())
    return str(path)


def upload_as(stack, user, event_id: str, path) -> None:
    """What another member's app does: reserve one photo, then POST it to S3 by its presigned form."""
    jpeg(path, "maroon")
    data = path.read_bytes()
    body = {"files": [{"filename": path.name, "content_type": "image/jpeg", "size": len(data)}]}
    slot = call(stack, "POST", f"/events/{event_id}/photos/bulk-upload", body, user.token, 201).json()["uploads"][0]
    r = requests.post(slot["upload"]["url"], data=slot["upload"]["fields"], files={"file": data}, timeout=30)
    assert r.status_code in (200, 204), r.text


def bulk_requests(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: r.method == "POST" and "/photos/bulk-upload" in r.url and seen.append(r.method))
    return seen


def test_create_an_event_upload_three_photos_watch_them_become_ready_and_add_a_member(page: Page, stack, tmp_path):
    owner = make_user(stack, "evowner")
    friend = make_user(stack, "evfriend")
    ui_login(page, owner)
    page.get_by_role("link", name="Events").click()
    expect(page.get_by_role("heading", name="Events")).to_be_visible()
    page.get_by_role("link", name="New event").click()

    name = f"Harbour day {unique('')}"
    page.get_by_label("Event name").fill(name)
    page.get_by_label("Description").fill("Boats, nets and the lighthouse.")
    page.get_by_label("Public: anyone, listed").check()
    page.get_by_label("Starts").fill("2026-06-01T10:00")
    page.get_by_label("Place name").fill("Old harbour")
    page.get_by_label("Latitude").fill("52.37")
    page.get_by_label("Longitude").fill("4.89")
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_text("Old harbour")).to_be_visible()
    expect(page.get_by_text("No photos yet.")).to_be_visible()

    page.get_by_role("link", name="Upload photos").click()
    expect(page.get_by_role("heading", name=f"Upload photos to {name}")).to_be_visible()
    axe(page, context="upload")
    files = [jpeg(tmp_path / f"{n}.jpg", c) for n, c in (("boats", "navy"), ("nets", "olive"), ("light", "orange"))]
    page.get_by_label("Choose photos").set_input_files(files)
    uploads = page.get_by_role("list", name="Uploads")
    for n in ("boats", "nets", "light"):
        expect(uploads.get_by_role("progressbar", name=f"Upload of {n}.jpg")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="ready")).to_contain_text("of 3 ready")
    for n in ("boats", "nets", "light"):
        thumb = uploads.get_by_role("img", name=f"{n}.jpg")
        expect(thumb).to_be_visible(timeout=30_000)
        expect(thumb).to_have_attribute("src", re.compile(r"^http"))
    expect(page.get_by_role("status").filter(has_text="ready")).to_have_text("3 of 3 ready")
    shot(page, "upload")

    page.get_by_role("link", name="See them in the event").click()
    grid = page.locator(".photo-grid li[data-status=ready] img")
    expect(grid).to_have_count(3)
    # Thumbnails only in the grid (never large).
    for src in grid.evaluate_all("els => els.map(e => e.currentSrc || e.src)"):
        assert "/thumb" in src, src

    # Members: an unknown username shows the API's message; a real one is listed with its role.
    expect(page.get_by_text("No members yet.")).to_be_visible()
    page.get_by_label("Username").fill(unique("nobody"))
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("alert")).to_contain_text("No such user")
    page.get_by_label("Username").fill(friend.username)
    page.get_by_label("Role", exact=True).select_option("contributor")
    page.get_by_role("button", name="Add member").click()
    members = page.get_by_role("list", name="Members")
    expect(members.get_by_role("listitem").filter(has_text=friend.username)).to_be_visible()
    expect(page.get_by_label(f"Role of {friend.username}")).to_have_value("contributor")
    expect(page.get_by_role("alert")).to_have_count(0)
    axe(page, context="event")
    shot(page, "event")

    # A contributor's photo shows up live on the open event page (the event_photo_added frame).
    expect(page.get_by_title("Live")).to_be_attached()  # the realtime connection is up
    upload_as(stack, friend, page.url.rsplit("/", 1)[1], tmp_path / "late.jpg")
    expect(page.locator(".photo-grid li[data-status=ready] img")).to_have_count(4, timeout=30_000)

    # Usable on a 360 px phone: nothing wider than the screen.
    page.set_viewport_size({"width": 360, "height": 740})
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    page.set_viewport_size({"width": 1280, "height": 860})
    listed = call(stack, "GET", "/events?scope=joined", token=friend.token, expect_status=200).json()["items"]
    assert [e["my_role"] for e in listed if e["name"] == name] == ["contributor"]

    page.get_by_role("link", name="Events").click()
    expect(page.get_by_role("link", name=name)).to_be_visible()
    page.get_by_role("button", name="Public").click()
    expect(page.get_by_role("button", name="Public")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("link", name=name)).to_be_visible()


def test_a_refused_type_is_not_sent_and_a_failed_upload_can_be_retried(page: Page, stack, tmp_path):
    owner = make_user(stack, "evup")
    event = call(stack, "POST", "/events", {"name": "Retry me", "visibility": "private"}, owner.token, 201).json()
    ui_login(page, owner)
    page.goto(f"/events/{event['id']}/upload")  # a reload: the session comes back from the refresh cookie
    expect(page.get_by_role("heading", name="Upload photos to Retry me")).to_be_visible()
    bulk = bulk_requests(page)

    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    page.get_by_label("Choose photos").set_input_files(str(text))
    row = page.get_by_role("listitem").filter(has_text="notes.txt")
    expect(row).to_contain_text("Not sent")
    expect(row).to_contain_text("cannot be uploaded")
    # Dropped files go through the same checks: events take photos, not videos.
    drop = page.evaluate_handle(
        "() => { const dt = new DataTransfer();"
        " dt.items.add(new File(['x'], 'clip.mp4', {type: 'video/mp4'})); return dt; }"
    )
    page.get_by_role("region", name="Drop photos here").dispatch_event("drop", {"dataTransfer": drop})
    expect(page.get_by_role("listitem").filter(has_text="clip.mp4")).to_contain_text("photos only")

    # More than 100 at once is refused as a whole.
    many = []
    for i in range(101):
        (tmp_path / f"m{i}.jpg").write_bytes(b"x")
        many.append(str(tmp_path / f"m{i}.jpg"))
    page.get_by_label("Choose photos").set_input_files(many)
    expect(page.get_by_role("alert")).to_contain_text("at most 100 can be uploaded at once")
    expect(page.get_by_role("listitem").filter(has_text="m0.jpg")).to_have_count(0)
    assert bulk == []

    failed: list[str] = []

    def fail_once(route):
        if route.request.method == "POST" and not failed:
            failed.append(route.request.url)
            route.fulfill(
                status=503,
                headers={"Access-Control-Allow-Origin": "*"},
                body="<Error><Message>Slow down</Message></Error>",
            )
        else:
            route.continue_()

    page.route(f"{stack.moto_url}/**", fail_once)
    page.get_by_label("Choose photos").set_input_files(jpeg(tmp_path / "pier.jpg", "teal"))
    row = page.get_by_role("listitem").filter(has_text="pier.jpg")
    expect(row).to_contain_text("Upload failed")
    expect(row).to_contain_text("Slow down")
    assert failed and bulk == ["POST"]
    row.get_by_role("button", name="Retry pier.jpg").click()
    expect(row.get_by_role("img", name="pier.jpg")).to_be_visible(timeout=30_000)
    expect(row).to_contain_text("Ready")
    assert bulk == ["POST"]  # the same presigned POST was reused

    # The owner renames the event, then deletes it after confirming; their list is empty again.
    page.get_by_role("link", name="← Back to the event").click()
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Event name")).to_have_value("Retry me")
    page.get_by_label("Event name").fill("Retried")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", name="Retried")).to_be_visible()
    page.get_by_role("link", name="Edit").click()
    page.get_by_role("button", name="Delete event…").click()
    dialog = page.get_by_role("dialog", name="Delete this event?")
    dialog.get_by_role("button", name="Delete for good").click()
    expect(page.get_by_role("heading", name="Events")).to_be_visible()
    expect(page.get_by_text("You have not created an event yet.")).to_be_visible()
    call(stack, "GET", f"/events/{event['id']}", token=owner.token, expect_status=404)
