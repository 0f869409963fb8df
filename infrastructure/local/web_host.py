"""The web app's local host: ``web/dist`` on ``LIGHTBOX_WEB_PORT`` (8002), the way CloudFront serves it.

- ``/app-config.json``: where the API is (written in AWS by the deploy next to ``index.html``), and locally the
  OIDC issuer standing in for Google and Apple (``oidc``: the sign-in buttons mint their ID tokens there);
- hashed ``/assets/*``: a year's immutable cache; ``index.html`` (and every unknown path: the app's own routes)
  ``no-cache``;
- every response carries the production Content Security Policy and security headers
  (``infrastructure.web``), built for the local API, WebSocket, moto (presigned S3 URLs) and localstripe
  (Stripe.js), plus the local OIDC issuer in ``connect-src``, so the browser tests prove the app works under it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import mimetypes
import sys
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

from infrastructure.local.common import LOOPBACK
from infrastructure.web import IMMUTABLE, NO_CACHE, SECURITY_HEADERS, content_security_policy


class Handler(BaseHTTPRequestHandler):
    server_version = "lightbox-web"

    def __init__(self, *args, dist: Path, app_config: bytes, csp: str, **kwargs) -> None:
        self.dist = dist
        self.app_config = app_config
        self.csp = csp
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args: object) -> None:  # quiet: the stack's log is for the API
        pass

    def _send(self, status: int, body: bytes, content_type: str, cache: str, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("Content-Security-Policy", self.csp)
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _serve(self, head: bool) -> None:
        path = urlparse(self.path).path
        if path == "/app-config.json":
            return self._send(200, self.app_config, "application/json", NO_CACHE, head)
        root = self.dist.resolve()
        target = (root / path.lstrip("/")).resolve()
        inside = target == root or root in target.parents
        if inside and target.is_file() and target.name != "index.html":
            kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            cache = IMMUTABLE if path.startswith("/assets/") else NO_CACHE
            return self._send(200, target.read_bytes(), kind, cache, head)
        if path.startswith("/assets/"):
            return self._send(404, b"not found", "text/plain", NO_CACHE, head)
        index = root / "index.html"
        if not index.is_file():
            return self._send(503, b"web/dist is not built: run `make web`", "text/plain", NO_CACHE, head)
        self._send(200, index.read_bytes(), "text/html; charset=utf-8", NO_CACHE, head)

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)


OIDC_PROVIDERS = ("google", "apple")


def site_config(api_url: str, oidc_issuer: str | None = None) -> dict[str, object]:
    """``/app-config.json``: the API, and (local stage only) the OIDC issuer the sign-in buttons use."""
    config: dict[str, object] = {"api_url": api_url}
    if oidc_issuer:
        config["oidc"] = {"local_issuer": oidc_issuer, "providers": list(OIDC_PROVIDERS)}
    return config


def make_server(
    port: int,
    dist: Path,
    *,
    api_url: str,
    ws_url: str,
    media_url: str,
    stripe_js_url: str,
    oidc_issuer: str | None = None,
) -> ThreadingHTTPServer:
    csp = content_security_policy(
        api=[api_url, ws_url],
        media=[media_url],
        stripe_js_url=stripe_js_url,
        extra_connect=[oidc_issuer] if oidc_issuer else [],
    )
    app_config = json.dumps(site_config(api_url, oidc_issuer)).encode()
    handler = partial(Handler, dist=dist, app_config=app_config, csp=csp)
    server = ThreadingHTTPServer((LOOPBACK, port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m infrastructure.local.web_host")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dist", type=Path, default=Path(__file__).resolve().parents[2] / "web" / "dist")
    p.add_argument("--api-url", required=True)
    p.add_argument("--ws-url", required=True)
    p.add_argument("--media-url", required=True, help="where presigned S3 URLs point (moto)")
    p.add_argument("--stripe-js-url", required=True)
    p.add_argument("--oidc-issuer", default=None, help="the local OIDC issuer (sign in with Google / Apple)")
    a = p.parse_args(argv)
    server = make_server(
        a.port,
        a.dist,
        api_url=a.api_url,
        ws_url=a.ws_url,
        media_url=a.media_url,
        stripe_js_url=a.stripe_js_url,
        oidc_issuer=a.oidc_issuer,
    )
    print(f"web app on http://{LOOPBACK}:{a.port} from {a.dist}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
