"""Least privilege: one role per function, named actions only, resources scoped to this stack."""

from __future__ import annotations

import json
import re

import pytest

from tests.infra.conftest import ROOT, STAGES, function_kinds, functions_of

# Actions that support no resource-level permissions, so "*" is the only possible Resource.
RESOURCE_STAR_OK = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "sns:CreatePlatformApplication",
    "sns:SetPlatformApplicationAttributes",
    "sns:DeletePlatformApplication",
}
# boto3 service name -> IAM prefix
SERVICE_PREFIX = {
    "apigatewaymanagementapi": "execute-api",
    "s3": "s3",
    "ses": "ses",
    "sesv2": "ses",
    "sqs": "sqs",
    "ssm": "ssm",
    "sns": "sns",
    "secretsmanager": "secretsmanager",
    "dynamodb": "dynamodb",
    "kms": "kms",
    "lambda": "lambda",
    "events": "events",
    "stepfunctions": "states",
    "rekognition": "rekognition",
    "cognito-idp": "cognito-idp",
}
# Modules that only ever run locally or with an operator's own credentials (never in a Lambda function).
NOT_DEPLOYED = {"chalicelib/resources.py", "chalicelib/cli.py"}


def _as_list(value):
    return value if isinstance(value, list) else [value]


def policy_documents(template):
    """(where, document) for every identity and resource policy in the template."""
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                yield f"{name}/{policy['PolicyName']}", policy["PolicyDocument"]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") or resource["Type"] in (
            "AWS::S3::BucketPolicy",
            "AWS::SQS::QueuePolicy",
            "AWS::SNS::TopicPolicy",
        ):
            yield name, props["PolicyDocument"]


def allow_statements(template):
    for where, doc in policy_documents(template):
        for st in doc["Statement"]:
            if st["Effect"] == "Allow":
                yield where, st


@pytest.mark.parametrize("stage", STAGES)
def test_no_wildcard_actions(templates, stage):
    found = list(allow_statements(templates[stage]))
    assert len(found) > 20
    for where, st in found:
        assert "NotAction" not in st and "NotResource" not in st, where
        for action in _as_list(st["Action"]):
            assert "*" not in action, f"{where}: {action}"
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action), f"{where}: {action}"


@pytest.mark.parametrize("stage", STAGES)
def test_resource_star_only_where_aws_offers_nothing_narrower(templates, stage):
    for where, st in allow_statements(templates[stage]):
        if "*" in _as_list(st["Resource"]):
            assert set(_as_list(st["Action"])) <= RESOURCE_STAR_OK, f"{where}: {st['Action']} on *"
        for resource in _as_list(st["Resource"]):
            if isinstance(resource, str):
                assert resource == "*", f"{where}: literal ARN {resource} (not scoped to this stack)"
            elif "Fn::Sub" in resource:
                text = resource["Fn::Sub"] if isinstance(resource["Fn::Sub"], str) else resource["Fn::Sub"][0]
                assert text.startswith("arn:${AWS::Partition}:") or text.startswith("${"), f"{where}: {text}"
                if text.startswith("arn:") and ":s3:::" not in text:
                    assert ":${AWS::Region}:${AWS::AccountId}:" in text, f"{where}: {text}"
                assert not re.search(r":\*:|::\*|^\*", text), f"{where}: {text}"


def test_each_function_has_its_own_least_privilege_role(template):
    resources = template["Resources"]
    roles = {}
    for name, fn in functions_of(template).items():
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        assert resources[role]["Type"] == "AWS::IAM::Role"
        assert "ManagedPolicyArns" not in resources[role]["Properties"], f"{role}: managed policies are broad"
        roles[name] = role
    assert len(set(roles.values())) == len(roles), "functions share a role"
    assert "DefaultRole" not in resources, "chalice's auto-generated shared role is still there"


def _grants(template, function):
    role = functions_of(template)[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    return {action for st in statements for action in _as_list(st["Action"])}, statements


def test_grants_follow_each_functions_job(template):
    kinds = function_kinds(template)
    for name, kind in kinds.items():
        actions, statements = _grants(template, name)
        assert {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments"} <= actions
        assert "dynamodb:Scan" not in actions, "every listing is a Query"
        assert "logs:CreateLogGroup" not in actions
        sqs = {a for a in actions if a.startswith("sqs:")}
        enqueue = [st for st in statements if st.get("Sid") == "EnqueueJobs"]
        assert len(enqueue) == 1, f"{name}: every function may publish jobs"
        assert _as_list(enqueue[0]["Resource"]) == [{"Fn::GetAtt": ["JobsQueue", "Arn"]}], name
        assert set(_as_list(enqueue[0]["Action"])) == {"sqs:SendMessage", "sqs:GetQueueUrl"}, name
        if kind == "websocket":
            assert not {a for a in actions if a.startswith("s3:")}, name
            assert sqs == {"sqs:SendMessage", "sqs:GetQueueUrl"}, name
            assert "execute-api:ManageConnections" in actions
        if kind in ("processor", "video"):
            assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "s3:GetObject", "s3:PutObject"} <= actions
            assert not {a for a in actions if a.startswith(("ssm:", "secretsmanager:"))}, name
        if kind == "api":
            assert {
                "s3:PutObject",
                "ses:SendEmail",
                "ssm:GetParameter",
                "secretsmanager:GetSecretValue",
                "execute-api:ManageConnections",
            } <= actions
            assert sqs == {"sqs:SendMessage", "sqs:GetQueueUrl"}, name
        if kind == "worker":
            assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "s3:DeleteObject", "ses:SendEmail"} <= actions
            # it reads media (the variants that go into order archives) and writes only the archives prefix
            from chalicelib.resources import ARCHIVE_PREFIX

            writes = [st for st in statements if "s3:PutObject" in _as_list(st["Action"])]
            assert len(writes) == 1, name
            assert set(_as_list(writes[0]["Action"])) == {
                "s3:PutObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            }
            assert _as_list(writes[0]["Resource"]) == [
                {
                    "Fn::Sub": [
                        "${BucketArn}/" + ARCHIVE_PREFIX + "*",
                        {"BucketArn": {"Fn::GetAtt": ["MediaBucket", "Arn"]}},
                    ]
                }
            ], name
            assert "s3:GetObject" in actions
            # Stripe (expiring orders, payouts), the print lab's key (submitting prints), the JWT key (signed
            # download links in pushed orders); never the webhook secrets, which only the API verifies with
            reads = [st for st in statements if st.get("Sid") == "ReadSecrets"]
            assert len(reads) == 1, name
            assert sorted(r["Ref"] for r in _as_list(reads[0]["Resource"])) == [
                "JwtSigningKeySecret",
                "PrintLabApiKeySecret",
                "StripeSecretKeySecret",
            ], name
        if kind == "relay":  # re-sends undispatched domain events: its tables and the jobs queue, nothing else
            assert sqs == {"sqs:SendMessage", "sqs:GetQueueUrl"}, name
            assert not {a for a in actions if a.startswith(("s3:", "ses:", "sns:", "ssm:", "secretsmanager:"))}, name
        if kind != "processor":
            assert "ImagingLayer" not in json.dumps(functions_of(template)[name]["Properties"]["Layers"])


def test_every_function_that_notifies_may_email_and_push(template):
    """Notifications leave from the API, the processor and the WebSocket handlers alike."""
    for name, kind in function_kinds(template).items():
        if kind == "relay":
            continue  # it only re-sends queued events
        actions, _ = _grants(template, name)
        assert {"ses:SendEmail", "sns:Publish", "sns:DeleteEndpoint"} <= actions, name
        assert ("sns:CreatePlatformEndpoint" in actions) == (kind == "api"), name


def test_uploads_are_writable_only_under_the_upload_prefix(template, facts):
    """Each processor reaches only its own inbox prefix; the API (signing POSTs) and the worker (purges) both, and
    the identity documents' prefix (the API signs the POST and staff's GET and deletes after the decision; the
    worker deletes a deleted account's)."""
    from chalicelib.resources import VERIFICATION_PREFIX

    kinds = function_kinds(template)
    photo, video = facts["dev"]["upload_prefix"], facts["dev"]["video_upload_prefix"]
    allowed = {"processor": {photo}, "video": {video}, "api": {photo, video, VERIFICATION_PREFIX}}
    allowed["worker"] = allowed["api"]
    for name in functions_of(template):
        prefixes = allowed.get(kinds[name], {photo, video})
        _, statements = _grants(template, name)
        for st in statements:
            for resource in _as_list(st["Resource"]):
                if isinstance(resource, dict) and "Fn::Sub" in resource and isinstance(resource["Fn::Sub"], list):
                    text, variables = resource["Fn::Sub"]
                    target = json.dumps(variables)
                    if "UploadsBucket" in target and text.startswith("${BucketArn}/"):
                        assert text.removeprefix("${BucketArn}/").removesuffix("*") in prefixes, (name, text)


def test_every_aws_service_the_code_calls_is_granted(template):
    used: dict[str, set[str]] = {}
    for path in (ROOT / "chalicelib").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel in NOT_DEPLOYED:
            continue
        for service in re.findall(r"""client\(\s*["']([a-z0-9-]+)["']""", path.read_text()):
            used.setdefault(service, set()).add(rel)
    used.setdefault("dynamodb", set()).add("chalicelib/models (PynamoDB)")
    granted = set()
    for _, st in allow_statements(template):
        granted |= {a.split(":")[0] for a in _as_list(st["Action"])}
    for service, files in used.items():
        prefix = SERVICE_PREFIX.get(service)
        assert prefix, f"map boto3 service {service!r} to its IAM prefix in this test"
        assert prefix in granted, (
            f"{sorted(files)} call {service} but no function may: add a grant in "
            f"infrastructure/template.py:function_policy"
        )
