"""Shared PynamoDB plumbing: table naming per stage, timestamps, and AWS-error translation."""

from __future__ import annotations

import contextlib
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import cast

import botocore.session
import pynamodb.connection.base
from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import (
    DeleteError,
    GetError,
    PutError,
    PynamoDBConnectionError,
    QueryError,
    TransactWriteError,
    UpdateError,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import MetaProtocol, Model
from pynamodb.transactions import TransactWrite

from chalicelib.config import get_settings
from chalicelib.errors import ConflictError

ALL_MODELS: list[type[Model]] = []
_sessions = threading.local()


def _thread_session() -> botocore.session.Session:
    """One botocore session per thread for every table. PynamoDB creates a session per table connection, and
    each new session parses botocore's service model and endpoint rules again: ~0.1-0.5 s of a cold start for
    every further table a first request touches. Per thread, as PynamoDB's own (client creation is not
    thread-safe); clients stay one per table."""
    session = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = botocore.session.get_session()
    return session


pynamodb.connection.base.get_session = _thread_session  # what Connection.session calls


def table_meta(name: str) -> MetaProtocol:
    """A PynamoDB ``Meta`` for the stage's table ``name``."""
    settings = get_settings()

    class Meta:
        table_name = settings.table_name(name)
        region = settings.region
        host = settings.aws_endpoint_url
        billing_mode = "PAY_PER_REQUEST"
        max_retry_attempts = 3

    # A Meta class sets only what differs from pynamodb's defaults, which MetaModel fills in at class creation.
    return cast(MetaProtocol, Meta)


def register(model: type[Model]) -> type[Model]:
    ALL_MODELS.append(model)
    return model


def keys_only_index(
    table: str, name: str, hash_attr: str, range_attr: str, range_type: type = UTCDateTimeAttribute
) -> GlobalSecondaryIndex:
    """A KEYS_ONLY global secondary index (string hash key): listings read keys, then BatchGet the items."""
    attrs = {
        "Meta": type("Meta", (), {"index_name": name, "projection": KeysOnlyProjection()}),
        hash_attr: UnicodeAttribute(hash_key=True),
        range_attr: range_type(range_key=True),
    }
    return type(f"{table}_{name}", (GlobalSecondaryIndex,), attrs)()


_connections: dict[tuple[str, str | None], Connection] = {}


def connection() -> Connection:
    """The container's PynamoDB connection for transactions, made once (like each model's own): a new
    ``Connection`` builds a new botocore session and client, which re-reads and parses DynamoDB's service
    model (tenths of a second) on every transaction."""
    settings = get_settings()
    key = (settings.region, settings.aws_endpoint_url)
    found = _connections.get(key)
    if found is None:
        found = _connections.setdefault(key, Connection(region=settings.region, host=settings.aws_endpoint_url))
    return found


def now() -> datetime:
    return datetime.now(UTC)


def epoch(dt: datetime | None = None) -> int:
    return int((dt or now()).timestamp())


def at_epoch(seconds: int) -> datetime:
    """A TTL value: TTLAttribute takes datetimes (stored as epoch seconds)."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id(prefix: str = "") -> str:
    """Opaque, URL-safe, time-sortable id: 10 hex chars of milliseconds + 12 random chars."""
    millis = int(now().timestamp() * 1000)
    return f"{prefix}{millis:011x}{secrets.token_hex(6)}"


def condition_failed(exc: Exception) -> bool:
    cause = getattr(exc, "cause_response_code", None)
    return cause == "ConditionalCheckFailedException"


def cancellation_codes(exc: TransactWriteError) -> list[str | None]:
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return [r.code if r is not None else None for r in reasons]


# Cancellation reasons a retry of the same transaction can get past: contention on an item (concurrent
# transactions on one row, e.g. a user's counters) and throttling.
RETRYABLE_CANCELLATIONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
TRANSACTION_ATTEMPTS = 8


def commit(
    build: Callable[[TransactWrite], None], busy: str = "The item is busy; retry.", *, via: Connection | None = None
) -> list[str | None]:
    """Commit one transaction: ``[]`` when it committed, else the per-item cancellation codes (PynamoDB's order:
    condition checks, deletes, puts, updates). Contention (``TransactionConflict``: concurrent transactions on
    one item, e.g. the last seats of a popular event) is retried with jittered backoff; when every attempt
    raced, a ``409 contention`` ConflictError (``busy``); anything else raises. ``via``: the connection to
    use (default: the container's shared one)."""
    for attempt in range(TRANSACTION_ATTEMPTS):
        try:
            with TransactWrite(connection=via or connection()) as tx:
                build(tx)
            return []
        except TransactWriteError as exc:
            codes = cancellation_codes(exc)
            if not codes:
                raise
            if not any(c in RETRYABLE_CANCELLATIONS for c in codes):
                return codes
            if attempt == TRANSACTION_ATTEMPTS - 1:
                raise ConflictError(busy, code="contention") from exc
        time.sleep(random.uniform(0, 0.01 * 2**attempt))
    raise AssertionError("unreachable")


def update_existing(item: Model, actions: list) -> bool:
    """Update an item only if it still exists; False if it was deleted meanwhile (an unconditional update
    would recreate it as a ghost row holding just the updated attributes)."""
    hash_keyname = type(item)._hash_keyname
    assert hash_keyname is not None  # pynamodb refuses a model without a hash key
    hash_key = getattr(type(item), hash_keyname)
    try:
        item.update(actions=actions, condition=hash_key.exists())
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


@contextlib.contextmanager
def translate_conflicts(message: str = "The item changed concurrently; retry.") -> Iterator[None]:
    """Turn a failed DynamoDB condition into a domain ConflictError so services never see botocore."""
    try:
        yield
    except (PutError, UpdateError, DeleteError) as exc:
        if condition_failed(exc):
            raise ConflictError(message) from exc
        raise


__all__ = [
    "ALL_MODELS",
    "Connection",
    "DeleteError",
    "GetError",
    "NumberAttribute",
    "PutError",
    "PynamoDBConnectionError",
    "QueryError",
    "TransactWriteError",
    "UpdateError",
    "cancellation_codes",
    "commit",
    "condition_failed",
    "connection",
    "at_epoch",
    "epoch",
    "iso",
    "keys_only_index",
    "new_id",
    "now",
    "register",
    "table_meta",
    "translate_conflicts",
    "update_existing",
]
