"""Fixed-window failure counters in DynamoDB with TTL (per account and per source IP).

An attempt is counted before it is made (``reserve``) and given back when it succeeds (``release``), so
the counters hold failures only, and concurrent attempts cannot exceed the limit.

Logins (the contract's "must not lock out a venue"): an account allows ``login_max_failures`` (5) per
window, an address ``login_max_failures_per_ip`` (100). An attempt refused because its account is locked
is not counted on the address either (one transaction), so one account adds at most 5 to its address's
count: reaching the address limit takes failures on at least 20 different accounts, a spray, while the
people behind a venue's shared address keep logging in to their own accounts.
"""

from __future__ import annotations

import hashlib

from chalicelib.config import get_settings
from chalicelib.errors import ConflictError, RateLimitedError
from chalicelib.logs import get_logger
from chalicelib.models.base import at_epoch, epoch
from chalicelib.models.users import RateCounter

log = get_logger(__name__)


def _window() -> tuple[int, int]:
    w = get_settings().login_window_seconds
    start = epoch() // w * w
    return start, start + w


def login_keys(identifier: str, source_ip: str) -> list[str]:
    """[the account's counter (by the login as typed), the address's counter]."""
    start, _ = _window()
    ident = hashlib.sha256(identifier.lower().encode()).hexdigest()[:32]
    return [f"login:id:{ident}#{start}", f"login:ip:{source_ip}#{start}"]


def login_limits() -> list[int]:
    """The limits of :func:`login_keys`' counters, in the same order."""
    s = get_settings()
    return [s.login_max_failures, s.login_max_failures_per_ip]


def window_key(scope: str) -> str:
    """A counter for ``scope`` (e.g. "share:<token hash>") in the current window."""
    start, _ = _window()
    return f"{scope}#{start}"


def reserve(keys: list[str], limits: list[int] | None = None) -> None:
    """Count an attempt on every key before it is made, in one transaction that fails when any counter is at
    its limit (``limits[i]`` for ``keys[i]``, by default ``login_max_failures`` for all): parallel requests
    cannot all slip past a read-then-increment check, and a refused attempt counts nowhere. 429 when
    refused."""
    from pynamodb.transactions import TransactWrite

    from chalicelib.models.base import commit

    s = get_settings()
    limits = limits or [s.login_max_failures] * len(keys)
    _, end = _window()

    def build(tx: TransactWrite) -> None:
        for key, limit in zip(keys, limits, strict=True):
            tx.update(
                RateCounter(key=key),
                actions=[RateCounter.count.add(1), RateCounter.expires_at.set(at_epoch(end + 60))],
                condition=RateCounter.count.does_not_exist() | (RateCounter.count < limit),
            )

    # Contention on a shared counter (sign-ins from one address at once) is retried, then a 409 contention.
    codes = commit(build, "Too many attempts at once; retry.")
    if "ConditionalCheckFailed" in codes:
        raise RateLimitedError("Too many failed attempts. Try again later.", retry_after=end - epoch())
    if codes:
        raise ConflictError("Too many attempts at once; retry.", code="contention")


def release(keys: list[str], *, reset_first: bool) -> None:
    """A successful attempt: give back its reservation; ``reset_first`` also forgets the first key's
    earlier failures (the account's, after a successful login). One transaction."""
    from pynamodb.transactions import TransactWrite

    from chalicelib.models.base import commit

    def build(tx: TransactWrite) -> None:
        for index, key in enumerate(keys):
            if index == 0 and reset_first:
                tx.delete(RateCounter(key=key))
            else:
                tx.update(RateCounter(key=key), actions=[RateCounter.count.add(-1)], condition=RateCounter.count > 0)

    # Best effort: the attempt succeeded; a reservation not given back only counts until the window ends.
    try:
        codes = commit(build)
    except ConflictError:
        codes = ["contention"]
    if codes:
        log.warning("rate limit reservation not released", extra={"fields": {"codes": codes}})
