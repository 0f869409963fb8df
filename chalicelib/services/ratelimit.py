"""Fixed-window failure counters in DynamoDB with TTL (per account identifier and per source IP).

An attempt is counted before it is made (``reserve``) and given back when it succeeds (``release``), so
the counters hold failures only, and concurrent attempts cannot exceed the limit.
"""

from __future__ import annotations

import hashlib

from chalicelib.config import get_settings
from chalicelib.errors import RateLimitedError
from chalicelib.models.base import at_epoch, cancellation_codes, epoch
from chalicelib.models.users import RateCounter


def _window() -> tuple[int, int]:
    w = get_settings().login_window_seconds
    start = epoch() // w * w
    return start, start + w


def login_keys(identifier: str, source_ip: str) -> list[str]:
    start, _ = _window()
    ident = hashlib.sha256(identifier.lower().encode()).hexdigest()[:32]
    return [f"login:id:{ident}#{start}", f"login:ip:{source_ip}#{start}"]


def window_key(scope: str) -> str:
    """A counter for ``scope`` (e.g. "share:<token hash>") in the current window."""
    start, _ = _window()
    return f"{scope}#{start}"


def reserve(keys: list[str]) -> None:
    """Count an attempt on every key before it is made, in one transaction that fails when any counter is at
    the limit: parallel requests cannot all slip past a read-then-increment check. 429 when refused."""
    from pynamodb.exceptions import TransactWriteError
    from pynamodb.transactions import TransactWrite

    from chalicelib.models.base import connection

    s = get_settings()
    _, end = _window()
    try:
        with TransactWrite(connection=connection()) as tx:
            for key in keys:
                tx.update(
                    RateCounter(key=key),
                    actions=[RateCounter.count.add(1), RateCounter.expires_at.set(at_epoch(end + 60))],
                    condition=RateCounter.count.does_not_exist() | (RateCounter.count < s.login_max_failures),
                )
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" in cancellation_codes(exc):
            raise RateLimitedError("Too many failed attempts. Try again later.", retry_after=end - epoch()) from exc
        raise


def release(keys: list[str], *, reset_first: bool) -> None:
    """A successful attempt: give back its reservation; ``reset_first`` also forgets the first key's
    earlier failures (the account's, after a successful login). One transaction."""
    from pynamodb.transactions import TransactWrite

    from chalicelib.models.base import connection

    with TransactWrite(connection=connection()) as tx:
        for index, key in enumerate(keys):
            if index == 0 and reset_first:
                tx.delete(RateCounter(key=key))
            else:
                tx.update(RateCounter(key=key), actions=[RateCounter.count.add(-1)], condition=RateCounter.count > 0)
