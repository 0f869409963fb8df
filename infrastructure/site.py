"""The web app in AWS: a private S3 bucket behind a CloudFront distribution, in the same stack as the API.

``site_resources(ctx, template)`` (called by ``infrastructure.template.finalize``, because the distribution's
second origin is chalice's REST API) adds:

- ``SiteBucket``: private (all public access blocked, BucketOwnerEnforced), SSE-S3, no website hosting. Its
  policy lets only this distribution read (``cloudfront.amazonaws.com`` with ``AWS:SourceArn`` = the
  distribution), through Origin Access Control (sigv4). ``s3:ListBucket`` is granted too, so a missing file is
  S3's 404 and not its 403.
- ``SiteDistribution``: default root object ``index.html``; behaviours
    * ``/assets/*`` (Vite's content-hashed files): a cache policy of one year (min = default = max TTL);
      deploy uploads them with ``Cache-Control: public, max-age=31536000, immutable``; no function, so a
      missing asset stays a 404;
    * ``/api/*``: the REST API's stage (``execute-api``), caching disabled, every viewer header but ``Host``
      forwarded (cookies, query strings, ``Authorization``), all methods; a viewer-request function strips
      ``/api`` (the origin path is the stage). The API is then same-site with the app, so the
      ``SameSite=Strict`` refresh cookie (``Path=/api/auth``) is sent;
    * everything else (``index.html``, ``app-config.json``, the app's routes): caching disabled, and a
      viewer-request function rewrites the app's routes (a path that is not a root-level file name with an
      extension) to ``/index.html``; deploy uploads these files with ``Cache-Control: no-cache``.
- ``SiteSecurityHeadersPolicy`` on every behaviour: the Content Security Policy of
  ``infrastructure.web.content_security_policy`` for the REST API, the WebSocket API, the buckets' hosts
  that presigned URLs point at and Stripe.js, ``SECURITY_HEADERS`` and HSTS.

The API's functions must know the site's origin (CORS, ``LIGHTBOX_APP_ORIGINS``) and public URL
(``LIGHTBOX_PUBLIC_API_URL``, the refresh cookie's path), but the distribution depends on the REST API, which
depends on the API function: referencing the distribution from the function's environment is a cycle. So the
template takes the origin as the ``SiteOrigin`` parameter; ``infrastructure/deploy.py`` sets it to
``https://<SiteDomain>`` (a custom domain) or, after the first create, to ``https://<distribution domain>``
from the stack's outputs and applies it with a second change set.
"""

from __future__ import annotations

import json
import re
from typing import Any

from infrastructure.web import HSTS_MAX_AGE_SECONDS, SECURITY_HEADERS, content_security_policy

# Every bucket of the stack: no public access of any kind, ACLs disabled, encrypted at rest.
PRIVATE_BUCKET: dict[str, Any] = {
    "PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    },
    "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    "BucketEncryption": {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    },
}


def deny_insecure_transport(bucket_arn: Any, objects_arn: Any) -> dict[str, Any]:
    """The bucket-policy statement every bucket of the stack has: nothing over plain HTTP."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, objects_arn],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


Json = dict[str, Any]

# AWS managed policies (the same ids in every account)
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # Managed-CachingDisabled
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # Managed-AllViewerExceptHostHeader
ASSETS_TTL_SECONDS = 31536000  # hashed names never change: a year, like the upload's Cache-Control
API_PATH = "/api"
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]
CSP_MAX_CHARS = 1783  # CloudFront's limit on a response-headers policy's Content-Security-Policy value

# The app's routes are index.html; files are served as they are. Root-level files have an extension
# (index.html, app-config.json, favicon.svg); every app route has no dot in a single segment or has more
# than one segment (/events/<id>). /assets/* has its own behaviour without this function.
SPA_REWRITE_JS = """function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.indexOf("/", 1) !== -1 || uri.indexOf(".") === -1) {
    request.uri = "/index.html";
  }
  return request;
}
"""
API_STRIP_JS = f"""function handler(event) {{
  var request = event.request;
  request.uri = request.uri.slice({len(API_PATH)}) || "/";
  return request;
}}
"""


def _sub(text: str) -> Json:
    return {"Fn::Sub": text}


def _getatt(name: str, attribute: str) -> Json:
    return {"Fn::GetAtt": [name, attribute]}


def rest_api_host() -> str:
    return "${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"


def csp_inputs(ctx: Any) -> dict[str, Any]:
    """The arguments of ``content_security_policy`` for the deployed stack, as ``Fn::Sub`` placeholders: the
    REST API (also reachable as ``'self'`` under /api), the WebSocket API, the media bucket's hosts (presigned
    GETs: boto3 signs for ``<bucket>.s3.amazonaws.com``; the regional name too) and the uploads bucket's
    (presigned POSTs: connect only)."""

    def hosts(logical: str) -> list[str]:
        return [f"https://${{{logical}.DomainName}}", f"https://${{{logical}.RegionalDomainName}}"]

    return {
        "api": [f"https://{rest_api_host()}", "wss://${WebsocketAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"],
        "media": hosts("MediaBucket"),
        "extra_connect": hosts("UploadsBucket"),
        "stripe_js_url": ctx.settings.stripe_js_url,
    }


def site_csp(ctx: Any) -> str:
    """The policy's text for ``Fn::Sub``."""
    return content_security_policy(**csp_inputs(ctx))


def resolve(text: str, values: dict[str, str]) -> str:
    """What ``Fn::Sub`` makes of ``text`` with these values (every placeholder must have one)."""
    out = re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], text)
    return out


def longest_names(ctx: Any) -> dict[str, str]:
    """Long but real values of the CSP's placeholders, to check CloudFront's length limit at build time."""
    from chalicelib.resources import buckets

    region, account, api_id = "ap-southeast-2", "123456789012", "a1b2c3d4e5"
    names = {"AWS::Region": region, "AWS::URLSuffix": "amazonaws.com", "RestAPI": api_id, "WebsocketAPI": api_id}
    for key, name in buckets(ctx.settings).items():
        logical = key.title() + "Bucket"
        names[f"{logical}.DomainName"] = f"{name}-{account}-{region}.s3.amazonaws.com"
        names[f"{logical}.RegionalDomainName"] = f"{name}-{account}-{region}.s3.{region}.amazonaws.com"
    return names


def security_headers_config(csp: Json) -> tuple[Json, list[Json]]:
    """``SECURITY_HEADERS`` as CloudFront's typed security headers plus custom headers for the rest."""
    typed: Json = {
        "ContentSecurityPolicy": {"ContentSecurityPolicy": csp, "Override": True},
        "StrictTransportSecurity": {
            "AccessControlMaxAgeSec": HSTS_MAX_AGE_SECONDS,
            "IncludeSubdomains": True,
            "Preload": False,
            "Override": True,
        },
    }
    custom = []
    for name, value in SECURITY_HEADERS.items():
        if name == "X-Content-Type-Options":
            if value != "nosniff":
                raise ValueError(f"CloudFront sends only X-Content-Type-Options: nosniff, not {value!r}")
            typed["ContentTypeOptions"] = {"Override": True}
        elif name == "X-Frame-Options":
            typed["FrameOptions"] = {"FrameOption": value, "Override": True}
        elif name == "Referrer-Policy":
            typed["ReferrerPolicy"] = {"ReferrerPolicy": value, "Override": True}
        else:
            custom.append({"Header": name, "Value": value, "Override": True})
    return typed, custom


def _behaviour(target: str, cache_policy: Json | str, headers: Json, **extra: Any) -> Json:
    return {
        "TargetOriginId": target,
        "ViewerProtocolPolicy": "redirect-to-https",
        "AllowedMethods": ["GET", "HEAD"],
        "CachedMethods": ["GET", "HEAD"],
        "Compress": True,
        "CachePolicyId": cache_policy,
        "ResponseHeadersPolicyId": headers,
        **extra,
    }


def site_resources(ctx: Any, template: Json, retention: Json, tags: list[Json]) -> Json:
    if "RestAPI" not in template["Resources"] or "WebsocketAPI" not in template["Resources"]:
        raise ValueError("the site's distribution needs chalice's RestAPI and WebsocketAPI")
    prefix = ctx.prefix
    csp = site_csp(ctx)
    longest = resolve(csp, longest_names(ctx))
    if len(longest) > CSP_MAX_CHARS:
        raise ValueError(f"the Content Security Policy can be {len(longest)} characters, over CloudFront's limit")
    typed, custom = security_headers_config(_sub(csp))
    headers_config: Json = {"Name": f"{prefix}-site-security-headers", "SecurityHeadersConfig": typed}
    if custom:
        headers_config["CustomHeadersConfig"] = {"Items": custom}
    distribution_arn = _sub("arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${SiteDistribution}")
    headers = {"Ref": "SiteSecurityHeadersPolicy"}
    return {
        "SiteBucket": {
            "Type": "AWS::S3::Bucket",
            **retention,
            "Properties": {
                "BucketName": _sub(f"{prefix}-web-${{AWS::AccountId}}-${{AWS::Region}}"),
                **PRIVATE_BUCKET,
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            "Id": "abort-incomplete-multipart-uploads",
                            "Status": "Enabled",
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                        }
                    ]
                },
                "Tags": tags,
            },
        },
        "SiteBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "SiteBucket"},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        deny_insecure_transport(_getatt("SiteBucket", "Arn"), _sub("${SiteBucket.Arn}/*")),
                        {
                            "Sid": "ReadFromThisDistributionOnly",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudfront.amazonaws.com"},
                            "Action": "s3:GetObject",
                            "Resource": _sub("${SiteBucket.Arn}/*"),
                            "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
                        },
                        {  # a missing file is then a 404, not a 403 (the /api and SPA paths never list)
                            "Sid": "ListFromThisDistributionOnly",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudfront.amazonaws.com"},
                            "Action": "s3:ListBucket",
                            "Resource": _getatt("SiteBucket", "Arn"),
                            "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
                        },
                    ],
                },
            },
        },
        "SiteOriginAccessControl": {
            "Type": "AWS::CloudFront::OriginAccessControl",
            "Properties": {
                "OriginAccessControlConfig": {
                    "Name": f"{prefix}-site",
                    "Description": f"{prefix}: CloudFront signs its requests to the site bucket",
                    "OriginAccessControlOriginType": "s3",
                    "SigningBehavior": "always",
                    "SigningProtocol": "sigv4",
                }
            },
        },
        "SiteRewriteFunction": {
            "Type": "AWS::CloudFront::Function",
            "Properties": {
                "Name": f"{prefix}-site-routes",
                "AutoPublish": True,
                "FunctionCode": SPA_REWRITE_JS,
                "FunctionConfig": {"Comment": "the app's routes are index.html", "Runtime": "cloudfront-js-2.0"},
            },
        },
        "SiteApiPathFunction": {
            "Type": "AWS::CloudFront::Function",
            "Properties": {
                "Name": f"{prefix}-site-api-path",
                "AutoPublish": True,
                "FunctionCode": API_STRIP_JS,
                "FunctionConfig": {"Comment": f"{API_PATH}/x -> /x on the API's stage", "Runtime": "cloudfront-js-2.0"},
            },
        },
        "SiteAssetsCachePolicy": {
            "Type": "AWS::CloudFront::CachePolicy",
            "Properties": {
                "CachePolicyConfig": {
                    "Name": f"{prefix}-site-assets",
                    "Comment": "content-hashed files: cached for a year",
                    "MinTTL": ASSETS_TTL_SECONDS,
                    "DefaultTTL": ASSETS_TTL_SECONDS,
                    "MaxTTL": ASSETS_TTL_SECONDS,
                    "ParametersInCacheKeyAndForwardedToOrigin": {
                        "EnableAcceptEncodingGzip": True,
                        "EnableAcceptEncodingBrotli": True,
                        "HeadersConfig": {"HeaderBehavior": "none"},
                        "CookiesConfig": {"CookieBehavior": "none"},
                        "QueryStringsConfig": {"QueryStringBehavior": "none"},
                    },
                }
            },
        },
        "SiteSecurityHeadersPolicy": {
            "Type": "AWS::CloudFront::ResponseHeadersPolicy",
            "Properties": {"ResponseHeadersPolicyConfig": headers_config},
        },
        "SiteDistribution": {
            "Type": "AWS::CloudFront::Distribution",
            # cfn-lint checks the certificate ARN against the parameter's default (""), which is only used when
            # HasSiteDomain is false, i.e. never in that branch.
            "Metadata": {"cfn-lint": {"config": {"ignore_checks": ["W1030"]}}},
            "Properties": {
                "DistributionConfig": {
                    "Enabled": True,
                    "Comment": f"{prefix} web app",
                    "HttpVersion": "http2and3",
                    "IPV6Enabled": True,
                    "PriceClass": {"Ref": "SitePriceClass"},
                    "DefaultRootObject": "index.html",
                    "Aliases": {"Fn::If": ["HasSiteDomain", [{"Ref": "SiteDomain"}], {"Ref": "AWS::NoValue"}]},
                    "ViewerCertificate": {
                        "Fn::If": [
                            "HasSiteDomain",
                            {
                                "AcmCertificateArn": {"Ref": "SiteCertificateArn"},
                                "SslSupportMethod": "sni-only",
                                "MinimumProtocolVersion": "TLSv1.2_2021",
                            },
                            {"CloudFrontDefaultCertificate": True},
                        ]
                    },
                    "Origins": [
                        {
                            "Id": "site",
                            "DomainName": _getatt("SiteBucket", "RegionalDomainName"),
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                            "OriginAccessControlId": _getatt("SiteOriginAccessControl", "Id"),
                        },
                        {
                            "Id": "api",
                            "DomainName": _sub(rest_api_host()),
                            "OriginPath": f"/{ctx.api_gateway_stage}",
                            "CustomOriginConfig": {
                                "OriginProtocolPolicy": "https-only",
                                "HTTPSPort": 443,
                                "OriginSSLProtocols": ["TLSv1.2"],
                            },
                        },
                    ],
                    "DefaultCacheBehavior": _behaviour(
                        "site",
                        CACHING_DISABLED,
                        headers,
                        FunctionAssociations=[
                            {
                                "EventType": "viewer-request",
                                "FunctionARN": _getatt("SiteRewriteFunction", "FunctionARN"),
                            }
                        ],
                    ),
                    "CacheBehaviors": [
                        {"PathPattern": "/assets/*", **_behaviour("site", {"Ref": "SiteAssetsCachePolicy"}, headers)},
                        {
                            "PathPattern": f"{API_PATH}/*",
                            **_behaviour(
                                "api",
                                CACHING_DISABLED,
                                headers,
                                AllowedMethods=ALL_METHODS,
                                ViewerProtocolPolicy="https-only",
                                OriginRequestPolicyId=ALL_VIEWER_EXCEPT_HOST,
                                FunctionAssociations=[
                                    {
                                        "EventType": "viewer-request",
                                        "FunctionARN": _getatt("SiteApiPathFunction", "FunctionARN"),
                                    }
                                ],
                            ),
                        },
                    ],
                },
                "Tags": tags,
            },
        },
    }


def origin_parameters() -> Json:
    """In the platform template: the buckets' CORS needs the origin too."""
    return {
        "SiteOrigin": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^(https://[a-z0-9.-]+)?$",
            "Description": "The web app's https origin (its CloudFront domain or SiteDomain): first of "
            "LIGHTBOX_APP_ORIGINS and the buckets' CORS, and LIGHTBOX_PUBLIC_API_URL=<origin>/api. Set by "
            "infrastructure/deploy.py from the stack's outputs (a reference would be a cycle)",
        }
    }


def distribution_parameters() -> Json:
    return {
        "SiteDomain": {
            "Type": "String",
            "Default": "",
            "Description": "A custom domain for the web app's distribution (empty: its cloudfront.net name); "
            "needs SiteCertificateArn and a DNS record pointing at SiteDistributionDomainName",
        },
        "SiteCertificateArn": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": r"^(arn:aws[a-zA-Z-]*:acm:us-east-1:\d{12}:certificate/.+)?$",
            "Description": "ACM certificate (in us-east-1) for SiteDomain",
        },
        "SitePriceClass": {
            "Type": "String",
            "Default": "PriceClass_100",
            "AllowedValues": ["PriceClass_100", "PriceClass_200", "PriceClass_All"],
        },
    }


def origin_conditions() -> Json:
    return {"HasSiteOrigin": {"Fn::Not": [{"Fn::Equals": [{"Ref": "SiteOrigin"}, ""]}]}}


def distribution_conditions() -> Json:
    return {"HasSiteDomain": {"Fn::Not": [{"Fn::Equals": [{"Ref": "SiteDomain"}, ""]}]}}


def app_origins() -> Json:
    """The origins the API and the buckets allow: SiteOrigin (when set) first, then AppOrigins."""
    return {
        "Fn::If": [
            "HasSiteOrigin",
            {
                "Fn::Split": [
                    ",",
                    {"Fn::Join": [",", [{"Ref": "SiteOrigin"}, {"Fn::Join": [",", {"Ref": "AppOrigins"}]}]]},
                ]
            },
            {"Ref": "AppOrigins"},
        ]
    }


def public_api_url() -> Json:
    return {"Fn::If": ["HasSiteOrigin", _sub("${SiteOrigin}" + API_PATH), ""]}


def site_outputs() -> Json:
    return {
        "SiteBucketName": {"Value": {"Ref": "SiteBucket"}},
        "SiteDistributionId": {"Value": {"Ref": "SiteDistribution"}},
        "SiteDistributionDomainName": {"Value": _getatt("SiteDistribution", "DomainName")},
        "SiteOrigin": {"Value": {"Ref": "SiteOrigin"}},
    }


def app_config(site_origin: str) -> bytes:
    """``/app-config.json`` of the deployed site: the API under the same origin."""
    return json.dumps({"api_url": site_origin.rstrip("/") + API_PATH}).encode()
