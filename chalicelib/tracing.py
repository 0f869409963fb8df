"""AWS X-Ray subsegments for AWS calls.

Every deployed function has Lambda active tracing (a segment per invocation, no SDK needed). Patching
botocore with the SDK adds a subsegment per DynamoDB/S3/SQS/SES call, but importing the SDK costs ~0.6 s,
so only functions with ``LIGHTBOX_XRAY_PATCH=true`` (the processor, whose cold start nobody waits on) pay it.
Locally and in tests it is never imported.
"""

from __future__ import annotations

import os


def enable() -> None:
    if os.environ.get("AWS_XRAY_SDK_ENABLED", "true").lower() == "false":
        return
    from aws_xray_sdk.core import patch

    patch(["botocore"])
