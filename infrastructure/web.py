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


def content_security_policy(
    *, api: Iterable[str], media: Iterable[str], stripe_js_url: str, extra_connect: Iterable[str] = ()
) -> str:
    """A strict CSP: scripts only from the site and Stripe.js's origin, no inline script or style, no eval,
    no plugins, not framable. ``api``: the API and WebSocket origins; ``media``: where presigned photo, video
    and upload URLs point (S3)."""
    stripe = origin(stripe_js_url)
    api_list = sorted({origin(u) for u in api})
    media_list = sorted({origin(u) for u in media})
    connect = ["'self'", *api_list, *media_list, stripe, *sorted({origin(u) for u in extra_connect})]
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", stripe],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:", *media_list, stripe],
        "media-src": ["'self'", "blob:", *media_list],
        "connect-src": connect,
        "frame-src": [stripe],
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
