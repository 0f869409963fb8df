"""Two-factor authentication: TOTP (RFC 6238, through pyotp) with ten one-time recovery codes.

- Setup stores a pending secret and returns it with its ``otpauth://`` URI (issuer "Lightbox", account =
  the email); enabling needs a valid code for it and answers the recovery codes, in clear this once (stored
  as an HMAC-SHA256 of a per-code salt and the code, keyed with the app's secret). No route returns the
  secret after enabling.
- A code is accepted for the current 30-second step and one step either side (clock drift), but never twice:
  ``last_step`` holds the newest step accepted and spending a code is an update conditioned on a strictly
  newer step; a recovery code is spent by removing its entry under the condition that it is still there.
  Both are in the same transaction as what they unlock (the challenge, the disabling), so two requests with
  one code get one success between them.
- Signing in to such an account (password or OIDC: ``accounts.sign_in``) answers a challenge token instead
  of tokens: opaque, 5 minutes, spent once, remembering the session mode asked for.
- Attempts (verify, enable, disable) are counted like login failures (services/ratelimit): 5 per account and
  100 per address per window, given back on success.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.errors import ConflictError, ForbiddenError, UnauthorizedError, ValidationError
from chalicelib.models.base import TransactWriteError, at_epoch, commit, connection, epoch, now
from chalicelib.models.twofactor import TwoFactor, TwoFactorChallenge, challenge_by_hash, two_factor_of
from chalicelib.models.users import User, user_by_id
from chalicelib.services import passwords, ratelimit, tokens

if TYPE_CHECKING:
    from pynamodb.expressions.condition import Condition
    from pynamodb.expressions.update import Action
    from pynamodb.transactions import TransactWrite

ISSUER = "Lightbox"
VALID_WINDOW = 1  # steps either side of the current one
CHALLENGE_TTL = 300
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off paper
_RECOVERY_LENGTH = 10


def _totp(secret: str) -> Any:
    import pyotp

    return pyotp.TOTP(secret)


def _limit_keys(user_id: str, source_ip: str) -> list[str]:
    return [ratelimit.window_key(f"2fa:id:{user_id}"), ratelimit.window_key(f"2fa:ip:{source_ip}")]


def _attempt(user_id: str, source_ip: str) -> list[str]:
    """Count an attempt before it is made (429 past the limits); the caller releases it on success."""
    keys = _limit_keys(user_id, source_ip)
    ratelimit.reserve(keys, ratelimit.login_limits())
    return keys


def _hash_code(salt: str, code: str) -> str:
    return hmac.new(tokens._key().encode(), f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()


def _new_recovery_codes() -> tuple[list[str], dict[str, str]]:
    """(the codes as shown, ``XXXXX-XXXXX``; their stored entries)."""
    shown, stored = [], {}
    for n in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        salt = secrets.token_hex(8)
        stored[f"r{n}"] = f"{salt}${_hash_code(salt, raw)}"
        shown.append(f"{raw[:5]}-{raw[5:]}")
    return shown, stored


def _normalized_recovery(code: str) -> str | None:
    raw = "".join(code.split()).replace("-", "").upper()
    if len(raw) == _RECOVERY_LENGTH and all(ch in _RECOVERY_ALPHABET for ch in raw):
        return raw
    return None


def _is_totp_code(code: str) -> bool:
    return len(code) == 6 and code.isascii() and code.isdigit()


@dataclass(frozen=True)
class _Spend:
    """How a code is spent on the user's row: the update and its condition (for a transaction)."""

    actions: list[Action]
    condition: Condition


def _wrong(unauthorized: bool, message: str, code: str) -> Exception:
    if unauthorized:
        return UnauthorizedError(message, code=code)
    return ValidationError(message, code=code, details={"code": message})


def _totp_step(secret: str, code: str, after: int | None, *, unauthorized: bool) -> int:
    """The newest step within the window that ``code`` is for; refused if none, or none newer than ``after``."""
    totp = _totp(secret)
    current = totp.timecode(epoch())
    matches = [
        step
        for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1)
        if hmac.compare_digest(totp.generate_otp(step), code)
    ]
    if not matches:
        raise _wrong(unauthorized, "The code is wrong or has expired.", "invalid_code")
    newer = [step for step in matches if after is None or step > after]
    if not newer:
        raise _wrong(unauthorized, "This code was already used; wait for the next one.", "code_already_used")
    return max(newer)


def _spend(row: TwoFactor, code: str, *, unauthorized: bool) -> _Spend:
    """The enabled factor's TOTP code (a step newer than the last used) or one of its recovery codes."""
    enabled = TwoFactor.secret == row.secret
    if _is_totp_code(code) and row.secret:
        step = _totp_step(
            row.secret, code, None if row.last_step is None else int(row.last_step), unauthorized=unauthorized
        )
        newer = TwoFactor.last_step.does_not_exist() | (TwoFactor.last_step < step)
        return _Spend([TwoFactor.last_step.set(step)], enabled & newer)
    raw = _normalized_recovery(code)
    stored = row.recovery_codes.as_dict() if row.recovery_codes else {}
    if raw is not None:
        for name, entry in stored.items():
            salt, _, digest = str(entry).partition("$")
            if hmac.compare_digest(digest, _hash_code(salt, raw)):
                return _Spend(
                    [TwoFactor.recovery_codes[name].remove()], enabled & (TwoFactor.recovery_codes[name] == entry)
                )
    raise _wrong(unauthorized, "The code is wrong or has expired.", "invalid_code")


def is_enabled(user: User) -> bool:
    return bool(user.two_factor_enabled)


# ---- setup, enable, disable ----------------------------------------------------------------------------------


def setup(user: User) -> tuple[str, str]:
    """(secret, otpauth URI) of a new pending setup, replacing any pending one; 409 if already enabled."""
    import pyotp

    from chalicelib.models.base import UpdateError, condition_failed

    if is_enabled(user):
        raise ConflictError("Two-factor authentication is already on.", code="two_factor_enabled")
    secret = pyotp.random_base32()
    try:
        TwoFactor(user_id=user.user_id).update(
            actions=[TwoFactor.pending_secret.set(secret), TwoFactor.pending_since.set(now())],
            condition=TwoFactor.secret.does_not_exist(),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            raise ConflictError("Two-factor authentication is already on.", code="two_factor_enabled") from exc
        raise
    return secret, _totp(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def enable(user: User, code: str, *, source_ip: str) -> list[str]:
    """Turn the pending setup on with a valid code for it; returns the ten recovery codes (shown once)."""
    if is_enabled(user):
        raise ConflictError("Two-factor authentication is already on.", code="two_factor_enabled")
    row = two_factor_of(user.user_id)
    if row is None or not row.pending_secret:
        raise ConflictError("Start with POST /auth/2fa/setup.", code="two_factor_not_set_up")
    keys = _attempt(user.user_id, source_ip)
    if not _is_totp_code(code):
        raise _wrong(False, "The code is wrong or has expired.", "invalid_code")
    step = _totp_step(row.pending_secret, code, None, unauthorized=False)
    shown, stored = _new_recovery_codes()
    from pynamodb.transactions import TransactWrite

    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(
                TwoFactor(user_id=user.user_id),
                actions=[
                    TwoFactor.secret.set(row.pending_secret),
                    TwoFactor.pending_secret.remove(),
                    TwoFactor.pending_since.remove(),
                    TwoFactor.enabled_at.set(now()),
                    TwoFactor.last_step.set(step),
                    TwoFactor.recovery_codes.set(stored),
                ],
                condition=(TwoFactor.pending_secret == row.pending_secret) & TwoFactor.secret.does_not_exist(),
            )
            tx.update(
                User(user_id=user.user_id),
                actions=[User.two_factor_enabled.set(True)],
                condition=User.user_id.exists(),
            )
    except TransactWriteError as exc:
        raise ConflictError("The two-factor setup changed meanwhile; retry.", code="two_factor_changed") from exc
    ratelimit.release(keys, reset_first=True)
    user.two_factor_enabled = True
    return shown


def disable(user: User, password: str | None, code: str, *, source_ip: str) -> None:
    """Turn two-factor auth off: needs the password and a code (TOTP or recovery); nothing changes otherwise.
    An account without a password (created by a Google or Apple sign-in) has none to give: the code alone."""
    if not is_enabled(user):
        raise ConflictError("Two-factor authentication is not on.", code="two_factor_not_enabled")
    keys = _attempt(user.user_id, source_ip)
    if user.has_password and (password is None or not passwords.verify(user.password_hash, password)):
        raise ForbiddenError("The password is wrong.", code="invalid_password")
    row = two_factor_of(user.user_id)
    if row is None or not row.secret:
        raise ConflictError("Two-factor authentication is not on.", code="two_factor_not_enabled")
    spend = _spend(row, code, unauthorized=False)
    from pynamodb.transactions import TransactWrite

    try:
        with TransactWrite(connection=connection()) as tx:
            tx.delete(TwoFactor(user_id=user.user_id), condition=spend.condition)
            tx.update(
                User(user_id=user.user_id), actions=[User.two_factor_enabled.remove()], condition=User.user_id.exists()
            )
    except TransactWriteError as exc:
        raise _wrong(False, "This code was already used; wait for the next one.", "code_already_used") from exc
    ratelimit.release(keys, reset_first=True)
    user.two_factor_enabled = None


def forget(user_id: str) -> None:
    """Account deletion: drop the secret and the recovery codes (idempotent)."""
    TwoFactor(user_id=user_id).delete()


# ---- sign-in challenges ------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_challenge(user: User, session_mode: str) -> tuple[str, int]:
    """(challenge token, seconds it is valid) for the second step of this sign-in."""
    token = f"tfc_{secrets.token_urlsafe(32)}"
    valid_until = epoch() + CHALLENGE_TTL
    item = TwoFactorChallenge(
        token_hash=_token_hash(token),
        user_id=user.user_id,
        session_mode=session_mode,
        valid_until=valid_until,
        used=False,
    )
    item.expires_at = at_epoch(valid_until + 3600)
    item.save(condition=TwoFactorChallenge.token_hash.does_not_exist())
    return token, CHALLENGE_TTL


def _invalid_challenge() -> UnauthorizedError:
    return UnauthorizedError("The sign-in challenge is invalid or was used; log in again.", code="invalid_challenge")


def redeem_challenge(token: str, code: str, *, source_ip: str) -> tuple[User, str]:
    """Complete a sign-in: (the user, the session mode the login asked for). The challenge and the code are
    spent in one transaction, so a code or a challenge used by two requests at once lets one of them in."""
    challenge = challenge_by_hash(_token_hash(token)) if token.startswith("tfc_") else None
    if challenge is None or challenge.used:
        raise _invalid_challenge()
    t = epoch()
    if challenge.valid_until < t:
        raise UnauthorizedError("The sign-in challenge has expired; log in again.", code="challenge_expired")
    keys = _attempt(challenge.user_id, source_ip)
    row = two_factor_of(challenge.user_id)
    if row is None or not row.secret:
        raise _invalid_challenge()  # turned off since the login
    spend = _spend(row, code, unauthorized=True)

    def build(tx: TransactWrite) -> None:
        tx.update(
            TwoFactorChallenge(token_hash=challenge.token_hash),
            actions=[TwoFactorChallenge.used.set(True)],
            condition=(TwoFactorChallenge.used == False)  # noqa: E712 - a PynamoDB condition
            & (TwoFactorChallenge.valid_until >= t),
        )
        tx.update(TwoFactor(user_id=row.user_id), actions=spend.actions, condition=spend.condition)

    # Contention (a double-submitted verify) is retried; the retry then finds the challenge used.
    codes = commit(build, "The sign-in is busy; retry.")
    if codes and codes[0] == "ConditionalCheckFailed":
        raise _invalid_challenge()
    if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
        raise _wrong(True, "This code was already used; wait for the next one.", "code_already_used")
    if codes:
        raise ConflictError("The sign-in changed concurrently; retry.", code="contention")
    ratelimit.release(keys, reset_first=True)
    user = user_by_id(challenge.user_id, consistent=True)
    if user is None:
        raise _invalid_challenge()
    return user, challenge.session_mode
