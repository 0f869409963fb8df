"""Damaged uploads and AWS failures through the real processor handler (presigned POST -> S3 event -> SQS ->
``process_upload_queue``): a file's own fault ends on the delivery that meets it (``ready`` or ``rejected``
with a reason), a transient AWS failure is retried and succeeds on redelivery."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PIL import Image

from tests.imaging import fixtures
from tests.pipeline import fetch, post_file, pump, queue_url, reserve, sqs_record

CONTENT_TYPES = {"jpeg": "image/jpeg", "cmyk": "image/jpeg", "png": "image/png", "gif": "image/gif"}
CONTENT_TYPES |= {"webp": "image/webp", "heic": "image/heic"}


def deliver_each_once() -> tuple[list[str], list[dict]]:
    """Hand every queued message to the handler exactly once (none is redelivered). Returns the failed message ids
    and the responses."""
    import app as app_module
    from chalicelib import aws

    sqs, url = aws.client("sqs"), queue_url()
    failed: list[str] = []
    responses = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600).get("Messages", [])
        if not messages:
            return failed, responses
        event = {"Records": [sqs_record(m["Body"], m["MessageId"], m["ReceiptHandle"]) for m in messages]}
        response = app_module.process_upload_queue(event, None)
        responses.append(response)
        failed += [f["itemIdentifier"] for f in response["batchItemFailures"]]
        for m in messages:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_every_damaged_file_ends_ready_or_rejected_on_its_first_delivery(api, make_user):
    user = make_user("damaged")
    photos: dict[str, str] = {}
    for name, (_, make) in fixtures.DAMAGED.items():
        data = make()
        content_type = CONTENT_TYPES.get(name.split("_")[0], "image/jpeg")
        photo_id, slot = reserve(api, user["access"], data, content_type=content_type, size=max(1, len(data)))
        post_file(slot, data, content_type)
        photos[name] = photo_id

    failed, _ = deliver_each_once()

    assert failed == []  # nothing is retried: every outcome is final on the first delivery
    wrong = {}
    for name, photo_id in photos.items():
        expected = fixtures.DAMAGED[name][0]
        photo = api.get(f"/photos/{photo_id}", token=user["access"]).data
        if photo["status"] != expected or (expected == "rejected") != bool(photo["rejection_reason"]):
            wrong[name] = (photo["status"], photo["rejection_reason"])
        elif expected == "ready":
            original = fetch(photo["urls"]["original"])
            image = Image.open(io.BytesIO(original))
            image.load()
            if set(image.getexif()) - {0x0112} or b"52.3701" in original or b"GPS" in original:
                wrong[name] = ("metadata in the served original", dict(image.getexif()))
    assert wrong == {}


def test_a_decodable_jpeg_with_junk_between_segments_is_served_upright(api, make_user):
    """The reported bug: the lossless cleaner raised after every variant was written, and the photo stayed
    ``processing`` until the message reached the dead-letter queue."""
    user = make_user("junky")
    data = fixtures.DAMAGED["jpeg_junk_between_segments"][1]()
    photo_id, slot = reserve(api, user["access"], data)
    post_file(slot, data)
    responses = pump(max_rounds=1)
    assert responses[0]["batchItemFailures"] == []
    photo = api.get(f"/photos/{photo_id}", token=user["access"]).data
    assert photo["status"] == "ready" and (photo["width"], photo["height"]) == (300, 200)
    for name in ("large", "original"):
        served = fetch(photo["urls"][name])
        colours = fixtures.quadrant_colours(served)
        assert all(fixtures.close_to(colours[q], fixtures.QUADRANTS[q]) for q in fixtures.QUADRANTS), (name, colours)
        assert not Image.open(io.BytesIO(served)).getexif(), name  # upright pixels, no EXIF at all


# ---- transient AWS failures ----------------------------------------------------------------------------------


class _Http:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}


class Faults:
    """AWS calls that fail once, injected where botocore makes the call (every client, boto3's and PynamoDB's)."""

    def __init__(self) -> None:
        self.rules: list[tuple[str, Callable[[dict], bool], Callable[[], Any]]] = []
        self.fired: list[str] = []

    def once(self, call: str, failure: Callable[[], Any], when: Callable[[dict], bool] = lambda params: True) -> None:
        self.rules.append((call, when, failure))

    def hook(self, event_name: str, params: dict, **_: Any) -> Any:
        _, service, operation = event_name.split(".", 2)
        for rule in self.rules:
            call, when, failure = rule
            if call == f"{service}.{operation}" and when(params):
                self.rules.remove(rule)
                self.fired.append(call)
                return failure()
        return None


def error(code: str, status: int) -> Callable[[], Any]:
    body = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return lambda: (_Http(status), body)


def connection_error() -> Any:
    from botocore.exceptions import EndpointConnectionError

    raise EndpointConnectionError(endpoint_url="https://s3.amazonaws.com")


@pytest.fixture
def faults(app, monkeypatch) -> Iterator[Faults]:
    from chalicelib import aws
    from tests.conftest import hook_every_client

    faults = Faults()
    with hook_every_client(monkeypatch, faults.hook):
        yield faults
    aws.reset()


def _finishing(params: dict) -> bool:
    return b"processed_at" in (params.get("body") or b"")


@pytest.mark.parametrize(
    "call,failure,when",
    [
        ("s3.PutObject", error("SlowDown", 503), lambda params: True),
        ("s3.GetObject", connection_error, lambda params: True),
        ("dynamodb.UpdateItem", error("ProvisionedThroughputExceededException", 400), _finishing),
        ("dynamodb.UpdateItem", error("InternalServerError", 500), _finishing),
    ],
    ids=["s3-slowdown", "s3-connection", "dynamo-throttled", "dynamo-5xx"],
)
def test_a_transient_aws_error_is_retried_and_succeeds_on_redelivery(api, make_user, faults, call, failure, when):
    user = make_user("transient")
    data = fixtures.oriented_jpeg(6, 300, 200)
    photo_id, slot = reserve(api, user["access"], data)
    post_file(slot, data)
    faults.once(call, failure, when)

    first = pump(max_rounds=1)

    assert faults.fired == [call]
    assert len(first[0]["batchItemFailures"]) == 1  # reported for a retry, not rejected
    photo = api.get(f"/photos/{photo_id}", token=user["access"]).data
    assert photo["status"] == "processing" and not photo["rejection_reason"]
    second = pump(max_rounds=1)  # the redelivery, at once: the failed attempt released its lease
    assert second[0]["batchItemFailures"] == []
    photo = api.get(f"/photos/{photo_id}", token=user["access"]).data
    assert photo["status"] == "ready" and set(photo["urls"]) >= {"large", "original"}


def test_a_non_transient_failure_is_not_mistaken_for_a_bad_file(api, make_user, faults):
    """AccessDenied (a misconfigured bucket) is our fault, not the uploader's: retried, never ``rejected``."""
    user = make_user("denied")
    data = fixtures.oriented_jpeg(1, 300, 200)
    photo_id, slot = reserve(api, user["access"], data)
    post_file(slot, data)
    faults.once("s3.PutObject", error("AccessDenied", 403))
    first = pump(max_rounds=1)
    assert len(first[0]["batchItemFailures"]) == 1
    assert api.get(f"/photos/{photo_id}", token=user["access"]).data["status"] == "processing"
    pump(max_rounds=1)
    assert api.get(f"/photos/{photo_id}", token=user["access"]).data["status"] == "ready"
