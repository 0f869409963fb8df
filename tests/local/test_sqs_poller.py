"""The SQS poller: Lambda-shaped batches in, successes deleted, reported failures kept."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from urllib.parse import unquote_plus

import boto3
import pytest
from moto import mock_aws

from infrastructure.local.sqs_poller import SqsPoller


@pytest.fixture
def sqs(aws_test_env):
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def queue(sqs):
    return sqs.create_queue(QueueName="lightbox-local-uploads", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]


def counts(sqs, queue_url):
    attrs = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"]))


class Handler:
    def __init__(self, respond=None):
        self.events = []
        self.respond = respond or (lambda event: {"batchItemFailures": []})

    def __call__(self, event, context):
        assert context.get_remaining_time_in_millis() > 0 and context.function_name
        self.events.append(event)
        return self.respond(event)


def send(sqs, queue_url, *bodies):
    return [sqs.send_message(QueueUrl=queue_url, MessageBody=b)["MessageId"] for b in bodies]


def test_event_has_lambda_sqs_shape_and_successes_are_deleted(sqs, queue):
    sent = sqs.send_message(
        QueueUrl=queue,
        MessageBody='{"hello": "world"}',
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "upload"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    send(sqs, queue, "two", "three")
    handler = Handler()
    poller = SqsPoller(handler, queue, sqs, wait_seconds=0)

    assert poller.poll_once() == 3

    assert len(handler.events) == 1
    records = handler.events[0]["Records"]
    assert [r["body"] for r in records] == ['{"hello": "world"}', "two", "three"]
    first = records[0]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert first["messageId"] == sent["MessageId"]
    assert first["receiptHandle"]
    assert first["md5OfBody"] == hashlib.md5(b'{"hello": "world"}').hexdigest()
    assert first["eventSource"] == "aws:sqs"
    assert first["eventSourceARN"] == arn
    assert first["awsRegion"] == "us-east-1"
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    for name in ("SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"):
        assert first["attributes"][name]
    assert first["messageAttributes"]["kind"] == {
        "stringValue": "upload",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert first["messageAttributes"]["blob"]["binaryValue"] == "AAE="
    assert first["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert counts(sqs, queue) == (0, 0)


def test_reported_failures_stay_and_come_back(sqs, queue):
    ids = send(sqs, queue, "ok-1", "bad", "ok-2")
    bad = ids[1]
    handler = Handler(lambda event: {"batchItemFailures": [{"itemIdentifier": bad}]})
    poller = SqsPoller(handler, queue, sqs, wait_seconds=0)

    poller.poll_once()
    assert counts(sqs, queue) == (0, 1)  # only the failure is left, in flight

    time.sleep(1.2)  # the queue's visibility timeout
    retry = Handler()
    SqsPoller(retry, queue, sqs, wait_seconds=0).poll_once()
    [record] = retry.events[0]["Records"]
    assert record["messageId"] == bad and record["body"] == "bad"
    assert record["attributes"]["ApproximateReceiveCount"] == "2"
    assert counts(sqs, queue) == (0, 0)


def test_handler_exception_deletes_nothing(sqs, queue):
    send(sqs, queue, "a", "b")

    def explode(event):
        raise RuntimeError("processor crashed")

    SqsPoller(Handler(explode), queue, sqs, wait_seconds=0).poll_once()
    assert counts(sqs, queue) == (0, 2)


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": "nonsense"},
    ],
)
def test_malformed_failure_report_fails_whole_batch(sqs, queue, response):
    send(sqs, queue, "a", "b")
    SqsPoller(Handler(lambda event: response), queue, sqs, wait_seconds=0).poll_once()
    assert counts(sqs, queue) == (0, 2)


def test_no_return_value_means_all_succeeded(sqs, queue):
    send(sqs, queue, "a", "b")
    SqsPoller(Handler(lambda event: None), queue, sqs, wait_seconds=0).poll_once()
    assert counts(sqs, queue) == (0, 0)


def test_batches_hold_at_most_ten(sqs, queue):
    send(sqs, queue, *[f"m{i}" for i in range(15)])
    handler = Handler()
    poller = SqsPoller(handler, queue, sqs, wait_seconds=0)
    while counts(sqs, queue) != (0, 0) and len(handler.events) < 10:
        poller.poll_once()
    sizes = [len(e["Records"]) for e in handler.events]
    assert max(sizes) <= 10 and sum(sizes) == 15


def test_s3_notification_reaches_handler(aws_test_env, sqs, queue):
    """The local path for uploads: S3 ObjectCreated -> SQS -> poller -> handler."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lightbox-local-uploads")
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket="lightbox-local-uploads",
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    s3.put_object(Bucket="lightbox-local-uploads", Key="uploads/p1/original", Body=b"jpeg")
    handler = Handler()
    poller = SqsPoller(handler, queue, sqs, wait_seconds=0)
    while poller.poll_once():
        pass
    bodies = [json.loads(r["body"]) for e in handler.events for r in e["Records"]]
    created = [b for b in bodies if "Records" in b]
    assert created[0]["Records"][0]["eventName"].startswith("ObjectCreated:")
    # Keys in S3 events are URL-encoded (moto even encodes "/"): handlers must unquote_plus them.
    assert unquote_plus(created[0]["Records"][0]["s3"]["object"]["key"]) == "uploads/p1/original"
    # As on AWS, configuring the notification first sends an s3:TestEvent the handler must skip.
    assert bodies[0].get("Event") == "s3:TestEvent"


def test_run_and_stop(sqs, queue):
    handled = threading.Event()
    handler = Handler(lambda event: handled.set())
    poller = SqsPoller(handler, queue, sqs, wait_seconds=1).start()
    try:
        send(sqs, queue, "x")
        assert handled.wait(5)
    finally:
        started = time.monotonic()
        poller.stop()
    assert not poller.is_alive()
    assert time.monotonic() - started < 3


def test_poll_errors_do_not_kill_the_loop(sqs):
    poller = SqsPoller(Handler(), "http://127.0.0.1:1/123456789012/missing", sqs, wait_seconds=0)
    poller.start()
    time.sleep(0.3)
    assert poller.is_alive()
    poller.stop()
    assert not poller.is_alive()
