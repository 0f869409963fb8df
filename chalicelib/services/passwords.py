"""Password hashing (argon2id, memory-hard) and the minimum password policy."""

from __future__ import annotations

import threading
import unicodedata

from chalicelib.config import get_settings
from chalicelib.errors import ValidationError

MIN_LENGTH = 10
MAX_LENGTH = 128
_COMMON = frozenset(
    {
        "password",
        "password1",
        "password12",
        "password123",
        "passw0rd",
        "qwerty",
        "qwertyuiop",
        "1234567890",
        "0123456789",
        "12345678910",
        "iloveyou12",
        "letmein123",
        "welcome123",
        "admin12345",
        "abc1234567",
        "qwerty1234",
        "1q2w3e4r5t",
        "football12",
        "monkey1234",
        "lightbox123",
        "photos1234",
    }
)

_hasher = None
_dummy_hash: str | None = None
_lock = threading.Lock()


def _ph():
    global _hasher
    if _hasher is None:
        with _lock:
            if _hasher is None:
                from argon2 import PasswordHasher, Type

                s = get_settings()
                _hasher = PasswordHasher(
                    time_cost=s.argon2_time_cost,
                    memory_cost=s.argon2_memory_kib,
                    parallelism=s.argon2_parallelism,
                    type=Type.ID,
                )
    return _hasher


def _normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_policy(password: str, *, field: str = "password", username: str = "", email: str = "") -> None:
    pw = _normalize(password)
    problem = None
    if len(pw) < MIN_LENGTH:
        problem = f"Use at least {MIN_LENGTH} characters."
    elif len(pw) > MAX_LENGTH:
        problem = f"Use at most {MAX_LENGTH} characters."
    elif len(set(pw)) < 5:
        problem = "Use a less repetitive password."
    elif pw.lower() in _COMMON:
        problem = "This password is too common."
    else:
        lowered = pw.lower()
        for personal in (username.lower(), email.lower().split("@")[0]):
            if len(personal) >= 4 and personal in lowered:
                problem = "The password must not contain your username or email."
                break
    if problem:
        raise ValidationError("The password does not meet the policy.", details={field: problem})


def hash_password(password: str) -> str:
    return _ph().hash(_normalize(password))


def verify(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _ph().verify(password_hash, _normalize(password))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _ph().check_needs_rehash(password_hash)


def burn_time(password: str) -> None:
    """Spend the cost of one verification so unknown accounts answer as slowly as known ones."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password("not-a-real-password-0")
    verify(_dummy_hash, password)
