"""The deploy script's offline parts: artifact upload and template rewrite (against moto), parameters."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from infrastructure import deploy


@pytest.fixture
def s3():
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1")


def test_artifact_bucket_is_created_private(s3):
    deploy.ensure_artifact_bucket(s3, "lightbox-artifacts-123456789012-us-east-1", "us-east-1")
    block = s3.get_public_access_block(Bucket="lightbox-artifacts-123456789012-us-east-1")
    assert all(block["PublicAccessBlockConfiguration"].values())
    assert s3.get_bucket_encryption(Bucket="lightbox-artifacts-123456789012-us-east-1")
    deploy.ensure_artifact_bucket(s3, "lightbox-artifacts-123456789012-us-east-1", "us-east-1")  # idempotent


def test_upload_rewrites_local_code_to_content_addressed_s3_keys(s3, dev_build):
    s3.create_bucket(Bucket="artifacts")
    template = json.loads((dev_build / "template.json").read_text())
    packaged = deploy.upload_artifacts(template, dev_build, s3, "artifacts", "lightbox/dev")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="artifacts")["Contents"]}
    layers = json.loads((dev_build / "manifest.json").read_text())["layers"]
    assert len(layers) == 4 and len(keys) == 1 + len(layers)  # core, pillow, imaging, video; one shared package
    for name, resource in packaged["Resources"].items():
        prop = deploy.LOCAL_CODE_PROPERTIES.get(resource["Type"])
        if prop:
            location = resource["Properties"][prop]
            assert location["Bucket"] == "artifacts" and location["Key"] in keys, name
    assert template["Resources"]["APIHandler"]["Properties"]["CodeUri"] == "./deployment.zip"  # input untouched
    again = deploy.upload_artifacts(template, dev_build, s3, "artifacts", "lightbox/dev")
    assert again == packaged


def test_parameters_keep_previous_values_unless_overridden(template):
    params = deploy.stack_parameters(template, {"AlarmEmail": "ops@example.com"}, existing={"AlarmEmail", "AppOrigins"})
    assert {"ParameterKey": "AlarmEmail", "ParameterValue": "ops@example.com"} in params
    assert {"ParameterKey": "AppOrigins", "UsePreviousValue": True} in params
    assert not any(p["ParameterKey"] == "EmailSender" for p in params)  # new stack value: template default
    with pytest.raises(SystemExit):
        deploy.stack_parameters(template, {"NoSuchParameter": "x"}, existing=set())
