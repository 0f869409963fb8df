"""Idempotency keys: the first response to a (caller, ``Idempotency-Key``) pair, replayed for 24 hours.

Access patterns:
- claim a key (conditional put: absent, expired, or an abandoned in-progress claim) -> :func:`claim`
- read a key (consistent GetItem) -> :func:`get`
- store the finished response (conditional update on our own claim) -> :func:`finish`
- give a key back after a failure, so the client may retry -> :func:`release`
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from chalicelib.models.base import at_epoch, condition_failed, epoch, register, table_meta

IN_PROGRESS = "in_progress"
DONE = "done"


@register
class IdempotencyRecord(Model):
    """One key of one caller: its request fingerprint, then the stored response."""

    Meta = table_meta("idempotency_keys")

    caller = UnicodeAttribute(hash_key=True)  # the user id
    key = UnicodeAttribute(range_key=True)  # the Idempotency-Key header, 1..255 chars
    fingerprint = UnicodeAttribute()  # SHA-256 of method, path, query and body
    state = UnicodeAttribute()  # in_progress | done
    claim_id = UnicodeAttribute()  # which request holds the in-progress claim
    locked_until = NumberAttribute()  # epoch seconds: an in-progress claim older than this was abandoned
    valid_until = NumberAttribute()  # epoch seconds: TTL deletion lags, so reads check this too
    status = NumberAttribute(null=True)
    body = UnicodeAttribute(null=True)
    content_type = UnicodeAttribute(null=True)
    expires_at = TTLAttribute()


def claim(caller: str, key: str, fingerprint: str, claim_id: str, lock_seconds: int, keep_seconds: int) -> bool:
    """Take the key for one request; False if another request holds it or has finished with it."""
    now = epoch()
    record = IdempotencyRecord(
        caller,
        key,
        fingerprint=fingerprint,
        state=IN_PROGRESS,
        claim_id=claim_id,
        locked_until=now + lock_seconds,
        valid_until=now + keep_seconds,
        expires_at=at_epoch(now + keep_seconds),
    )
    condition = (
        IdempotencyRecord.caller.does_not_exist()
        | (IdempotencyRecord.valid_until < now)
        | ((IdempotencyRecord.state == IN_PROGRESS) & (IdempotencyRecord.locked_until < now))
    )
    try:
        record.save(condition=condition)
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def get(caller: str, key: str) -> IdempotencyRecord | None:
    try:
        record = IdempotencyRecord.get(caller, key, consistent_read=True)
    except IdempotencyRecord.DoesNotExist:
        return None
    return record if record.valid_until >= epoch() else None


def finish(caller: str, key: str, claim_id: str, status: int, body: str, content_type: str | None) -> bool:
    """Store the response; False if the claim was lost meanwhile (taken over after it was abandoned)."""
    record = IdempotencyRecord(caller, key)
    actions: list[Action] = [
        IdempotencyRecord.state.set(DONE),
        IdempotencyRecord.status.set(status),
        IdempotencyRecord.body.set(body),
    ]
    if content_type:
        actions.append(IdempotencyRecord.content_type.set(content_type))
    try:
        record.update(actions=actions, condition=IdempotencyRecord.claim_id == claim_id)
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def release(caller: str, key: str, claim_id: str) -> None:
    try:
        IdempotencyRecord(caller, key).delete(
            condition=(IdempotencyRecord.claim_id == claim_id) & (IdempotencyRecord.state == IN_PROGRESS)
        )
    except DeleteError as exc:
        if not condition_failed(exc):
            raise
