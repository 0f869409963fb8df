"""The video upload path in tests: API -> presigned POST to (moto) S3 -> S3 event in the *video* queue ->
process_video_queue (as Lambda's SQS event source would call it, one message per batch)."""

from __future__ import annotations

from tests.pipeline import post_file, reserve, sqs_record


def queue_url(name: str) -> str:
    from chalicelib import aws

    return aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def queued_keys(name: str) -> list[str]:
    """The object keys of the S3 events waiting in a queue (left there: received with no visibility timeout)."""
    from chalicelib import aws
    from chalicelib.triggers.uploads import s3_objects

    messages = (
        aws.client("sqs")
        .receive_message(QueueUrl=queue_url(name), MaxNumberOfMessages=10, VisibilityTimeout=0)
        .get("Messages", [])
    )
    return [key for m in messages for _, key in s3_objects(m["Body"])]


def pump_videos(max_rounds: int = 5, *, jobs: bool = True) -> list[dict]:
    import app as app_module
    from chalicelib import aws
    from chalicelib.config import get_settings

    sqs = aws.client("sqs")
    url = queue_url(get_settings().video_queue_name)
    responses = []
    for _ in range(max_rounds):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=0).get("Messages", [])
        if not messages:
            break
        [m] = messages
        response = app_module.process_video_queue({"Records": [sqs_record(m["Body"], m["MessageId"])]}, None)
        responses.append(response)
        if not response["batchItemFailures"]:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    if jobs:
        from tests.jobs import drain

        drain()
    return responses


def upload_video(api, token: str, data: bytes, content_type: str = "video/mp4", *, pump: bool = True) -> str:
    photo_id, slot = reserve(api, token, data, content_type=content_type)
    assert post_file(slot, data, content_type).status_code in (200, 201, 204)
    if pump:
        pump_videos()
    return photo_id
