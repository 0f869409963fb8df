"""What the browser journeys share: users made through the API, logging in through the UI, the axe-core check,
screenshots."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
from PIL import Image
from playwright.sync_api import Locator, Page, expect

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("LIGHTBOX_SCREENSHOTS") or REPO / "build" / "screenshots")


@dataclass
class User:
    id: str
    username: str
    email: str
    password: str
    token: str
    role: str

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def call(stack, method: str, path: str, body=None, token: str | None = None, expect_status: int | None = None, **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kw.pop("headers", {}))
    r = requests.request(method, stack.api_url + path, json=body, headers=headers, timeout=30, **kw)
    if expect_status is not None:
        assert r.status_code == expect_status, (method, path, r.status_code, r.text)
    return r


def latest_code(stack, email: str, *, after: int = 0, timeout: float = 15.0) -> str:
    """The 6-digit code of the newest mail to ``email`` among those past index ``after``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        items = requests.get(stack.emails_url, timeout=10).json()["items"]
        for mail in reversed(items[after:]):
            if email in mail["to"]:
                found = re.search(r"\b(\d{6})\b", mail["text"])
                if found:
                    return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no mail with a code for {email}")


def mail_count(stack) -> int:
    return len(requests.get(stack.emails_url, timeout=10).json()["items"])


def make_user(stack, prefix: str = "user", role: str = "member") -> User:
    """A verified account made through the API (journeys that are not about sign-up start here)."""
    username = unique(prefix)
    email = f"{username}@example.com"
    call(
        stack,
        "POST",
        "/auth/signup",
        {"email": email, "username": username, "password": PASSWORD, "role": role},
        expect_status=201,
    )
    call(stack, "POST", "/auth/verify-email", {"email": email, "code": latest_code(stack, email)}, expect_status=200)
    out = call(stack, "POST", "/auth/login", {"login": email, "password": PASSWORD}, expect_status=200).json()
    return User(out["user"]["id"], username, email, PASSWORD, out["access_token"], out["user"]["role"])


def make_admin(stack) -> User:
    """An admin through the command-line tool (the only way to make the first one), unique per call."""
    username = unique("admin")
    email = f"{username}@example.com"
    subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "create-admin", "--email", email, "--username", username]
        + ["--password", PASSWORD],
        env=dict(stack.env),
        check=True,
        capture_output=True,
        timeout=60,
    )
    out = call(stack, "POST", "/auth/login", {"login": username, "password": PASSWORD}, expect_status=200).json()
    return User(out["user"]["id"], username, email, PASSWORD, out["access_token"], "admin")


def ui_login(page: Page, user: User, next_path: str = "/") -> None:
    """Log in through the login screen (the session is then the HttpOnly cookie plus an in-memory token)."""
    page.goto("/login" + (f"?next={next_path}" if next_path != "/" else ""))
    page.get_by_label("Email or username").fill(user.username)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name=user.username)).to_be_visible()


def axe(page: Page, *, context: str = "") -> None:
    """axe-core on the current screen: no serious or critical violation (the issue's bar)."""
    page.evaluate(AXE.read_text())  # evaluated, not a <script> tag: the CSP forbids inline script
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{context or page.url}: " + json.dumps(
        [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"][:3]]} for v in bad], indent=1
    )


def shot(page: Page, name: str) -> Path:
    """A screenshot of the current screen: build/screenshots/ always, docs/screenshots/ under `make screenshots`."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.evaluate("() => window.scrollTo(0, 0)")  # the top of the screen, as a person arriving sees it
    page.screenshot(path=str(path), full_page=False)
    return path


def fill_card(scope: Page | Locator, number: str = "4242424242424242") -> None:
    """Type a test card into the card element (localstripe's fake Stripe.js inputs, named by lib/stripe.ts)."""
    scope.get_by_label("Card number").fill(number)
    scope.get_by_label("Expiry month (MM)").fill("12")
    scope.get_by_label("Expiry year (YY)").fill("34")
    scope.get_by_label("CVC").fill("123")
    scope.get_by_label("Card postal code").fill("12345")


def upload_photo(stack, token: str, caption: str, *, colour=(40, 120, 200), size=(900, 600), **fields) -> str:
    """A JPEG sent through its presigned POST (``POST /photos/uploads``); its id (processing starts at once)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG", quality=88)
    data = buffer.getvalue()
    body = {"filename": "photo.jpg", "content_type": "image/jpeg", "size": len(data), "caption": caption, **fields}
    slot = call(stack, "POST", "/photos/uploads", body, token=token, expect_status=201).json()["uploads"][0]
    up = slot["upload"]
    files = {"file": ("photo.jpg", data, "image/jpeg")}
    requests.post(up["url"], data=up["fields"], files=files, timeout=30).raise_for_status()
    return slot["photo_id"]


def wait_ready(stack, token: str, photo_id: str, timeout: float = 90.0) -> dict:
    """The photo once the real S3 -> SQS -> processor path made it ``ready`` (a rejection fails at once)."""
    deadline = time.time() + timeout
    while True:
        photo = call(stack, "GET", f"/photos/{photo_id}", token=token, expect_status=200).json()
        if photo["status"] in ("ready", "rejected"):
            assert photo["status"] == "ready", photo
            return photo
        assert time.time() < deadline, f"photo {photo_id} never became ready"
        time.sleep(0.3)


def upload_ready_photo(stack, token: str, caption: str, **fields) -> str:
    photo_id = upload_photo(stack, token, caption, **fields)
    wait_ready(stack, token, photo_id)
    return photo_id
