"""The whole local stack as ``make dev`` runs it, around a stand-in app: real processes, real ports."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import jwt
import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from infrastructure.local.common import port_in_use
from infrastructure.local.devstack import REPO_ROOT, WEB_DIST, Ports, local_env
from infrastructure.local.stack import start_stack

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

STANDIN = {"app": "tests.local.standin_app", "resources": "tests.local.standin_app:ensure_resources"}


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children start new sessions, so walk parent links)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(predicate, timeout=10.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def test_stack_serves_http_ws_queue_and_emails_then_stops_clean_on_ctrl_c():
    stack = start_stack(timeout=60, **STANDIN)
    children = descendants(stack.process.pid)
    try:
        # moto, localstripe, print-lab emulator, OIDC issuer, app host, and the web app once `make web` built it
        assert len(children) == 5 + WEB_DIST.joinpath("index.html").is_file()
        assert requests.get(stack.api_url + "/health", timeout=5).json() == {"status": "ok", "stage": "local"}
        if WEB_DIST.joinpath("index.html").is_file():
            page = requests.get(stack.web_url + "/events/anything", timeout=5)  # the app's own routes: index.html
            assert page.status_code == 200 and page.headers["Cache-Control"] == "no-cache"
            assert "script-src 'self'" in page.headers["Content-Security-Policy"]
            site = requests.get(stack.web_url + "/app-config.json", timeout=5).json()
            assert site["api_url"] == stack.api_url and set(site) <= {"api_url", "oidc"}

        # WebSocket: refused without a good token; otherwise the handler's post_to_connection
        # (boto3, production code path) comes back as a frame.
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(stack.ws_url + "/?token=bad", open_timeout=5)
        assert refused.value.response.status_code == 401
        with ws_connect(stack.ws_url + "/?token=good", open_timeout=5) as ws:
            ws.send("hello")
            assert json.loads(ws.recv(timeout=10)) == {"type": "echo", "body": "hello"}

        # Queue -> poller -> real handler -> SES in moto -> /_local/emails.
        sqs = boto3.client(
            "sqs",
            endpoint_url=stack.moto_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        queue_url = sqs.get_queue_url(QueueName="standin-uploads")["QueueUrl"]
        sqs.send_message(QueueUrl=queue_url, MessageBody="photo-1")
        emails = wait_for(lambda: requests.get(stack.emails_url, timeout=5).json()["items"])
        assert emails[0]["subject"] == "processed photo-1"
        assert emails[0]["to"] == ["uploader@example.com"]
        assert emails[0]["sent_at"].endswith("Z")

        # localstripe answers on loopback with the local key.
        customers = requests.get(stack.stripe_url + "/v1/customers", auth=("sk_test_local", ""), timeout=5)
        assert customers.status_code == 200

        # The print-lab emulator answers on loopback and asks for the app's API key.
        assert requests.get(stack.print_lab_url + "/_lab/health", timeout=5).status_code == 200
        order = requests.post(stack.print_lab_url + "/v4.0/Orders", json={}, timeout=5)
        assert order.status_code == 401
        order = requests.post(
            stack.print_lab_url + "/v4.0/Orders",
            json={},
            headers={"X-API-Key": stack.env["LIGHTBOX_PRINT_LAB_API_KEY"]},
            timeout=5,
        )
        assert order.status_code == 400 and order.json()["outcome"] == "ValidationFailed"

        # The OIDC issuer serves both providers where the app's settings say, and mints tokens for their client ids.
        for provider in ("google", "apple"):
            discovery_url = stack.env[f"LIGHTBOX_OIDC_{provider.upper()}_DISCOVERY_URL"]
            assert discovery_url == f"{stack.oidc_url}/{provider}/.well-known/openid-configuration"
            discovery = requests.get(discovery_url, timeout=5).json()
            assert discovery["issuer"] == f"{stack.oidc_url}/{provider}"
            assert requests.get(discovery["jwks_uri"], timeout=5).json()["keys"][0]["alg"] == "RS256"
            minted = requests.post(
                f"{stack.oidc_url}/{provider}/id-token", json={"email": "a@example.com", "sub": "1"}, timeout=5
            )
            claims = jwt.decode(minted.json()["id_token"], options={"verify_signature": False})
            # the issuer's default audience: the first client id the API accepts
            assert claims["aud"] == stack.env[f"LIGHTBOX_OIDC_{provider.upper()}_CLIENT_IDS"].split(",")[0]
    finally:
        os.kill(stack.process.pid, signal.SIGINT)  # what Ctrl-C delivers
        stack.process.wait(20)
        code = stack.stop()
    assert code == 0
    assert "devstack: stopped" in stack.log()
    wait_for(lambda: not any(alive(pid) for pid in children), timeout=5)
    for port in vars(stack.ports).values():
        assert not port_in_use(port)


def test_child_death_is_reported_and_stops_everything():
    stack = start_stack(timeout=60, **STANDIN)
    try:
        children = descendants(stack.process.pid)
        moto = next(pid for pid in children if b"moto_host" in Path(f"/proc/{pid}/cmdline").read_bytes())
        os.kill(moto, signal.SIGKILL)
        code = stack.process.wait(20)
    finally:
        stack.stop()
    assert code == 1
    assert "moto exited unexpectedly" in stack.log()
    wait_for(lambda: not any(alive(pid) for pid in children), timeout=5)


def test_killed_supervisor_takes_children_with_it():
    """Even SIGKILL on the supervisor (no clean-up possible) leaves no orphans (PDEATHSIG)."""
    stack = start_stack(timeout=60, **STANDIN)
    children = descendants(stack.process.pid)
    try:
        os.kill(stack.process.pid, signal.SIGKILL)
        stack.process.wait(5)
        wait_for(lambda: not any(alive(pid) for pid in children), timeout=10)
    finally:
        stack.stop()
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        # The supervisor had no chance to remove its log directory; the table names it.
        workdir = re.search(r"(/\S+/lightbox-dev-\S+)", stack.log())
        if workdir:
            shutil.rmtree(workdir.group(1), ignore_errors=True)


def test_busy_port_is_reported_before_starting_anything():
    ports = Ports.free()
    import socket

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", ports.api))
        blocker.listen()
        env = {**os.environ, **ports.as_env()}
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "infrastructure.local.devstack",
                "--app",
                STANDIN["app"],
                "--resources",
                STANDIN["resources"],
            ],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert f"api port {ports.api}" in result.stderr


def test_local_env_points_everything_at_loopback_and_drops_real_credentials():
    ports = Ports(api=1, ws=2, moto=3, stripe=4)
    env = local_env(
        ports,
        {
            "AWS_PROFILE": "prod",
            "AWS_SESSION_TOKEN": "real",
            "AWS_ENDPOINT_URL_S3": "https://s3.example",
            "HOME": "/home/x",
        },
    )
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env
    assert "AWS_ENDPOINT_URL_S3" not in env and env["HOME"] == "/home/x"
    assert env["LIGHTBOX_STAGE"] == "local"
    assert env["LIGHTBOX_AWS_ENDPOINT_URL"] == "http://127.0.0.1:3"
    assert env["LIGHTBOX_WS_ENDPOINT"] == "http://127.0.0.1:2"
    assert env["LIGHTBOX_STRIPE_API_BASE"] == "http://127.0.0.1:4"
    assert env["AWS_ACCESS_KEY_ID"] == "testing" and env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_XRAY_SDK_ENABLED"] == "false" and env["LIGHTBOX_JWT_SECRET"]
    assert env["LIGHTBOX_PRINT_LAB_URL"] == "http://127.0.0.1:8430"
    assert env["LIGHTBOX_PRINT_LAB_API_KEY"] and env["LIGHTBOX_PRINT_LAB_WEBHOOK_SECRET"]
    assert env["LIGHTBOX_STRIPE_WEBHOOK_SECRET"].startswith("whsec_")
    assert env["LIGHTBOX_OIDC_GOOGLE_DISCOVERY_URL"] == "http://127.0.0.1:8440/google/.well-known/openid-configuration"
    assert env["LIGHTBOX_OIDC_APPLE_DISCOVERY_URL"] == "http://127.0.0.1:8440/apple/.well-known/openid-configuration"
    assert env["LIGHTBOX_OIDC_GOOGLE_CLIENT_IDS"] and env["LIGHTBOX_OIDC_APPLE_CLIENT_IDS"]


def test_a_port_taken_after_it_was_probed_starts_the_stack_on_others(monkeypatch):
    """Free ports are probed, then bound a moment later: the other test worker may take one in between."""
    import socket

    real_free = Ports.free.__func__
    handed_out: list[Ports] = []
    with socket.socket() as blocker:
        taken = real_free(Ports)
        blocker.bind(("127.0.0.1", taken.api))
        blocker.listen()

        def free(cls):
            handed_out.append(real_free(cls) if handed_out else taken)
            return handed_out[-1]

        monkeypatch.setattr(Ports, "free", classmethod(free))
        stack = start_stack(timeout=60, **STANDIN)
        try:
            assert len(handed_out) == 2 and stack.ports == handed_out[1]  # one refused start, then fresh ports
            assert requests.get(stack.api_url + "/health", timeout=5).status_code == 200
        finally:
            stack.stop()
