"""DynamoDB's per-request atomicity for moto: for every test (``tests/conftest.py``) and the local stack's moto
server (``infrastructure/local/moto_host.py``).

DynamoDB applies each request (GetItem, PutItem, UpdateItem with ``ADD``, a whole TransactWriteItems, ...) atomically
and answers with the state that request produced. moto does not: it applies a transaction by snapshotting whole
tables and restoring them on cancellation, runs ``ADD`` as an unlocked read-modify-write, and serialises
``ReturnValues`` from the live item after it let go of it. Concurrent requests against it can therefore lose each
other's writes, and a concurrency test of our conditions would flake. On the local stack (a threaded moto server
that the API, the webhooks and the workers hit at once) a cancelled transaction, such as a replayed webhook's
booking that finds its ledger transaction posted, put back tables it had snapshotted while another request was
half-way through its own transaction: a creator's pending balance and their earnings stats drifted apart.

:func:`install` wraps moto's DynamoDB request handler (parse, backend operation, serialised response) in one
process-wide lock, so every DynamoDB request is one atomic step while requests still interleave freely between
each other, as they do against DynamoDB. ``tests/conftest.py`` installs it on import, for every test (in-process
``mock_aws`` and the threaded moto server alike), so no concurrency test can forget it; ``moto_host`` installs it
before it serves.
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
