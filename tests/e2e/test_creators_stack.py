"""Creator monetization end to end on the real local stack (`make dev`'s devstack: moto, localstripe with its
webhook registered, the API, the WebSocket gateway, the photo and video pollers and the jobs worker), over HTTP
and WebSocket the way the apps do:

staff verify a creator from the uploaded ID document (which is then gone); the creator sets a plan and posts a
subscribers-only photo and a pay-per-view video; a fan sees previews only, subscribes by card through
localstripe and sees the full photo, then tips with a message the creator receives live; a second fan buys the
video from a wallet funded by a staff deposit and streams it with Range requests; the creator's earnings per
source and the ledger check agree to the cent."""

from __future__ import annotations

import io
import subprocess
import sys
import uuid

import pytest
import requests
from PIL import Image
from websockets.sync.client import connect

from tests.e2e.test_commerce_stack import eventually, money, signup
from tests.e2e.test_local_stack import PASSWORD, call, frames_until
from tests.video import media

pytestmark = pytest.mark.xdist_group("local_stack")
FEE_BPS = 1000  # the local stack's LIGHTBOX_PLATFORM_FEE_BPS (the default)


def admin_token(stack, username: str) -> str:
    """An admin made with the operator CLI against the local stack (``create-admin``), logged in."""
    subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "create-admin", "--email", f"{username}@example.com"]
        + ["--username", username, "--password", PASSWORD],
        env=dict(stack.env),
        check=True,
        capture_output=True,
        timeout=60,
    )
    body = {"login": username, "password": PASSWORD}
    return call(stack, "POST", "/auth/login", body, expect=200).json()["access_token"]


def post_file(upload: dict, name: str, data: bytes, content_type: str) -> None:
    r = requests.post(upload["url"], data=upload["fields"], files={"file": (name, data, content_type)}, timeout=60)
    assert r.status_code in (200, 201, 204), r.text


def upload_media(stack, token: str, name: str, data: bytes, content_type: str, timeout: float = 120) -> dict:
    body = {"filename": name, "content_type": content_type, "size": len(data), "caption": name}
    slot = call(stack, "POST", "/photos/uploads", body, token=token, expect=201).json()["uploads"][0]
    post_file(slot["upload"], name, data, content_type)
    return eventually(
        lambda: call(stack, "GET", f"/photos/{slot['photo_id']}", token=token, expect=200).json(),
        lambda p: p["status"] in ("ready", "rejected"),
        timeout=timeout,
        what=f"{name} processed",
    )


def net(gross: int) -> int:
    return gross - (2 * gross * FEE_BPS + 10_000) // 20_000


def test_creator_is_verified_sells_subscriptions_tips_and_pay_per_view(stack, tmp_path):
    staff = admin_token(stack, "e2e_vetter")
    cleo = signup(stack, "e2e_cleo", role="creator")
    fan = signup(stack, "e2e_fan")
    buyer = signup(stack, "e2e_buyer")
    creator_id = cleo["user"]["id"]

    # -- verification: the document is uploaded privately, seen by staff, gone after the decision
    document = b"%PDF-1.4\n% passport scan\n" + b"0" * 2000
    doc = {"filename": "passport.pdf", "content_type": "application/pdf", "size": len(document)}
    body = {"legal_name": "Cleo Example", "country": "IE", "document": doc}
    plan = {"price_cents": 900, "currency": "eur"}
    assert (
        call(stack, "PUT", "/creators/me/plan", plan, token=cleo["token"], expect=403).json()["error"]["code"]
        == "creator_not_verified"
    )
    submitted = call(stack, "POST", "/creators/verification", body, token=cleo["token"], expect=201).json()
    assert submitted["status"] == "pending"
    post_file(submitted["upload"], "passport.pdf", document, "application/pdf")
    pending = call(stack, "GET", "/staff/verifications?status=pending&limit=100", token=staff, expect=200).json()
    request = next(i for i in pending["items"] if i["user_id"] == creator_id)
    assert requests.get(request["document"]["url"], timeout=30).content == document
    call(stack, "GET", "/staff/verifications", token=cleo["token"], expect=403)
    call(stack, "POST", f"/staff/verifications/{creator_id}/approve", {}, token=staff, expect=200)
    assert call(stack, "GET", "/creators/verification", token=cleo["token"], expect=200).json()["status"] == "approved"
    assert requests.get(request["document"]["url"], timeout=30).status_code == 404  # deleted after the decision
    eventually(
        lambda: call(stack, "GET", "/notifications", token=cleo["token"], expect=200).json()["items"],
        lambda items: any(n["type"] == "verification" for n in items),
        what="the verification notification",
    )

    # -- the creator's plan and premium posts
    call(stack, "PUT", "/creators/me/plan", plan, token=cleo["token"], expect=200)
    buffer = io.BytesIO()
    Image.new("RGB", (1200, 900), (160, 40, 120)).save(buffer, "JPEG", quality=90)
    photo = upload_media(stack, cleo["token"], "sunset.jpg", buffer.getvalue(), "image/jpeg")
    assert photo["status"] == "ready" and "preview" in photo["urls"]
    clip = media.make(tmp_path / "clip.mp4", *media.testsrc(3), *media.sine(3), *media.X264, "-c:a", "aac")
    video = upload_media(stack, cleo["token"], "clip.mp4", clip, "video/mp4")
    assert video["status"] == "ready" and video["kind"] == "video", video
    photo_id, video_id = photo["id"], video["id"]
    call(stack, "PATCH", f"/photos/{photo_id}", {"access": "subscribers"}, token=cleo["token"], expect=200)
    paid = {"access": "paid", "price_cents": 500, "currency": "eur"}
    call(stack, "PATCH", f"/photos/{video_id}", paid, token=cleo["token"], expect=200)

    profile = call(stack, "GET", f"/creators/{creator_id}", expect=200).json()
    assert profile["verified"] is True and profile["plan"] == {"price_cents": 900, "currency": "eur"}
    assert profile["post_count"] == 2

    # -- a fan sees previews only
    posts = call(stack, "GET", f"/creators/{creator_id}/posts", token=fan["token"], expect=200).json()["items"]
    by_id = {p["id"]: p for p in posts}
    assert by_id[photo_id]["locked"] and set(by_id[photo_id]["urls"]) == {"preview"}
    assert by_id[video_id]["locked"] and set(by_id[video_id]["urls"]) == {"preview", "poster"}
    assert by_id[video_id]["price_cents"] == 500
    preview = requests.get(by_id[photo_id]["urls"]["preview"], timeout=30)
    assert preview.status_code == 200 and Image.open(io.BytesIO(preview.content)).size[0] <= 640

    # -- subscribes by card through localstripe: the subscribers-only photo opens, the paid video does not
    sub = money(
        stack,
        "POST",
        f"/creators/{creator_id}/subscription",
        {"payment_method": "card", "payment_method_id": "pm_card_visa"},
        fan["token"],
        201,
    )
    assert sub["subscription"]["status"] == "active", sub
    opened = call(stack, "GET", f"/photos/{photo_id}", token=fan["token"], expect=200).json()
    assert not opened["locked"] and {"large", "medium", "thumb"} <= set(opened["urls"])
    still = call(stack, "GET", f"/photos/{video_id}", token=fan["token"], expect=200).json()
    assert still["locked"] and "stream" not in still["urls"]

    # -- a tip by card, with a message the creator receives live
    with connect(f"{stack.ws_url}/?token={cleo['token']}", open_timeout=10) as ws:
        tip_body = {"amount_cents": 300, "currency": "eur", "message": "Loved the sunset!", "payment_method": "card"}
        tip = money(stack, "POST", f"/creators/{creator_id}/tips", tip_body, fan["token"], 201)
        assert tip["payment"]["client_secret"]
        confirmed = call(
            stack,
            "POST",
            f"/tips/{tip['tip']['id']}/confirm",
            {"payment_method_id": "pm_card_visa"},
            token=fan["token"],
        )
        assert confirmed.status_code == 200 and confirmed.json()["tip"]["status"] == "paid", confirmed.text
        seen = frames_until(
            ws,
            lambda f: f.get("type") == "notification" and f["notification"]["type"] == "tip",
            timeout=30,
        )
        assert "Loved the sunset!" in str(seen[-1]["notification"])

    # -- another fan buys the video pay-per-view from a wallet funded by a staff deposit
    deposit = {"amount_cents": 2000, "reason": "launch credit", "currency": "eur"}
    money(stack, "POST", f"/staff/wallets/{buyer['user']['id']}/deposits", deposit, staff, 201)
    bought = money(stack, "POST", f"/photos/{video_id}/purchase", {"payment_method": "wallet"}, buyer["token"], 201)
    assert bought["purchase"]["status"] == "paid", bought
    wallet = call(stack, "GET", "/wallet?currency=eur", token=buyer["token"], expect=200).json()
    assert wallet["balance_cents"] == 1500
    full = call(stack, "GET", f"/photos/{video_id}", token=buyer["token"], expect=200).json()
    assert not full["locked"] and {"stream", "poster", "preview"} <= set(full["urls"])
    ranged = requests.get(full["urls"]["stream"], headers={"Range": "bytes=0-99"}, timeout=30)
    assert ranged.status_code == 206 and len(ranged.content) == 100
    again = {"Authorization": f"Bearer {buyer['token']}", "Idempotency-Key": uuid.uuid4().hex}
    r = requests.post(
        f"{stack.api_url}/photos/{video_id}/purchase", json={"payment_method": "wallet"}, headers=again, timeout=30
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_purchased"

    # -- earnings per source and the ledger agree to the cent
    expected = {"sales": 0, "subscriptions": net(900), "tips": net(300), "purchases": net(500)}
    earned = eventually(
        lambda: call(stack, "GET", "/earnings?currency=eur", token=cleo["token"], expect=200).json(),
        lambda e: e["by_source"] == expected,
        what="the creator's earnings",
    )
    assert earned["pending_cents"] == sum(expected.values()) == earned["lifetime_cents"]
    check = call(stack, "GET", "/staff/ledger/check", token=staff, expect=200).json()
    assert check["balanced"] and check["currencies"]["eur"]["sum_cents"] == 0
    failed = requests.get(stack.jobs_url, timeout=10).json()
    assert failed == {"count": 0, "items": []}, failed
