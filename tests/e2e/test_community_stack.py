"""Community and trust end to end on the real local stack (`make dev`'s devstack: moto, the API, the WebSocket
gateway, the photo poller, the jobs worker and the OIDC issuer), over HTTP and WebSocket the way the apps do:

an owner invites two people to a private one-seat event (each hears of it live), both accept and RSVP `going`
for the last seat at once (exactly one gets it, the other `409 event_full`, and the owner sees the RSVP frame);
once the event is over the host and the attendee rate each other; the other guest reports a photo and staff
remove it (the audit log has it); a Google sign-in through the local issuer, then two-factor auth turned on and
the next sign-in completed with a code."""

from __future__ import annotations

import io
import threading
import time
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import requests
from PIL import Image
from websockets.sync.client import connect

from tests.e2e.test_commerce_stack import eventually, signup
from tests.e2e.test_creators_stack import admin_token
from tests.e2e.test_local_stack import call, frames_until

pytestmark = pytest.mark.xdist_group("local_stack")


def event_photo(stack, token: str, event_id: str) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 60, 40)).save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    files = [{"filename": "night.jpg", "content_type": "image/jpeg", "size": len(data), "caption": "night"}]
    slot = call(stack, "POST", f"/events/{event_id}/photos/bulk-upload", {"files": files}, token=token, expect=201)
    upload = slot.json()["uploads"][0]
    r = requests.post(
        upload["upload"]["url"], data=upload["upload"]["fields"], files={"file": ("n.jpg", data)}, timeout=60
    )
    assert r.status_code in (200, 201, 204), r.text
    eventually(
        lambda: call(stack, "GET", f"/photos/{upload['photo_id']}", token=token, expect=200).json(),
        lambda p: p["status"] == "ready",
        what="the event photo processed",
    )
    return upload["photo_id"]


def test_invite_rsvp_the_last_seat_rate_report_and_remove(stack):
    host, ana, ben = signup(stack, "e2e_host"), signup(stack, "e2e_ana"), signup(stack, "e2e_ben")
    staff = admin_token(stack, "e2e_moderator")
    ends = datetime.now(UTC) + timedelta(hours=2)  # ended below through the API: no race with a loaded machine
    event = call(
        stack,
        "POST",
        "/events",
        {"name": "Rooftop", "visibility": "private", "event_type": "party", "capacity": 1, "ends_at": ends.isoformat()},
        token=host["token"],
        expect=201,
    ).json()
    event_id = event["id"]
    with (
        connect(f"{stack.ws_url}/?token={host['token']}", open_timeout=10) as host_ws,
        connect(f"{stack.ws_url}/?token={ana['token']}", open_timeout=10) as ana_ws,
    ):
        body = {"usernames": ["e2e_ana", "e2e_ben", "e2e_nobody"]}
        invited = call(stack, "POST", f"/events/{event_id}/invitations", body, token=host["token"], expect=201).json()
        assert sorted(u["username"] for u in invited["invited"]) == ["e2e_ana", "e2e_ben"]
        assert invited["skipped"] == [{"username": "e2e_nobody", "reason": "unknown_user"}]
        frames = frames_until(ana_ws, lambda f: f.get("type") == "notification")
        assert frames[-1]["notification"]["type"] == "event_invite"

        for guest in (ana, ben):
            pending = call(stack, "GET", "/invitations", token=guest["token"], expect=200).json()["items"]
            assert [i["event"]["id"] for i in pending] == [event_id]
            call(stack, "POST", f"/invitations/{event_id}/accept", token=guest["token"], expect=200)

        # the last (only) seat, from two clients at once
        answers: dict[str, requests.Response] = {}

        def go(guest: dict) -> None:
            answers[guest["user"]["username"]] = requests.put(
                f"{stack.api_url}/events/{event_id}/rsvp",
                json={"status": "going"},
                headers={"Authorization": f"Bearer {guest['token']}"},
                timeout=30,
            )

        threads = [threading.Thread(target=go, args=(g,)) for g in (ana, ben)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(r.status_code for r in answers.values())
        assert statuses == [200, 409], {k: (r.status_code, r.text) for k, r in answers.items()}
        loser = next(k for k, r in answers.items() if r.status_code == 409)
        assert answers[loser].json()["error"]["code"] == "event_full"
        winner = ana if loser == "e2e_ben" else ben
        other = ben if winner is ana else ana
        frames_until(host_ws, lambda f: f.get("type") == "event.updated" and f.get("change") == "rsvp")
        seen = call(stack, "GET", f"/events/{event_id}", token=host["token"], expect=200).json()
        assert (seen["going_count"], seen["capacity"]) == (1, 1)
        attendees = call(stack, "GET", f"/events/{event_id}/attendees", token=host["token"], expect=200).json()
        assert [(a["user"]["username"], a["status"]) for a in attendees["items"]] == [
            (winner["user"]["username"], "going")
        ]

    # the other guest reports the host's photo; staff remove it
    photo_id = event_photo(stack, host["token"], event_id)
    report = call(
        stack,
        "POST",
        "/reports",
        {"target": {"type": "photo", "id": photo_id}, "reason": "not from this event"},
        token=other["token"],
        expect=201,
    ).json()
    again = {"target": {"type": "photo", "id": photo_id}, "reason": "twice"}
    call(stack, "POST", "/reports", again, token=other["token"], expect=409)
    queue = call(stack, "GET", "/staff/reports?status=open", token=staff, expect=200).json()["items"]
    assert report["id"] in [r["id"] for r in queue]
    call(stack, "POST", f"/staff/reports/{report['id']}/resolve", {"action": "remove"}, token=staff, expect=200)
    call(stack, "GET", f"/photos/{photo_id}", token=host["token"], expect=404)
    audit = call(stack, "GET", "/staff/audit", token=staff, expect=200).json()["items"]
    assert {"content.remove", "report.resolve"} <= {a["action"] for a in audit}

    # after the event, the host and the attendee rate each other; the one who did not go cannot
    rate = {"event_id": event_id, "rating": 5, "reference": "Great host"}
    early = call(stack, "POST", f"/users/{host['user']['id']}/ratings", rate, token=winner["token"], expect=409)
    assert early.json()["error"]["code"] == "event_not_ended"
    ended = {"ends_at": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()}
    call(stack, "PATCH", f"/events/{event_id}", ended, token=host["token"], expect=200)
    call(stack, "POST", f"/users/{host['user']['id']}/ratings", rate, token=winner["token"], expect=201)
    back = {"event_id": event_id, "rating": 4}
    call(stack, "POST", f"/users/{winner['user']['id']}/ratings", back, token=host["token"], expect=201)
    call(stack, "POST", f"/users/{host['user']['id']}/ratings", rate, token=other["token"], expect=403)
    call(stack, "POST", f"/users/{host['user']['id']}/ratings", rate, token=winner["token"], expect=409)
    profile = call(stack, "GET", f"/users/{host['user']['id']}", token=other["token"], expect=200).json()
    assert profile["reputation"]["count"] == 1 and profile["reputation"]["average"] == 5
    assert profile["reputation"]["trust_level"]["title"] == "Participant"
    assert profile["reputation"]["events_hosted"] == 1


def test_google_sign_in_then_two_factor_with_a_code(stack):
    def google() -> requests.Response:
        minted = requests.post(
            f"{stack.oidc_url}/google/id-token", json={"email": "e2e_tfa@example.com", "sub": "e2e-tfa"}, timeout=10
        )
        assert minted.status_code == 200, minted.text
        return call(stack, "POST", "/auth/oidc/google", {"id_token": minted.json()["id_token"]}, expect=200)

    token = google().json()["access_token"]
    setup = call(stack, "POST", "/auth/2fa/setup", token=token, expect=200).json()
    assert setup["otpauth_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(setup["secret"])
    now = time.time()
    codes = call(stack, "POST", "/auth/2fa/enable", {"code": totp.at(now)}, token=token, expect=200).json()
    assert len(codes["recovery_codes"]) == 10
    assert call(stack, "GET", "/auth/me", token=token, expect=200).json()["two_factor_enabled"] is True

    challenge = google().json()
    assert challenge["two_factor_required"] is True and "access_token" not in challenge
    used = {"challenge_token": challenge["challenge_token"], "code": totp.at(now)}
    assert call(stack, "POST", "/auth/2fa/verify", used, expect=401).json()["error"]["code"] == "code_already_used"
    nxt = {"challenge_token": challenge["challenge_token"], "code": totp.at(now + 30)}  # the next window's code
    signed = call(stack, "POST", "/auth/2fa/verify", nxt, expect=200).json()
    assert (
        call(stack, "GET", "/auth/me", token=signed["access_token"], expect=200).json()["email"]
        == "e2e_tfa@example.com"
    )
