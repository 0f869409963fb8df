"""Drive the real upload path in tests: API -> presigned POST to (moto) S3 -> S3 event in SQS -> processor."""

from __future__ import annotations

import io
import json
import uuid

import requests
from PIL import Image


def jpeg(width: int = 640, height: int = 480, color=(200, 30, 30), exif: Image.Exif | None = None) -> bytes:
    image = Image.new("RGB", (width, height), color)
    for x in range(0, width, 16):  # some structure so it is not a flat colour
        image.paste((x % 255, 80, 160), (x, 0, min(x + 8, width), height // 3))
    buffer = io.BytesIO()
    kwargs = {"exif": exif.tobytes()} if exif is not None else {}
    image.save(buffer, "JPEG", quality=90, **kwargs)
    return buffer.getvalue()


def post_file(upload: dict, data: bytes, content_type: str = "image/jpeg") -> requests.Response:
    return requests.post(upload["url"], data=upload["fields"], files={"file": ("f", data, content_type)}, timeout=30)


def reserve(
    api,
    token: str,
    data: bytes,
    *,
    event_id: str | None = None,
    content_type: str = "image/jpeg",
    size: int | None = None,
    caption: str | None = None,
    tags: list[str] | None = None,
) -> tuple[str, dict]:
    spec = {"filename": "photo.jpg", "content_type": content_type, "size": size or len(data)}
    if caption is not None:
        spec["caption"] = caption
    if tags is not None:
        spec["tags"] = tags
    if event_id:
        r = api.post(f"/events/{event_id}/photos/bulk-upload", {"files": [spec]}, token=token)
    else:
        r = api.post("/photos/uploads", spec, token=token)
    assert r.status_code == 201, r.body
    slot = r.data["uploads"][0]
    return slot["photo_id"], slot["upload"]


def queue_url() -> str:
    from chalicelib import aws
    from chalicelib.config import get_settings

    return aws.client("sqs").get_queue_url(QueueName=get_settings().upload_queue_name)["QueueUrl"]


def pump(max_rounds: int = 5, *, jobs: bool = True) -> list[dict]:
    """Feed every queued S3 event to the real processor handler, as Lambda's SQS event source would; then
    (unless ``jobs=False``) run the background jobs that processing published (``tests.jobs.drain``)."""
    import app as app_module
    from chalicelib import aws

    sqs = aws.client("sqs")
    url = queue_url()
    responses = []
    for _ in range(max_rounds):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
        if not messages:
            break
        event = {"Records": [sqs_record(m["Body"], m["MessageId"], m["ReceiptHandle"]) for m in messages]}
        response = app_module.process_upload_queue(event, None)
        responses.append(response)
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    if jobs:
        from tests.jobs import drain

        drain()
    return responses


def sqs_record(body: str, message_id: str | None = None, receipt: str | None = None) -> dict:
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": receipt or "rh",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1",
    }


def s3_event_body(bucket: str, key: str) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Post",
                    "s3": {"bucket": {"name": bucket}, "object": {"key": key}},
                }
            ]
        }
    )


def upload(api, token: str, data: bytes, **kwargs) -> str:
    photo_id, slot = reserve(api, token, data, **kwargs)
    assert post_file(slot, data, kwargs.get("content_type", "image/jpeg")).status_code in (200, 201, 204)
    pump()
    return photo_id


def fetch(url: str) -> bytes:
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, (url, r.status_code)
    return r.content
