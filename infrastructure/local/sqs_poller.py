"""Feeds an SQS queue to a Lambda SQS handler the way an event source mapping does.

Long-polls the queue, hands each batch (up to 10) to ``handler(event, context)`` as an ``aws:sqs`` event,
then deletes what succeeded: every message, minus those named in ``batchItemFailures``. A handler that
raises, or answers with a malformed failure list, fails the whole batch (nothing deleted; the messages
come back after the visibility timeout and eventually reach the dead-letter queue, as on AWS).
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from typing import Any

from infrastructure.local.common import LambdaContext

log = logging.getLogger("devstack.sqs")

Handler = Callable[[dict, Any], Any]


def lambda_message_attributes(attributes: dict) -> dict:
    """SQS API message attributes (``StringValue``...) in Lambda's event spelling (``stringValue``...)."""
    converted = {}
    for name, value in (attributes or {}).items():
        item: dict[str, Any] = {
            "stringListValues": list(value.get("StringListValues", [])),
            "binaryListValues": [base64.b64encode(v).decode("ascii") for v in value.get("BinaryListValues", [])],
            "dataType": value["DataType"],
        }
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            item["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
        converted[name] = item
    return converted


def sqs_record(message: dict, queue_arn: str, region: str) -> dict:
    """One ``Records[]`` entry, as Lambda builds it from a ReceiveMessage result."""
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": lambda_message_attributes(message.get("MessageAttributes", {})),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def failed_ids(result: Any, batch_ids: set[str]) -> set[str] | None:
    """The message ids to keep, or None when the response fails the whole batch."""
    if not isinstance(result, dict) or result.get("batchItemFailures") is None:
        return set()
    failures = result["batchItemFailures"]
    if not isinstance(failures, list):
        return None
    ids = set()
    for failure in failures:
        ident = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not ident or ident not in batch_ids:
            return None  # Lambda treats an unknown or empty identifier as a failed batch
        ids.add(ident)
    return ids


class SqsPoller:
    """One poller, one batch at a time. ``run()`` returns once ``stop_event`` is set."""

    def __init__(
        self,
        handler: Handler,
        queue_url: str,
        sqs_client: Any,
        *,
        batch_size: int = 10,
        wait_seconds: int = 1,
        function_name: str = "lightbox-local-process_upload_queue",
        timeout_seconds: float = 900.0,
        stop_event: threading.Event | None = None,
    ) -> None:
        if not 1 <= batch_size <= 10:
            raise ValueError("batch_size must be 1..10")
        self.handler = handler
        self.queue_url = queue_url
        self.sqs = sqs_client
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        self.function_name = function_name
        self.timeout_seconds = timeout_seconds
        self.stop_event = stop_event or threading.Event()
        self._queue_arn: str | None = None
        self._thread: threading.Thread | None = None

    @property
    def queue_arn(self) -> str:
        if self._queue_arn is None:
            attrs = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
            self._queue_arn = attrs["Attributes"]["QueueArn"]
        return self._queue_arn

    def poll_once(self) -> int:
        """Receive one batch, invoke the handler, delete the successes. Returns the batch size."""
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        arn = self.queue_arn
        region = arn.split(":")[3]
        event = {"Records": [sqs_record(m, arn, region) for m in messages]}
        batch_ids = {m["MessageId"] for m in messages}
        context = LambdaContext(self.function_name, timeout_seconds=self.timeout_seconds)
        try:
            result = self.handler(event, context)
        except Exception:
            log.exception("queue handler failed; %d message(s) stay on the queue", len(messages))
            return len(messages)
        keep = failed_ids(result, batch_ids)
        if keep is None:
            log.error("queue handler answered malformed batchItemFailures %r; whole batch retried", result)
            return len(messages)
        done = [m for m in messages if m["MessageId"] not in keep]
        if keep:
            log.warning("queue handler reported %d failure(s): %s", len(keep), sorted(keep))
        if done:
            deleted = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
            for failure in deleted.get("Failed", []):
                log.error("could not delete a processed message: %s", failure)
        return len(messages)

    def run(self) -> None:
        backoff = 0.5
        while not self.stop_event.is_set():
            try:
                self.poll_once()
                backoff = 0.5
            except Exception as exc:  # moto restarting, queue missing: keep trying, bounded by stop
                log.warning("polling %s failed: %s", self.queue_url, exc)
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def start(self) -> SqsPoller:
        self._thread = threading.Thread(target=self.run, name="sqs-poller", daemon=True)
        self._thread.start()
        return self

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float | None = None) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout if timeout is not None else self.wait_seconds + 5)
