"""The AWS resources the code uses, defined once.

``ensure_resources()`` creates them against the configured endpoint (moto server locally, moto in tests);
``infrastructure/`` renders the same definitions into CloudFormation. A test checks the two agree.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from chalicelib import aws
from chalicelib.config import Settings, get_settings

UPLOAD_PREFIX = "uploads/"
VIDEO_UPLOAD_PREFIX = "video-uploads/"  # videos: their own S3 -> SQS notification, queue and function (docs/video.md)
# Creator identity documents in the uploads bucket: outside UPLOAD_PREFIX (nothing processes them), never a
# media key (no photo route or share link signs them); deleted after the decision and expired by lifecycle.
VERIFICATION_PREFIX = "verification/"
VERIFICATION_EXPIRY_DAYS = 30
ARCHIVE_PREFIX = "archives/"  # order zips in the media bucket (chalicelib/services/archives.py), expired by lifecycle
ARCHIVE_EXPIRY_DAYS = 7
UPLOAD_QUEUE_VISIBILITY_SECONDS = 180  # 6x the processor timeout, as AWS recommends for SQS event sources
UPLOAD_QUEUE_MAX_RECEIVES = 5
PROCESSOR_TIMEOUT_SECONDS = 30
VIDEO_TIMEOUT_SECONDS = 900  # the video function's Lambda timeout (the maximum); one video per invocation
VIDEO_QUEUE_VISIBILITY_SECONDS = 6 * VIDEO_TIMEOUT_SECONDS
VIDEO_QUEUE_MAX_RECEIVES = 3  # a video that fails three times is rejected and dead-lettered
WORKER_TIMEOUT_SECONDS = 60  # one job chunk; a job that needs more enqueues its continuation (chalicelib/jobs)
JOBS_QUEUE_VISIBILITY_SECONDS = 6 * WORKER_TIMEOUT_SECONDS
JOBS_QUEUE_MAX_RECEIVES = 5


@dataclass(frozen=True)
class QueueDef:
    name: str
    dlq_name: str
    visibility_timeout: int
    max_receive_count: int


def buckets(settings: Settings | None = None) -> dict[str, str]:
    s = settings or get_settings()
    return {"uploads": s.uploads_bucket, "media": s.media_bucket}


def upload_queue(settings: Settings | None = None) -> QueueDef:
    s = settings or get_settings()
    return QueueDef(s.upload_queue_name, s.upload_dlq_name, UPLOAD_QUEUE_VISIBILITY_SECONDS, UPLOAD_QUEUE_MAX_RECEIVES)


def video_queue(settings: Settings | None = None) -> QueueDef:
    """The video uploads' queue (``VIDEO_UPLOAD_PREFIX``), consumed one message at a time by the video function."""
    s = settings or get_settings()
    return QueueDef(s.video_queue_name, s.video_dlq_name, VIDEO_QUEUE_VISIBILITY_SECONDS, VIDEO_QUEUE_MAX_RECEIVES)


def jobs_queue(settings: Settings | None = None) -> QueueDef:
    """The background jobs queue (domain events' consumers and their continuations, see chalicelib/jobs)."""
    s = settings or get_settings()
    return QueueDef(s.jobs_queue_name, s.jobs_dlq_name, JOBS_QUEUE_VISIBILITY_SECONDS, JOBS_QUEUE_MAX_RECEIVES)


def queues(settings: Settings | None = None) -> dict[str, QueueDef]:
    return {"upload": upload_queue(settings), "video": video_queue(settings), "jobs": jobs_queue(settings)}


def _ensure_queue(sqs: Any, q: QueueDef) -> tuple[str, str]:
    """Create the queue and its dead-letter queue; returns (queue URL, DLQ URL)."""
    dlq_url = sqs.create_queue(QueueName=q.dlq_name)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=q.name,
        Attributes={
            "VisibilityTimeout": str(q.visibility_timeout),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": q.max_receive_count}),
        },
    )["QueueUrl"]
    return queue_url, dlq_url


def _hash_first(key_schema: list[dict[str, str]]) -> list[dict[str, str]]:
    return sorted(key_schema, key=lambda k: k["KeyType"] != "HASH")


def table_definitions() -> list[dict[str, Any]]:
    """Each table as CreateTable-shaped data, read from the PynamoDB models."""
    from chalicelib.models.registry import all_models

    tables = []
    for model in all_models():
        schema = model._get_schema()
        ttl = next(
            (name for name, attr in model.get_attributes().items() if type(attr).__name__ == "TTLAttribute"), None
        )
        tables.append(
            {
                "model": model.__name__,
                "TableName": model.Meta.table_name,
                "AttributeDefinitions": schema["attribute_definitions"],
                "KeySchema": _hash_first(schema["key_schema"]),
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": g["index_name"],
                        "KeySchema": _hash_first(g["key_schema"]),
                        "Projection": g["projection"],
                    }
                    for g in schema["global_secondary_indexes"]
                ],
                "TimeToLiveAttribute": ttl,
            }
        )
    return tables


def ensure_resources(*, tables: bool = True) -> dict[str, str]:
    """Idempotently create every table, bucket, queue, notification and the SES sender. ``tables=False``: all
    but the tables (the tests restore moto's tables from a snapshot, which is much faster than 54 creations)."""
    from chalicelib.models.registry import all_models

    s = get_settings()
    for model in all_models() if tables else ():
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    s3 = aws.client("s3")
    for name in buckets(s).values():
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            s3.create_bucket(Bucket=name) if s.region == "us-east-1" else s3.create_bucket(
                Bucket=name, CreateBucketConfiguration={"LocationConstraint": s.region}
            )
    sqs = aws.client("sqs")
    queue_url, dlq_url = _ensure_queue(sqs, upload_queue(s))
    video_url, video_dlq_url = _ensure_queue(sqs, video_queue(s))
    jobs_url, jobs_dlq_url = _ensure_queue(sqs, jobs_queue(s))
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    video_arn = sqs.get_queue_attributes(QueueUrl=video_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=s.uploads_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": UPLOAD_PREFIX}]}},
                },
                {
                    "QueueArn": video_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": VIDEO_UPLOAD_PREFIX}]}},
                },
            ],
        },
    )
    aws.client("ses").verify_email_identity(EmailAddress=s.email_sender)
    push_apps = ensure_local_push_apps()
    return {
        "upload_queue_url": queue_url,
        "upload_dlq_url": dlq_url,
        "video_queue_url": video_url,
        "video_dlq_url": video_dlq_url,
        "jobs_queue_url": jobs_url,
        "jobs_dlq_url": jobs_dlq_url,
        "uploads_bucket": s.uploads_bucket,
        "media_bucket": s.media_bucket,
        **push_apps,
    }


def ensure_local_push_apps() -> dict[str, str]:
    """Local stack and tests only: SNS platform applications named as the deployed stack names them.

    In AWS they are made by the template (with real APNs/FCM credentials from Secrets Manager).
    """
    s = get_settings()
    if not s.is_local:
        return {}
    sns = aws.client("sns")
    arns = {}
    for platform, kind in (("apns", "APNS"), ("fcm", "GCM")):
        arns[f"{platform}_platform_arn"] = sns.create_platform_application(
            Name=f"lightbox-{s.stage}-{platform}",
            Platform=kind,
            Attributes={"PlatformCredential": "local-fake-credential"},
        )["PlatformApplicationArn"]
    return arns
