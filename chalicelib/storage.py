"""S3 access: presigned POSTs for uploads, short-lived signed GETs for variants, writes and deletes.

Buckets are private (public access blocked); every read a client makes goes through a signed URL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.resources import UPLOAD_PREFIX, VIDEO_UPLOAD_PREFIX

UPLOAD_URL_TTL = 15 * 60
DOWNLOAD_URL_TTL = 15 * 60


def upload_key(photo_id: str, kind: str = "photo") -> str:
    """Where the upload lands: videos under their own prefix, which notifies the video queue, not the photo one."""
    return f"{VIDEO_UPLOAD_PREFIX if kind == 'video' else UPLOAD_PREFIX}{photo_id}"


def variant_key(photo_id: str, variant: str) -> str:
    return f"photos/{photo_id}/{variant}"


def all_variant_keys(photo_id: str) -> list[str]:
    from chalicelib.models.photos import VARIANTS

    return [variant_key(photo_id, v) for v in VARIANTS]


def presigned_upload(key: str, content_type: str, max_bytes: int, ttl: int = UPLOAD_URL_TTL) -> dict[str, Any]:
    """A POST policy pinning the exact key, the declared content type and a size range, valid ``ttl`` seconds
    (15 minutes unless told)."""
    s = get_settings()
    return aws.client("s3").generate_presigned_post(
        Bucket=s.uploads_bucket,
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[
            {"bucket": s.uploads_bucket},
            {"key": key},
            {"Content-Type": content_type},
            ["content-length-range", 1, max_bytes],
        ],
        ExpiresIn=ttl,
    )


def signed_get(
    key: str, *, bucket: str | None = None, ttl: int = DOWNLOAD_URL_TTL, download_name: str | None = None
) -> str:
    params: dict[str, Any] = {"Bucket": bucket or get_settings().media_bucket, "Key": key}
    if download_name:
        params["ResponseContentDisposition"] = f'attachment; filename="{download_name}"'
    return aws.client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=ttl)


def head_upload(key: str) -> dict[str, Any] | None:
    s3 = aws.client("s3")
    try:
        return s3.head_object(Bucket=get_settings().uploads_bucket, Key=key)
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def read_upload(key: str) -> bytes:
    return aws.client("s3").get_object(Bucket=get_settings().uploads_bucket, Key=key)["Body"].read()


def download_upload(key: str, path: str) -> None:
    """Stream an upload to a local file (videos: never held in memory whole)."""
    aws.client("s3").download_file(get_settings().uploads_bucket, key, path)


def put_media_file(key: str, path: str, content_type: str) -> None:
    aws.client("s3").upload_file(
        path,
        get_settings().media_bucket,
        key,
        ExtraArgs={"ContentType": content_type, "CacheControl": "private, max-age=86400"},
    )


def put_media(key: str, data: bytes, content_type: str) -> None:
    aws.client("s3").put_object(
        Bucket=get_settings().media_bucket,
        Key=key,
        Body=data,
        ContentType=content_type,
        CacheControl="private, max-age=86400",
    )


def delete_keys(bucket: str, keys: Iterable[str]) -> None:
    keys = list(keys)
    s3 = aws.client("s3")
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})


def delete_upload(key: str) -> None:
    delete_keys(get_settings().uploads_bucket, [key])


def delete_media(keys: Iterable[str]) -> None:
    delete_keys(get_settings().media_bucket, keys)
