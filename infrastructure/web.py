"""The web app's build inputs and its security headers, shared by the local web host and the CloudFront
response-headers policy, so the app is tested under the same Content Security Policy production sends.

    python -m infrastructure.web openapi web/build/openapi.json   # the document `GET /openapi.json` serves
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlparse


def origin(url: str) -> str:
    """``https://host[:port]`` of a URL (``ws``/``wss`` kept), for CSP source lists."""
    parts = urlparse(url)
    return f"{parts.scheme}://{parts.netloc}"


# What Stripe's security guide (docs.stripe.com/security/guide#content-security-policy) lists for Stripe.js and
# its Elements: Stripe.js's own scripts and frames (the card element is a frame on *.js.stripe.com; 3-D Secure
# challenges are frames on hooks.stripe.com) and its calls to the API. Only when the page loads the real Stripe.js;
# locally localstripe's fake one lives on its single origin. (maps.googleapis.com is only for the Address Element,
# which the app does not use.)
STRIPE_JS_ORIGIN = "https://js.stripe.com"
STRIPE_SOURCES = {
    "script-src": [STRIPE_JS_ORIGIN, "https://*.js.stripe.com"],
    "connect-src": ["https://api.stripe.com"],
    "frame-src": [STRIPE_JS_ORIGIN, "https://*.js.stripe.com", "https://hooks.stripe.com"],
}


def stripe_sources(stripe_js_url: str, directive: str) -> list[str]:
    """The CSP sources a directive needs for the Stripe.js at this URL: its origin, plus Stripe's documented
    hosts when it is Stripe's own."""
    stripe = origin(stripe_js_url)
    if stripe != STRIPE_JS_ORIGIN:
        return [stripe]
    return [stripe, *STRIPE_SOURCES.get(directive, [])]


def content_security_policy(
    *, api: Iterable[str], media: Iterable[str], stripe_js_url: str, extra_connect: Iterable[str] = ()
) -> str:
    """A strict CSP: scripts only from the site and Stripe.js (``stripe_sources``), no inline script or style, no eval,
    no plugins, not framable. ``api``: the API and WebSocket origins; ``media``: where presigned photo, video
    and upload URLs point (S3)."""
    stripe = origin(stripe_js_url)
    api_list = sorted({origin(u) for u in api})
    media_list = sorted({origin(u) for u in media})
    extra = sorted({origin(u) for u in extra_connect})
    connect = ["'self'", *api_list, *media_list, *stripe_sources(stripe_js_url, "connect-src"), *extra]
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *stripe_sources(stripe_js_url, "script-src")],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:", *media_list, stripe],
        "media-src": ["'self'", "blob:", *media_list],
        "connect-src": connect,
        "frame-src": stripe_sources(stripe_js_url, "frame-src"),
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(dict.fromkeys(values))}" for name, values in directives.items())


# Cache-Control of the site's files, the same locally (infrastructure/local/web_host.py) and in S3 (deploy.py):
# Vite's content-hashed /assets/* never change; everything else (index.html, app-config.json) is revalidated.
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
# HTTPS only (CloudFront; the local host is plain http and does not send it)
HSTS_MAX_AGE_SECONDS = 2 * 365 * 24 * 3600

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(self), payment=(self)",
}


def openapi_json() -> str:
    from chalicelib.api.meta import openapi_document

    return json.dumps(openapi_document(), indent=1, sort_keys=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infrastructure.web")
    sub = parser.add_subparsers(dest="command", required=True)
    dump = sub.add_parser("openapi", help="write the API's OpenAPI document (what GET /openapi.json serves)")
    dump.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "openapi":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        text = openapi_json()
        if not args.out.exists() or args.out.read_text() != text:
            args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
