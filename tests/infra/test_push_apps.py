"""The inline custom resource that manages SNS platform applications (CloudFormation has no resource type)."""

from __future__ import annotations

import json
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from infrastructure.template import PLATFORM_APP_FUNCTION_CODE


class Context:
    log_stream_name = "stream"


@pytest.fixture
def handler(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        secret = boto3.client("secretsmanager").create_secret(
            Name="push/fcm", SecretString=json.dumps({"PlatformCredential": "fcm-server-key"})
        )["ARN"]
        namespace: dict = {}
        exec(compile(PLATFORM_APP_FUNCTION_CODE, "index.py", "exec"), namespace)  # what Lambda runs inline
        responses = []

        def fake_urlopen(request, timeout):
            responses.append(json.loads(request.data))

        with mock.patch("urllib.request.urlopen", fake_urlopen):
            yield namespace["handler"], secret, responses


def event(kind, secret, **extra):
    return {
        "RequestType": kind,
        "ResponseURL": "https://cfn.example/response",
        "StackId": "stack",
        "RequestId": "req",
        "LogicalResourceId": "FcmPlatformApplication",
        "ResourceProperties": {"Name": "lightbox-dev-fcm", "Platform": "GCM", "CredentialsSecretArn": secret},
        **extra,
    }


def test_create_update_delete(handler):
    handle, secret, responses = handler
    sns = boto3.client("sns")
    handle(event("Create", secret), Context())
    created = responses[-1]
    assert created["Status"] == "SUCCESS", created
    arn = created["PhysicalResourceId"]
    assert arn.startswith("arn:aws:sns:") and created["Data"]["Arn"] == arn
    assert [a["PlatformApplicationArn"] for a in sns.list_platform_applications()["PlatformApplications"]] == [arn]

    handle(
        event(
            "Update",
            secret,
            PhysicalResourceId=arn,
            OldResourceProperties={"Name": "lightbox-dev-fcm", "Platform": "GCM"},
        ),
        Context(),
    )
    assert responses[-1]["PhysicalResourceId"] == arn, "same name and platform: updated in place"

    handle(event("Delete", secret, PhysicalResourceId=arn), Context())
    assert responses[-1]["Status"] == "SUCCESS"
    assert sns.list_platform_applications()["PlatformApplications"] == []


def test_failure_is_reported_not_hung(handler):
    handle, _, responses = handler
    handle(event("Create", "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing"), Context())
    assert responses[-1]["Status"] == "FAILED" and responses[-1]["Reason"]
    assert len(PLATFORM_APP_FUNCTION_CODE) < 4096, "keep the inline (ZipFile) code small"
