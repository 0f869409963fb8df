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


# ---- the web app ---------------------------------------------------------------------------------------------


@pytest.fixture
def dist(tmp_path):
    """A web/dist as Vite writes it (plus a stale app-config.json the deploy must replace)."""
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text('<script type="module" src="/assets/index-abc123.js"></script>')
    (root / "assets" / "index-abc123.js").write_text("console.log(1)")
    (root / "assets" / "index-def456.css").write_text("body{}")
    (root / "assets" / "chart-0a1b2c.js").write_text("export {}")
    (root / "favicon.svg").write_text("<svg/>")
    (root / "app-config.json").write_text('{"api_url": "http://127.0.0.1:8000"}')
    return root


def test_upload_plan_caches_hashed_assets_forever_and_the_shell_never(dist):
    plan = deploy.site_upload_plan(dist, "https://d1.cloudfront.net")
    keys = [f.key for f in plan]
    assert keys[-2:] == ["app-config.json", "index.html"]  # index.html last: it names only uploaded assets
    assert keys.count("app-config.json") == 1
    by_key = {f.key: f for f in plan}
    for key in ("assets/index-abc123.js", "assets/index-def456.css", "assets/chart-0a1b2c.js"):
        assert by_key[key].cache_control == "public, max-age=31536000, immutable", key
    for key in ("index.html", "app-config.json", "favicon.svg"):
        assert by_key[key].cache_control == "no-cache", key
    assert by_key["assets/index-abc123.js"].content_type.startswith("text/javascript")
    assert by_key["assets/index-def456.css"].content_type.startswith("text/css")
    assert by_key["index.html"].content_type == "text/html; charset=utf-8"
    assert json.loads(by_key["app-config.json"].read()) == {"api_url": "https://d1.cloudfront.net/api"}
    with pytest.raises(SystemExit):
        deploy.site_upload_plan(dist / "assets", "https://d1.cloudfront.net")  # not built


def _distribution(cloudfront) -> str:
    config = {
        "CallerReference": "test",
        "Comment": "",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {"Id": "site", "DomainName": "site.s3.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}
            ],
        },
        "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https"},
    }
    return cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]


def test_publish_uploads_with_cache_headers_and_invalidates_the_shell(s3, dist):
    cloudfront = boto3.client("cloudfront", region_name="us-east-1")
    distribution = _distribution(cloudfront)
    s3.create_bucket(Bucket="site")
    counts = deploy.publish_site(s3, cloudfront, "site", distribution, dist, "https://d1.cloudfront.net")
    assert counts == {"uploaded": 6, "unchanged": 0}
    head = s3.head_object(Bucket="site", Key="assets/index-abc123.js")
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    assert head["ContentType"].startswith("text/javascript")
    for key in ("index.html", "app-config.json"):
        assert s3.head_object(Bucket="site", Key=key)["CacheControl"] == "no-cache"
    config = s3.get_object(Bucket="site", Key="app-config.json")["Body"].read()
    assert json.loads(config) == {"api_url": "https://d1.cloudfront.net/api"}
    (invalidation,) = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]["Items"]
    paths = cloudfront.get_invalidation(DistributionId=distribution, Id=invalidation["Id"])["Invalidation"]
    assert set(paths["InvalidationBatch"]["Paths"]["Items"]) == {"/", "/index.html", "/app-config.json"}
    # the next deploy of the same build: hashed assets are not uploaded again, the shell is
    (dist / "index.html").write_text("<p>new build</p>")
    again = deploy.publish_site(s3, cloudfront, "site", distribution, dist, "https://d1.cloudfront.net")
    assert again == {"uploaded": 3, "unchanged": 3}
    assert s3.get_object(Bucket="site", Key="index.html")["Body"].read() == b"<p>new build</p>"


def test_the_site_origin_is_the_custom_domain_or_the_distributions():
    outputs = {"SiteDistributionDomainName": "d111111abcdef8.cloudfront.net"}
    assert deploy.desired_site_origin({}, outputs) == "https://d111111abcdef8.cloudfront.net"
    assert deploy.desired_site_origin({"SiteDomain": ""}, outputs) == "https://d111111abcdef8.cloudfront.net"
    assert deploy.desired_site_origin({"SiteDomain": "Photos.Example.com."}, outputs) == "https://photos.example.com"


class FakeCloudFormation:
    """Just enough of CloudFormation for deploy(): a stack whose SiteOrigin is what the last change set set."""

    exceptions = boto3.client("cloudformation", region_name="us-east-1").exceptions

    def __init__(self, distribution_domain: str) -> None:
        self.domain = distribution_domain
        self.parameters: dict[str, str] | None = None  # None: no stack yet
        self.change_sets: list[list[dict]] = []

    def describe_stacks(self, StackName):
        if self.parameters is None:
            raise self.exceptions.ClientError({"Error": {"Message": "Stack does not exist"}}, "DescribeStacks")
        outputs = {"SiteBucketName": "site", "SiteDistributionId": self.distribution_id}
        outputs |= {"SiteDistributionDomainName": self.domain, "SiteOrigin": self.parameters.get("SiteOrigin", "")}
        return {
            "Stacks": [
                {
                    "StackStatus": "CREATE_COMPLETE",
                    "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()],
                    "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                }
            ]
        }

    def create_change_set(self, Parameters, **_):
        self.change_sets.append(Parameters)
        previous = self.parameters or {}
        self.pending = {
            p["ParameterKey"]: previous[p["ParameterKey"]] if p.get("UsePreviousValue") else p["ParameterValue"]
            for p in Parameters
        }

    def get_waiter(self, _name):
        return type("Waiter", (), {"wait": lambda *a, **k: None})()

    def describe_change_set(self, **_):
        return {"Changes": []}

    def execute_change_set(self, **_):
        self.parameters = {"SiteOrigin": "", **self.pending}


def test_first_deploy_sets_the_site_origin_with_a_second_change_set(s3, dist, tmp_path, monkeypatch, dev_build):
    cloudfront = boto3.client("cloudfront", region_name="us-east-1")
    cfn = FakeCloudFormation("d111111abcdef8.cloudfront.net")
    cfn.distribution_id = _distribution(cloudfront)
    s3.create_bucket(Bucket="site")
    s3.create_bucket(Bucket="artifacts")
    clients = {"s3": s3, "cloudfront": cloudfront, "cloudformation": cfn}

    class Session:
        region_name = "us-east-1"

        def __init__(self, **_):
            pass

        def client(self, name):
            return clients.get(name) or boto3.client(name, region_name="us-east-1")

    monkeypatch.setattr(boto3.session, "Session", Session)
    build = tmp_path / "build"  # deploy writes packaged.json next to the template: not into the shared build
    build.mkdir()
    (build / "template.json").write_bytes((dev_build / "template.json").read_bytes())
    for name in ("deployment.zip", "layers"):
        (build / name).symlink_to(dev_build / name)
    argv = ["--stage", "dev", "--skip-build", "--build-dir", str(build), "--web-dist", str(dist)]
    argv += ["--artifact-bucket", "artifacts"]
    assert deploy.main(argv) == 0
    first, second = cfn.change_sets
    assert not any(p["ParameterKey"] == "SiteOrigin" for p in first)
    assert {"ParameterKey": "SiteOrigin", "ParameterValue": "https://d111111abcdef8.cloudfront.net"} in second
    assert json.loads(s3.get_object(Bucket="site", Key="app-config.json")["Body"].read()) == {
        "api_url": "https://d111111abcdef8.cloudfront.net/api"
    }
    assert deploy.main(argv) == 0  # the next deploy: one change set, SiteOrigin kept
    assert len(cfn.change_sets) == 3
    assert {"ParameterKey": "SiteOrigin", "UsePreviousValue": True} in cfn.change_sets[2]
