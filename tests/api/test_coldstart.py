"""Cold start: what a fresh API function loads and builds before it answers its first request
(bench/bench_coldstart.py measures it; these pin the structure that keeps it small)."""

from __future__ import annotations

import os
import subprocess
import sys


def _fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter (the test environment: settings, fake credentials); its stdout."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_app_imports_the_websocket_handlers_only_when_a_websocket_event_arrives():
    """The WebSocket handlers (and what they import) are the WebSocket function's: the API function's
    ``import app`` must not load them (as the SQS handlers' modules load inside their handlers)."""
    import ast
    import pathlib

    tree = ast.parse((pathlib.Path(__file__).parents[2] / "app.py").read_text())
    top_level = {
        f"{node.module}.{alias.name}" if isinstance(node, ast.ImportFrom) else alias.name
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert "chalicelib.realtime.handlers" not in top_level, top_level


def test_verifying_a_token_does_not_load_cryptography():
    """HS256 needs only hmac: PyJWT's optional RSA/EC backend (installed in the dev venv, absent on Lambda)
    stays out of a first request, and tokens verify as before."""
    out = _fresh(
        "import sys\n"
        "from chalicelib.config import get_settings\n"
        "from chalicelib.services import tokens\n"
        "s = get_settings()\n"
        "claims = {'iss': s.jwt_issuer, 'aud': s.jwt_audience, 'sub': 'u1', 'role': 'member', 'iat': 1,\n"
        "          'exp': 2**40, 'jti': 'j', 'typ': 'access', 'fam': 'f'}\n"
        "assert tokens.decode(tokens._encode(claims), 'access')['sub'] == 'u1'\n"
        "print('cryptography' in sys.modules)\n"
    )
    assert out.strip() == "False"


def test_a_token_signed_with_another_algorithm_is_still_refused():
    """Without the RSA backend loaded, an RS256 header is refused, as an unknown algorithm would be."""
    import base64
    import json

    import pytest

    from chalicelib.errors import UnauthorizedError
    from chalicelib.services import tokens

    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    forged = f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part({'sub': 'u1', 'typ': 'access'})}.c2ln"
    with pytest.raises(UnauthorizedError):
        tokens.decode(forged, "access")


def test_tables_share_one_botocore_session_per_thread():
    """PynamoDB makes a session per table connection, each parsing botocore's models again (~0.1-0.5 s of a
    cold start per table a request touches): every table of a thread shares one; clients stay per table."""
    import threading

    from chalicelib.models.events import Event
    from chalicelib.models.users import User

    users, events = User._get_connection().connection, Event._get_connection().connection
    assert users is not events
    assert users.session is events.session

    other: list = []
    thread = threading.Thread(target=lambda: other.append(users.session))
    thread.start()
    thread.join()
    assert other[0] is not users.session  # botocore client creation is not thread-safe: one per thread


def test_photo_and_event_routes_build_no_user_or_auth_schema():
    """A route family builds its own schemas: the photo and event blueprints load neither the user and auth
    schemas nor EmailStr's ``pydantic.networks``."""
    loaded = _fresh(
        "import sys, app, chalicelib.api.photos, chalicelib.api.events\n"
        "print(' '.join(m for m in ('chalicelib.api.schemas', 'pydantic.networks', 'email_validator')"
        " if m in sys.modules))"
    )
    assert loaded.split() == []


def test_a_google_sign_in_after_hs256_tokens_still_gets_rsa():
    """A warm container has loaded PyJWT without cryptography (above) before its first Google/Apple sign-in:
    the sign-in loads the RSA backend then, RS256 ID tokens verify, and HS256 tokens keep working."""
    out = _fresh(
        "from chalicelib.config import get_settings\n"
        "from chalicelib.services import oidc, tokens\n"
        "s = get_settings()\n"
        "claims = {'iss': s.jwt_issuer, 'aud': s.jwt_audience, 'sub': 'u1', 'role': 'member', 'iat': 1,\n"
        "          'exp': 2**40, 'jti': 'j', 'typ': 'access', 'fam': 'f'}\n"
        "token = tokens._encode(claims)\n"
        "import jwt\n"
        "assert not jwt.algorithms.has_crypto\n"
        "jwt = oidc._jwt_with_rsa()\n"
        "from cryptography.hazmat.primitives.asymmetric import rsa\n"
        "key = rsa.generate_private_key(public_exponent=65537, key_size=2048)\n"
        "signed = jwt.encode({'sub': 'g'}, key, algorithm='RS256')\n"
        "assert jwt.decode(signed, key.public_key(), algorithms=['RS256'])['sub'] == 'g'\n"
        "assert tokens.decode(token, 'access')['sub'] == 'u1'\n"
        "try:\n"
        "    tokens.decode(token + 'x', 'access')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    assert out.strip() == "UnauthorizedError"
