"""DynamoDB's per-request atomicity for moto, for every test in this process.

DynamoDB applies each request (GetItem, PutItem, UpdateItem with ``ADD``, a whole TransactWriteItems, ...) atomically
and answers with the state that request produced. moto does not: it applies a transaction by snapshotting whole
tables and restoring them on cancellation, runs ``ADD`` as an unlocked read-modify-write, and serialises
``ReturnValues`` from the live item after it let go of it. Concurrent requests against it can therefore lose each
other's writes, and a concurrency test of our conditions would flake.

:func:`install` wraps moto's DynamoDB request handler (parse, backend operation, serialised response) in one
process-wide lock, so every DynamoDB request is one atomic step while requests still interleave freely between
each other, as they do against DynamoDB. ``tests/conftest.py`` installs it on import, for every test (in-process
``mock_aws`` and the threaded moto server alike), so no concurrency test can forget it.
"""

from __future__ import annotations

import threading

LOCK = threading.RLock()
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    def call_action(self):
        with LOCK:
            return original(self)

    DynamoHandler.call_action = call_action
    _installed = True


def held() -> bool:
    """Whether the calling thread is inside a DynamoDB request (for the guard's own test)."""
    return LOCK._is_owned()  # RLock's owner check (CPython's, also what threading.Condition uses)
