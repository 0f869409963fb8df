"""Professional delivery end to end on the real local stack (`make dev`'s devstack: moto, localstripe with its
webhook registered to /webhooks/stripe, the print-lab emulator, the API, the WebSocket gateway and the jobs
worker), driven over HTTP and WebSocket the way the apps do:

a photographer invites a client, assigns a photo and sets a price sheet; the client buys a digital download and
a lab print, pays through localstripe, gets the receipt email, downloads the clean file (not the watermarked
bytes), watches the print move to ``shipped`` over the socket; the photographer refunds the digital item and the
download stops; the sales summary shows it all and the ledger is balanced."""

from __future__ import annotations

import io
import subprocess
import sys
import time
import uuid

import pytest
import requests
from PIL import Image
from websockets.sync.client import connect

from tests.e2e.test_local_stack import PASSWORD, call, frames_until, latest_code

pytestmark = pytest.mark.xdist_group("local_stack")


def signup(stack, username: str, role: str = "member") -> dict:
    email = f"{username}@example.com"
    body = {"email": email, "username": username, "password": PASSWORD, "role": role}
    call(stack, "POST", "/auth/signup", body, expect=201)
    call(stack, "POST", "/auth/verify-email", {"email": email, "code": latest_code(stack, email)}, expect=200)
    tokens = call(stack, "POST", "/auth/login", {"login": email, "password": PASSWORD}, expect=200).json()
    return {"email": email, "token": tokens["access_token"], "user": tokens["user"]}


def admin_token(stack) -> str:
    """The first admin comes from the command-line tool, run against the stack's own environment."""
    env = dict(stack.env)
    subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "create-admin", "--email", "e2e_admin@example.com"]
        + ["--username", "e2e_admin", "--password", PASSWORD],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    body = {"login": "e2e_admin", "password": PASSWORD}
    return call(stack, "POST", "/auth/login", body, expect=200).json()["access_token"]


def money(stack, method, path, body, token, expect):
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    r = requests.request(method, stack.api_url + path, json=body, headers=headers, timeout=30)
    assert r.status_code == expect, (method, path, r.status_code, r.text)
    return r.json()


def upload_ready_photo(stack, token: str) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (1200, 900), (30, 140, 90)).save(buffer, "JPEG", quality=92)
    data = buffer.getvalue()
    body = {"filename": "portrait.jpg", "content_type": "image/jpeg", "size": len(data), "caption": "portrait"}
    slot = call(stack, "POST", "/photos/uploads", body, token=token, expect=201).json()["uploads"][0]
    up = slot["upload"]
    requests.post(
        up["url"], data=up["fields"], files={"file": ("portrait.jpg", data, "image/jpeg")}, timeout=30
    ).raise_for_status()
    deadline = time.time() + 60
    while call(stack, "GET", f"/photos/{slot['photo_id']}", token=token).json()["status"] != "ready":
        assert time.time() < deadline, "photo never became ready"
        time.sleep(0.3)
    call(stack, "PATCH", f"/photos/{slot['photo_id']}", {"visibility": "private"}, token=token, expect=200)
    return slot["photo_id"]


def eventually(fetch, check, timeout: float = 45.0, what: str = "condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fetch()
        if check(last):
            return last
        time.sleep(0.3)
    raise AssertionError(f"{what} never held; last seen: {last}")


def test_photographer_sells_a_download_and_a_print_then_refunds(stack):
    phil = signup(stack, "e2e_phil", role="photographer")
    cora = signup(stack, "e2e_cora")
    photo_id = upload_ready_photo(stack, phil["token"])

    client = call(stack, "POST", "/clients", {"email": cora["email"], "name": "Cora"}, token=phil["token"], expect=201)
    assert client.json()["status"] == "active"
    client_id = client.json()["id"]
    invitation = eventually(
        lambda: requests.get(stack.emails_url, timeout=10).json()["items"],
        lambda items: any(cora["email"] in m["to"] and "gallery" in m["subject"].lower() for m in items),
        what="the invitation email",
    )
    assert invitation
    body = {"photo_ids": [photo_id]}
    assigned = call(stack, "PUT", f"/clients/{client_id}/photos", body, token=phil["token"], expect=200).json()
    assert assigned["assigned"] == 1
    sheet = {
        "name": "Portraits",
        "currency": "eur",
        "default": True,
        "items": [
            {
                "sku": "digital-full",
                "kind": "digital",
                "label": "Full resolution, personal licence",
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
    call(stack, "POST", "/price-sheets", sheet, token=phil["token"], expect=201)

    gallery = call(stack, "GET", "/gallery", token=cora["token"], expect=200).json()["items"]
    assert [p["id"] for p in gallery] == [photo_id]
    assert set(gallery[0]["urls"]) == {"thumb", "watermarked"} and gallery[0]["purchased"] == []
    watermarked = requests.get(gallery[0]["urls"]["watermarked"], timeout=30).content
    prices = call(stack, "GET", f"/photos/{photo_id}/prices", token=cora["token"], expect=200).json()
    assert prices["currency"] == "eur" and {i["sku"] for i in prices["items"]} == {"digital-full", "print-8x10"}

    for sku in ("digital-full", "print-8x10"):
        body = {"photo_id": photo_id, "sku": sku, "quantity": 1}
        call(stack, "POST", "/cart/items", body, token=cora["token"], expect=201)
    cart = call(stack, "GET", "/cart", token=cora["token"], expect=200).json()
    assert cart["subtotal_cents"] == 4000 and cart["currency"] == "eur"
    address = {"name": "Cora", "line1": "1 Quay St", "city": "Dublin", "postal_code": "D01", "country": "IE"}
    created = money(stack, "POST", "/orders", {"shipping_address": address}, cora["token"], 201)
    order_id = created["order"]["id"]
    assert created["order"]["total_cents"] == 4000 and created["order"]["status"] == "awaiting_payment"
    assert created["payment"]["client_secret"] and created["payment"]["publishable_key"]

    with connect(f"{stack.ws_url}/?token={cora['token']}", open_timeout=10) as ws:
        body = {"payment_method_id": "pm_card_visa"}
        paid = call(stack, "POST", f"/orders/{order_id}/confirm", body, token=cora["token"], expect=200).json()
        assert paid["status"] == "paid", paid
        digital = next(i for i in paid["items"] if i["kind"] == "digital")
        clean = requests.get(digital["download_url"], timeout=30)
        assert clean.status_code == 200 and clean.content[:2] == b"\xff\xd8"
        assert clean.content != watermarked

        receipt = eventually(
            lambda: requests.get(stack.emails_url, timeout=10).json()["items"],
            lambda items: any(cora["email"] in m["to"] and order_id in m["text"] for m in items),
            what="the receipt email",
        )
        mail = next(m for m in receipt if cora["email"] in m["to"] and order_id in m["text"])
        assert "15.00" in mail["text"] and "40.00" in mail["text"] and "X-Amz-Signature" not in mail["text"]

        lab_item = eventually(
            lambda: call(stack, "GET", f"/orders/{order_id}", token=cora["token"], expect=200).json(),
            lambda o: next(i for i in o["items"] if i["kind"] == "print")["status"] == "submitted",
            what="the print submitted to the lab",
        )
        assert lab_item
        found = requests.get(f"{stack.print_lab_url}/_lab/orders?merchant_reference={order_id}", timeout=10).json()
        (lab_order,) = found["items"]
        lab_id = lab_order["id"]
        for _ in range(2):  # accepted -> in_production -> shipped (the emulator's timer may be a step ahead)
            requests.post(f"{stack.print_lab_url}/_lab/orders/{lab_id}/advance", timeout=10)
        seen = frames_until(
            ws,
            lambda f: (
                f.get("type") == "order.updated"
                and any(i["kind"] == "print" and i["status"] == "shipped" for i in f["order"]["items"])
            ),
            timeout=30,
        )
        shipped = next(i for i in seen[-1]["order"]["items"] if i["kind"] == "print")
        assert shipped["tracking"]["number"]

    eventually(
        lambda: requests.get(stack.emails_url, timeout=10).json()["items"],
        lambda items: any(cora["email"] in m["to"] and shipped["tracking"]["number"] in m["text"] for m in items),
        what="the shipping email with tracking",
    )

    body = {"item_ids": [digital["id"]], "reason": "requested_by_customer"}
    refund = money(stack, "POST", f"/sales/orders/{order_id}/refunds", body, phil["token"], 201)["refund"]
    assert refund["amount_cents"] == 1500
    after = call(stack, "GET", f"/orders/{order_id}", token=cora["token"], expect=200).json()
    assert after["refunded_cents"] == 1500 and after["status"] == "partially_refunded"
    assert not next(i for i in after["items"] if i["id"] == digital["id"]).get("download_url")
    assert requests.get(digital["download_url"], timeout=30).status_code in (404, 409, 410)  # the old link stops
    gallery = call(stack, "GET", "/gallery", token=cora["token"], expect=200).json()["items"]
    assert "original" not in gallery[0]["urls"]

    summary = eventually(
        lambda: call(stack, "GET", "/sales/summary?granularity=day", token=phil["token"], expect=200).json(),
        lambda s: s["totals"]["refunds_cents"] == 1500,
        what="the sales summary to show the refund",
    )
    assert summary["currency"] == "eur"
    assert summary["totals"]["gross_cents"] == 4000 and summary["totals"]["orders"] == 1
    assert summary["top_photos"] and summary["top_clients"]
    check = call(stack, "GET", "/staff/ledger/check", token=admin_token(stack), expect=200).json()
    assert check["balanced"] is True and check["transactions"] >= 2
    failed = requests.get(stack.jobs_url, timeout=10).json()
    assert failed == {"count": 0, "items": []}, failed
