"""Deploy a stage to AWS: ``python -m infrastructure.deploy --stage prod`` (``make deploy STAGE=prod``).

Needs AWS credentials (any the SDK finds: AWS_PROFILE, SSO, environment, instance role) for the target account
and region. CI never runs this; it runs ``make package`` and the tests.

1. ``infrastructure.package`` builds build/<stage>/ (unless ``--skip-build``).
2. The function package and layer zips are uploaded to the artifact bucket under
   ``lightbox/<stage>/<sha256>.zip`` (content-addressed: an unchanged layer is not re-uploaded and its
   LayerVersion is not replaced), and the template's ``CodeUri``/``ContentUri`` are pointed at them. The same as
   ``aws cloudformation package``, without needing the AWS CLI.
3. The template goes to the same bucket (it is larger than CloudFormation's 51 KB inline limit) and a change
   set is created on stack ``lightbox-<stage>``, printed, and executed; the script waits for the stack.
4. The site's origin: the API's functions and the buckets' CORS need it, but the distribution depends on the API
   (a reference would be a cycle), so it is the ``SiteOrigin`` parameter. When it differs from
   ``https://<SiteDomain>`` (a custom domain) or ``https://<SiteDistributionDomainName>`` (the stack's output),
   a second change set sets it; that happens on the first deploy (and when the domain changes) only.
5. The web app (``make deploy`` builds web/dist first): web/dist goes to the site bucket, hashed ``assets/*``
   with ``Cache-Control: public, max-age=31536000, immutable`` (an existing key is not re-uploaded: names are
   content hashes; old ones stay, for pages still open on the previous build), everything else ``no-cache``;
   ``app-config.json`` says ``{"api_url": "<site origin>/api"}``; ``index.html`` goes last, so it never names an
   asset not yet uploaded; then ``/``, ``/index.html`` and ``/app-config.json`` are invalidated.

The artifact bucket defaults to ``lightbox-artifacts-<account>-<region>`` and is created on first use (private,
encrypted, TLS-only, old artifacts expire after 90 days); ``--artifact-bucket`` or ``LIGHTBOX_ARTIFACT_BUCKET``
names an existing one instead.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import mimetypes
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infrastructure.site import app_config, deny_insecure_transport
from infrastructure.target import ROOT
from infrastructure.web import IMMUTABLE, NO_CACHE

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
ARTIFACT_EXPIRY_DAYS = 90
LOCAL_CODE_PROPERTIES = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}
WEB_DIST = ROOT / "web" / "dist"
INVALIDATE = ["/", "/index.html", "/app-config.json"]
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
}


def log(message: str) -> None:
    print(f"[deploy] {message}", file=sys.stderr, flush=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_artifact_bucket(s3: Any, bucket: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    log(f"creating artifact bucket {bucket}")
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire-old-artifacts",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "lightbox/"},
                    "Expiration": {"Days": ARTIFACT_EXPIRY_DAYS},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                }
            ]
        },
    )
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    deny_insecure_transport(f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"),
                ],
            }
        ),
    )


def upload_artifacts(template: dict, build_dir: Path, s3: Any, bucket: str, prefix: str) -> dict:
    """Upload every local zip the template points at; return a copy pointing at S3 instead."""
    packaged = copy.deepcopy(template)
    uploaded: dict[Path, dict[str, str]] = {}
    for logical, resource in packaged["Resources"].items():
        prop = LOCAL_CODE_PROPERTIES.get(resource["Type"])
        value = resource.get("Properties", {}).get(prop) if prop else None
        if not isinstance(value, str) or value.startswith("s3://"):
            continue
        path = (build_dir / value).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"{logical}.{prop} points at {value}, which is not in {build_dir}")
        if path not in uploaded:
            key = f"{prefix}/{sha256_file(path)}.zip"
            try:
                s3.head_object(Bucket=bucket, Key=key)
                log(f"{path.name}: unchanged (s3://{bucket}/{key})")
            except s3.exceptions.ClientError:
                log(f"{path.name}: uploading {path.stat().st_size / 1e6:.1f} MB to s3://{bucket}/{key}")
                s3.upload_file(str(path), bucket, key)
            uploaded[path] = {"Bucket": bucket, "Key": key}
        resource["Properties"][prop] = dict(uploaded[path])
    return packaged


def stack_parameters(template: dict, overrides: dict[str, str], existing: set[str]) -> list[dict]:
    """Overrides win; otherwise an existing stack keeps its previous value; otherwise the template default."""
    unknown = set(overrides) - set(template.get("Parameters", {}))
    if unknown:
        raise SystemExit(
            f"unknown template parameters: {sorted(unknown)} (known: {sorted(template.get('Parameters', {}))})"
        )
    params = []
    for name in template.get("Parameters", {}):
        if name in overrides:
            params.append({"ParameterKey": name, "ParameterValue": overrides[name]})
        elif name in existing:
            params.append({"ParameterKey": name, "UsePreviousValue": True})
    return params


# ---- the web app ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteFile:
    key: str
    content_type: str
    cache_control: str
    path: Path | None = None  # a file of web/dist, or
    body: bytes | None = None  # generated (app-config.json)

    @property
    def immutable(self) -> bool:
        return self.cache_control == IMMUTABLE

    def read(self) -> bytes:
        if self.body is not None:
            return self.body
        assert self.path is not None
        return self.path.read_bytes()


def content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def site_upload_plan(dist: Path, site_origin: str) -> list[SiteFile]:
    """What goes to the site bucket, in upload order: hashed assets, other files, app-config.json, index.html."""
    if not (dist / "index.html").is_file():
        raise SystemExit(f"{dist}/index.html is missing: build the web app first (`make web`)")
    assets, others = [], []
    for path in sorted(p for p in dist.rglob("*") if p.is_file()):
        key = path.relative_to(dist).as_posix()
        if key in ("index.html", "app-config.json"):
            continue  # index.html last; app-config.json is this stack's, not the build's
        if key.startswith("assets/"):
            assets.append(SiteFile(key, content_type(key), IMMUTABLE, path=path))
        else:
            others.append(SiteFile(key, content_type(key), NO_CACHE, path=path))
    config = SiteFile("app-config.json", "application/json", NO_CACHE, body=app_config(site_origin))
    index = SiteFile("index.html", content_type("index.html"), NO_CACHE, path=dist / "index.html")
    return [*assets, *others, config, index]


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except s3.exceptions.ClientError:
        return False


def publish_site(
    s3: Any, cloudfront: Any, bucket: str, distribution_id: str, dist: Path, site_origin: str
) -> dict[str, int]:
    """Upload the plan (an existing hashed asset is skipped: same name, same bytes) and invalidate the shell."""
    counts = {"uploaded": 0, "unchanged": 0}
    for item in site_upload_plan(dist, site_origin):
        if item.immutable and _exists(s3, bucket, item.key):
            counts["unchanged"] += 1
            continue
        s3.put_object(
            Bucket=bucket,
            Key=item.key,
            Body=item.read(),
            ContentType=item.content_type,
            CacheControl=item.cache_control,
        )
        counts["uploaded"] += 1
    cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={
            "Paths": {"Quantity": len(INVALIDATE), "Items": list(INVALIDATE)},
            "CallerReference": f"lightbox-{time.time_ns()}",
        },
    )
    log(f"web app: {counts['uploaded']} files uploaded, {counts['unchanged']} unchanged assets, to s3://{bucket}")
    return counts


def desired_site_origin(parameters: dict[str, str], outputs: dict[str, str]) -> str:
    """``https://<SiteDomain>`` when a custom domain is set, else the distribution's own domain."""
    domain = parameters.get("SiteDomain") or outputs["SiteDistributionDomainName"]
    return f"https://{domain.lower().rstrip('.')}"


def _existing_stack(cfn: Any, stack: str) -> dict | None:
    try:
        found = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except cfn.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return None if found["StackStatus"] == "REVIEW_IN_PROGRESS" else found


def deploy(args: argparse.Namespace) -> int:
    import boto3

    build_dir = (args.build_dir or ROOT / "build" / args.stage).resolve()
    if not args.skip_web and not (args.web_dist / "index.html").is_file():
        raise SystemExit(f"{args.web_dist}/index.html is missing: `make deploy` builds it (`make web`)")
    if not args.skip_build:
        subprocess.run(
            [sys.executable, "-m", "infrastructure.package", "--stage", args.stage, "--out", str(build_dir)],
            check=True,
            cwd=ROOT,
        )
    template = json.loads((build_dir / "template.json").read_text())
    session = boto3.session.Session(region_name=args.region)
    region = session.region_name
    if not region:
        raise SystemExit("no AWS region: pass --region or set AWS_REGION / a profile region")
    account = session.client("sts").get_caller_identity()["Account"]
    bucket = (
        args.artifact_bucket or os.environ.get("LIGHTBOX_ARTIFACT_BUCKET") or f"lightbox-artifacts-{account}-{region}"
    )
    stack = args.stack_name or f"lightbox-{args.stage}"
    log(f"stage {args.stage} -> stack {stack} in account {account}, {region}; artifacts in s3://{bucket}")

    s3 = session.client("s3")
    ensure_artifact_bucket(s3, bucket, region)
    packaged = upload_artifacts(template, build_dir, s3, bucket, f"lightbox/{args.stage}")
    body = json.dumps(packaged, indent=1).encode()
    template_key = f"lightbox/{args.stage}/templates/{hashlib.sha256(body).hexdigest()}.json"
    s3.put_object(Bucket=bucket, Key=template_key, Body=body)
    (build_dir / "packaged.json").write_bytes(body)
    template_url = f"https://{bucket}.s3.{region}.amazonaws.com/{template_key}"

    cfn = session.client("cloudformation")
    overrides = dict(item.split("=", 1) for item in args.parameter)
    if overrides.get("SiteDomain") and "SiteOrigin" not in overrides:  # known now: no second pass needed
        overrides["SiteOrigin"] = desired_site_origin(overrides, {})
    if not apply_change_set(cfn, stack, template_url, packaged, overrides, args):
        return 0  # --no-execute
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    current = {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])}
    origin = desired_site_origin(current, outputs)
    if current.get("SiteOrigin") != origin:
        log(f"the site's origin is {origin}: second change set for SiteOrigin (API origins, cookie path, CORS)")
        apply_change_set(cfn, stack, template_url, packaged, {"SiteOrigin": origin}, args)
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    if not args.skip_web:
        publish_site(
            s3,
            session.client("cloudfront"),
            outputs["SiteBucketName"],
            outputs["SiteDistributionId"],
            args.web_dist,
            origin,
        )
    for key in sorted(outputs):
        print(f"{key}: {outputs[key]}")
    print(f"WebApp: {origin}/")
    return 0


def apply_change_set(
    cfn: Any, stack: str, template_url: str, template: dict, overrides: dict[str, str], args: argparse.Namespace
) -> bool:
    """Create, print and (unless --no-execute) execute a change set; wait for the stack. False: not executed."""
    existing = _existing_stack(cfn, stack)
    previous = {p["ParameterKey"] for p in (existing or {}).get("Parameters", [])}
    change_set = f"lightbox-{time.strftime('%Y%m%d-%H%M%S')}"
    cfn.create_change_set(
        StackName=stack,
        ChangeSetName=change_set,
        ChangeSetType="UPDATE" if existing else "CREATE",
        TemplateURL=template_url,
        Capabilities=CAPABILITIES,
        Parameters=stack_parameters(template, overrides, previous),
        Tags=[{"Key": "lightbox:stage", "Value": args.stage}],
        Description=f"make deploy STAGE={args.stage}",
    )
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            StackName=stack, ChangeSetName=change_set, WaiterConfig={"Delay": 5, "MaxAttempts": 120}
        )
    except Exception:  # the waiter raises on FAILED; an empty change set is not an error
        described = cfn.describe_change_set(StackName=stack, ChangeSetName=change_set)
        reason = described.get("StatusReason", "")
        if "didn't contain changes" in reason or "No updates are to be performed" in reason:
            log("no changes to the stack")
            cfn.delete_change_set(StackName=stack, ChangeSetName=change_set)
            return not args.no_execute
        raise SystemExit(f"change set failed: {reason}") from None
    described = cfn.describe_change_set(StackName=stack, ChangeSetName=change_set)
    for change in described.get("Changes", []):
        rc = change["ResourceChange"]
        replace = " (REPLACEMENT)" if rc.get("Replacement") == "True" else ""
        log(f"  {rc['Action']:<7} {rc['LogicalResourceId']} {rc['ResourceType']}{replace}")
    if args.no_execute:
        log(f"change set {change_set} created, not executed (--no-execute)")
        return False
    cfn.execute_change_set(StackName=stack, ChangeSetName=change_set)
    waiter = cfn.get_waiter("stack_update_complete" if existing else "stack_create_complete")
    log("waiting for the stack (a first deploy takes a few minutes: CloudFront)")
    waiter.wait(StackName=stack, WaiterConfig={"Delay": 10, "MaxAttempts": 360})
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", required=True)
    parser.add_argument("--region", default=None, help="default: the SDK's (AWS_REGION, profile)")
    parser.add_argument("--build-dir", type=Path, default=None, help="default build/<stage>")
    parser.add_argument("--skip-build", action="store_true", help="deploy build/<stage> as it is")
    parser.add_argument("--artifact-bucket", default=None)
    parser.add_argument("--stack-name", default=None, help="default lightbox-<stage>")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="template parameter override, e.g. AlarmEmail=ops@example.com (repeatable)",
    )
    parser.add_argument("--no-execute", action="store_true", help="create and print the change set only")
    parser.add_argument("--web-dist", type=Path, default=WEB_DIST, help="the built web app (default web/dist)")
    parser.add_argument("--skip-web", action="store_true", help="do not upload the web app")
    return deploy(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
