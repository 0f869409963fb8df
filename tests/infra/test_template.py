"""Assertions on the synthesized template: it holds every resource the code uses, shaped as the code expects."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from tests.infra.cfn_eval import Evaluator
from tests.infra.conftest import ROOT, STAGES, config_env_vars, function_kinds, functions_of, resources_of

SUPPORTED_RUNTIMES = {"python3.12", "python3.13", "python3.14"}
CHALICE_CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())


def _hash_first(keys):
    return sorted(
        ({"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in keys),
        key=lambda k: (k["KeyType"] != "HASH", k["AttributeName"]),
    )


def _by_type(template, resource_type):
    return resources_of(template, resource_type)


# ---- runtime ----------------------------------------------------------------------------------------------


def test_every_function_runs_on_the_chosen_supported_runtime(templates, layers_toml):
    runtime = layers_toml["target"]["runtime"]
    arch = layers_toml["target"]["architecture"]
    assert runtime in SUPPORTED_RUNTIMES
    lifecycle = json.loads(
        (
            Path(__import__("cfnlint").__file__).parent / "data" / "AdditionalSpecs" / "LmbdRuntimeLifecycle.json"
        ).read_text()
    )
    assert date.fromisoformat(lifecycle[runtime]["deprecated"]) > date.today(), f"{runtime} is deprecated"
    for stage, template in templates.items():
        lambdas = {**functions_of(template), **_by_type(template, "AWS::Lambda::Function")}
        assert len(functions_of(template)) >= 5
        for name, fn in lambdas.items():
            assert fn["Properties"]["Runtime"] == runtime, (stage, name)
            assert fn["Properties"]["Architectures"] == [arch], (stage, name)
        for name, layer in _by_type(template, "AWS::Serverless::LayerVersion").items():
            assert layer["Properties"]["CompatibleRuntimes"] == [runtime], name
            assert layer["Properties"]["CompatibleArchitectures"] == [arch], name


def test_functions_are_the_apps_handlers(template):
    import ast

    tree = ast.parse((ROOT / "app.py").read_text())
    decorated = {
        node.name: [ast.unparse(d) for d in node.decorator_list]
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.decorator_list
    }
    handlers = {fn["Properties"]["Handler"] for fn in functions_of(template).values()}
    assert "app.app" in handlers
    for name, decorators in decorated.items():
        if any(d.startswith(("app.on_", "app.schedule")) for d in decorators):
            assert f"app.{name}" in handlers, f"{name} has no function in the template"
    kinds = function_kinds(template)
    assert sorted(kinds.values()).count("api") == 1
    assert sorted(kinds.values()).count("websocket") == 3
    assert "processor" in kinds.values(), "no function consumes the upload queue"
    assert sorted(kinds.values()).count("worker") == 1, "one function consumes the jobs queue"
    assert sorted(kinds.values()).count("relay") == 1, "one scheduled function re-sends undispatched events"


def test_function_settings_come_from_chalice_config(template, facts):
    kinds = function_kinds(template)
    fns = functions_of(template)
    processor = next(fns[k] for k, kind in kinds.items() if kind == "processor")
    assert processor["Properties"]["Timeout"] == facts["dev"]["processor_timeout"]
    assert (
        CHALICE_CONFIG["lambda_functions"]["process_upload_queue"]["lambda_timeout"]
        == facts["dev"]["processor_timeout"]
    )
    api = fns["APIHandler"]["Properties"]
    assert api["Timeout"] <= 29, "API Gateway stops waiting after 29 s"
    assert processor["Properties"]["MemorySize"] > api["MemorySize"]


def test_layers_per_function(template, layers_toml):
    kinds = function_kinds(template)
    fns = functions_of(template)
    layer_ids = set(_by_type(template, "AWS::Serverless::LayerVersion"))
    assert layer_ids == {"CoreLayer", "PillowLayer", "ImagingLayer", "VideoLayer"}
    for name, kind in kinds.items():
        layers = [ref["Ref"] for ref in fns[name]["Properties"]["Layers"]]
        assert "CoreLayer" in layers
        assert ("ImagingLayer" in layers) == (kind == "processor"), f"{name} ({kind}): {layers}"
        assert ("PillowLayer" in layers) == (kind in ("api", "processor", "video")), f"{name} ({kind}): {layers}"
        assert ("VideoLayer" in layers) == (kind == "video"), f"{name} ({kind}): the ffmpeg layer is the video's only"


# ---- DynamoDB ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_tables_match_the_pynamodb_models(templates, facts, stage):
    tables = {t["Properties"]["TableName"]: t for t in _by_type(templates[stage], "AWS::DynamoDB::Table").values()}
    expected = {t["TableName"]: t for t in facts[stage]["tables"]}
    assert set(tables) == set(expected)
    assert all(name.startswith(f"lightbox-{stage}-") for name in tables)
    for name, model in expected.items():
        props = tables[name]["Properties"]
        assert props["KeySchema"] == _hash_first(model["KeySchema"]), name
        assert props["KeySchema"][0]["KeyType"] == "HASH"
        assert sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
            model["AttributeDefinitions"], key=lambda a: a["AttributeName"]
        ), name
        got_gsis = {g["IndexName"]: g for g in props.get("GlobalSecondaryIndexes", [])}
        want_gsis = {g["IndexName"]: g for g in model["GlobalSecondaryIndexes"]}
        assert set(got_gsis) == set(want_gsis), name
        for index, gsi in want_gsis.items():
            assert got_gsis[index]["KeySchema"] == _hash_first(gsi["KeySchema"]), (name, index)
            assert got_gsis[index]["KeySchema"][0]["KeyType"] == "HASH"
            assert got_gsis[index]["Projection"] == gsi["Projection"], (name, index)
        ttl = props.get("TimeToLiveSpecification")
        if model["TimeToLiveAttribute"]:
            assert ttl == {"AttributeName": model["TimeToLiveAttribute"], "Enabled": True}, name
        else:
            assert ttl is None, name
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"]["SSEEnabled"] is True
        assert "ProvisionedThroughput" not in props


def test_production_data_survives_the_stack(templates):
    for stage, retained in (("prod", True), ("dev", False)):
        for kind in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret"):
            for name, resource in _by_type(templates[stage], kind).items():
                policy = "Retain" if retained else "Delete"
                assert resource["DeletionPolicy"] == policy, (stage, name)
                assert resource["UpdateReplacePolicy"] == policy, (stage, name)
        for table in _by_type(templates[stage], "AWS::DynamoDB::Table").values():
            assert table["Properties"]["DeletionProtectionEnabled"] is retained


# ---- S3 ---------------------------------------------------------------------------------------------------


def _buckets_by_key(template, facts):
    out = {}
    for name, bucket in _by_type(template, "AWS::S3::Bucket").items():
        sub = bucket["Properties"]["BucketName"]["Fn::Sub"]
        for key, base in facts["buckets"].items():
            if sub == f"{base}-${{AWS::AccountId}}-${{AWS::Region}}":
                out[key] = (name, bucket)
    return out


def test_every_bucket_exists_and_is_private_and_encrypted(template, facts):
    buckets = _buckets_by_key(template, facts["dev"])
    assert set(buckets) == set(facts["dev"]["buckets"]), "a bucket the code uses is missing"
    for key, (_name, bucket) in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, key
        assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        assert sse["SSEAlgorithm"] in ("AES256", "aws:kms")
        assert "AccessControl" not in props and "WebsiteConfiguration" not in props
        rules = props["LifecycleConfiguration"]["Rules"]
        assert any(
            r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation", 99) <= 7 and r["Status"] == "Enabled"
            for r in rules
        ), key
    policies = _by_type(template, "AWS::S3::BucketPolicy")
    for policy in policies.values():
        for st in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert not (st["Effect"] == "Allow" and st.get("Principal") in ("*", {"AWS": "*"})), st


def test_uploads_bucket_expires_pending_uploads_and_allows_only_app_origins(template, facts):
    name, bucket = _buckets_by_key(template, facts["dev"])["uploads"]
    props = bucket["Properties"]
    prefix = facts["dev"]["upload_prefix"]
    expiring = [
        r for r in props["LifecycleConfiguration"]["Rules"] if r.get("Prefix") == prefix and r.get("ExpirationInDays")
    ]
    assert expiring and expiring[0]["ExpirationInDays"] <= 7 and expiring[0]["Status"] == "Enabled"
    (cors,) = props["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedMethods"] == ["POST"]
    origins = CHALICE_CONFIG["stages"]["dev"]["environment_variables"]["LIGHTBOX_APP_ORIGINS"]
    assert template["Parameters"]["AppOrigins"]["Default"] == origins
    assert "*" not in origins.split(",")
    site = "https://d111111abcdef8.cloudfront.net"
    before, after = Evaluator(template), Evaluator(template, SiteOrigin=site)  # deploy.py sets SiteOrigin
    assert before(cors["AllowedOrigins"]) == origins.split(",")
    assert after(cors["AllowedOrigins"]) == [site, *origins.split(",")]
    for fn in functions_of(template).values():
        env = fn["Properties"]["Environment"]["Variables"]
        assert before(env["LIGHTBOX_APP_ORIGINS"]) == origins
        assert after(env["LIGHTBOX_APP_ORIGINS"]) == f"{site},{origins}"  # first: web_base_url, email links
    _, media = _buckets_by_key(template, facts["dev"])["media"]
    for rule in media["Properties"].get("CorsConfiguration", {}).get("CorsRules", []):
        assert before(rule["AllowedOrigins"]) == origins.split(",")
        assert after(rule["AllowedOrigins"]) == [site, *origins.split(",")]
        assert set(rule["AllowedMethods"]) <= {"GET", "HEAD"}


def test_uploads_reach_the_queue(template, facts):
    name, bucket = _buckets_by_key(template, facts["dev"])["uploads"]
    config, video = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert video["Queue"] == {"Fn::GetAtt": ["VideoQueue", "Arn"]} and video["Event"] == "s3:ObjectCreated:*"
    assert video["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": facts["dev"]["video_upload_prefix"]}]
    assert not facts["dev"]["video_upload_prefix"].startswith(facts["dev"]["upload_prefix"])  # disjoint
    assert "VideoQueuePolicy" in bucket["DependsOn"]
    assert config["Event"] == "s3:ObjectCreated:*"
    assert config["Queue"] == {"Fn::GetAtt": ["UploadQueue", "Arn"]}
    assert config["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": facts["dev"]["upload_prefix"]}]
    assert "UploadQueuePolicy" in bucket["DependsOn"]
    policy = template["Resources"]["UploadQueuePolicy"]["Properties"]
    (allow,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert "aws:SourceArn" in allow["Condition"]["ArnEquals"]


# ---- SQS --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_upload_queue_has_a_dead_letter_queue(templates, facts, stage):
    template, q = templates[stage], facts[stage]["queue"]
    queues = {r["Properties"]["QueueName"]: (k, r) for k, r in _by_type(template, "AWS::SQS::Queue").items()}
    jobs, video = facts[stage]["jobs_queue"], facts[stage]["video_queue"]
    assert set(queues) == {q["name"], q["dlq"], jobs["name"], jobs["dlq"], video["name"], video["dlq"]}
    main_id, main = queues[q["name"]]
    dlq_id, dlq = queues[q["dlq"]]
    assert main["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": q["max_receives"],
    }
    assert main["Properties"]["VisibilityTimeout"] == q["visibility"]
    assert dlq["Properties"]["MessageRetentionPeriod"] >= 7 * 24 * 3600
    kinds = function_kinds(template)
    processor = next(functions_of(template)[k] for k, kind in kinds.items() if kind == "processor")
    timeout = processor["Properties"]["Timeout"]
    assert q["visibility"] >= 6 * timeout, "AWS: visibility timeout >= 6x the function timeout"


@pytest.mark.parametrize("stage", STAGES)
def test_jobs_queue_has_a_dead_letter_queue_an_alarm_and_one_worker(templates, facts, stage):
    template, q = templates[stage], facts[stage]["jobs_queue"]
    queues = {r["Properties"]["QueueName"]: (k, r) for k, r in _by_type(template, "AWS::SQS::Queue").items()}
    main_id, main = queues[q["name"]]
    dlq_id, _ = queues[q["dlq"]]
    assert (main_id, dlq_id) == ("JobsQueue", "JobsDeadLetterQueue")
    assert main["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": q["max_receives"],
    }
    kinds = function_kinds(template)
    (worker,) = [functions_of(template)[k] for k, kind in kinds.items() if kind == "worker"]
    assert worker["Properties"]["Handler"] == "app.run_jobs"
    assert worker["Properties"]["Timeout"] == facts[stage]["worker_timeout"]
    assert CHALICE_CONFIG["lambda_functions"]["run_jobs"]["lambda_timeout"] == facts[stage]["worker_timeout"]
    assert q["visibility"] >= 6 * worker["Properties"]["Timeout"]
    (event,) = worker["Properties"]["Events"].values()
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["JobsQueue", "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    depth = [
        a["Properties"]
        for a in _by_type(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]
    ]
    assert len(depth) == 1 and depth[0]["Threshold"] == 1


def test_processor_reports_partial_batch_failures(template):
    kinds = function_kinds(template)
    processors = [functions_of(template)[k] for k, kind in kinds.items() if kind == "processor"]
    assert processors
    for fn in processors:
        (event,) = fn["Properties"]["Events"].values()
        assert event["Type"] == "SQS"
        assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["UploadQueue", "Arn"]}
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert 1 <= event["Properties"]["BatchSize"] <= 10


# ---- environment ------------------------------------------------------------------------------------------


def test_environment_matches_what_config_reads(template, facts):
    read = config_env_vars()
    resources = template["Resources"]
    required = {
        "LIGHTBOX_STAGE",
        "LIGHTBOX_JWT_SECRET_PARAM",
        "LIGHTBOX_STRIPE_SECRET_PARAM",
        "LIGHTBOX_WS_ENDPOINT",
        "LIGHTBOX_EMAIL_SENDER",
        "LIGHTBOX_APP_ORIGINS",
    }
    required |= {f"LIGHTBOX_{key.upper()}_BUCKET" for key in facts["dev"]["buckets"]}
    assert required <= read, f"config.py does not read {sorted(required - read)}"
    local_only = {
        "LIGHTBOX_JWT_SECRET",
        "LIGHTBOX_STRIPE_SECRET_KEY",
        "LIGHTBOX_AWS_ENDPOINT_URL",
        "LIGHTBOX_STRIPE_API_BASE",
    }
    kinds = function_kinds(template)
    for name, fn in functions_of(template).items():
        env = fn["Properties"]["Environment"]["Variables"]
        assert set(env) <= read | {"AWS_XRAY_CONTEXT_MISSING"}, f"{name}: unknown {sorted(set(env) - read)}"
        assert required <= set(env), f"{name}: missing {sorted(required - set(env))}"
        assert not local_only & set(env), name
        assert env["LIGHTBOX_STAGE"] == "dev"
        assert (env.get("LIGHTBOX_XRAY_PATCH") == "true") == (kinds[name] == "processor"), name
        for key in facts["dev"]["buckets"]:
            ref = env[f"LIGHTBOX_{key.upper()}_BUCKET"]["Ref"]
            assert resources[ref]["Type"] == "AWS::S3::Bucket"
        assert env["LIGHTBOX_WS_ENDPOINT"] == {
            "Fn::Sub": "https://${WebsocketAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"
            + CHALICE_CONFIG["api_gateway_stage"]
        }
        assert env["LIGHTBOX_EMAIL_SENDER"] == {"Ref": "EmailSender"}
        secrets = {r["Properties"]["Name"] for r in _by_type(template, "AWS::SecretsManager::Secret").values()}
        for var in ("LIGHTBOX_JWT_SECRET_PARAM", "LIGHTBOX_STRIPE_SECRET_PARAM"):
            assert env[var].startswith("/aws/reference/secretsmanager/")
            assert env[var].removeprefix("/aws/reference/secretsmanager/") in secrets, var
    sender = CHALICE_CONFIG["stages"]["dev"]["environment_variables"]["LIGHTBOX_EMAIL_SENDER"]
    assert template["Parameters"]["EmailSender"]["Default"] == sender


def test_ses_identity_and_secrets_exist(template):
    (identity,) = _by_type(template, "AWS::SES::EmailIdentity").values()
    assert identity["Properties"]["EmailIdentity"] == {"Ref": "EmailIdentity"}
    secrets = _by_type(template, "AWS::SecretsManager::Secret")
    jwt = secrets["JwtSigningKeySecret"]["Properties"]
    assert jwt["GenerateSecretString"]["PasswordLength"] >= 32
    assert "SecretString" not in jwt, "no secret values in the template"


def test_push_platform_applications_are_created_when_configured(template):
    resources = template["Resources"]
    for logical, platform in (("ApnsPlatformApplication", {"Ref": "ApnsPlatform"}), ("FcmPlatformApplication", "GCM")):
        app = resources[logical]
        assert app["Type"] == "Custom::SnsPlatformApplication"
        assert app["Properties"]["Platform"] == platform
        assert app["Condition"] in template["Conditions"]
    assert resources["PushPlatformAppsFunction"]["Condition"] == "HasPush"


# ---- APIs, tracing, alarms --------------------------------------------------------------------------------


def test_rest_and_websocket_apis_with_tracing(template):
    resources = template["Resources"]
    api = resources["RestAPI"]["Properties"]
    assert api["TracingEnabled"] is True
    assert api["EndpointConfiguration"] == "REGIONAL"
    assert api["Name"] == "lightbox-dev"
    ws = resources["WebsocketAPI"]["Properties"]
    assert ws["ProtocolType"] == "WEBSOCKET"
    routes = {r["Properties"]["RouteKey"] for r in _by_type(template, "AWS::ApiGatewayV2::Route").values()}
    assert routes == {"$connect", "$disconnect", "$default"}
    for name, fn in functions_of(template).items():
        assert fn["Properties"]["Tracing"] == "Active", name


def test_alarms(template):
    resources = template["Resources"]
    alarms = _by_type(template, "AWS::CloudWatch::Alarm")
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    metric = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a for a in alarms.values()}
    depth = {
        a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]: a["Properties"]
        for a in alarms.values()
        if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    }
    assert set(depth) == {"UploadDeadLetterQueue", "VideoDeadLetterQueue", "JobsDeadLetterQueue"}, (
        "every dead-letter queue is alarmed"
    )
    for dlq in depth.values():
        assert dlq["Threshold"] == 1 and dlq["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    five = metric[("AWS/ApiGateway", "5XXError")]["Properties"]
    assert {"Name": "ApiName", "Value": resources["RestAPI"]["Properties"]["Name"]} in five["Dimensions"]
    assert five["Statistic"] == "Average" and 0 < five["Threshold"] < 1
    throttled = {
        a["Properties"]["Dimensions"][0]["Value"]["Ref"]
        for a in alarms.values()
        if a["Properties"]["MetricName"] == "Throttles"
    }
    assert throttled == set(functions_of(template))
    kinds = function_kinds(template)
    errors = {
        a["Properties"]["Dimensions"][0]["Value"]["Ref"]
        for a in alarms.values()
        if a["Properties"]["MetricName"] == "Errors"
    }
    assert {k for k, kind in kinds.items() if kind in ("processor", "video", "worker")} <= errors
    assert template["Resources"]["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"


def test_log_groups_have_retention(template):
    groups = {g["Properties"]["LogGroupName"]: g for g in _by_type(template, "AWS::Logs::LogGroup").values()}
    for fn in functions_of(template).values():
        group = groups[f"/aws/lambda/{fn['Properties']['FunctionName']}"]
        assert group["Properties"]["RetentionInDays"] == CHALICE_CONFIG["stages"]["dev"]["log_retention_in_days"]


def test_no_stage_leaks_into_another(templates):
    for stage, template in templates.items():
        text = json.dumps(template)
        for other in STAGES:
            if other != stage:
                assert not re.search(rf"lightbox[-/]{other}[-/]", text), (stage, other)


def test_api_gateway_own_errors_have_the_contract_body(template):
    """Unknown routes, throttling and oversized bodies never reach a function: API Gateway answers them."""
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in _by_type(template, "AWS::ApiGateway::GatewayResponse").values()
    }
    assert {"MISSING_AUTHENTICATION_TOKEN", "THROTTLED", "REQUEST_TOO_LARGE", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(
        responses
    )
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    assert responses["THROTTLED"]["StatusCode"] == "429"
    assert "gatewayresponse.header.Retry-After" in responses["THROTTLED"]["ResponseParameters"]
    for props in responses.values():
        assert props["RestApiId"] == {"Ref": "RestAPI"}
        body = props["ResponseTemplates"]["application/json"]
        assert body.startswith('{"error": {"code": "') and '"message": "' in body


def test_preflight_reaches_the_app_and_gateway_errors_carry_cors(template):
    """OPTIONS on every path is a Lambda proxy method (the app answers preflight for LIGHTBOX_APP_ORIGINS);
    the errors API Gateway answers itself name the primary web origin, with credentials and Vary."""
    paths = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    for path, methods in paths.items():
        assert "options" in methods, path
        assert methods["options"]["x-amazon-apigateway-integration"]["type"] == "aws_proxy", path
    for r in _by_type(template, "AWS::ApiGateway::GatewayResponse").values():
        params = r["Properties"]["ResponseParameters"]
        allow = params["gatewayresponse.header.Access-Control-Allow-Origin"]
        primary = template["Parameters"]["AppOrigins"]["Default"].split(",")[0]
        assert Evaluator(template)(allow) == f"'{primary}'"
        assert Evaluator(template, SiteOrigin="https://d1.cloudfront.net")(allow) == "'https://d1.cloudfront.net'"
        assert params["gatewayresponse.header.Access-Control-Allow-Credentials"] == "'true'"
        assert params["gatewayresponse.header.Vary"] == "'Origin'"
    assert "AppOrigins" in template["Parameters"]


def test_the_video_function(template, facts):
    """Its own queue (one message per invocation), room to work (memory, the longest timeout, /tmp), and a
    queue whose visibility outlasts it."""
    kinds = function_kinds(template)
    (name,) = [k for k, kind in kinds.items() if kind == "video"]
    props = functions_of(template)[name]["Properties"]
    assert props["MemorySize"] >= 3008 and props["Timeout"] == facts["dev"]["video_timeout"] <= 900
    assert props["EphemeralStorage"]["Size"] >= 4096
    (event,) = props["Events"].values()
    assert event["Type"] == "SQS" and event["Properties"]["BatchSize"] == 1
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["VideoQueue", "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = template["Resources"]["VideoQueue"]["Properties"]
    assert queue["QueueName"] == facts["dev"]["video_queue"]["name"]
    assert queue["VisibilityTimeout"] >= 6 * props["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["VideoDeadLetterQueue", "Arn"]}
    assert queue["RedrivePolicy"]["maxReceiveCount"] == facts["dev"]["video_queue"]["max_receives"]


def test_uploads_bucket_expires_verification_documents_and_never_processes_them(template, facts):
    from chalicelib.resources import UPLOAD_PREFIX, VERIFICATION_PREFIX

    _, bucket = _buckets_by_key(template, facts["dev"])["uploads"]
    props = bucket["Properties"]
    [rule] = [r for r in props["LifecycleConfiguration"]["Rules"] if r.get("Prefix") == VERIFICATION_PREFIX]
    assert rule["Status"] == "Enabled" and 1 <= rule["ExpirationInDays"] <= 30
    # The queues are notified for the photo and video inboxes only: identity documents trigger no processing.
    from chalicelib.resources import VIDEO_UPLOAD_PREFIX

    for queue in props["NotificationConfiguration"]["QueueConfigurations"]:
        [prefix] = queue["Filter"]["S3Key"]["Rules"]
        assert prefix["Value"] in (UPLOAD_PREFIX, VIDEO_UPLOAD_PREFIX)
        assert not VERIFICATION_PREFIX.startswith(prefix["Value"])
