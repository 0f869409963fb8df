"""A local OpenID Connect issuer standing in for Google and Apple, in memory, on 127.0.0.1.

    python -m infrastructure.local.oidc_issuer --port 8440 [--client-id google=ID] [--client-id apple=ID]

For each provider (``google``, ``apple``) under ``/{provider}`` (docs/sign-in.md):

- ``GET /{provider}/.well-known/openid-configuration``: the discovery document; ``issuer`` is
  ``http://127.0.0.1:<port>/{provider}``, ``jwks_uri`` is ``{issuer}/jwks``.
- ``GET /{provider}/jwks``: the public RSA keys (RS256, each with its ``kid``), generated at start.
- ``POST /{provider}/id-token`` ``{"email", "sub", "nonce"?, "aud"?, "email_verified"?, "name"?, "expires_in"?,
  "iss"?}`` -> ``{"id_token"}``: an RS256 ID token signed with the current key, shaped as that provider's are
  (Apple: ``email_verified`` and ``is_private_email`` as the strings ``"true"``/``"false"``; Google: booleans and
  ``azp``). ``aud`` defaults to the client id of the provider (``--client-id``, else ``DEFAULT_CLIENT_IDS``, which
  the local stack configures), ``email_verified`` to true, ``expires_in`` to 600 s (negative: already expired);
  ``iss`` overrides the issuer (for tests of a wrong one).
- ``POST /{provider}/rotate-key`` -> ``{"kid"}``: a new current signing key; the old one stays in the JWKS.
- ``GET /_oidc/health``; ``GET /_oidc/stats`` -> ``{"jwks_requests": {provider: n}, "discovery_requests": {...}}``.

Never deployed: a test and development tool only (anyone who can reach it can mint tokens).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from infrastructure.local.common import LOOPBACK

PROVIDERS = ("google", "apple")
DEFAULT_CLIENT_IDS = {"google": "lightbox-local.apps.googleusercontent.com", "apple": "app.lightbox.local"}
MAX_BODY = 64 * 1024
DEFAULT_TTL = 600


def new_key() -> tuple[str, Any]:
    """(kid, a 2048-bit RSA private key)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    return f"local-{secrets.token_hex(6)}", rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(kid: str, private_key: Any) -> dict[str, Any]:
    from jwt.algorithms import RSAAlgorithm

    jwk = dict(RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


@dataclass
class ProviderState:
    name: str
    issuer: str
    client_id: str
    keys: list[tuple[str, Any]] = field(default_factory=list)  # (kid, private key), the current one last
    jwks_requests: int = 0
    discovery_requests: int = 0

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code", "id_token"],
            "subject_types_supported": ["public" if self.name == "google" else "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "name" if self.name == "apple" else "profile"],
            "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "iss", "nonce", "sub"],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(kid, key) for kid, key in self.keys]}

    def mint(self, body: dict[str, Any]) -> str:
        import jwt

        moment = int(time.time())
        email = str(body["email"])
        verified = bool(body.get("email_verified", True))
        claims: dict[str, Any] = {
            "iss": str(body.get("iss") or self.issuer),
            "aud": body.get("aud") or self.client_id,
            "sub": str(body["sub"]),
            "iat": moment,
            "exp": moment + int(body.get("expires_in", DEFAULT_TTL)),
            "email": email,
        }
        if self.name == "apple":  # Apple sends these booleans as strings
            claims["email_verified"] = "true" if verified else "false"
            claims["is_private_email"] = "true" if email.endswith("@privaterelay.appleid.com") else "false"
            claims["auth_time"] = moment
        else:
            claims["email_verified"] = verified
            claims["azp"] = claims["aud"] if isinstance(claims["aud"], str) else self.client_id
            if body.get("name"):
                claims["name"] = str(body["name"])
        if body.get("nonce") is not None:
            claims["nonce"] = str(body["nonce"])
        kid, key = self.keys[-1]
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


class Issuer:
    def __init__(self, base_url: str, client_ids: dict[str, str]) -> None:
        self.lock = threading.Lock()
        self.providers = {
            name: ProviderState(name, f"{base_url}/{name}", client_ids.get(name) or DEFAULT_CLIENT_IDS[name])
            for name in PROVIDERS
        }
        for state in self.providers.values():
            state.keys.append(new_key())

    def rotate(self, provider: str) -> str:
        kid, key = new_key()
        with self.lock:
            self.providers[provider].keys.append((kid, key))
        return kid

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "jwks_requests": {n: p.jwks_requests for n, p in self.providers.items()},
                "discovery_requests": {n: p.discovery_requests for n, p in self.providers.items()},
            }


class Handler(BaseHTTPRequestHandler):
    issuer: Issuer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"oidc-issuer: {self.command} {self.path} -> {format % args}\n")

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        # The web app's local sign-in buttons mint tokens from the page (a simple text/plain POST, no preflight):
        # a local test fixture, so any origin may read its answers.
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, error: str, description: str) -> None:
        self._send(status, {"error": error, "error_description": description})

    def _provider(self, suffix: str) -> ProviderState | None:
        name, _, rest = self.path.lstrip("/").partition("/")
        if "/" + rest != suffix:
            return None
        return self.issuer.providers.get(name)

    def do_GET(self) -> None:
        if self.path == "/_oidc/health":
            self._send(200, {"status": "ok", "providers": list(PROVIDERS)})
            return
        if self.path == "/_oidc/stats":
            self._send(200, self.issuer.stats())
            return
        state = self._provider("/.well-known/openid-configuration")
        if state is not None:
            with self.issuer.lock:
                state.discovery_requests += 1
            self._send(200, state.discovery())
            return
        state = self._provider("/jwks")
        if state is not None:
            with self.issuer.lock:
                state.jwks_requests += 1
                jwks = state.jwks()
            self._send(200, jwks)
            return
        self._error(404, "not_found", "No such route")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._error(413, "invalid_request", "The body is too large")
            return
        raw = self.rfile.read(length) if length else b""
        state = self._provider("/rotate-key")
        if state is not None:
            self._send(200, {"kid": self.issuer.rotate(state.name)})
            return
        state = self._provider("/id-token")
        if state is None:
            self._error(404, "not_found", "No such route")
            return
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError):
            self._error(400, "invalid_request", "The body is not valid JSON")
            return
        if not isinstance(body, dict) or not body.get("email") or not body.get("sub"):
            self._error(400, "invalid_request", 'Send {"email", "sub"} (and "nonce", "aud", ... if wanted)')
            return
        try:
            with self.issuer.lock:
                token = state.mint(body)
        except (TypeError, ValueError) as exc:
            self._error(400, "invalid_request", f"Cannot mint that token: {exc}")
            return
        self._send(
            200, {"id_token": token, "token_type": "Bearer", "expires_in": int(body.get("expires_in", DEFAULT_TTL))}
        )


def serve(port: int, client_ids: dict[str, str] | None = None) -> tuple[ThreadingHTTPServer, Issuer]:
    """Bind 127.0.0.1:``port`` (0: any free port) and return the server (call ``serve_forever``) and its state."""
    server = ThreadingHTTPServer((LOOPBACK, port), BaseHTTPRequestHandler)
    server.daemon_threads = True
    issuer = Issuer(f"http://{LOOPBACK}:{server.server_address[1]}", client_ids or {})
    server.RequestHandlerClass = type("IssuerHandler", (Handler,), {"issuer": issuer})
    return server, issuer


def _client_id(value: str) -> tuple[str, str]:
    provider, sep, client_id = value.partition("=")
    if not sep or provider not in PROVIDERS or not client_id:
        raise argparse.ArgumentTypeError(f"use PROVIDER=CLIENT_ID with PROVIDER one of {', '.join(PROVIDERS)}")
    return provider, client_id


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--client-id", type=_client_id, action="append", default=[], help="PROVIDER=ID: the default audience"
    )
    args = parser.parse_args(argv)
    server, issuer = serve(args.port, dict(args.client_id))
    print(f"OIDC issuer on http://{LOOPBACK}:{args.port}/{{{','.join(PROVIDERS)}}}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
