"""``Idempotency-Key``: the first response of a (caller, key) pair is stored and replayed for 24 hours.

Exactly one request does the work: it claims the key with a conditional put of an in-progress record
before running the handler. A concurrent request with the same key gets ``409 idempotency_key_in_progress``
(retry later, it will then be replayed); the same key with a different request is ``409
idempotency_key_reused``.

What is stored (as Stripe does): every response the handler produced once it started, 2xx and 4xx alike,
so a retry of a request that failed with 404 or 403 answers the same. Not stored, so the key can be
retried: 5xx and unexpected exceptions, 429 (transient by definition), 409s that ask for a retry
(``TRANSIENT_CONFLICT_CODES``: a concurrent change), and everything rejected before the
handler ran (401, 400 validation, 413, 415: those requests were never executed). A claim abandoned by a
crashed or timed-out function is taken over after ``LOCK_SECONDS``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from chalice import Response

from chalicelib.errors import ConflictError
from chalicelib.logs import get_logger

log = get_logger(__name__)

KEEP_SECONDS = 24 * 3600
LOCK_SECONDS = 60  # longer than the API function's 29 s timeout
MAX_KEY_LENGTH = 255
MAX_STORED_BODY = 300_000  # DynamoDB items are at most 400 KB
REPLAYED_HEADER = "Idempotent-Replayed"


def fingerprint(method: str, path: str, query: Mapping[str, str] | None, body: Any) -> str:
    """The request a key stands for: method, concrete path, query and the validated body."""
    canonical = json.dumps(
        {"method": method, "path": path, "query": dict(sorted((query or {}).items())), "body": body},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# 409s that say "retry": a concurrent change, not an answer about this request. Stored, a retry with the same key
# (as the message tells the client to do) would replay the conflict for 24 hours.
TRANSIENT_CONFLICT_CODES = frozenset(
    {"refund_in_progress", "order_busy", "retry", "concurrent_change", "invoice_busy", "cart_changed", "ledger_busy"}
)


def _error_code(response: Response) -> str | None:
    body = response.body
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        return code if isinstance(code, str) else None
    return None


def _storable(response: Response) -> bool:
    if response.status_code >= 500 or response.status_code == 429:
        return False
    return not (response.status_code == 409 and _error_code(response) in TRANSIENT_CONFLICT_CODES)


def _serialized(response: Response) -> str:
    body = response.body
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body.decode()
    if isinstance(body, str):
        return body
    return json.dumps(body, separators=(",", ":"))


def _replay(status: int, body: str, content_type: str | None) -> Response:
    headers: dict[str, str | list[str]] = {REPLAYED_HEADER: "true"}
    if content_type:
        headers["Content-Type"] = content_type
    return Response(body=body, status_code=status, headers=headers)


def run(caller: str, key: str, request_fingerprint: str, work: Callable[[], Response]) -> Response:
    """Run ``work`` once for this (caller, key); replay its stored response afterwards."""
    from chalicelib.models import idempotency as store

    claim_id = uuid.uuid4().hex
    claimed = store.claim(caller, key, request_fingerprint, claim_id, LOCK_SECONDS, KEEP_SECONDS)
    if not claimed:
        record = store.get(caller, key)
        if record is not None and record.fingerprint != request_fingerprint:
            raise ConflictError(
                "This Idempotency-Key was already used for a different request.", code="idempotency_key_reused"
            )
        if record is not None and record.state == store.DONE:
            return _replay(int(record.status or 200), record.body or "", record.content_type)
        # In progress, or released/expired between our put and our read: the client retries later.
        raise ConflictError(
            "A request with this Idempotency-Key is still in progress; retry shortly.",
            code="idempotency_key_in_progress",
            headers={"Retry-After": "1"},
        )
    try:
        response = work()
    except BaseException:
        store.release(caller, key, claim_id)
        raise
    body = _serialized(response)
    if not _storable(response) or len(body) > MAX_STORED_BODY:
        if _storable(response):
            log.warning("idempotent response too large to store (%d bytes); key released", len(body))
        store.release(caller, key, claim_id)
        return response
    content_type = (response.headers or {}).get("Content-Type")
    content_type = content_type if isinstance(content_type, str) else None
    if not store.finish(caller, key, claim_id, response.status_code, body, content_type):
        log.warning("idempotency claim was taken over before the response was stored")
    return response
