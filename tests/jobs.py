"""Drive the real jobs path in tests: publish -> the jobs queue (moto SQS) -> the worker's Lambda handler.

``drain()`` receives what is queued, hands it to ``app.run_jobs`` in the SQS event format Lambda uses (the
receive count included) and deletes what the handler did not report as failed, as the event source mapping
does, until the queue is empty.
"""

from __future__ import annotations

import json


def queue_url() -> str:
    from chalicelib import aws
    from chalicelib.config import get_settings

    return aws.client("sqs").get_queue_url(QueueName=get_settings().jobs_queue_name)["QueueUrl"]


def record(message: dict, queue_arn: str = "arn:aws:sqs:us-east-1:123456789012:lightbox-test-jobs") -> dict:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {"ApproximateReceiveCount": "1"}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


def receive(max_messages: int = 10) -> list[dict]:
    from chalicelib import aws

    return (
        aws.client("sqs")
        .receive_message(
            QueueUrl=queue_url(),
            MaxNumberOfMessages=max_messages,
            VisibilityTimeout=0,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        .get("Messages", [])
    )


def run_batch(messages: list[dict]) -> dict:
    """One invocation of the worker with these messages; deletes the ones it did not report as failed."""
    import app as app_module
    from chalicelib import aws

    response = app_module.run_jobs({"Records": [record(m) for m in messages]}, None)
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    for m in messages:
        if m["MessageId"] not in failed:
            aws.client("sqs").delete_message(QueueUrl=queue_url(), ReceiptHandle=m["ReceiptHandle"])
    return response


def drain(max_rounds: int = 500) -> list[dict]:
    """Run every queued job (and the jobs they enqueue) through the worker; returns each batch's response."""
    responses = []
    for _ in range(max_rounds):
        messages = receive()
        if not messages:
            return responses
        responses.append(run_batch(messages))
    raise AssertionError(f"the jobs queue did not drain in {max_rounds} batches")


def queued() -> list[dict]:
    """The job messages waiting (their bodies), without running them."""
    return [json.loads(m["Body"]) for m in receive()]
