"""JWT access and refresh tokens: issue, verify, authenticate.

Access tokens live 15 minutes, refresh tokens 30 days. Both carry ``sub, role, iat, exp, jti, iss, aud,
typ`` and ``fam`` (the login family). Verification pins HS256 (so ``alg: none`` and algorithm confusion
are refused), the issuer, the audience, the type and the required claims.

Authentication is done in-function (not by an API Gateway authorizer): one consistent GetItem of the user
per request gives immediate revocation (logout, logout-all, password change, deletion take effect on
access tokens at once, not after an authorizer cache TTL), the caller's current role, and the same code
path locally as in AWS.
"""

from __future__ import annotations

import secrets
import sys
from dataclasses import dataclass
from typing import Any

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.errors import UnauthorizedError
from chalicelib.models.base import epoch
from chalicelib.models.users import User

ALGORITHM = "HS256"
REQUIRED = ["sub", "iat", "exp", "jti", "iss", "aud", "typ", "fam"]


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: str
    family_id: str
    user: User

    @property
    def is_staff(self) -> bool:
        return self.role in ("staff", "admin")


def _key() -> str:
    s = get_settings()
    return aws.secret(s.jwt_secret, s.jwt_secret_param)


def _load_jwt() -> None:
    """Import PyJWT without its optional ``cryptography`` backend.

    Only HS256 (stdlib ``hmac``) is ever used. PyJWT imports ``cryptography`` for RSA/EC whenever it is
    installed: the dev venv has it (through moto), the Lambda package does not. Hiding it while PyJWT loads
    makes every environment verify tokens the same way and keeps ~0.2 s of imports off a first request.
    """
    if "jwt" in sys.modules:
        return
    hide = "cryptography" not in sys.modules
    if hide:
        sys.modules["cryptography"] = None  # type: ignore[assignment]  # import -> ModuleNotFoundError
    try:
        import jwt  # noqa: F401  # loaded here; the callers import the cached module
    finally:
        if hide and sys.modules.get("cryptography", 0) is None:
            del sys.modules["cryptography"]


def _encode(claims: dict[str, Any]) -> str:
    _load_jwt()
    import jwt

    return jwt.encode(claims, _key(), algorithm=ALGORITHM)


def issue(user: User, family_id: str, typ: str, jti: str | None = None) -> tuple[str, str, int]:
    """Return (token, jti, lifetime seconds)."""
    s = get_settings()
    ttl = s.access_token_ttl if typ == "access" else s.refresh_token_ttl
    issued = epoch()
    jti = jti or secrets.token_urlsafe(16)
    claims = {
        "iss": s.jwt_issuer,
        "aud": s.jwt_audience,
        "sub": user.user_id,
        "role": user.role,
        "iat": issued,
        "exp": issued + ttl,
        "jti": jti,
        "typ": typ,
        "fam": family_id,
    }
    return _encode(claims), jti, ttl


def decode(token: str, typ: str) -> dict[str, Any]:
    _load_jwt()
    import jwt

    s = get_settings()
    if not isinstance(token, str) or len(token) > 4096:
        raise UnauthorizedError("The token is invalid.", code="invalid_token")
    try:
        claims = jwt.decode(
            token,
            _key(),
            algorithms=[ALGORITHM],
            audience=s.jwt_audience,
            issuer=s.jwt_issuer,
            options={"require": REQUIRED},
            leeway=5,
        )
    except jwt.ExpiredSignatureError:
        raise UnauthorizedError("The token has expired.", code="token_expired") from None
    except jwt.PyJWTError:
        raise UnauthorizedError("The token is invalid.", code="invalid_token") from None
    if claims.get("typ") != typ:
        raise UnauthorizedError("The token is invalid.", code="invalid_token")
    return claims


def principal_for(claims: dict[str, Any]) -> Principal:
    """Check the token's user and family against the stored revocation state."""
    try:
        user = User.get(claims["sub"], consistent_read=True)
    except User.DoesNotExist:
        raise UnauthorizedError("The token is no longer valid.", code="invalid_token") from None
    if user.deleted or claims["fam"] in (user.revoked_families.as_dict() if user.revoked_families else {}):
        raise UnauthorizedError("The session has ended.", code="session_revoked")
    return Principal(user_id=user.user_id, role=user.role, family_id=claims["fam"], user=user)


def authenticate(token: str) -> Principal:
    return principal_for(decode(token, "access"))


def session_alive(user_id: str, family_id: str | None) -> bool:
    """Whether a login (e.g. the one a WebSocket connection was opened with) is still valid."""
    try:
        user = User.get(user_id, consistent_read=True)
    except User.DoesNotExist:
        return False
    revoked = user.revoked_families.as_dict() if user.revoked_families else {}
    return not user.deleted and (family_id is None or family_id not in revoked)
