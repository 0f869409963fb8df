"""JWT access and refresh tokens: issue, verify, authenticate.

Access tokens live 15 minutes, refresh tokens 30 days. Both carry ``sub, role, iat, exp, jti, iss, aud,
typ``, ``fam`` (the login family) and ``gen`` (the user's session generation when issued; a token
without it is of generation 0). Verification pins HS256 (so ``alg: none`` and algorithm confusion
are refused), the issuer, the audience, the type and the required claims.

Authentication is done in-function (not by an API Gateway authorizer): one consistent GetItem of the user
per request gives immediate revocation (logout, logout-all, password change, deletion take effect on
access tokens at once, not after an authorizer cache TTL), the caller's current role, and the same code
path locally as in AWS.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Collection
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
    generation: int = 0  # the session generation the token was issued under

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


def issue(
    user: User, family_id: str, typ: str, jti: str | None = None, *, generation: int | None = None
) -> tuple[str, str, int]:
    """Return (token, jti, lifetime seconds). ``generation``: the session generation the login was checked
    under (default: the one on ``user``, as read)."""
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
        "gen": int(user.session_gen or 0) if generation is None else generation,
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


def generation_of(claims: dict[str, Any]) -> int:
    gen = claims.get("gen", 0)
    return gen if isinstance(gen, int) and not isinstance(gen, bool) else -1  # a malformed one is never current


def principal_for(claims: dict[str, Any]) -> Principal:
    """Check the token's user, family and generation against the stored revocation state."""
    try:
        user = User.get(claims["sub"], consistent_read=True)
    except User.DoesNotExist:
        raise UnauthorizedError("The token is no longer valid.", code="invalid_token") from None
    generation = generation_of(claims)
    if not state_of(user).alive(claims["fam"], generation):
        raise UnauthorizedError("The session has ended.", code="session_revoked")
    return Principal(user_id=user.user_id, role=user.role, family_id=claims["fam"], user=user, generation=generation)


def authenticate(token: str) -> Principal:
    return principal_for(decode(token, "access"))


def revocation_retention() -> int:
    """How long a revoked family stays listed on the user: until every access token of it has expired and
    every WebSocket connection opened with it has been closed by the gateway, so that pruning the list can
    never bring a token or a socket back to life."""
    from chalicelib.models.realtime import CONNECTION_MAX_AGE

    return max(get_settings().access_token_ttl, CONNECTION_MAX_AGE) + 60


@dataclass(frozen=True)
class LoginState:
    """A user's revocation state, read once for any number of their logins (e.g. one per open socket)."""

    active: bool  # the account exists and is neither deleted nor suspended
    revoked: frozenset[str]  # single logouts (and replayed refresh tokens): these families only
    generation: int = 0  # logins of an older generation have ended (logout-all, password change, deletion)
    kept: str | None = None  # ... except this one, kept by the last such cut

    def alive(self, family_id: str | None, generation: float | None = 0) -> bool:
        """``generation``: of the token, session or socket (a stored NumberAttribute reads as a float)."""
        if not self.active or (family_id is not None and family_id in self.revoked):
            return False
        if (generation or 0) >= self.generation:
            return True
        return family_id is not None and family_id == self.kept


DEAD = LoginState(active=False, revoked=frozenset())


def state_of(user: User) -> LoginState:
    revoked = user.revoked_families.as_dict() if user.revoked_families else {}
    return LoginState(
        active=not user.deleted and user.suspended_at is None,
        revoked=frozenset(revoked),
        generation=int(user.session_gen or 0),
        kept=user.session_gen_kept,
    )


def login_state(user_id: str) -> LoginState:
    """One consistent GetItem of the user."""
    try:
        user = User.get(user_id, consistent_read=True)
    except User.DoesNotExist:
        return DEAD
    return state_of(user)


def login_states(user_ids: Collection[str]) -> dict[str, LoginState]:
    """The revocation state of many users in one consistent BatchGet (e.g. every watcher of a photo); a
    missing user is dead."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return {}
    states = {u.user_id: state_of(u) for u in User.batch_get(ids, consistent_read=True)}
    return {uid: states.get(uid, DEAD) for uid in ids}


def session_alive(user_id: str, family_id: str | None, generation: float | None = 0) -> bool:
    """Whether a login (e.g. the one a WebSocket connection was opened with) is still valid."""
    return login_state(user_id).alive(family_id, generation)
