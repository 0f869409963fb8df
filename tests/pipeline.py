"""Drive the real upload path in tests: API -> presigned POST to (moto) S3 -> S3 event in SQS -> processor."""

from __future__ import annotations

import io
import json
import uuid
from urllib.parse import quote_plus

import requests
from PIL import Image

from tests.conftest import load_event


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
    """One SQS record as Lambda delivers it (tests/events/sqs_s3_notification.json) with this body."""
    [record] = load_event("sqs_s3_notification.json")["Records"]
    return {**record, "messageId": message_id or str(uuid.uuid4()), "receiptHandle": receipt or "rh", "body": body}


def s3_event_body(bucket: str, key: str) -> str:
    """The S3 ObjectCreated notification (tests/events/s3_object_created.json) for this object, as SQS carries it."""
    event = load_event("s3_object_created.json")
    s3 = event["Records"][0]["s3"]
    s3["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    s3["object"]["key"] = quote_plus(key)  # S3 URL-encodes keys in notifications
    return json.dumps(event)


def upload(api, token: str, data: bytes, **kwargs) -> str:
    photo_id, slot = reserve(api, token, data, **kwargs)
    assert post_file(slot, data, kwargs.get("content_type", "image/jpeg")).status_code in (200, 201, 204)
    pump()
    return photo_id


def fetch(url: str) -> bytes:
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, (url, r.status_code)
    return r.content
