"""Six-digit one-time codes: stored as an HMAC, 10-minute expiry, 5 attempts, resend cooldown."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from chalicelib.config import get_settings
from chalicelib.errors import RateLimitedError, ValidationError
from chalicelib.models.base import at_epoch, condition_failed, epoch, UpdateError, PutError
from chalicelib.models.users import Otp
from chalicelib.services import tokens

SIGNUP = "verify_email"
EMAIL_CHANGE = "email_change"
PASSWORD_RESET = "password_reset"


def _hash(key: str, code: str) -> str:
    secret = tokens._key().encode()
    return hmac.new(secret, f"{key}:{code}".encode(), hashlib.sha256).hexdigest()


def _key(purpose: str, user_id: str) -> str:
    return f"{purpose}#{user_id}"


def issue(purpose: str, user_id: str, *, payload: str | None = None, enforce_cooldown: bool = False) -> str:
    """Create (or replace) the pending code and return it in clear for the email. One PutItem."""
    s = get_settings()
    key = _key(purpose, user_id)
    code = f"{secrets.randbelow(1_000_000):06d}"
    t = epoch()
    item = Otp(key=key, code_hash=_hash(key, code), attempts=0, sent_at=t, valid_until=t + s.otp_ttl_seconds,
               payload=payload)
    item.expires_at = at_epoch(t + s.otp_ttl_seconds + 3600)  # TTL deletion lags; validity is checked by valid_until
    condition = None
    if enforce_cooldown:
        condition = Otp.key.does_not_exist() | (Otp.sent_at <= t - s.otp_resend_cooldown_seconds)
    try:
        item.save(condition=condition)
    except PutError as exc:
        if condition_failed(exc):
            raise RateLimitedError("A code was sent recently; wait before asking again.",
                                   retry_after=s.otp_resend_cooldown_seconds) from exc
        raise
    return code


def check(purpose: str, user_id: str | None, code: str) -> Otp:
    """Spend one attempt and return the pending code's row if ``code`` matches; the row is then deleted.

    The attempt counter is incremented with a condition before comparing, so concurrent guesses cannot
    exceed the limit.
    """
    s = get_settings()
    invalid = ValidationError("The code is invalid or has expired.", code="invalid_code",
                              details={"code": "invalid or expired"})
    if user_id is None or not (isinstance(code, str) and len(code) == 6 and code.isascii() and code.isdigit()):
        raise invalid
    key = _key(purpose, user_id)
    try:
        item = Otp.get(key, consistent_read=True)
    except Otp.DoesNotExist:
        raise invalid from None
    if item.valid_until < epoch():
        raise invalid
    try:
        item.update(actions=[Otp.attempts.add(1)], condition=Otp.attempts < s.otp_max_attempts)
    except UpdateError as exc:
        if condition_failed(exc):
            raise ValidationError("Too many wrong codes; ask for a new one.", code="too_many_attempts",
                                  details={"code": "too many attempts"}) from exc
        raise
    if not hmac.compare_digest(item.code_hash, _hash(key, code)):
        raise invalid
    item.delete()
    return item
