"""The client shop and the photographer's studio in the browser, on the real local stack (localstripe's fake
Stripe.js, the print-lab emulator, the jobs worker):

a photographer (set up through the API) shares two photos with a client under a price sheet with a download and
a lab print; the client sees the watermarked gallery, puts both items in the cart (and one briefly aside for
later), is declined with one test card, pays with a 3-D Secure card through Stripe.js's challenge, downloads the
clean file, and watches the print's tracking arrive live; the photographer's dashboard chart shows the sale and a
refund goes through from the sales screen."""

from __future__ import annotations

import io
import re
import time

import pytest
import requests
from PIL import Image
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.web.kit import User, axe, call, fill_card, make_user, shot, ui_login

pytestmark = pytest.mark.xdist_group("local_stack")

DECLINED = "4000000000000002"  # declined when the card is saved (SetupIntent)
THREE_DS = "4000002500003155"  # asks for 3-D Secure on saving and on paying


def upload(stack, owner: User, extent: tuple[float, float, float, float], caption: str) -> str:
    buffer = io.BytesIO()
    fractal = Image.effect_mandelbrot((1200, 900), extent, 60)  # something to look at in the screenshots
    Image.merge("RGB", (fractal, fractal.point(lambda v: v * 3 // 4), fractal.point(lambda v: 255 - v // 2))).save(
        buffer, "JPEG", quality=90
    )
    data = buffer.getvalue()
    body = {"filename": f"{caption}.jpg", "content_type": "image/jpeg", "size": len(data), "caption": caption}
    slot = call(stack, "POST", "/photos/uploads", body, token=owner.token, expect_status=201).json()["uploads"][0]
    up = slot["upload"]
    files = {"file": (f"{caption}.jpg", data, "image/jpeg")}
    requests.post(up["url"], data=up["fields"], files=files, timeout=30).raise_for_status()
    return slot["photo_id"]


def wait_for(fetch, check, what: str, timeout: float = 45.0):
    deadline = time.time() + timeout
    while True:
        last = fetch()
        if check(last):
            return last
        assert time.time() < deadline, f"{what} never held; last: {last}"
        time.sleep(0.3)


def set_up_shop(stack) -> tuple[User, User, str]:
    phil = make_user(stack, "phot", role="photographer")
    cora = make_user(stack, "cli")
    photos = [
        upload(stack, phil, (-2.2, -1.2, 0.8, 1.2), "Harbour"),
        upload(stack, phil, (-0.8, -0.3, -0.4, 0.0), "Lighthouse"),
    ]
    for pid in photos:
        wait_for(
            lambda pid=pid: call(stack, "GET", f"/photos/{pid}", token=phil.token).json()["status"],
            lambda s: s == "ready",
            "photo ready",
        )
        call(stack, "PATCH", f"/photos/{pid}", {"visibility": "private"}, token=phil.token, expect_status=200)
    client = call(stack, "POST", "/clients", {"email": cora.email, "name": "Cora"}, token=phil.token, expect_status=201)
    body = {"photo_ids": photos}
    call(stack, "PUT", f"/clients/{client.json()['id']}/photos", body, token=phil.token, expect_status=200)
    sheet = {
        "name": "Portraits",
        "currency": "eur",
        "default": True,
        "items": [
            {
                "sku": "digital-full",
                "kind": "digital",
                "label": "Full resolution",
                "price_cents": 1500,
                "digital": {"variant": "original", "license": "personal"},
            },
            {
                "sku": "print-8x10",
                "kind": "print",
                "label": "8x10 lustre print",
                "price_cents": 2500,
                "print": {"width_in": 8, "height_in": 10, "paper": "lustre", "frame": "none", "fulfilment": "lab"},
            },
        ],
    }
    call(stack, "POST", "/price-sheets", sheet, token=phil.token, expect_status=201)
    return phil, cora, photos[0]


def type_card(page: Page, number: str) -> None:
    fill_card(page, number)


def no_overflow(page: Page, what: str) -> None:
    """Nothing wider than a 360 px phone."""
    page.set_viewport_size({"width": 360, "height": 760})
    try:  # charts re-layout on a ResizeObserver callback: wait for the page to settle
        page.wait_for_function("() => document.documentElement.scrollWidth <= 360", timeout=5_000)
    except PlaywrightTimeout:
        width = page.evaluate("() => document.documentElement.scrollWidth")
        raise AssertionError(f"{what} is {width}px wide on a 360px screen") from None
    finally:
        page.set_viewport_size({"width": 1280, "height": 860})


def test_a_client_buys_a_download_and_a_print_with_3ds_and_the_studio_shows_the_sale(
    page: Page, browser: Browser, stack
):
    phil, cora, harbour = set_up_shop(stack)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))

    # The watermarked gallery.
    ui_login(page, cora)
    page.get_by_role("link", name="Gallery", exact=True).click()
    expect(page.get_by_role("heading", name="My gallery")).to_be_visible()
    cell = page.get_by_role("button", name="Harbour: prices")
    expect(cell).to_be_visible()
    expect(page.get_by_role("button", name="Lighthouse: prices")).to_be_visible()
    axe(page, context="gallery")
    gallery = call(stack, "GET", "/gallery", token=cora.token, expect_status=200).json()["items"]
    marked_url = next(p for p in gallery if p["id"] == harbour)["urls"]["watermarked"]
    watermarked = requests.get(marked_url, timeout=30).content

    cell.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator("img.preview")).to_have_attribute("data-variant", "watermarked")
    expect(dialog.get_by_text("€15.00")).to_be_visible()
    axe(page, context="gallery prices")
    shot(page, "gallery")
    dialog.get_by_role("button", name="Add Full resolution to cart").click()
    expect(dialog.get_by_role("status")).to_contain_text("Added Full resolution to your cart")
    dialog.get_by_role("button", name="Add 8x10 lustre print to cart").click()
    expect(dialog.get_by_role("status")).to_contain_text("Added 8x10 lustre print to your cart")
    dialog.get_by_role("button", name="Close").click()

    # The cart, with one line set aside and brought back.
    page.get_by_role("link", name="Cart", exact=True).click()
    expect(page.get_by_test_id("subtotal")).to_have_text("€40.00")
    axe(page, context="cart")
    cart = page.get_by_role("list", name="In your cart")
    cart.get_by_role("listitem").filter(has_text="8x10").get_by_role("button", name="Save for later").click()
    expect(page.get_by_test_id("subtotal")).to_have_text("€15.00")
    page.get_by_role("list", name="Saved for later").get_by_role("button", name="Move to cart").click()
    expect(page.get_by_test_id("subtotal")).to_have_text("€40.00")
    page.get_by_role("link", name="Check out").click()

    # Checkout: a shipping address for the print, a declined card, then a 3-D Secure card.
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    expect(page.get_by_test_id("total")).to_have_text("€40.00")
    page.get_by_label("Full name").fill("Cora Client")
    page.get_by_label("Address", exact=True).fill("1 Quay St")
    page.get_by_label("City").fill("Dublin")
    page.get_by_label("Postal code", exact=True).fill("D01 X2Y3")
    page.get_by_label("Country code (2 letters)").fill("IE")
    expect(page.get_by_label("Card number")).to_be_visible()
    axe(page, context="checkout")
    type_card(page, DECLINED)
    shot(page, "checkout")
    page.get_by_role("button", name="Pay €40.00").click()
    expect(page.get_by_role("alert")).to_contain_text("Your card was declined.")
    assert call(stack, "GET", "/orders", token=cora.token).json()["items"] == []  # nothing ordered yet

    type_card(page, THREE_DS)
    page.get_by_role("button", name="Pay €40.00").click()
    page.get_by_role("button", name="Complete authentication").click()  # saving the card
    page.get_by_role("button", name="Complete authentication").click()  # paying
    expect(page.get_by_test_id("order-status")).to_have_text("Paid", timeout=30_000)
    expect(page.get_by_text("Thank you! Your payment went through.")).to_be_visible()
    order_id = page.url.split("/orders/")[1].split("?")[0]

    # The clean file: the bought original, not the watermarked preview.
    link = page.get_by_role("link", name="Download Full resolution")
    expect(link).to_be_visible()
    clean = requests.get(link.get_attribute("href"), timeout=30)
    assert clean.status_code == 200 and clean.content[:2] == b"\xff\xd8"
    after = call(stack, "GET", "/gallery", token=cora.token, expect_status=200).json()["items"]
    original = requests.get(next(p for p in after if p["id"] == harbour)["urls"]["original"], timeout=30).content
    assert clean.content == original and clean.content != watermarked
    with page.expect_download() as invoice:
        page.get_by_role("button", name="Download invoice (PDF)").click()
    assert invoice.value.suggested_filename == f"invoice-{order_id}.pdf"
    page.get_by_role("button", name="Prepare a zip of all downloads").click()
    expect(page.get_by_role("link", name="Download all (zip)")).to_be_visible(timeout=30_000)
    axe(page, context="order")

    # Print tracking, live: the lab takes the print and ships it.
    at_the_lab = re.compile("Sent to the lab|Accepted|In production|Shipped|Delivered")
    expect(page.get_by_test_id("print-status")).to_have_text(at_the_lab)
    lab = wait_for(
        lambda: requests.get(f"{stack.print_lab_url}/_lab/orders?merchant_reference={order_id}", timeout=10).json(),
        lambda found: len(found["items"]) == 1,
        "the lab order",
    )["items"][0]
    for _ in range(2):  # accepted -> in_production -> shipped (the emulator's own timer may be a step ahead)
        requests.post(f"{stack.print_lab_url}/_lab/orders/{lab['id']}/advance", timeout=10)
    expect(page.get_by_test_id("print-status")).to_have_text(re.compile("Shipped|Delivered"))
    expect(page.get_by_test_id("tracking")).to_contain_text("Tracking:")

    no_overflow(page, "the order page")
    page.get_by_role("link", name="Orders", exact=True).click()
    expect(page.get_by_role("link", name=order_id)).to_be_visible()
    axe(page, context="orders")

    # The photographer's dashboard (its figures are aggregated by a job: wait for it before looking).
    wait_for(
        lambda: call(stack, "GET", "/sales/summary?granularity=day", token=phil.token).json()["totals"]["gross_cents"],
        lambda gross: gross == 4000,
        "the sales summary",
    )
    studio = browser.new_context(base_url=stack.web_url, viewport={"width": 1280, "height": 860})
    try:
        desk = studio.new_page()
        desk.on("console", lambda m: console.append(m.text))
        ui_login(desk, phil)
        desk.get_by_role("link", name="Studio", exact=True).click()
        expect(desk.get_by_test_id("gross")).to_have_text("€40.00")
        expect(desk.get_by_test_id("orders")).to_have_text("1")
        expect(desk.get_by_text("Drawing the chart…")).to_have_count(0)
        canvas = desk.get_by_test_id("revenue-chart")
        painted = canvas.evaluate(
            """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                      for (let i = 3; i < d.length; i += 4) if (d[i]) return c.width > 0; return false; }"""
        )
        assert painted, "the revenue chart drew nothing"
        expect(desk.get_by_role("img", name=re.compile("Revenue per day .*€40.00 from 1 orders"))).to_be_visible()
        expect(desk.get_by_role("heading", name="Top clients")).to_be_visible()
        expect(desk.get_by_text("Cora", exact=True)).to_be_visible()
        axe(desk, context="studio")
        shot(desk, "dashboard")
        no_overflow(desk, "the dashboard")

        # A refund of the download from the sales screen.
        desk.get_by_role("link", name="Sales").click()
        sale = desk.locator(f'[data-order-id="{order_id}"]')
        sale.get_by_role("button", name="Refund…").click()
        refund = desk.get_by_role("dialog")
        refund.get_by_label(re.compile("Full resolution")).check()
        refund.get_by_role("button", name="Refund", exact=True).click()
        expect(desk.get_by_text("Refunded €15.00 on order")).to_be_visible()
        expect(sale.get_by_text("Partially refunded")).to_be_visible()
        axe(desk, context="sales")
    finally:
        studio.close()
    # Stripe.js, its 3-D Secure dialog and Chart.js all worked under the production CSP.
    assert not [m for m in console if "Content Security Policy" in m], console


def test_a_photographer_makes_a_price_sheet_and_shares_a_photo_with_a_client(page: Page, stack):
    phil = make_user(stack, "phot", role="photographer")
    cora = make_user(stack, "cli")
    photo = upload(stack, phil, (-1.5, -0.5, -1.0, 0.0), "Pier")
    wait_for(
        lambda: call(stack, "GET", f"/photos/{photo}", token=phil.token).json()["status"],
        lambda s: s == "ready",
        "photo ready",
    )

    ui_login(page, phil)
    page.get_by_role("link", name="Studio", exact=True).click()
    page.get_by_role("navigation", name="Studio").get_by_role("link", name="Price sheets").click()
    expect(page.get_by_text("No price sheets yet.")).to_be_visible()
    page.get_by_role("button", name="New price sheet").click()
    sheet = page.get_by_role("dialog")
    sheet.get_by_label("Name").fill("Weddings")
    first, second = sheet.get_by_role("group", name="Item 1"), sheet.get_by_role("group", name="Item 2")
    first.get_by_label("Label").fill("Digital file")
    first.get_by_label("SKU").fill("dl")
    first.get_by_label("Price").fill("12.50")
    second.get_by_label("Label").fill("A4 print")
    second.get_by_label("SKU").fill("a4")
    second.get_by_label("Price").fill("20")
    second.get_by_label("Fulfilment").select_option("self")
    axe(page, context="price sheet form")
    sheet.get_by_role("button", name="Save price sheet").click()
    expect(page.get_by_text("Digital file (digital, dl)")).to_be_visible()
    expect(page.get_by_text("€12.50")).to_be_visible()
    axe(page, context="price sheets")

    page.get_by_role("navigation", name="Studio").get_by_role("link", name="Clients").click()
    page.get_by_label("Client's email").fill(cora.email)
    page.get_by_label("Name (optional)").fill("Cora")
    page.get_by_role("button", name="Add client").click()
    expect(page.get_by_text(f"{cora.email} added: they can see their gallery now.")).to_be_visible()
    row = page.locator("[data-client-id]").filter(has_text=cora.email)
    row.get_by_label("Price sheet").select_option(label="Weddings (EUR)")
    expect(row.get_by_role("status")).to_have_text("Price sheet saved.")
    row.get_by_role("button", name="Assign photos").click()
    pick = page.get_by_role("dialog")
    pick.get_by_label("Pier").check()
    pick.get_by_role("button", name="Assign 1 photo").click()
    expect(row.get_by_role("status")).to_have_text("1 photo assigned.")
    axe(page, context="clients")

    gallery = call(stack, "GET", "/gallery", token=cora.token, expect_status=200).json()["items"]
    assert [p["id"] for p in gallery] == [photo]
    prices = call(stack, "GET", f"/photos/{photo}/prices", token=cora.token, expect_status=200).json()
    assert {(i["sku"], i["price_cents"]) for i in prices["items"]} == {("dl", 1250), ("a4", 2000)}
