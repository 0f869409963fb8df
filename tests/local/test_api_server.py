"""The local HTTP API server: a stand-in Chalice app through chalice.local, and /_local/emails."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import boto3
import pytest
import requests
from chalice import Chalice, NotFoundError

from infrastructure.local.api_server import ApiServer, EmailReader
from infrastructure.local.common import free_port

SENDER = "no-reply@lightbox.local"
CONCURRENT = 8
# Requests that send {"meet": true} wait here until CONCURRENT of them are being served at once.
MEETING = threading.Barrier(CONCURRENT, timeout=30)


def make_app():
    app = Chalice(app_name="standin")

    @app.route("/health")
    def health():
        return {"status": "ok"}

    @app.route("/items/{item_id}", methods=["POST"])
    def post_item(item_id):
        body = app.current_request.json_body
        if body.get("meet"):
            MEETING.wait()
        # Read the request again once the others are in flight: another thread's request must not leak in.
        return {"id": item_id, "body": app.current_request.json_body}

    @app.route("/missing")
    def missing():
        raise NotFoundError("nope")

    return app


def verified_ses(moto_url):
    client = boto3.client("ses", endpoint_url=moto_url, region_name="us-east-1")
    client.verify_email_identity(EmailAddress=SENDER)
    return client


@pytest.fixture
def start_api():
    servers = []

    def start(moto_url):
        server = ApiServer(make_app(), moto_url, port=0).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def api(start_api, moto_host_server):
    """The API server in front of a moto set up as the devstack runs it (moto_host)."""
    return start_api(moto_host_server)


@pytest.fixture
def ses(moto_host_server):
    return verified_ses(moto_host_server)


def test_routes_are_served_through_chalice_local(api):
    assert requests.get(f"{api.url}/health", timeout=5).json() == {"status": "ok"}
    response = requests.post(f"{api.url}/items/a1", json={"x": 1}, timeout=5)
    assert response.status_code == 200
    assert response.json() == {"id": "a1", "body": {"x": 1}}
    assert requests.get(f"{api.url}/missing", timeout=5).status_code == 404
    assert requests.get(f"{api.url}/no-such-route", timeout=5).status_code == 404  # as the template's gateway


TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1XzEifQ.c2VjcmV0LXNpZ25hdHVyZQ"


@pytest.mark.parametrize(
    "method,path", [("GET", "/no-such-route"), ("POST", "/no/such/route"), ("DELETE", "/health"), ("PUT", "/items/1")]
)
def test_unknown_routes_are_the_contracts_404_and_never_echo_a_credential(api, method, path):
    """chalice.local answered 403 "... Authorization=Bearer <the whole token>"; AWS's gateway response is a 404."""
    r = requests.request(method, f"{api.url}{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert r.status_code == 404, r.text
    assert r.headers["Content-Type"] == "application/json"
    error = r.json()["error"]
    assert error["code"] == "not_found" and error["message"] == "No such route." and error["details"]["request_id"]
    assert TOKEN not in r.text and TOKEN[:20] not in r.text and "Bearer" not in r.text


def test_gateway_errors_carry_cors_for_the_primary_origin_only(api, monkeypatch):
    monkeypatch.setenv("LIGHTBOX_APP_ORIGINS", "http://127.0.0.1:8002,http://localhost:8002")
    primary = requests.get(f"{api.url}/nope", headers={"Origin": "http://127.0.0.1:8002"}, timeout=5)
    assert primary.status_code == 404
    assert primary.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8002"
    assert primary.headers["Access-Control-Allow-Credentials"] == "true"
    assert primary.headers["Vary"] == "Origin"
    other = requests.get(f"{api.url}/nope", headers={"Origin": "https://evil.example"}, timeout=5)
    assert other.status_code == 404 and "Access-Control-Allow-Origin" not in other.headers


def test_concurrent_requests_keep_their_own_current_request(api):
    def call(i):
        return requests.post(f"{api.url}/items/{i}", json={"n": i, "meet": True}, timeout=60).json()

    # All of them meet inside the handler (a server that serves one at a time breaks the barrier).
    with ThreadPoolExecutor(CONCURRENT) as pool:
        results = list(pool.map(call, range(CONCURRENT)))
    assert [r["body"]["n"] for r in results] == list(range(CONCURRENT))
    assert [r["id"] for r in results] == [str(i) for i in range(CONCURRENT)]


def test_emails_lists_what_ses_stored_newest_last(api, ses):
    for n, to in enumerate(["ann@example.com", "bob@example.com"]):
        ses.send_email(
            Source=SENDER,
            Destination={"ToAddresses": [to]},
            Message={"Subject": {"Data": f"Code {n}"}, "Body": {"Text": {"Data": f"Your code is 12345{n}."}}},
        )
    body = requests.get(f"{api.url}/_local/emails", timeout=5).json()
    items = body["items"]
    assert [i["to"] for i in items] == [["ann@example.com"], ["bob@example.com"]]
    assert [i["subject"] for i in items] == ["Code 0", "Code 1"]
    assert items[1]["text"] == "Your code is 123451."
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", items[0]["sent_at"])
    assert items[0]["from"] == SENDER


def test_emails_from_stock_moto_through_data_json(start_api, moto_server):
    """Without moto_host's additions: /moto-api/data.json, first-seen times, same order."""
    api = start_api(moto_server)
    ses = verified_ses(moto_server)
    for subject in ("S1", "S2"):
        ses.send_email(
            Source=SENDER,
            Destination={"ToAddresses": ["c@example.com"]},
            Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": "T"}}},
        )
    items = requests.get(f"{api.url}/_local/emails", timeout=5).json()["items"]
    assert [i["subject"] for i in items] == ["S1", "S2"]
    assert all(i["sent_at"].endswith("Z") for i in items)


def test_raw_and_html_mail_are_readable(api, ses):
    mime = MIMEMultipart("alternative")
    mime["Subject"], mime["From"], mime["To"] = "Raw subject", SENDER, "dee@example.com"
    mime.attach(MIMEText("plain body", "plain"))
    mime.attach(MIMEText("<p>html body</p>", "html"))
    ses.send_raw_email(Source=SENDER, Destinations=["dee@example.com"], RawMessage={"Data": mime.as_string()})
    ses.send_email(
        Source=SENDER,
        Destination={"ToAddresses": ["eve@example.com"]},
        Message={
            "Subject": {"Data": "Both"},
            "Body": {"Text": {"Data": "text part"}, "Html": {"Data": "<p>Hello <b>Eve</b></p>"}},
        },
    )
    raw, html_mail = requests.get(f"{api.url}/_local/emails", timeout=5).json()["items"]
    assert raw["to"] == ["dee@example.com"] and raw["subject"] == "Raw subject"
    assert raw["text"].strip() == "plain body"
    assert html_mail["text"] == "Hello Eve"  # moto keeps only the HTML part; shown as text
    assert html_mail["html"] == "<p>Hello <b>Eve</b></p>"


def test_unverified_sender_is_rejected_and_not_listed(api, moto_host_server):
    client = boto3.client("ses", endpoint_url=moto_host_server, region_name="us-east-1")
    with pytest.raises(client.exceptions.MessageRejected):
        client.send_email(
            Source="stranger@example.com",
            Destination={"ToAddresses": ["x@y.z"]},
            Message={"Subject": {"Data": "S"}, "Body": {"Text": {"Data": "T"}}},
        )
    assert requests.get(f"{api.url}/_local/emails", timeout=5).json() == {"items": []}


def test_local_routes_errors_use_the_error_body(api):
    missing = requests.get(f"{api.url}/_local/nothing", timeout=5)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert requests.post(f"{api.url}/_local/emails", json={}, timeout=5).status_code == 405


def test_emails_when_moto_is_down():
    server = ApiServer(make_app(), f"http://127.0.0.1:{free_port()}", port=0).start()
    try:
        response = requests.get(f"{server.url}/_local/emails", timeout=15)
    finally:
        server.stop()
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "local_backend_unavailable"


def test_email_reader_orders_by_send_sequence():
    data = {
        "ses": {
            "Message": [
                {
                    "id": "m2",
                    "source": SENDER,
                    "subject": "second",
                    "body": "b",
                    "destinations": {"ToAddresses": ["a@x.y"]},
                    "sent_seq": 3,
                    "sent_at": "2026-01-01T00:00:02Z",
                }
            ],
            "RawMessage": [
                {
                    "id": "r1",
                    "source": SENDER,
                    "destinations": ["b@x.y"],
                    "sent_seq": 1,
                    "sent_at": "2026-01-01T00:00:01Z",
                    "raw_data": "Subject: first\nTo: b@x.y\n\nraw text\n",
                }
            ],
        }
    }
    items = EmailReader("http://unused", fetch=lambda url: data).emails()
    assert [i["subject"] for i in items] == ["first", "second"]
    assert items[0]["text"].strip() == "raw text"


def test_stop_releases_the_port(moto_server):
    server = ApiServer(make_app(), moto_server, port=0).start()
    port = server.port
    server.stop()
    again = ApiServer(make_app(), moto_server, port=port).start()
    try:
        assert requests.get(f"{again.url}/health", timeout=5).status_code == 200
    finally:
        again.stop()


def test_moto_host_serves_only_ses_messages(ses, moto_host_server):
    from infrastructure.local.moto_host import SES_MESSAGES_PATH

    ses.send_email(
        Source=SENDER,
        Destination={"ToAddresses": ["f@example.com"]},
        Message={"Subject": {"Data": "S"}, "Body": {"Text": {"Data": "T"}}},
    )
    body = requests.get(moto_host_server + SES_MESSAGES_PATH, timeout=5).json()
    assert list(body) == ["ses"]
    [message] = body["ses"]["Message"]
    assert message["subject"] == "S" and message["sent_seq"] >= 1 and message["sent_at"].endswith("Z")


def test_stock_moto_lacks_the_route(moto_server):
    """The 404 on which the email reader falls back to data.json."""
    from infrastructure.local.moto_host import SES_MESSAGES_PATH

    assert requests.get(moto_server + SES_MESSAGES_PATH, timeout=5).status_code == 404
