"""Six-digit one-time codes: stored as an HMAC, 10-minute expiry, 5 attempts per code, a resend cooldown,
and at most 5 codes per account and purpose a day, so a new code cannot be used to reset the guess budget
(25 guesses a day at most: about 1 in 40,000 against a 6-digit code)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from chalicelib.config import get_settings
from chalicelib.errors import RateLimitedError, ValidationError
from chalicelib.models.base import PutError, UpdateError, at_epoch, condition_failed, epoch
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


DAILY_CODES = 5
DAY = 86400


def issue(purpose: str, user_id: str, *, payload: str | None = None, enforce_cooldown: bool = False) -> str:
    """Create (or replace) the pending code and return it in clear for the email. A GetItem and a PutItem
    conditioned on what was read, so concurrent issues cannot both count as the same one."""
    s = get_settings()
    key = _key(purpose, user_id)
    t = epoch()
    today = t // DAY
    try:
        previous = Otp.get(key, consistent_read=True)
    except Otp.DoesNotExist:
        previous = None
    if previous is not None and enforce_cooldown and previous.sent_at > t - s.otp_resend_cooldown_seconds:
        raise RateLimitedError(
            "A code was sent recently; wait before asking again.",
            retry_after=previous.sent_at + s.otp_resend_cooldown_seconds - t,
        )
    issued = (int(previous.issued_today) if previous is not None and previous.issue_day == today else 0) + 1
    if issued > DAILY_CODES:
        raise RateLimitedError("Too many codes today; try again tomorrow.", retry_after=(today + 1) * DAY - t)
    code = f"{secrets.randbelow(1_000_000):06d}"
    item = Otp(
        key=key,
        code_hash=_hash(key, code),
        attempts=0,
        sent_at=t,
        valid_until=t + s.otp_ttl_seconds,
        payload=payload,
        issue_day=today,
        issued_today=issued,
    )
    # kept until the day's count no longer matters (validity itself is checked by valid_until)
    item.expires_at = at_epoch(max(t + s.otp_ttl_seconds, (today + 1) * DAY) + 3600)
    condition = Otp.key.does_not_exist() if previous is None else (Otp.sent_at == previous.sent_at)
    try:
        item.save(condition=condition)
    except PutError as exc:
        if condition_failed(exc):
            raise RateLimitedError(
                "A code was sent just now; wait before asking again.", retry_after=s.otp_resend_cooldown_seconds
            ) from exc
        raise
    return code


def check(purpose: str, user_id: str | None, code: str, *, spend: bool = True, uniform: bool = False) -> Otp:
    """Spend one attempt and return the pending code's row if ``code`` matches; the code is then spent
    (unless ``spend`` is False: the caller checks more and calls :func:`spend_code` itself).

    The attempt counter is incremented with a condition before comparing, so concurrent guesses cannot
    exceed the limit. ``uniform``: too many attempts answers like a wrong code, so an unknown account (no
    code, no counter) cannot be told apart from a known one by guessing past the limit.
    """
    s = get_settings()
    invalid = invalid_code()
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
            if uniform:
                raise invalid from exc
            raise ValidationError(
                "Too many wrong codes; ask for a new one.",
                code="too_many_attempts",
                details={"code": "too many attempts"},
            ) from exc
        raise
    if not hmac.compare_digest(item.code_hash, _hash(key, code)):
        raise invalid
    if spend:
        spend_code(item)
    return item


def spend_code(item: Otp) -> None:
    """Mark a checked code used: once, even if two requests race with the right code (the loser gets the
    invalid-code answer); the row keeps the day's count."""
    try:
        item.update(actions=[Otp.valid_until.set(0)], condition=Otp.valid_until == item.valid_until)
    except UpdateError as exc:
        if condition_failed(exc):
            raise invalid_code() from exc
        raise


def invalid_code() -> ValidationError:
    return ValidationError(
        "The code is invalid or has expired.", code="invalid_code", details={"code": "invalid or expired"}
    )
