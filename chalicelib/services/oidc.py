"""Sign in with Google and Apple: verify the provider's ID token, then find, link or create the account.

Verification (PyJWT does the cryptography; docs/sign-in.md):
- the header's ``alg`` must be ``RS256`` (``none``, ``HS256`` and everything else are refused before any key is
  looked at), and its ``kid`` must name a key of the provider's JWKS;
- the provider's discovery document (``LIGHTBOX_OIDC_<PROVIDER>_DISCOVERY_URL``) gives the issuer and the JWKS
  URL; the ``iss`` claim must be that issuer and ``aud`` one of the configured client ids
  (``LIGHTBOX_OIDC_<PROVIDER>_CLIENT_IDS``; with several audiences, ``azp`` must be one too);
- ``exp`` and ``iat`` are checked with 60 s of leeway; ``sub``, ``email`` and a true ``email_verified`` (Apple
  sends the string ``"true"``) are required;
- nonce: when the client sends one, the token must carry the same; when the token carries one, the client must
  send it (a token minted for a nonce is bound to the client that asked for it and proves nothing without it).

Caches, per container (module level): each discovery document for an hour; each JWKS for an hour, fetched
again at once when a token names a ``kid`` it does not hold (a key rotation), but at most once per
``JWKS_REFRESH_COOLDOWN`` seconds, so tokens with made-up ``kid`` values cannot make us fetch on every request.
Fetches time out after ``LIGHTBOX_OIDC_TIMEOUT`` seconds; a provider that cannot be reached (and no cached copy)
is ``503 identity_provider_unavailable``, never a 500.
"""

from __future__ import annotations

import hmac
import http.client
import importlib
import json
import secrets
import sys
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib import error as urlerror
from urllib import request as urlrequest

from chalicelib.config import get_settings
from chalicelib.errors import ConflictError, ForbiddenError, LightboxError, NotFoundError, UnauthorizedError
from chalicelib.logs import get_logger
from chalicelib.models import identities
from chalicelib.models import search as search_index
from chalicelib.models.base import new_id
from chalicelib.models.users import NO_PASSWORD, User, user_by_id, user_id_by_claim
from chalicelib.services import accounts

if TYPE_CHECKING:
    from jwt import PyJWK

log = get_logger(__name__)

PROVIDERS = identities.PROVIDERS
ALGORITHM = "RS256"
LEEWAY_SECONDS = 60
DISCOVERY_MAX_AGE = 3600.0
JWKS_MAX_AGE = 3600.0
JWKS_REFRESH_COOLDOWN = 60.0  # seconds between fetches of one JWKS caused by an unknown kid
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_SUB = 255
USERNAME_MIN, USERNAME_MAX = 3, 30
_clock = time.monotonic  # tests move it


class IdentityProviderUnavailable(LightboxError):
    """The identity provider could not be reached; try again shortly."""

    status = 503
    code = "identity_provider_unavailable"


def _invalid(reason: str, message: str) -> UnauthorizedError:
    return UnauthorizedError(
        f"The ID token was refused: {message}", code="invalid_id_token", details={"id_token": reason}
    )


# ---- fetching and caching the provider's documents ---------------------------------------------------------


@dataclass
class _Discovery:
    fetched_at: float
    issuer: str
    jwks_uri: str


@dataclass
class _KeySet:
    fetched_at: float
    keys: dict[str, PyJWK] = field(default_factory=dict)


_lock = threading.Lock()
_discovery: dict[str, _Discovery] = {}  # by discovery URL
_jwks: dict[str, _KeySet] = {}  # by JWKS URL


def reset_caches() -> None:
    with _lock:
        _discovery.clear()
        _jwks.clear()


def _fetch_json(url: str) -> dict[str, Any]:
    if not url.startswith(("https://", "http://")):
        raise IdentityProviderUnavailable(f"The identity provider's URL is not http(s): {url[:80]}")
    request = urlrequest.Request(url, headers={"Accept": "application/json", "User-Agent": "lightbox-oidc"})
    try:
        with urlrequest.urlopen(request, timeout=get_settings().oidc_timeout) as response:
            raw = response.read(MAX_DOCUMENT_BYTES + 1)
    except (urlerror.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        log.warning("identity provider unreachable", extra={"fields": {"url": url, "error": str(exc)[:200]}})
        raise IdentityProviderUnavailable() from exc
    try:
        document = json.loads(raw) if len(raw) <= MAX_DOCUMENT_BYTES else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        log.warning("identity provider answered no JSON object", extra={"fields": {"url": url}})
        raise IdentityProviderUnavailable()
    return document


def _provider_endpoints(discovery_url: str) -> _Discovery:
    cached = _discovery.get(discovery_url)
    if cached is not None and _clock() - cached.fetched_at < DISCOVERY_MAX_AGE:
        return cached
    try:
        document = _fetch_json(discovery_url)
    except IdentityProviderUnavailable:
        if cached is None:
            raise
        cached.fetched_at = _clock()  # a stale copy beats no sign-in; try again in an hour, not on every request
        return cached
    issuer, jwks_uri = document.get("issuer"), document.get("jwks_uri")
    if not isinstance(issuer, str) or not isinstance(jwks_uri, str) or not issuer or not jwks_uri:
        raise IdentityProviderUnavailable("The identity provider's discovery document names no issuer or JWKS.")
    found = _Discovery(_clock(), issuer, jwks_uri)
    with _lock:
        _discovery[discovery_url] = found
    return found


def _parse_jwks(document: dict[str, Any]) -> dict[str, PyJWK]:
    """The RS256 signing keys of a JWKS by kid; anything else in it is ignored."""
    from jwt import PyJWK
    from jwt.exceptions import InvalidKeyError, PyJWKError

    keys: dict[str, PyJWK] = {}
    entries = document.get("keys")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
            continue
        try:
            keys[entry["kid"]] = PyJWK(entry, algorithm=ALGORITHM)
        except (PyJWKError, InvalidKeyError, ValueError, TypeError):
            log.warning("unusable key in a JWKS", extra={"fields": {"kid": entry["kid"][:64]}})
    return keys


def _refresh_jwks(jwks_uri: str, cached: _KeySet | None) -> _KeySet:
    try:
        document = _fetch_json(jwks_uri)
    except IdentityProviderUnavailable:
        if cached is None:
            raise
        cached.fetched_at = _clock()  # keep the old keys, and the cooldown, until the next attempt
        return cached
    found = _KeySet(_clock(), _parse_jwks(document))
    with _lock:
        _jwks[jwks_uri] = found
    return found


def _signing_key(jwks_uri: str, kid: str) -> PyJWK:
    with _lock:
        cached = _jwks.get(jwks_uri)
    if cached is None or _clock() - cached.fetched_at >= JWKS_MAX_AGE:
        cached = _refresh_jwks(jwks_uri, cached)
    key = cached.keys.get(kid)
    if key is None and _clock() - cached.fetched_at >= JWKS_REFRESH_COOLDOWN:
        cached = _refresh_jwks(jwks_uri, cached)  # the provider may have rotated its keys
        key = cached.keys.get(kid)
    if key is None:
        raise _invalid("unknown_key", "it is not signed with a key of the provider.")
    return key


# ---- verification ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedIdentity:
    provider: str
    sub: str
    email: str
    name: str | None


def _provider(provider: str) -> tuple[str, tuple[str, ...]]:
    if provider not in PROVIDERS:
        raise NotFoundError(f"No such sign-in provider: use one of {', '.join(PROVIDERS)}.", code="unknown_provider")
    discovery_url, client_ids = get_settings().oidc_provider(provider)
    if not client_ids:
        raise IdentityProviderUnavailable(
            f"Sign-in with {provider.title()} is not configured here.", code="identity_provider_not_configured"
        )
    return discovery_url, client_ids


_rsa_lock = threading.Lock()


def _jwt_with_rsa() -> Any:
    """PyJWT with its RSA backend. ``tokens._load_jwt`` loads PyJWT with ``cryptography`` hidden (HS256 needs
    only hmac, and that keeps cryptography's imports off every cold start); the first Google/Apple sign-in in
    such a container loads cryptography and re-runs PyJWT's algorithm-dependent modules once, in place (the
    exception classes are not reloaded, so ``except jwt.X`` elsewhere still matches)."""
    import jwt

    if jwt.algorithms.has_crypto:
        return jwt
    with _rsa_lock:
        if not jwt.algorithms.has_crypto:
            try:
                import cryptography  # noqa: F401
            except ImportError:
                return jwt
            for name in ("jwt.algorithms", "jwt.api_jwk", "jwt.api_jws", "jwt.api_jwt", "jwt.jwks_client", "jwt"):
                importlib.reload(sys.modules[name])
    return jwt


def verify(provider: str, id_token: str, nonce: str | None) -> VerifiedIdentity:
    discovery_url, client_ids = _provider(provider)
    jwt = _jwt_with_rsa()
    if not jwt.algorithms.has_crypto:  # RS256 needs the cryptography package (requirements.txt, the core layer)
        log.error("PyJWT has no RSA support: the cryptography package is missing")
        raise IdentityProviderUnavailable("Sign-in with an identity provider is not available on this server.")
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError:
        raise _invalid("malformed", "it is not a signed JWT.") from None
    if header.get("alg") != ALGORITHM:
        raise _invalid("algorithm", f"only {ALGORITHM} signatures are accepted.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= 256:
        raise _invalid("unknown_key", "its header names no key (kid).")
    endpoints = _provider_endpoints(discovery_url)
    key = _signing_key(endpoints.jwks_uri, kid)
    try:
        claims = jwt.decode(
            id_token,
            key.key,
            algorithms=[ALGORITHM],
            audience=list(client_ids),
            issuer=endpoints.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise _invalid("expired", "it has expired.") from None
    except jwt.InvalidAudienceError:
        raise _invalid("audience", "it was issued for another application.") from None
    except jwt.InvalidIssuerError:
        raise _invalid("issuer", "it was not issued by the provider.") from None
    except jwt.InvalidSignatureError:
        raise _invalid("signature", "its signature does not verify.") from None
    except jwt.MissingRequiredClaimError as exc:
        raise _invalid("claims", f"it has no {exc.claim} claim.") from None
    except jwt.PyJWTError as exc:  # an iat in the future, claims of the wrong types, a malformed payload ...
        raise _invalid("claims", f"its claims are not valid ({type(exc).__name__}).") from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") not in client_ids:
        raise _invalid("audience", "it was issued for another application (azp).")
    _check_nonce(claims.get("nonce"), nonce)
    sub = claims["sub"]
    if not isinstance(sub, str) or not 0 < len(sub) <= MAX_SUB or not sub.isprintable():
        raise _invalid("claims", "its subject (sub) is not valid.")
    return VerifiedIdentity(provider, sub, _verified_email(claims), _name(claims.get("name")))


def _check_nonce(in_token: object, sent: str | None) -> None:
    if sent is None and in_token is None:
        return
    if sent is None:
        raise _invalid("nonce", "it was issued for a nonce; send that nonce.")
    if not isinstance(in_token, str) or not hmac.compare_digest(in_token.encode(), sent.encode()):
        raise _invalid("nonce", "its nonce is not the one sent.")


def _verified_email(claims: dict[str, Any]) -> str:
    email = claims.get("email")
    if not isinstance(email, str) or not 3 <= len(email) <= 254 or "@" not in email[1:-1]:
        raise _invalid("email", "it carries no email address (ask for the email scope).")
    if any(c.isspace() or not c.isprintable() for c in email):
        raise _invalid("email", "its email address is not valid.")
    verified = claims.get("email_verified")
    if verified is not True and not (isinstance(verified, str) and verified.lower() == "true"):  # Apple: "true"
        raise ForbiddenError("The provider has not verified this email address.", code="email_not_verified")
    return accounts.normalize_email(email)


def _name(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = " ".join(unicodedata.normalize("NFKC", value).split())
    if not cleaned or len(cleaned) > 64 or not cleaned.isprintable():
        return None
    return cleaned


# ---- the account -------------------------------------------------------------------------------------------


def sign_in(
    provider: str, id_token: str, nonce: str | None, *, source_ip: str, user_agent: str, session_mode: str = "body"
) -> accounts.TokenPair | accounts.Challenge:
    """Verify the token, find (or link, or create) its account and sign in as a password login does: a session,
    or the two-factor challenge for an account with two-factor auth on."""
    identity = verify(provider, id_token, nonce)
    user = account_for(identity)
    return accounts.sign_in(user, source_ip=source_ip, user_agent=user_agent, session_mode=session_mode)


def account_for(identity: VerifiedIdentity) -> User:
    """The account of (provider, sub); the first time, the account with that (verified) email, now linked, or a
    new account. Races with another first sign-in of the same identity or email end in the same account."""
    for _ in range(3):
        owner = identities.owner_of(identity.provider, identity.sub)
        if owner is not None:
            user = user_by_id(owner, consistent=True)
            if user is None:
                raise UnauthorizedError("The account of this sign-in was deleted.", code="account_deleted")
            return user
        existing = user_id_by_claim("email", identity.email)
        try:
            if existing is None:
                return _create(identity)
            return _link(existing, identity)
        except identities.Raced:
            continue
    raise ConflictError("Your sign-in raced another change to the account; try again.")


def _link(user_id: str, identity: VerifiedIdentity) -> User:
    user = user_by_id(user_id, consistent=True)
    if user is None:
        raise ConflictError("That email address belongs to an account being deleted.", code="email_taken")
    if not user.email_verified:
        # Whoever signed up with this address never proved they own it; linking would let them in with their
        # password. The owner proves it with a password reset (which verifies the address), then signs in.
        raise ConflictError(
            "An account with this email address exists but the address was never verified. Verify it (or reset "
            "the password, POST /auth/password/forgot), then sign in again.",
            code="email_not_verified",
        )
    if user.suspended:  # refused before anything is linked (accounts.sign_in would refuse it after)
        raise ForbiddenError("This account is suspended.", code="account_suspended")
    identities.link(user, identity.provider, identity.sub, identity.email)
    return user


def username_candidates(email: str) -> list[str]:
    """From the email's local part: ASCII letters, digits, '_' and '.', 3-30 characters, no '.' at the ends;
    then the same with random digits, then a random name (bounded: a few conditional writes at most)."""
    local = unicodedata.normalize("NFKD", email.rpartition("@")[0]).encode("ascii", "ignore").decode().lower()
    base = "".join(c if c.isalnum() or c in "_." else "_" for c in local.split("+", 1)[0])
    base = base.strip(".")[:USERNAME_MAX].rstrip(".")
    if len(base) < USERNAME_MIN:
        base = f"user_{base}".rstrip(".") if base else "user"
    stem = base[: USERNAME_MAX - 5].rstrip(".")
    return [base, *(f"{stem}{secrets.randbelow(9000) + 1000}" for _ in range(4)), f"user_{secrets.token_hex(6)}"]


def _create(identity: VerifiedIdentity) -> User:
    for username in username_candidates(identity.email):
        user = User(
            user_id=new_id("u_"),
            email=identity.email,
            username=username,
            display_name=identity.name or username,
            role="member",
            email_verified=True,  # the provider verified it
            password_hash=NO_PASSWORD,
        )
        try:
            identities.create_with_identity(user, identity.provider, identity.sub, identity.email)
        except identities.Raced:
            raise
        except ConflictError:  # username_taken: the next candidate
            continue
        search_index.index_user(user.user_id, set(), search_index.user_terms(user.username, user.display_name))
        return user
    raise ConflictError("No free username could be derived from the email address; try again.")


# ---- linked identities -------------------------------------------------------------------------------------


def linked(user: User) -> list[dict[str, str]]:
    return [
        {"provider": provider, "email": entry.get("email", ""), "linked_at": entry.get("linked_at", "")}
        for provider, entry in sorted(identities.identities_of(user).items())
    ]


def unlink(user: User, provider: str) -> None:
    if provider not in PROVIDERS:
        raise NotFoundError(f"No such sign-in provider: use one of {', '.join(PROVIDERS)}.", code="unknown_provider")
    fresh = user_by_id(user.user_id, consistent=True) or user
    try:
        identities.unlink(fresh, provider)
    except identities.Raced:
        raise ConflictError("Your account changed at the same moment; try again.") from None
