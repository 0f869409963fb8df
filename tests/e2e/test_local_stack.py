"""End to end, the way a client app works: the real local stack as a subprocess (`make dev`'s devstack),
driven over real HTTP and WebSocket. Auth flow with OTP from /_local/emails, refresh replay detection,
WebSocket connect/refuse, and an upload through the presigned POST to `ready`."""

from __future__ import annotations

import io
import json
import re
import time

import pytest
import requests
from PIL import Image
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

PASSWORD = "correct horse battery"
pytestmark = pytest.mark.xdist_group("local_stack")  # one stack per session: every e2e module on one worker


def call(stack, method, path, body=None, token=None, expect=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = requests.request(method, stack.api_url + path, json=body, headers=headers, timeout=30)
    if expect is not None:
        assert r.status_code == expect, (method, path, r.status_code, r.text)
    return r


def latest_code(stack, email: str) -> str:
    deadline = time.time() + 10
    while time.time() < deadline:
        items = requests.get(stack.emails_url, timeout=10).json()["items"]
        for mail in reversed(items):
            if email in mail["to"]:
                return re.search(r"\b(\d{6})\b", mail["text"]).group(1)
        time.sleep(0.2)
    raise AssertionError(f"no mail for {email}")


def signup_and_login(stack, username: str) -> dict:
    email = f"{username}@example.com"
    call(stack, "POST", "/auth/signup", {"email": email, "username": username, "password": PASSWORD}, expect=201)
    r = call(stack, "POST", "/auth/login", {"login": username, "password": PASSWORD}, expect=403)
    assert r.json()["error"]["code"] == "email_not_verified"
    call(stack, "POST", "/auth/verify-email", {"email": email, "code": latest_code(stack, email)}, expect=200)
    return call(stack, "POST", "/auth/login", {"login": email, "password": PASSWORD}, expect=200).json()


def test_auth_flow_over_http_and_websocket(stack):
    assert requests.get(stack.api_url + "/health", timeout=10).json() == {"status": "ok"}
    tokens = signup_and_login(stack, "e2e_alice")
    me = call(stack, "GET", "/auth/me", token=tokens["access_token"], expect=200).json()
    assert me["username"] == "e2e_alice" and me["email_verified"] is True

    rotated = call(stack, "POST", "/auth/token/refresh", {"refresh_token": tokens["refresh_token"]}, expect=200).json()
    replay = call(stack, "POST", "/auth/token/refresh", {"refresh_token": tokens["refresh_token"]}, expect=401)
    assert replay.json()["error"]["code"] == "refresh_token_reused"
    call(stack, "POST", "/auth/token/refresh", {"refresh_token": rotated["refresh_token"]}, expect=401)
    call(stack, "GET", "/auth/me", token=rotated["access_token"], expect=401)

    fresh = call(stack, "POST", "/auth/login", {"login": "e2e_alice", "password": PASSWORD}, expect=200).json()
    with connect(f"{stack.ws_url}/?token={fresh['access_token']}", open_timeout=10) as ws:
        ws.send(json.dumps({"action": "ping"}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}
        ws.send("not json")
        frame = json.loads(ws.recv(timeout=10))
        assert frame["type"] == "error"
        ws.send(json.dumps({"action": "ping"}))  # the connection stays open after a bad frame
        assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}
    for bad in ("", "?token=garbage", f"?token={rotated['access_token']}"):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{stack.ws_url}/{bad}", open_timeout=10)
        assert refused.value.response.status_code == 401


def test_upload_through_presigned_post_until_ready(stack):
    tokens = signup_and_login(stack, "e2e_bob")
    buffer = io.BytesIO()
    Image.new("RGB", (1600, 1200), (20, 120, 220)).save(buffer, "JPEG")
    data = buffer.getvalue()
    r = call(
        stack,
        "POST",
        "/photos/uploads",
        {"filename": "sky.jpg", "content_type": "image/jpeg", "size": len(data), "caption": "blue #sky"},
        token=tokens["access_token"],
        expect=201,
    )
    slot = r.json()["uploads"][0]
    post = requests.post(
        slot["upload"]["url"],
        data=slot["upload"]["fields"],
        files={"file": ("sky.jpg", data, "image/jpeg")},
        timeout=30,
    )
    assert post.status_code in (200, 201, 204), post.text
    deadline = time.time() + 60
    photo = None
    while time.time() < deadline:
        photo = call(stack, "GET", f"/photos/{slot['photo_id']}", token=tokens["access_token"], expect=200).json()
        if photo["status"] in ("ready", "rejected"):
            break
        time.sleep(0.3)
    assert photo["status"] == "ready", photo
    thumb = requests.get(photo["urls"]["thumb"], timeout=30)
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).size == (256, 192)
    found = call(stack, "GET", "/photos/search?q=sky", expect=200).json()["items"]
    assert [p["id"] for p in found] == [slot["photo_id"]]


def frames_until(ws, predicate, timeout: float = 10.0) -> list[dict]:
    """Read frames until one satisfies ``predicate``; returns everything read (the match last)."""
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.time())))
        seen.append(frame)
        if predicate(frame):
            return seen
    raise AssertionError(f"no matching frame; got {seen}")


def test_two_clients_get_notifications_live_stats_and_chat(stack):
    alice = signup_and_login(stack, "e2e_carol")
    bob = signup_and_login(stack, "e2e_dave")
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 120, 20)).save(buffer, "JPEG")
    data = buffer.getvalue()
    slot = call(
        stack,
        "POST",
        "/photos/uploads",
        {"filename": "p.jpg", "content_type": "image/jpeg", "size": len(data)},
        token=bob["access_token"],
        expect=201,
    )
    slot = slot.json()["uploads"][0]
    requests.post(
        slot["upload"]["url"], data=slot["upload"]["fields"], files={"file": ("p.jpg", data, "image/jpeg")}, timeout=30
    ).raise_for_status()
    photo_id = slot["photo_id"]
    deadline = time.time() + 60
    while call(stack, "GET", f"/photos/{photo_id}", token=bob["access_token"]).json()["status"] != "ready":
        assert time.time() < deadline, "photo never became ready"
        time.sleep(0.3)

    with (
        connect(f"{stack.ws_url}/?token={bob['access_token']}", open_timeout=10) as bob_ws,
        connect(f"{stack.ws_url}/?token={alice['access_token']}", open_timeout=10) as alice_ws,
    ):
        bob_ws.send(json.dumps({"action": "subscribe", "photo_id": photo_id}))
        frames_until(bob_ws, lambda f: f.get("type") == "subscribed")

        call(stack, "POST", f"/photos/{photo_id}/like", token=alice["access_token"], expect=201)
        seen = frames_until(bob_ws, lambda f: f.get("type") == "photo.stats" and f["like_count"] == 1)
        seen += (
            frames_until(bob_ws, lambda f: f.get("type") == "notification")
            if not any(f.get("type") == "notification" for f in seen)
            else []
        )
        liked = next(f["notification"] for f in seen if f.get("type") == "notification")
        assert liked["type"] == "liked" and liked["actor"]["username"] == "e2e_carol"
        assert liked["target"]["id"] == photo_id

        conversation = call(
            stack, "POST", "/conversations", {"username": "e2e_dave"}, token=alice["access_token"], expect=201
        ).json()
        alice_ws.send(
            json.dumps(
                {"action": "send_message", "conversation_id": conversation["id"], "body": "hello over the socket"}
            )
        )
        got = frames_until(bob_ws, lambda f: f.get("type") == "message")[-1]
        assert got["conversation_id"] == conversation["id"] and got["message"]["body"] == "hello over the socket"
        echoed = frames_until(alice_ws, lambda f: f.get("type") == "message")[-1]
        assert echoed["message"]["body"] == "hello over the socket"
    history = call(
        stack, "GET", f"/conversations/{conversation['id']}/messages", token=bob["access_token"], expect=200
    ).json()["items"]
    assert [m["body"] for m in history] == ["hello over the socket"]


def test_account_deletion_cascade_finishes_through_the_worker(stack):
    """DELETE /users/me answers at once; the worker (fed by the real jobs queue) removes the photos and frees
    the email and username when the whole cascade is done."""
    tokens = signup_and_login(stack, "e2e_erin")
    token = tokens["access_token"]
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 160, 40)).save(buffer, "JPEG")
    data = buffer.getvalue()
    files = [{"filename": f"p{n}.jpg", "content_type": "image/jpeg", "size": len(data)} for n in range(3)]
    event = call(stack, "POST", "/events", {"name": "Erin's", "visibility": "public"}, token=token, expect=201).json()
    slots = call(stack, "POST", f"/events/{event['id']}/photos/bulk-upload", {"files": files}, token=token, expect=201)
    photo_ids = []
    for slot in slots.json()["uploads"]:
        up = slot["upload"]
        post = requests.post(up["url"], data=up["fields"], files={"file": ("p.jpg", data, "image/jpeg")}, timeout=30)
        post.raise_for_status()
        photo_ids.append(slot["photo_id"])
    deadline = time.time() + 60
    while any(call(stack, "GET", f"/photos/{p}", token=token).json()["status"] != "ready" for p in photo_ids):
        assert time.time() < deadline, "photos never became ready"
        time.sleep(0.3)

    call(stack, "DELETE", "/users/me", {"password": PASSWORD}, token=token, expect=204)
    for photo_id in photo_ids:
        call(stack, "GET", f"/photos/{photo_id}", expect=404)  # forgotten at once
    again = {"email": "e2e_erin@example.com", "username": "e2e_erin", "password": PASSWORD}
    deadline = time.time() + 60
    while True:  # the claims are released by the cascade's completion job, run by the worker
        r = call(stack, "POST", "/auth/signup", again)
        if r.status_code == 201:
            break
        assert r.status_code == 409, r.text
        assert time.time() < deadline, "the deletion cascade never finished"
        time.sleep(0.5)
    call(stack, "GET", f"/events/{event['id']}", expect=404)
    failed = requests.get(stack.jobs_url, timeout=10).json()
    assert failed == {"count": 0, "items": []}, failed


def test_sign_in_with_the_local_oidc_issuer(stack):
    """Google and Apple sign-in as a client does it locally: the token from the stack's issuer, then the API."""
    for provider, sub in (("google", "e2e-g-1"), ("apple", "e2e-a-1")):
        minted = requests.post(
            f"{stack.oidc_url}/{provider}/id-token",
            json={"email": "oidc-e2e@example.com", "sub": sub, "nonce": "e2e-nonce"},
            timeout=10,
        )
        assert minted.status_code == 200, minted.text
        body = {"id_token": minted.json()["id_token"], "nonce": "e2e-nonce"}
        r = call(stack, "POST", f"/auth/oidc/{provider}", body, expect=200)
        user_id = r.json()["user"]["id"]
    identities = call(stack, "GET", "/auth/identities", token=r.json()["access_token"], expect=200).json()["items"]
    assert [i["provider"] for i in identities] == ["apple", "google"]  # the second provider linked to the account
    assert call(stack, "GET", "/auth/me", token=r.json()["access_token"], expect=200).json()["id"] == user_id
