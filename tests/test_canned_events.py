"""The canned events in tests/events/ are in the shape their senders use (what the helpers and tests build on)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from tests.conftest import EVENTS, load_event

ALL = sorted(p.name for p in EVENTS.glob("*.json"))


def test_every_kind_is_there():
    assert {
        "s3_object_created.json",
        "sqs_s3_notification.json",
        "sqs_jobs_message.json",
        "ws_connect.json",
        "ws_default.json",
        "ws_disconnect.json",
        "stripe_payment_intent_succeeded.json",
        "stripe_charge_refunded.json",
    } <= set(ALL)


def test_the_sqs_upload_message_carries_the_s3_notification():
    [record] = load_event("sqs_s3_notification.json")["Records"]
    assert record["eventSource"] == "aws:sqs" and record["attributes"]["ApproximateReceiveCount"] == "1"
    assert json.loads(record["body"]) == load_event("s3_object_created.json")
    [s3] = json.loads(record["body"])["Records"]
    assert s3["eventSource"] == "aws:s3" and s3["eventName"].startswith("ObjectCreated:")
    assert s3["s3"]["object"]["key"].startswith("uploads/")


def test_the_jobs_message_is_a_domain_event():
    [record] = load_event("sqs_jobs_message.json")["Records"]
    assert record["eventSourceARN"].endswith("-jobs")
    body = json.loads(record["body"])
    assert {"id", "type", "data"} <= set(body) and body["type"] == "user.deleted"


@pytest.mark.parametrize(
    ("name", "route_key", "event_type"),
    [
        ("ws_connect.json", "$connect", "CONNECT"),
        ("ws_default.json", "$default", "MESSAGE"),
        ("ws_disconnect.json", "$disconnect", "DISCONNECT"),
    ],
)
def test_websocket_events(name, route_key, event_type):
    ctx = load_event(name)["requestContext"]
    assert (ctx["routeKey"], ctx["eventType"]) == (route_key, event_type)
    assert ctx["connectionId"] and ctx["domainName"] and ctx["stage"]


@pytest.mark.parametrize(
    ("name", "type_", "object_"),
    [
        ("stripe_payment_intent_succeeded.json", "payment_intent.succeeded", "payment_intent"),
        ("stripe_charge_refunded.json", "charge.refunded", "charge"),
    ],
)
def test_stripe_events_verify_and_parse_as_stripe_sends_them(name, type_, object_):
    """Signed the way Stripe signs webhooks (t=..,v1=HMAC-SHA256 of "t.payload"), stripe-python accepts them."""
    import stripe

    payload = (EVENTS / name).read_text()
    secret = "whsec_test"
    timestamp = int(time.time())
    signature = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    event = stripe.Webhook.construct_event(payload, f"t={timestamp},v1={signature}", secret)
    assert event.type == type_ and event.id.startswith("evt_")
    assert event.data.object.object == object_ and event.data.object.livemode is False
    assert event.data.object.amount == 2500 and event.data.object.currency == "eur"
