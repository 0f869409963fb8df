"""The web app's hosting in the template: a private bucket readable only by its CloudFront distribution (OAC),
the cache behaviours, the security headers (the same CSP the local web host sends), the API under /api on the
site's own origin, and the origin wiring that avoids a dependency cycle (infrastructure/site.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from infrastructure import site
from infrastructure.web import HSTS_MAX_AGE_SECONDS, SECURITY_HEADERS, content_security_policy
from tests.infra.cfn_eval import NO_VALUE, Evaluator
from tests.infra.conftest import ROOT, STAGES, functions_of, resources_of

CHALICE_CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
SITE = "https://d111111abcdef8.cloudfront.net"


def _distribution(template) -> dict:
    (dist,) = resources_of(template, "AWS::CloudFront::Distribution").values()
    return dist["Properties"]["DistributionConfig"]


def _behaviours(template) -> dict[str, dict]:
    config = _distribution(template)
    out = {"default": config["DefaultCacheBehavior"]}
    out.update({b["PathPattern"]: b for b in config["CacheBehaviors"]})
    return out


def _origins(template) -> dict[str, dict]:
    return {o["Id"]: o for o in _distribution(template)["Origins"]}


def test_site_bucket_is_private_and_encrypted_without_website_hosting(template):
    props = template["Resources"]["SiteBucket"]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] == "AES256"  # SSE-KMS would need a key policy for CloudFront
    assert "WebsiteConfiguration" not in props and "AccessControl" not in props and "CorsConfiguration" not in props


@pytest.mark.parametrize("stage", STAGES)
def test_only_this_distribution_reads_the_bucket_through_oac(templates, stage):
    template = templates[stage]
    policy = template["Resources"]["SiteBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "SiteBucket"}
    statements = policy["PolicyDocument"]["Statement"]
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert {s["Action"] for s in allows} == {"s3:GetObject", "s3:ListBucket"}  # ListBucket: missing is 404
    arn = {"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${SiteDistribution}"}
    for s in allows:
        assert s["Principal"] == {"Service": "cloudfront.amazonaws.com"}
        assert s["Condition"] == {"StringEquals": {"AWS:SourceArn": arn}}
    oac = template["Resources"]["SiteOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert oac["OriginAccessControlOriginType"] == "s3"
    assert (oac["SigningBehavior"], oac["SigningProtocol"]) == ("always", "sigv4")
    bucket_origin = _origins(template)["site"]
    assert bucket_origin["DomainName"] == {"Fn::GetAtt": ["SiteBucket", "RegionalDomainName"]}  # not the website
    assert bucket_origin["OriginAccessControlId"] == {"Fn::GetAtt": ["SiteOriginAccessControl", "Id"]}
    assert bucket_origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    retained = "Retain" if stage == "prod" else "Delete"
    assert template["Resources"]["SiteBucket"]["DeletionPolicy"] == retained


def test_behaviours_cache_assets_for_a_year_and_never_cache_the_app_shell(template):
    config = _distribution(template)
    assert config["DefaultRootObject"] == "index.html"
    assert config["Enabled"] is True and "CustomErrorResponses" not in config  # real 404s stay 404
    behaviours = _behaviours(template)
    assert set(behaviours) == {"default", "/assets/*", "/api/*"}
    for name, b in behaviours.items():
        assert b["ViewerProtocolPolicy"] in ("redirect-to-https", "https-only"), name
        assert b["ResponseHeadersPolicyId"] == {"Ref": "SiteSecurityHeadersPolicy"}, name
    # index.html, app-config.json and every app route: caching disabled (deploy also uploads them no-cache)
    shell = behaviours["default"]
    assert shell["TargetOriginId"] == "site" and shell["CachePolicyId"] == site.CACHING_DISABLED
    (rewrite,) = shell["FunctionAssociations"]
    assert rewrite == {
        "EventType": "viewer-request",
        "FunctionARN": {"Fn::GetAtt": ["SiteRewriteFunction", "FunctionARN"]},
    }
    assets = behaviours["/assets/*"]
    assert assets["TargetOriginId"] == "site" and "FunctionAssociations" not in assets
    policy_id = assets["CachePolicyId"]["Ref"]
    cache = template["Resources"][policy_id]["Properties"]["CachePolicyConfig"]
    year = 365 * 24 * 3600
    assert cache["MinTTL"] == cache["DefaultTTL"] == cache["MaxTTL"] == year
    key = cache["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["EnableAcceptEncodingGzip"] and key["EnableAcceptEncodingBrotli"]
    assert key["CookiesConfig"] == {"CookieBehavior": "none"} and key["QueryStringsConfig"] == {
        "QueryStringBehavior": "none"
    }
    assert assets["AllowedMethods"] == ["GET", "HEAD"]


def test_the_api_is_served_under_api_on_the_sites_origin(template):
    api = _behaviours(template)["/api/*"]
    assert api["TargetOriginId"] == "api"
    assert set(api["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    assert api["CachePolicyId"] == site.CACHING_DISABLED
    assert api["OriginRequestPolicyId"] == site.ALL_VIEWER_EXCEPT_HOST  # cookies, Authorization; not Host
    (strip,) = api["FunctionAssociations"]
    assert strip["FunctionARN"] == {"Fn::GetAtt": ["SiteApiPathFunction", "FunctionARN"]}
    origin = _origins(template)["api"]
    assert origin["DomainName"] == {"Fn::Sub": "${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}
    assert origin["OriginPath"] == "/" + CHALICE_CONFIG["api_gateway_stage"]
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"


NODE = shutil.which("node") or str(ROOT / ".venv" / "bin" / "node")


def _run_function(template, logical: str, uris: list[str]) -> list[str]:
    code = template["Resources"][logical]["Properties"]["FunctionCode"]
    assert template["Resources"][logical]["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    script = code + f"\nconsole.log(JSON.stringify({json.dumps(uris)}.map(u => handler({{request: {{uri: u}}}}).uri)));"
    return json.loads(subprocess.run([NODE, "-e", script], capture_output=True, text=True, check=True).stdout)


@pytest.mark.skipif(not shutil.which(NODE), reason="needs node")
def test_cloudfront_functions_route_app_paths_and_strip_api(template):
    uris = ["/", "/login", "/events/e1", "/u/jane.doe", "/index.html", "/app-config.json", "/favicon.svg"]
    expected = ["/index.html"] * 4 + ["/index.html", "/app-config.json", "/favicon.svg"]
    assert _run_function(template, "SiteRewriteFunction", uris) == expected
    assert _run_function(template, "SiteApiPathFunction", ["/api/photos/p1", "/api/", "/api/auth/login"]) == [
        "/photos/p1",
        "/",
        "/auth/login",
    ]


def test_security_headers_are_the_local_hosts(template):
    """The CSP is exactly content_security_policy() for the deployed API, WebSocket, buckets and Stripe.js."""
    config = template["Resources"]["SiteSecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    headers = config["SecurityHeadersConfig"]
    expected = content_security_policy(
        api=[
            "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api",
            "wss://${WebsocketAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api",
        ],
        media=["https://${MediaBucket.DomainName}", "https://${MediaBucket.RegionalDomainName}"],
        extra_connect=["https://${UploadsBucket.DomainName}", "https://${UploadsBucket.RegionalDomainName}"],
        stripe_js_url="https://js.stripe.com/v3/",
    )
    csp = headers["ContentSecurityPolicy"]
    assert csp == {"ContentSecurityPolicy": {"Fn::Sub": expected}, "Override": True}
    assert "'unsafe-inline'" not in expected and "'unsafe-eval'" not in expected
    # real Stripe.js: its API, its element and 3-D Secure frames, its scripts (Stripe's documented CSP)
    directives = {d.split(" ")[0]: d.split(" ")[1:] for d in expected.split("; ")}
    assert "https://api.stripe.com" in directives["connect-src"]
    assert {"https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"} <= set(
        directives["frame-src"]
    )
    assert {"https://js.stripe.com", "https://*.js.stripe.com"} <= set(directives["script-src"])
    # every placeholder is something Fn::Sub can resolve in this template
    for name in {p.split(".")[0] for p in re.findall(r"\$\{([^}]+)\}", expected)}:
        assert name.startswith("AWS::") or name in template["Resources"], name
    assert (
        headers["ContentTypeOptions"] == {"Override": True} and SECURITY_HEADERS["X-Content-Type-Options"] == "nosniff"
    )
    assert headers["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert headers["ReferrerPolicy"] == {"ReferrerPolicy": SECURITY_HEADERS["Referrer-Policy"], "Override": True}
    hsts = headers["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] == HSTS_MAX_AGE_SECONDS >= 365 * 24 * 3600 and hsts["Override"]
    custom = {h["Header"]: h["Value"] for h in config["CustomHeadersConfig"]["Items"]}
    typed = {"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"}
    assert custom == {k: v for k, v in SECURITY_HEADERS.items() if k not in typed}


def test_the_api_allows_the_sites_origin_once_deploy_sets_it(template):
    """SiteOrigin (a parameter: referencing the distribution from a function would be a cycle) becomes the
    first allowed origin and the public API URL, which is the refresh cookie's path (/api/auth)."""
    assert template["Parameters"]["SiteOrigin"]["Default"] == ""
    configured = CHALICE_CONFIG["stages"]["dev"]["environment_variables"]["LIGHTBOX_APP_ORIGINS"]
    before, after = Evaluator(template), Evaluator(template, SiteOrigin=SITE)
    for name, fn in functions_of(template).items():
        env = fn["Properties"]["Environment"]["Variables"]
        assert before(env["LIGHTBOX_APP_ORIGINS"]) == configured and before(env["LIGHTBOX_PUBLIC_API_URL"]) == ""
        assert after(env["LIGHTBOX_APP_ORIGINS"]) == f"{SITE},{configured}", name
        assert after(env["LIGHTBOX_PUBLIC_API_URL"]) == f"{SITE}/api", name
    uploads = [b for b in resources_of(template, "AWS::S3::Bucket").values() if "CorsConfiguration" in b["Properties"]]
    assert len(uploads) == 2
    for bucket in uploads:
        for rule in bucket["Properties"]["CorsConfiguration"]["CorsRules"]:
            assert after(rule["AllowedOrigins"])[0] == SITE
    assert site.app_config(SITE) == json.dumps({"api_url": f"{SITE}/api"}).encode()
    outputs = template["Outputs"]
    assert {"SiteBucketName", "SiteDistributionId", "SiteDistributionDomainName", "SiteOrigin"} <= set(outputs)


def test_custom_domain_uses_its_certificate(template):
    config = _distribution(template)
    plain, custom = Evaluator(template), Evaluator(template, SiteDomain="photos.example.com", SiteCertificateArn="arn")
    assert plain(config["Aliases"]) is NO_VALUE and plain(config["ViewerCertificate"]) == {
        "CloudFrontDefaultCertificate": True
    }
    assert custom(config["Aliases"]) == ["photos.example.com"]
    assert custom(config["ViewerCertificate"])["AcmCertificateArn"] == "arn"


def test_only_the_real_stripe_js_gets_stripes_hosts():
    """localstripe's fake Stripe.js (locally) is one origin for scripts, frames and calls; nothing of Stripe's."""
    local = content_security_policy(
        api=["http://localhost:8000"],
        media=["http://localhost:5000"],
        stripe_js_url="http://localhost:8420/js.stripe.com/v3/",
    )
    assert "stripe.com" not in local
    assert "script-src 'self' http://localhost:8420;" in local and "frame-src http://localhost:8420;" in local
