"""Fixed-window failure counters in DynamoDB with TTL (per account identifier and per source IP)."""
from __future__ import annotations

import hashlib

from chalicelib.config import get_settings
from chalicelib.errors import RateLimitedError
from chalicelib.models.base import at_epoch, epoch
from chalicelib.models.users import RateCounter


def _window() -> tuple[int, int]:
    w = get_settings().login_window_seconds
    start = epoch() // w * w
    return start, start + w


def login_keys(identifier: str, source_ip: str) -> list[str]:
    start, _ = _window()
    ident = hashlib.sha256(identifier.lower().encode()).hexdigest()[:32]
    return [f"login:id:{ident}#{start}", f"login:ip:{source_ip}#{start}"]


def check(keys: list[str]) -> dict[str, int]:
    """Raise 429 if any counter is at the limit; return the current counts. One BatchGetItem."""
    s = get_settings()
    counts = {item.key: int(item.count or 0) for item in RateCounter.batch_get(keys)}
    if any(c >= s.login_max_failures for c in counts.values()):
        _, end = _window()
        raise RateLimitedError("Too many failed attempts. Try again later.", retry_after=end - epoch())
    return counts


def record_failure(keys: list[str]) -> None:
    _, end = _window()
    for key in keys:
        RateCounter(key=key).update(actions=[RateCounter.count.add(1), RateCounter.expires_at.set(at_epoch(end + 60))])


def clear(key: str) -> None:
    RateCounter(key=key).delete()
