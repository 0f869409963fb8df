"""The CloudFormation (SAM) definition of a Lightbox stage, generated from the code's own resource registry.

Two halves, both pure functions of the stage's settings:

``platform_template(ctx)``
    Everything that is not a Lambda function: DynamoDB tables (from the PynamoDB models through
    ``chalicelib.resources.table_definitions()``), S3 buckets (``buckets()``), the upload, video and jobs
    queues with their dead-letter queues (``upload_queue()``, ``video_queue()``, ``jobs_queue()``), the Lambda
    layers, secrets, the SES identity, the alarm topic and the SNS platform applications for push. It is a
    complete template on its own (cfn-lint checks it alone) and is handed to ``chalice package --merge-template``.

``finalize(template, ctx)``
    Wiring for the functions chalice generated from app.py: runtime and architecture from layers/layers.toml,
    layers, environment (resource names, secret references, the WebSocket management endpoint), one
    least-privilege role per function (chalice's shared auto-generated role is removed), log groups, the SQS
    event source's partial-batch-failure reporting, X-Ray on the REST API, and the CloudWatch alarms.

The functions are recognised by what chalice generated, not by a hand-written list, so a new handler in app.py
or a new model in the registry shows up in the next ``make package`` without touching this file (a new AWS
service the code starts calling does need a grant below; tests/infra checks that).

Settings must be loaded for the stage being packaged (``LIGHTBOX_STAGE`` and the stage's environment from
.chalice/config.json) before chalicelib is imported; ``infrastructure.package`` arranges that.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from infrastructure import site
from infrastructure.target import LayerLayout

Json = dict[str, Any]

# Stages whose data outlives the stack: tables, buckets and the signing key are retained on stack deletion and
# on replacement, and tables get deletion protection. Other stages (dev) are disposable.
PROTECTED_STAGES = frozenset({"prod"})
# Objects under the upload prefix are staging copies: the processor reads them and writes what it keeps to the
# media bucket. Whatever is still there after this many days was never completed or never processed.
PENDING_UPLOAD_EXPIRY_DAYS = 2
ABORT_MULTIPART_AFTER_DAYS = 1
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # the maximum: time to look at what failed and redrive it
UPLOAD_QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
API_5XX_RATE_THRESHOLD = 0.05  # fraction of requests in 5 minutes
DEFAULT_LOG_RETENTION_DAYS = 30

# The actions each kind of function may perform, by resource. Kinds: "api" (REST handler), "websocket"
# ($connect/$disconnect/$default), "processor" (the SQS consumer of the upload queue), "worker" (the SQS consumer
# of the jobs queue, chalicelib/jobs), "relay" (the scheduled re-send of undispatched domain events: its tables
# and the jobs queue only), "other" (any new function: it gets the API's grants until someone narrows them here).
DYNAMODB_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
]  # no Scan: every listing is a Query (STYLE.md)
S3_GRANTS: dict[str, dict[str, list[str]]] = {
    # kind -> bucket key -> object actions (on the upload prefix for the uploads bucket, on all keys otherwise).
    # Read from chalicelib/storage.py: the API signs upload POSTs and media GETs (a presigned request carries the
    # signer's permissions) and deletes a photo's variants; the processor reads and deletes the inbox copy
    # (HeadObject is s3:GetObject, DeleteObjects is s3:DeleteObject per key) and writes variants.
    "api": {"uploads": ["s3:PutObject"], "media": ["s3:GetObject", "s3:DeleteObject"]},
    "websocket": {},
    "processor": {"uploads": ["s3:GetObject", "s3:DeleteObject"], "media": ["s3:PutObject"]},
    # The video function reads and deletes its inbox copy (under the video prefix only, see UPLOAD_PREFIXES),
    # writes the variants, and removes them again when the video was deleted while it worked.
    "video": {"uploads": ["s3:GetObject", "s3:DeleteObject"], "media": ["s3:PutObject", "s3:DeleteObject"]},
    # The jobs worker purges photos: their variants and any inbox copy left (chalicelib/services/photos.py:purge),
    # and reads the variants that go into order archives (chalicelib/services/archives.py).
    "worker": {"uploads": ["s3:DeleteObject"], "media": ["s3:DeleteObject", "s3:GetObject"]},
}
# kind -> (bucket key, key prefix) -> object actions on that prefix only. The worker writes order archives
# (multipart uploads: CreateMultipartUpload, UploadPart and CompleteMultipartUpload are s3:PutObject) under the
# media bucket's archives/ prefix and nowhere else.
S3_PREFIX_GRANTS: dict[str, dict[tuple[str, str], list[str]]] = {
    "worker": {
        ("media", "archives/"): ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        ("uploads", "verification/"): ["s3:DeleteObject"],  # a deleted account's identity document
    },
    # The API signs the creator's identity document POST and staff's short-lived GET, and deletes it after the
    # decision (chalicelib/services/verification.py).
    "api": {("uploads", "verification/"): ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]},
}
S3_GRANTS["relay"] = {}
# kind -> the uploads bucket prefixes its grants cover: each processor its own inbox; the API (which signs the
# upload POSTs) and the worker (which purges deleted items' inbox copies) both.
UPLOAD_PREFIX_KINDS = {"processor": ("photo",), "video": ("video",)}
S3_GRANTS["other"] = S3_GRANTS["api"]
# Notifications (chalicelib/services/notifications.py) go out from every kind of function: the API (tags, likes,
# follows ...), the processor (event photos, rejections) and the WebSocket handlers (chat messages). Each may
# email (SES) and push to phones (SNS platform endpoints, dropping disabled ones).
SENDS_EMAIL = {"api", "websocket", "processor", "video", "worker", "other"}
PUSHES_TO_PHONES = {"api", "websocket", "processor", "video", "worker", "other"}
REGISTERS_DEVICES = {"api", "other"}
# The API verifies Stripe and print-lab webhooks; the worker calls Stripe (expiring orders, payouts), the print
# lab (submitting prints) and signs download links in pushed order views (derived from the JWT key).
READS_SECRETS: dict[str, tuple[str, ...]] = {
    "api": ("jwt", "stripe", "stripe_webhook", "print_lab_api_key", "print_lab_webhook"),
    "websocket": ("jwt",),
    "processor": (),
    "video": (),
    "worker": ("jwt", "stripe", "print_lab_api_key"),
    "relay": (),
    "other": ("jwt", "stripe", "stripe_webhook", "print_lab_api_key", "print_lab_webhook"),
}
PUSHES_TO_WEBSOCKETS = {"api", "websocket", "processor", "video", "worker", "other"}
# Domain events (chalicelib/jobs.publish) and deferred fan-out leave from every kind of function: account and
# event deletion (API), photo.ready (processor), big pushes (any), continuations (worker).
PUBLISHES_JOBS = {"api", "websocket", "processor", "video", "worker", "relay", "other"}
VIDEO_EPHEMERAL_STORAGE_MB = 10240  # /tmp for the source and its renditions (a 2 GB upload and its outputs)


@dataclass(frozen=True)
class SecretDef:
    key: str
    name: str  # lightbox/<stage>/<name> in Secrets Manager
    logical_id: str
    env_var: str
    description: str
    generate: bool  # True: the generated value is the secret; False: the operator puts the real one after deploy


SECRETS = (
    SecretDef(
        "jwt",
        "jwt-signing-key",
        "JwtSigningKeySecret",
        "LIGHTBOX_JWT_SECRET_PARAM",
        "HMAC key that signs Lightbox access and refresh tokens",
        generate=True,
    ),
    SecretDef(
        "stripe",
        "stripe-secret-key",
        "StripeSecretKeySecret",
        "LIGHTBOX_STRIPE_SECRET_PARAM",
        "Stripe secret API key (sk_live_... / sk_test_...); put the real value after the first deploy",
        generate=False,
    ),
    SecretDef(
        "stripe_webhook",
        "stripe-webhook-secret",
        "StripeWebhookSecret",
        "LIGHTBOX_STRIPE_WEBHOOK_SECRET_PARAM",
        "Signing secret (whsec_...) of the Stripe webhook endpoint /webhooks/stripe",
        generate=False,
    ),
    SecretDef(
        "print_lab_api_key",
        "print-lab-api-key",
        "PrintLabApiKeySecret",
        "LIGHTBOX_PRINT_LAB_API_KEY_PARAM",
        "The print lab's API key (X-API-Key)",
        generate=False,
    ),
    SecretDef(
        "print_lab_webhook",
        "print-lab-webhook-secret",
        "PrintLabWebhookSecret",
        "LIGHTBOX_PRINT_LAB_WEBHOOK_SECRET_PARAM",
        "Shared secret the print lab signs its callbacks to /webhooks/print-lab with (Lab-Signature)",
        generate=False,
    ),
)


@dataclass
class StageContext:
    """What the generator needs to know about the stage being packaged."""

    stage: str
    settings: Any  # chalicelib.config.Settings loaded for the stage
    layout: LayerLayout
    app_origins: tuple[str, ...]
    email_sender: str
    api_gateway_stage: str
    log_retention: dict[str, int] = field(default_factory=dict)  # chalice function name -> days

    @property
    def protected(self) -> bool:
        return self.stage in PROTECTED_STAGES

    @property
    def prefix(self) -> str:
        return f"lightbox-{self.stage}"

    def secret_name(self, key: str) -> str:
        secret = next(s for s in SECRETS if s.key == key)
        return f"lightbox/{self.stage}/{secret.name}"


# ---- small CloudFormation helpers -------------------------------------------------------------------------


def ref(name: str) -> Json:
    return {"Ref": name}


def getatt(name: str, attribute: str) -> Json:
    return {"Fn::GetAtt": [name, attribute]}


def sub(text: str, variables: Json | None = None) -> Json:
    return {"Fn::Sub": [text, variables] if variables else text}


def camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)


def _retention(ctx: StageContext) -> Json:
    policy = "Retain" if ctx.protected else "Delete"
    return {"DeletionPolicy": policy, "UpdateReplacePolicy": policy}


def _tags(ctx: StageContext) -> list[Json]:
    return [{"Key": "lightbox:stage", "Value": ctx.stage}]


def statement(sid: str, actions: list[str], resources: Any, condition: Json | None = None) -> Json:
    out: Json = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": resources if isinstance(resources, (list, str)) else [resources],
    }
    if condition:
        out["Condition"] = condition
    return out


# ---- the registry, as CloudFormation ----------------------------------------------------------------------


def table_logical_id(ctx: StageContext, table_name: str) -> str:
    return camel(table_name.removeprefix(ctx.settings.table_prefix)) + "Table"


def bucket_logical_id(key: str) -> str:
    return camel(key) + "Bucket"


def bucket_env_var(key: str) -> str:
    return f"LIGHTBOX_{key.upper()}_BUCKET"


def bucket_name(ctx: StageContext, key: str) -> Json:
    """Bucket names are global: the settings' name plus account and region (the code reads it from the env)."""
    from chalicelib.resources import buckets

    return sub(f"{buckets(ctx.settings)[key]}-${{AWS::AccountId}}-${{AWS::Region}}")


def _hash_first(key_schema: list[Json]) -> list[Json]:
    """CreateTable wants HASH before RANGE; PynamoDB lists GSI keys in declaration order."""
    return sorted(
        ({"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in key_schema),
        key=lambda k: k["KeyType"] != "HASH",
    )


def _stream_view_types() -> dict[str, str]:
    from chalicelib.models.registry import all_models

    return {
        m.Meta.table_name: m.Meta.stream_view_type for m in all_models() if getattr(m.Meta, "stream_view_type", None)
    }


def table_resources(ctx: StageContext) -> Json:
    from chalicelib.resources import table_definitions

    streams = _stream_view_types()
    resources: Json = {}
    for table in table_definitions():
        props: Json = {
            "TableName": table["TableName"],
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": sorted(
                (
                    {"AttributeName": a["AttributeName"], "AttributeType": a["AttributeType"]}
                    for a in table["AttributeDefinitions"]
                ),
                key=lambda a: a["AttributeName"],
            ),
            "KeySchema": _hash_first(table["KeySchema"]),
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "DeletionProtectionEnabled": ctx.protected,
            "Tags": _tags(ctx),
        }
        if table["GlobalSecondaryIndexes"]:
            props["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": g["IndexName"],
                    "KeySchema": _hash_first(g["KeySchema"]),
                    "Projection": copy.deepcopy(g["Projection"]),
                }
                for g in table["GlobalSecondaryIndexes"]
            ]
        if table["TimeToLiveAttribute"]:
            props["TimeToLiveSpecification"] = {"AttributeName": table["TimeToLiveAttribute"], "Enabled": True}
        if table["TableName"] in streams:
            props["StreamSpecification"] = {"StreamViewType": streams[table["TableName"]]}
        resources[table_logical_id(ctx, table["TableName"])] = {
            "Type": "AWS::DynamoDB::Table",
            **_retention(ctx),
            "Properties": props,
        }
    return resources


def _deny_insecure(logical: str) -> Json:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": getatt(logical, "Arn"),
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _queue_pair(ctx: StageContext, q: Any, prefix: str) -> Json:
    """A queue and its dead-letter queue (``<prefix>Queue``, ``<prefix>DeadLetterQueue``) with TLS-only policies."""
    dlq, queue = f"{prefix}DeadLetterQueue", f"{prefix}Queue"
    return {
        dlq: {
            "Type": "AWS::SQS::Queue",
            **_retention(ctx),
            "Properties": {
                "QueueName": q.dlq_name,
                "MessageRetentionPeriod": DLQ_RETENTION_SECONDS,
                "SqsManagedSseEnabled": True,
                # Only its queue may dead-letter here (by ARN string: a Ref would be circular).
                "RedriveAllowPolicy": {
                    "redrivePermission": "byQueue",
                    "sourceQueueArns": [
                        sub(f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{q.name}")
                    ],
                },
                "Tags": _tags(ctx),
            },
        },
        queue: {
            "Type": "AWS::SQS::Queue",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",  # transient: consumed within seconds
            "Properties": {
                "QueueName": q.name,
                "VisibilityTimeout": q.visibility_timeout,
                "MessageRetentionPeriod": UPLOAD_QUEUE_RETENTION_SECONDS,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {"deadLetterTargetArn": getatt(dlq, "Arn"), "maxReceiveCount": q.max_receive_count},
                "Tags": _tags(ctx),
            },
        },
        f"{dlq}Policy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [ref(dlq)],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [_deny_insecure(dlq)]},
            },
        },
    }


def queue_resources(ctx: StageContext) -> Json:
    from chalicelib.resources import jobs_queue, upload_queue, video_queue

    resources = _queue_pair(ctx, upload_queue(ctx.settings), "Upload")
    resources["UploadQueuePolicy"] = _s3_notified_queue_policy(ctx, "UploadQueue")
    resources.update(_queue_pair(ctx, video_queue(ctx.settings), "Video"))
    resources["VideoQueuePolicy"] = _s3_notified_queue_policy(ctx, "VideoQueue")
    resources.update(_queue_pair(ctx, jobs_queue(ctx.settings), "Jobs"))
    resources["JobsQueuePolicy"] = {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [ref("JobsQueue")],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [_deny_insecure("JobsQueue")]},
        },
    }
    return resources


def _s3_notified_queue_policy(ctx: StageContext, queue: str) -> Json:
    """The uploads bucket (and nothing else) may send to ``queue``; TLS only."""
    return {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [ref(queue)],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "S3UploadNotifications",
                        "Effect": "Allow",
                        "Principal": {"Service": "s3.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": getatt(queue, "Arn"),
                        "Condition": {
                            "ArnEquals": {
                                "aws:SourceArn": sub(
                                    "arn:${AWS::Partition}:s3:::${Bucket}", {"Bucket": bucket_name(ctx, "uploads")}
                                )
                            },
                            "StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")},
                        },
                    },
                    _deny_insecure(queue),
                ],
            },
        },
    }


def bucket_resources(ctx: StageContext) -> Json:
    from chalicelib.resources import (
        ARCHIVE_EXPIRY_DAYS,
        ARCHIVE_PREFIX,
        UPLOAD_PREFIX,
        VERIFICATION_EXPIRY_DAYS,
        VERIFICATION_PREFIX,
        VIDEO_UPLOAD_PREFIX,
        buckets,
    )

    resources: Json = {}
    for key in buckets(ctx.settings):
        logical = bucket_logical_id(key)
        rules: list[Json] = [
            {
                "Id": "abort-incomplete-multipart-uploads",
                "Status": "Enabled",
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_MULTIPART_AFTER_DAYS},
            }
        ]
        props: Json = {
            "BucketName": bucket_name(ctx, key),
            **site.PRIVATE_BUCKET,
            "LifecycleConfiguration": {"Rules": rules},
            "Tags": _tags(ctx),
        }
        if key == "media":
            rules.append(
                {
                    "Id": "expire-order-archives",
                    "Status": "Enabled",
                    "Prefix": ARCHIVE_PREFIX,
                    "ExpirationInDays": ARCHIVE_EXPIRY_DAYS,
                }
            )
        if key == "uploads":
            rules.append(
                {
                    "Id": "expire-pending-uploads",
                    "Status": "Enabled",
                    "Prefix": UPLOAD_PREFIX,
                    "ExpirationInDays": PENDING_UPLOAD_EXPIRY_DAYS,
                }
            )
            rules.append(
                {
                    "Id": "expire-pending-video-uploads",
                    "Status": "Enabled",
                    "Prefix": VIDEO_UPLOAD_PREFIX,
                    "ExpirationInDays": PENDING_UPLOAD_EXPIRY_DAYS,
                }
            )
            rules.append(  # identity documents are deleted after the decision; this catches any left behind
                {
                    "Id": "expire-verification-documents",
                    "Status": "Enabled",
                    "Prefix": VERIFICATION_PREFIX,
                    "ExpirationInDays": VERIFICATION_EXPIRY_DAYS,
                }
            )
            # Browsers POST straight to S3 with the presigned form; only the app's own origins may.
            props["CorsConfiguration"] = {
                "CorsRules": [
                    {
                        "Id": "presigned-post-from-app",
                        "AllowedMethods": ["POST"],
                        "AllowedOrigins": site.app_origins(),
                        "AllowedHeaders": ["*"],
                        "ExposedHeaders": ["ETag", "Location"],
                        "MaxAge": 3000,
                    }
                ]
            }
            props["NotificationConfiguration"] = {
                "QueueConfigurations": [
                    {
                        "Event": "s3:ObjectCreated:*",
                        "Queue": getatt("UploadQueue", "Arn"),
                        "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": UPLOAD_PREFIX}]}},
                    },
                    {  # videos: their own queue and function (docs/video.md)
                        "Event": "s3:ObjectCreated:*",
                        "Queue": getatt("VideoQueue", "Arn"),
                        "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": VIDEO_UPLOAD_PREFIX}]}},
                    },
                ]
            }
        else:
            props["CorsConfiguration"] = {
                "CorsRules": [
                    {
                        "Id": "presigned-get-from-app",
                        "AllowedMethods": ["GET", "HEAD"],
                        "AllowedOrigins": site.app_origins(),
                        "AllowedHeaders": ["*"],
                        "MaxAge": 3000,
                    }
                ]
            }
        resource: Json = {"Type": "AWS::S3::Bucket", **_retention(ctx), "Properties": props}
        if key == "uploads":
            resource["DependsOn"] = ["UploadQueuePolicy", "VideoQueuePolicy"]  # S3 checks it may send first
        resources[logical] = resource
        resources[logical + "Policy"] = {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": ref(logical),
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        site.deny_insecure_transport(
                            getatt(logical, "Arn"), sub("${BucketArn}/*", {"BucketArn": getatt(logical, "Arn")})
                        )
                    ],
                },
            },
        }
    return resources


def layer_resources(ctx: StageContext, layer_zips: dict[str, str]) -> Json:
    target = ctx.layout.target
    resources: Json = {}
    for layer in ctx.layout.layers:
        if layer.name not in layer_zips:
            continue
        resources[layer.logical_id] = {
            "Type": "AWS::Serverless::LayerVersion",
            "Properties": {
                "LayerName": f"{ctx.prefix}-{layer.name}",
                "Description": layer.description[:256],
                "ContentUri": layer_zips[layer.name],
                "CompatibleRuntimes": [target.runtime],
                "CompatibleArchitectures": [target.architecture],
                "RetentionPolicy": "Delete",
            },
        }
    return resources


def secret_resources(ctx: StageContext) -> Json:
    resources: Json = {}
    for secret in SECRETS:
        # Never a SecretString in the template: the value is generated, and for operator-supplied secrets the
        # random value is a placeholder until `aws secretsmanager put-secret-value` (CloudFormation does not
        # regenerate it on later deploys).
        props: Json = {
            "Name": ctx.secret_name(secret.key),
            "Tags": _tags(ctx),
            "Description": secret.description
            if secret.generate
            else f"{secret.description} (created with a random placeholder)",
            "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True},
        }
        resources[secret.logical_id] = {"Type": "AWS::SecretsManager::Secret", **_retention(ctx), "Properties": props}
    return resources


def secret_parameter_name(ctx: StageContext, key: str) -> str:
    """The SSM name under which Parameter Store passes a Secrets Manager secret through (what config.py reads)."""
    return f"/aws/reference/secretsmanager/{ctx.secret_name(key)}"


PLATFORM_APP_FUNCTION_CODE = """\
import json, urllib.request
import boto3
sns = boto3.client("sns")
secrets = boto3.client("secretsmanager")
def send(event, context, status, physical, data=None, reason=""):
    body = json.dumps({"Status": status, "PhysicalResourceId": physical, "StackId": event["StackId"],
        "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"], "Data": data or {},
        "Reason": reason or "see " + context.log_stream_name}).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""})
    urllib.request.urlopen(request, timeout=30)
def handler(event, context):
    props = event["ResourceProperties"]
    physical = event.get("PhysicalResourceId", "not-created")
    try:
        if event["RequestType"] == "Delete":
            if physical.startswith("arn:"):
                sns.delete_platform_application(PlatformApplicationArn=physical)
            return send(event, context, "SUCCESS", physical)
        secret = secrets.get_secret_value(SecretId=props["CredentialsSecretArn"])["SecretString"]
        attributes = json.loads(secret)
        old = event.get("OldResourceProperties", {})
        same = old.get("Name") == props["Name"] and old.get("Platform") == props["Platform"]
        if event["RequestType"] == "Update" and same and physical.startswith("arn:"):
            sns.set_platform_application_attributes(PlatformApplicationArn=physical, Attributes=attributes)
            arn = physical
        else:
            arn = sns.create_platform_application(Name=props["Name"], Platform=props["Platform"],
                                                  Attributes=attributes)["PlatformApplicationArn"]
        send(event, context, "SUCCESS", arn, {"Arn": arn})
    except Exception as exc:
        send(event, context, "FAILED", physical, reason=str(exc)[:500])
"""


def push_resources(ctx: StageContext) -> Json:
    """SNS platform applications (APNs, FCM) for mobile push. CloudFormation has no resource type for them, so a
    small inline custom resource creates them from credentials the operator keeps in Secrets Manager."""
    target = ctx.layout.target
    function_name = f"{ctx.prefix}-push-platform-apps"
    secret_arns = [
        {"Fn::If": ["HasApns", ref("ApnsCredentialsSecretArn"), ref("AWS::NoValue")]},
        {"Fn::If": ["HasFcm", ref("FcmCredentialsSecretArn"), ref("AWS::NoValue")]},
    ]
    resources: Json = {
        "PushPlatformAppsLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Condition": "HasPush",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {"LogGroupName": f"/aws/lambda/{function_name}", "RetentionInDays": 30},
        },
        "PushPlatformAppsRole": {
            "Type": "AWS::IAM::Role",
            "Condition": "HasPush",
            "Properties": {
                "AssumeRolePolicyDocument": _lambda_trust(),
                "Policies": [
                    {
                        "PolicyName": "platform-applications",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                _logs_statement(function_name),
                                statement("ReadPushCredentials", ["secretsmanager:GetSecretValue"], secret_arns),
                                # SNS platform-application actions support no resource-level permissions.
                                statement(
                                    "ManagePlatformApplications",
                                    [
                                        "sns:CreatePlatformApplication",
                                        "sns:SetPlatformApplicationAttributes",
                                        "sns:DeletePlatformApplication",
                                    ],
                                    "*",
                                ),
                            ],
                        },
                    }
                ],
            },
        },
        "PushPlatformAppsFunction": {
            "Type": "AWS::Lambda::Function",
            "Condition": "HasPush",
            "DependsOn": ["PushPlatformAppsLogGroup"],
            "Properties": {
                "FunctionName": function_name,
                "Runtime": target.runtime,
                "Architectures": [target.architecture],
                "Handler": "index.handler",
                "Timeout": 60,
                "MemorySize": 128,
                "Role": getatt("PushPlatformAppsRole", "Arn"),
                "Code": {"ZipFile": PLATFORM_APP_FUNCTION_CODE},
                "TracingConfig": {"Mode": "Active"},
            },
        },
    }
    for logical, condition, platform, secret_param, suffix in (
        ("ApnsPlatformApplication", "HasApns", ref("ApnsPlatform"), "ApnsCredentialsSecretArn", "apns"),
        ("FcmPlatformApplication", "HasFcm", "GCM", "FcmCredentialsSecretArn", "fcm"),
    ):
        resources[logical] = {
            "Type": "Custom::SnsPlatformApplication",
            "Condition": condition,
            "Properties": {
                "ServiceToken": getatt("PushPlatformAppsFunction", "Arn"),
                "Name": f"{ctx.prefix}-{suffix}",
                "Platform": platform,
                "CredentialsSecretArn": ref(secret_param),
            },
        }
    return resources


def _lambda_trust() -> Json:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }


def _logs_statement(function_name: str) -> Json:
    # The log group is created by the template (with a retention), so the function never needs CreateLogGroup.
    return statement(
        "WriteOwnLogs",
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        sub(
            f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/{function_name}:*"
        ),
    )


def platform_template(ctx: StageContext, layer_zips: dict[str, str]) -> Json:
    """Everything but the functions; a complete template on its own, merged into chalice's by ``--merge-template``."""
    if not ctx.app_origins:
        raise ValueError(
            f"stage {ctx.stage}: LIGHTBOX_APP_ORIGINS is empty in .chalice/config.json; the upload "
            f"bucket's CORS needs the app's origins"
        )
    resources: Json = {}
    for part in (
        table_resources(ctx),
        queue_resources(ctx),
        bucket_resources(ctx),
        layer_resources(ctx, layer_zips),
        secret_resources(ctx),
        push_resources(ctx),
    ):
        overlap = resources.keys() & part.keys()
        if overlap:
            raise ValueError(f"duplicate logical ids: {sorted(overlap)}")
        resources.update(part)
    resources["SesEmailIdentity"] = {
        "Type": "AWS::SES::EmailIdentity",
        "Properties": {"EmailIdentity": ref("EmailIdentity")},
    }
    resources["AlarmTopic"] = {
        "Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": f"{ctx.prefix}-alarms", "Tags": _tags(ctx)},
    }
    resources["AlarmEmailSubscription"] = {
        "Type": "AWS::SNS::Subscription",
        "Condition": "HasAlarmEmail",
        "Properties": {"TopicArn": ref("AlarmTopic"), "Protocol": "email", "Endpoint": ref("AlarmEmail")},
    }
    outputs: Json = {
        "UploadQueueUrl": {"Value": ref("UploadQueue")},
        "VideoQueueUrl": {"Value": ref("VideoQueue")},
        "UploadDeadLetterQueueUrl": {"Value": ref("UploadDeadLetterQueue")},
        "JobsQueueUrl": {"Value": ref("JobsQueue")},
        "JobsDeadLetterQueueUrl": {"Value": ref("JobsDeadLetterQueue")},
        "AlarmTopicArn": {"Value": ref("AlarmTopic")},
        "ApnsPlatformApplicationArn": {"Condition": "HasApns", "Value": getatt("ApnsPlatformApplication", "Arn")},
        "FcmPlatformApplicationArn": {"Condition": "HasFcm", "Value": getatt("FcmPlatformApplication", "Arn")},
    }
    from chalicelib.resources import buckets

    for key in buckets(ctx.settings):
        outputs[bucket_logical_id(key) + "Name"] = {"Value": ref(bucket_logical_id(key))}
    for secret in SECRETS:
        outputs[secret.logical_id + "Arn"] = {"Value": ref(secret.logical_id)}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": f"Lightbox ({ctx.stage}): generated by infrastructure/package.py; do not edit by hand",
        "Parameters": {
            "AppOrigins": {
                "Type": "CommaDelimitedList",
                "Default": ",".join(ctx.app_origins),
                "Description": "Web app origins allowed to POST uploads and GET media from the "
                "buckets (CORS); also LIGHTBOX_APP_ORIGINS",
            },
            "EmailSender": {
                "Type": "String",
                "Default": ctx.email_sender,
                "Description": "From address of every email (LIGHTBOX_EMAIL_SENDER)",
            },
            "EmailIdentity": {
                "Type": "String",
                "Default": ctx.email_sender,
                "Description": "SES identity to verify and send as: the sender address, or its "
                "domain (then publish the DKIM records SES shows)",
            },
            "AlarmEmail": {
                "Type": "String",
                "Default": "",
                "Description": "Email address subscribed to the alarm topic (empty: none)",
            },
            "ApnsCredentialsSecretArn": {
                "Type": "String",
                "Default": "",
                "Description": "Secrets Manager secret holding the APNs platform-application attributes as JSON "
                "(empty: no APNs application)",
            },
            "ApnsPlatform": {"Type": "String", "Default": "APNS", "AllowedValues": ["APNS", "APNS_SANDBOX"]},
            "FcmCredentialsSecretArn": {
                "Type": "String",
                "Default": "",
                "Description": "Secrets Manager secret holding the FCM platform-application attributes as JSON "
                "(empty: no FCM application)",
            },
            **site.origin_parameters(),
        },
        "Conditions": {
            "HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [ref("AlarmEmail"), ""]}]},
            "HasApns": {"Fn::Not": [{"Fn::Equals": [ref("ApnsCredentialsSecretArn"), ""]}]},
            "HasFcm": {"Fn::Not": [{"Fn::Equals": [ref("FcmCredentialsSecretArn"), ""]}]},
            "HasPush": {"Fn::Or": [{"Condition": "HasApns"}, {"Condition": "HasFcm"}]},
            **site.origin_conditions(),
        },
        "Resources": resources,
        "Outputs": outputs,
    }


# ---- function wiring -----------------------------------------------------------------------------------------

CHALICE_FUNCTION_NAMES = {
    "APIHandler": "api_handler",
    "WebsocketConnect": "websocket_connect",
    "WebsocketMessage": "websocket_message",
    "WebsocketDisconnect": "websocket_disconnect",
}


@dataclass(frozen=True)
class FunctionInfo:
    logical_id: str
    config_name: str  # the key under "lambda_functions" in .chalice/config.json
    kind: str  # api | websocket | processor | video | worker | relay | other
    function_name: str


def _sqs_queue_names(props: Json) -> list[str]:
    names = []
    for event in (props.get("Events") or {}).values():
        if event.get("Type") != "SQS":
            continue
        queue = event["Properties"]["Queue"]
        text = queue.get("Fn::Sub") if isinstance(queue, dict) else queue
        if isinstance(text, str):
            names.append(text.rsplit(":", 1)[-1])
    return names


def describe_functions(template: Json, ctx: StageContext) -> list[FunctionInfo]:
    from chalicelib.resources import jobs_queue, upload_queue, video_queue

    queue = upload_queue(ctx.settings).name
    videos = video_queue(ctx.settings).name
    jobs = jobs_queue(ctx.settings).name
    infos = []
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        config_name = CHALICE_FUNCTION_NAMES.get(logical) or props["Handler"].rsplit(".", 1)[-1]
        if logical == "APIHandler":
            kind = "api"
        elif logical.startswith("Websocket") and logical in CHALICE_FUNCTION_NAMES:
            kind = "websocket"
        elif queue in _sqs_queue_names(props):
            kind = "processor"
        elif videos in _sqs_queue_names(props):
            kind = "video"
        elif jobs in _sqs_queue_names(props):
            kind = "worker"
        elif config_name == "relay_jobs":
            kind = "relay"
        else:
            kind = "other"
        infos.append(FunctionInfo(logical, config_name, kind, f"{ctx.prefix}-{config_name.replace('_', '-')}"))
    return infos


def function_policy(info: FunctionInfo, ctx: StageContext, template: Json) -> Json:
    """The least-privilege policy for one function: named actions on this stage's resources only."""
    from chalicelib.resources import UPLOAD_PREFIX, VIDEO_UPLOAD_PREFIX

    upload_prefixes = {"photo": UPLOAD_PREFIX, "video": VIDEO_UPLOAD_PREFIX}
    resources = template["Resources"]
    statements = [
        _logs_statement(info.function_name),
        # X-Ray has no resource-level permissions; these two actions are all active tracing needs.
        statement("WriteTraces", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*"),
    ]
    tables = [logical for logical, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"]
    table_arns: list[Any] = []
    for logical in tables:
        table_arns.append(getatt(logical, "Arn"))
        if resources[logical]["Properties"].get("GlobalSecondaryIndexes"):
            table_arns.append(sub("${TableArn}/index/*", {"TableArn": getatt(logical, "Arn")}))
    statements.append(statement("ReadWriteAppTables", DYNAMODB_ACTIONS, table_arns))

    for key, actions in S3_GRANTS[info.kind].items():
        logical = bucket_logical_id(key)
        if key == "uploads":
            kinds = UPLOAD_PREFIX_KINDS.get(info.kind, tuple(upload_prefixes))
            objects: Any = [
                sub("${BucketArn}/" + upload_prefixes[k] + "*", {"BucketArn": getatt(logical, "Arn")}) for k in kinds
            ]
        else:
            objects = sub("${BucketArn}/*", {"BucketArn": getatt(logical, "Arn")})
        statements.append(statement(f"{camel(key)}Objects", actions, objects))
        # ListBucket turns a missing key into 404 (NoSuchKey) instead of 403, which idempotent handlers rely on.
        statements.append(statement(f"{camel(key)}List", ["s3:ListBucket"], getatt(logical, "Arn")))
    for (key, prefix), actions in S3_PREFIX_GRANTS.get(info.kind, {}).items():
        objects = sub("${BucketArn}/" + prefix + "*", {"BucketArn": getatt(bucket_logical_id(key), "Arn")})
        statements.append(statement(f"{camel(key)}{camel(prefix.strip('/'))}Objects", actions, objects))

    if info.kind in SENDS_EMAIL:
        statements.append(
            statement(
                "SendEmail",
                ["ses:SendEmail", "ses:SendRawEmail"],
                sub("arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${EmailIdentity}"),
            )
        )

    if info.kind in PUSHES_TO_PHONES:
        statements.append(
            statement(
                "PushToDevices",
                ["sns:Publish", "sns:DeleteEndpoint"],
                sub("arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:endpoint/*/" + ctx.prefix + "-*/*"),
            )
        )
    if info.kind in REGISTERS_DEVICES:
        statements.append(
            statement(
                "RegisterDevices",
                ["sns:CreatePlatformEndpoint"],
                sub("arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:app/*/" + ctx.prefix + "-*"),
            )
        )
        statements.append(
            statement(
                "TakeOverDevices",
                ["sns:SetEndpointAttributes"],
                sub("arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:endpoint/*/" + ctx.prefix + "-*/*"),
            )
        )

    secret_keys = READS_SECRETS[info.kind]
    if secret_keys:
        defs = [s for s in SECRETS if s.key in secret_keys]
        statements.append(
            statement(
                "ReadSecretsThroughParameterStore",
                ["ssm:GetParameter"],
                [
                    sub(
                        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter"
                        + secret_parameter_name(ctx, s.key)
                    )
                    for s in defs
                ],
            )
        )
        statements.append(
            statement("ReadSecrets", ["secretsmanager:GetSecretValue"], [ref(s.logical_id) for s in defs])
        )

    if info.kind in PUSHES_TO_WEBSOCKETS and "WebsocketAPI" in resources:
        statements.append(
            statement(
                "PostToWebSocketConnections",
                ["execute-api:ManageConnections"],
                sub(
                    "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebsocketAPI}/"
                    + ctx.api_gateway_stage
                    + "/*/@connections/*"
                ),
            )
        )

    if info.kind in PUBLISHES_JOBS:
        statements.append(statement("EnqueueJobs", ["sqs:SendMessage", "sqs:GetQueueUrl"], getatt("JobsQueue", "Arn")))

    for event in (resources[info.logical_id]["Properties"].get("Events") or {}).values():
        if event["Type"] == "SQS":
            statements.append(
                statement(
                    "ConsumeQueue",
                    [
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:ChangeMessageVisibility",
                        "sqs:GetQueueAttributes",
                    ],
                    event["Properties"]["Queue"],
                )
            )
        elif event["Type"] not in ("Api", "Schedule"):  # a schedule invokes the function; it grants nothing
            raise NotImplementedError(
                f"{info.logical_id} has a {event['Type']} event source; give it a grant in "
                f"infrastructure/template.py:function_policy"
            )
    return {"Version": "2012-10-17", "Statement": statements}


def function_environment(ctx: StageContext, template: Json) -> Json:
    """Environment every function gets on top of .chalice/config.json's (which only holds static values)."""
    from chalicelib.resources import buckets

    env: Json = {bucket_env_var(key): ref(bucket_logical_id(key)) for key in buckets(ctx.settings)}
    env.update({s.env_var: secret_parameter_name(ctx, s.key) for s in SECRETS})
    env["LIGHTBOX_EMAIL_SENDER"] = ref("EmailSender")
    for platform, logical, condition in (
        ("APNS", "ApnsPlatformApplication", "HasApns"),
        ("FCM", "FcmPlatformApplication", "HasFcm"),
    ):
        env[f"LIGHTBOX_SNS_{platform}_ARN"] = {"Fn::If": [condition, getatt(logical, "Arn"), ""]}
    # the site's origin (SiteOrigin, set by deploy.py) first: it is also where emails link (web_base_url)
    env["LIGHTBOX_APP_ORIGINS"] = {"Fn::Join": [",", site.app_origins()]}
    env["LIGHTBOX_PUBLIC_API_URL"] = site.public_api_url()  # <site>/api: the API under the site's origin
    if "WebsocketAPI" in template["Resources"]:
        env["LIGHTBOX_WS_ENDPOINT"] = sub(
            "https://${WebsocketAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/" + ctx.api_gateway_stage
        )
    return env


def _alarm(
    description: str,
    namespace: str,
    metric: str,
    dimensions: list[Json],
    statistic: str,
    threshold: float,
    operator: str = "GreaterThanOrEqualToThreshold",
    period: int = 300,
) -> Json:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description,
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": dimensions,
            "Statistic": statistic,
            "Period": period,
            "EvaluationPeriods": 1,
            "Threshold": threshold,
            "ComparisonOperator": operator,
            "TreatMissingData": "notBreaching",
            "AlarmActions": [ref("AlarmTopic")],
            "OKActions": [ref("AlarmTopic")],
        },
    }


def alarm_resources(ctx: StageContext, functions: list[FunctionInfo], template: Json) -> Json:
    from chalicelib.resources import jobs_queue, upload_queue, video_queue

    alarms: Json = {
        "UploadDeadLetterQueueDepthAlarm": _alarm(
            f"{ctx.prefix}: uploads failed processing {upload_queue(ctx.settings).max_receive_count} times and are "
            f"parked in the dead-letter queue",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            [{"Name": "QueueName", "Value": getatt("UploadDeadLetterQueue", "QueueName")}],
            "Maximum",
            1,
        ),
        "VideoDeadLetterQueueDepthAlarm": _alarm(
            f"{ctx.prefix}: videos failed processing {video_queue(ctx.settings).max_receive_count} times and are "
            f"parked in the dead-letter queue (docs/video.md)",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            [{"Name": "QueueName", "Value": getatt("VideoDeadLetterQueue", "QueueName")}],
            "Maximum",
            1,
        ),
        "JobsDeadLetterQueueDepthAlarm": _alarm(
            f"{ctx.prefix}: background jobs failed {jobs_queue(ctx.settings).max_receive_count} times and are "
            f"parked in the dead-letter queue (see docs/jobs.md)",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            [{"Name": "QueueName", "Value": getatt("JobsDeadLetterQueue", "QueueName")}],
            "Maximum",
            1,
        ),
    }
    if "RestAPI" in template["Resources"]:
        alarms["Api5xxRateAlarm"] = _alarm(
            f"{ctx.prefix}: more than {API_5XX_RATE_THRESHOLD:.0%} of REST requests answered 5xx over 5 minutes",
            "AWS/ApiGateway",
            "5XXError",
            [{"Name": "ApiName", "Value": ctx.prefix}, {"Name": "Stage", "Value": ctx.api_gateway_stage}],
            "Average",
            API_5XX_RATE_THRESHOLD,
            operator="GreaterThanThreshold",
        )
    for info in functions:
        dims = [{"Name": "FunctionName", "Value": ref(info.logical_id)}]
        alarms[f"{info.logical_id}ThrottlesAlarm"] = _alarm(
            f"{info.function_name} was throttled", "AWS/Lambda", "Throttles", dims, "Sum", 1
        )
        if info.kind in ("processor", "video", "worker"):
            alarms[f"{info.logical_id}ErrorsAlarm"] = _alarm(
                f"{info.function_name} failed (invocation errors, not per-message failures)",
                "AWS/Lambda",
                "Errors",
                dims,
                "Sum",
                1,
            )
    return alarms


def finalize(template: Json, ctx: StageContext) -> Json:
    """Wire chalice's functions to the platform resources; returns the deployable template."""
    template = copy.deepcopy(template)
    resources = template["Resources"]
    target = ctx.layout.target
    functions = describe_functions(template, ctx)

    # Chalice's roles (one shared DefaultRole with logs on arn:*:logs:*:*:*, sqs on "*", no DynamoDB/S3/SES
    # grants since our boto3 clients are created through chalicelib.aws) and its log groups are replaced.
    for logical in [
        k
        for k, r in resources.items()
        if r["Type"] in ("AWS::IAM::Role", "AWS::Logs::LogGroup") and not k.startswith("PushPlatformApps")
    ]:
        del resources[logical]

    env = function_environment(ctx, template)
    queue_arns = {
        resources[k]["Properties"]["QueueName"]: getatt(k, "Arn")
        for k, r in resources.items()
        if r["Type"] == "AWS::SQS::Queue"
    }
    for info in functions:
        props = resources[info.logical_id]["Properties"]
        if props.get("Architectures") != [target.architecture]:
            raise ValueError(
                f"{info.logical_id}: chalice generated {props.get('Architectures')}, layers are built "
                f"for {target.architecture}; set lambda_architecture in .chalice/config.json"
            )
        props["FunctionName"] = info.function_name
        props["Runtime"] = target.runtime
        props["Tracing"] = "Active"
        props["Layers"] = [
            ref(layer.logical_id) for layer in ctx.layout.layers_for_kind(info.kind) if layer.logical_id in resources
        ]
        props["Environment"] = {"Variables": {**props.get("Environment", {}).get("Variables", {}), **env}}
        if info.kind == "video":  # the source and its renditions are files in /tmp (chalice has no setting)
            props["EphemeralStorage"] = {"Size": VIDEO_EPHEMERAL_STORAGE_MB}
        for event in (props.get("Events") or {}).values():
            if event["Type"] == "SQS":
                (name,) = _sqs_queue_names({"Events": {"e": event}})
                if name not in queue_arns:
                    raise ValueError(
                        f"{info.logical_id} consumes queue {name!r}, which the template does not "
                        f"define (chalicelib.resources)"
                    )
                event["Properties"]["Queue"] = queue_arns[name]
                event["Properties"]["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
        resources[info.logical_id + "LogGroup"] = {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "LogGroupName": f"/aws/lambda/{info.function_name}",
                "RetentionInDays": ctx.log_retention.get(info.config_name, DEFAULT_LOG_RETENTION_DAYS),
            },
        }
        resources[info.logical_id + "Role"] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": _lambda_trust(),
                "Policies": [{"PolicyName": "least-privilege", "PolicyDocument": function_policy(info, ctx, template)}],
                "Tags": _tags(ctx),
            },
        }
        props["Role"] = getatt(info.logical_id + "Role", "Arn")

    api = resources.get("RestAPI")
    if api is not None:
        api_props = api["Properties"]
        api_props["Name"] = ctx.prefix  # also the ApiName dimension of the 5xx alarm
        api_props["DefinitionBody"]["info"]["title"] = ctx.prefix
        api_props["TracingEnabled"] = True
    ws = resources.get("WebsocketAPI")
    if ws is not None:
        ws["Properties"]["Name"] = f"{ctx.prefix}-websocket"

    resources.update(alarm_resources(ctx, functions, template))
    resources.update(site.site_resources(ctx, template, _retention(ctx), _tags(ctx)))
    template["Parameters"].update(site.distribution_parameters())
    template["Conditions"].update(site.distribution_conditions())
    if "RestAPI" in resources:
        resources.update(gateway_responses())
    outputs = template.setdefault("Outputs", {})
    for info in functions:
        outputs[f"{info.logical_id}FunctionName"] = {"Value": ref(info.logical_id)}
    outputs.update(site.site_outputs())
    template["Metadata"] = {
        "Lightbox": {
            "stage": ctx.stage,
            "runtime": target.runtime,
            "architecture": target.architecture,
            "functions": {
                i.logical_id: {"kind": i.kind, "config_name": i.config_name, "layers": props_layers(resources, i)}
                for i in functions
            },
        }
    }
    return template


# Errors API Gateway answers itself (no function runs) get the contract's body too. An unknown path is
# API Gateway's "missing authentication token" 403: clients see the 404 it really is.
GATEWAY_ERRORS = {
    "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found", "No such route."),
    "THROTTLED": ("429", "rate_limited", "Too many requests."),
    "QUOTA_EXCEEDED": ("429", "rate_limited", "Too many requests."),
    "REQUEST_TOO_LARGE": ("413", "payload_too_large", "The request body is too large."),
    "DEFAULT_4XX": (None, "bad_request", None),
    "DEFAULT_5XX": (None, "internal_error", None),
}


def gateway_cors_parameters() -> Json:
    """CORS on the errors API Gateway answers itself (unknown route, throttling, too large, 5xx), so the web app
    can read them. A gateway response cannot choose among origins, so it names the primary (first) one:
    SiteOrigin when set (the site itself calls the API same-origin under /api), else the first of AppOrigins;
    the app's own responses echo any allowed origin. The local server does the same
    (``infrastructure/local/api_server.py``)."""
    return {
        "gatewayresponse.header.Access-Control-Allow-Origin": {
            "Fn::Sub": ["'${Origin}'", {"Origin": {"Fn::Select": ["0", site.app_origins()]}}]
        },
        "gatewayresponse.header.Access-Control-Allow-Credentials": "'true'",
        "gatewayresponse.header.Vary": "'Origin'",
    }


def gateway_responses() -> Json:
    resources: Json = {}
    for response_type, (status, code, message) in GATEWAY_ERRORS.items():
        text = json.dumps(message)[1:-1] if message else "$context.error.messageString"
        body = (
            f'{{"error": {{"code": "{code}", "message": "{text}", "details": {{"request_id": "$context.requestId"}}}}}}'
        )
        props: Json = {
            "RestApiId": ref("RestAPI"),
            "ResponseType": response_type,
            "ResponseTemplates": {"application/json": body},
            "ResponseParameters": {"gatewayresponse.header.Content-Type": "'application/json'"},
        }
        if status:
            props["StatusCode"] = status
        if response_type in ("THROTTLED", "QUOTA_EXCEEDED"):
            props["ResponseParameters"]["gatewayresponse.header.Retry-After"] = "'1'"
        props["ResponseParameters"].update(gateway_cors_parameters())
        logical = "GatewayResponse" + "".join(part.title() for part in response_type.split("_"))
        resources[logical] = {"Type": "AWS::ApiGateway::GatewayResponse", "Properties": props}
    return resources


def props_layers(resources: Json, info: FunctionInfo) -> list[str]:
    return [layer["Ref"] for layer in resources[info.logical_id]["Properties"].get("Layers", [])]


def dump(template: Json) -> str:
    return json.dumps(template, indent=2, sort_keys=False) + "\n"
