"""Delivery to WebSocket connections via API Gateway's management API (``post_to_connection``).

Locally the same client talks to the local gateway (``LIGHTBOX_WS_ENDPOINT``). A gone connection (410) is
deleted and never retried.

Revocation: a user's frames go only to connections whose login family is still valid (read once per
recipient, with the user's row, however many connections they have), so a socket that outlives its login
(logout, logout-all, password change or reset, account deletion) is never fed. Revoking a login also closes
its sockets at once (:func:`close_logins`); the delivery check covers a socket that raced its revocation.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.logs import get_logger
from chalicelib.models.realtime import connection_rows_of_user, outlived, remove_connection

log = get_logger(__name__)
MAX_PARALLEL = 16


def _client():
    endpoint = get_settings().ws_endpoint
    if not endpoint:
        return None
    return aws.client("apigatewaymanagementapi", endpoint_url=endpoint)


def send(connection_id: str, frame: dict[str, Any]) -> bool:
    """Send one frame; False (and the connection row removed) if the connection is gone."""
    client = _client()
    if client is None:
        log.warning("no websocket endpoint configured; frame dropped")
        return False
    try:
        client.post_to_connection(ConnectionId=connection_id, Data=json.dumps(frame, default=str).encode())
        return True
    except client.exceptions.GoneException:
        remove_connection(connection_id)
        return False


def _send_best_effort(connection_id: str, frame: dict[str, Any]) -> bool:
    """``send`` for fan-out: any other failure (throttling, a 5xx) is logged and counted as not delivered, so it
    never fails the request that stored what is being pushed (a stored chat message, a notification)."""
    try:
        return send(connection_id, frame)
    except (ClientError, BotoCoreError) as exc:
        log.warning(f"websocket post failed: {exc!r}", extra={"fields": {"connection_id": connection_id}})
        return False


def send_many(connection_ids: list[str], frame: dict[str, Any]) -> int:
    """Fan out concurrently with a bounded pool; returns how many were delivered now. Beyond
    ``fanout_inline_max`` connections the rest go to background jobs (``push.fanout``), which check each
    connection's login again when they deliver."""
    if not connection_ids:
        return 0
    bound = max(1, get_settings().fanout_inline_max)
    if len(connection_ids) > bound:
        defer(connection_ids[bound:], [frame])
        connection_ids = connection_ids[:bound]
    return _send_now(connection_ids, frame)


def defer(connection_ids: list[str], frames: list[dict[str, Any]]) -> None:
    """Deliver ``frames`` (in order) to these connections in ``push.fanout`` jobs, one per chunk."""
    import hashlib

    from chalicelib import jobs

    step = jobs.chunk_size()
    for start in range(0, len(connection_ids), step):
        chunk = connection_ids[start : start + step]
        digest = hashlib.sha256(json.dumps([chunk, frames], sort_keys=True, default=str).encode()).hexdigest()[:32]
        jobs.publish("push.fanout", f"push.fanout:{digest}", {"connection_ids": chunk, "frames": frames})


def on_fanout(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``push.fanout`` consumer: deliver the frames to the deferred connections (one chunk per job). The
    logins are checked again now (one BatchGet of the connections, one of their users): a socket whose login
    ended after the frame was queued gets nothing, and is closed."""
    from botocore.exceptions import BotoCoreError, ClientError

    ids = list(payload.get("connection_ids") or [])
    frames = list(payload.get("frames") or ([payload["frame"]] if payload.get("frame") else []))
    start = int((cursor or {}).get("i", 0))
    for connection_id in still_live(ids[start : start + limit]):
        try:
            for frame in frames:
                if not send(connection_id, frame):
                    break
        except (BotoCoreError, ClientError):  # one bad connection must not redeliver the frames to the rest
            log.warning("deferred push to connection %s failed", connection_id, exc_info=True)
    return {"i": start + limit} if start + limit < len(ids) else None


def still_live(connection_ids: list[str]) -> list[str]:
    """Those of the connections that may still receive frames (their rows exist, are not older than the
    gateway allows, and their logins are valid), in order: one BatchGet of the rows, one of their users.
    The others are closed (best effort)."""
    from chalicelib.models.realtime import connection_rows
    from chalicelib.services import tokens

    rows = {r.connection_id: r for r in connection_rows(connection_ids)}
    states = tokens.login_states({r.user_id for r in rows.values()})
    alive = {cid for cid, r in rows.items() if not outlived(r) and states[r.user_id].alive(r.family_id, r.session_gen)}
    dead = [cid for cid in rows if cid not in alive]
    if dead:
        log.warning("closing %d connection(s) of ended logins", len(dead))
        _each(dead, _end)
    return [cid for cid in dict.fromkeys(connection_ids) if cid in alive]


def _send_now(connection_ids: list[str], frame: dict[str, Any]) -> int:
    if not connection_ids:
        return 0
    if len(connection_ids) == 1:
        return int(_send_best_effort(connection_ids[0], frame))
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(connection_ids))) as pool:
        return sum(pool.map(lambda cid: _send_best_effort(cid, frame), connection_ids))


def send_to_user(user_id: str, frame: dict[str, Any]) -> int:
    """Send to each of the user's connections whose login is still valid; returns how many were delivered
    (0: the user is offline, for callers that fall back to a notification)."""
    return send_many(live_connections(user_id), frame)


def live_connections(user_id: str) -> list[str]:
    """The user's connections that may receive frames. One Query and one BatchGet of the connections, then
    (only if there are any) one consistent GetItem of the user for the revocation state. A connection of a
    revoked login, a deleted account or older than the gateway allows is closed instead (best effort)."""
    from chalicelib.services import tokens

    rows = connection_rows_of_user(user_id)
    if not rows:
        return []
    state = tokens.login_state(user_id)
    alive = [r.connection_id for r in rows if not outlived(r) and state.alive(r.family_id, r.session_gen)]
    dead = [r.connection_id for r in rows if r.connection_id not in alive]
    if dead:
        log.warning("closing %d connection(s) of ended logins", len(dead), extra={"fields": {"user_id": user_id}})
        _each(dead, _end)
    return alive


REVOKED_FRAME = {
    "type": "error",
    "error": {"code": "session_revoked", "message": "The session has ended; reconnect with a new token."},
}


def close_logins(user_id: str, family_ids: Collection[str] | None, *, keep_family: str | None = None) -> int:
    """Close the user's connections opened by ``family_ids`` (None: every connection but those of
    ``keep_family``), each told why first. Best effort: a failure is logged, and delivery skips those
    connections anyway because their logins are revoked. Returns how many were closed."""
    rows = connection_rows_of_user(user_id)
    if family_ids is None:
        doomed = [r.connection_id for r in rows if keep_family is None or r.family_id != keep_family]
    else:
        doomed = [r.connection_id for r in rows if r.family_id in family_ids]
    _each(doomed, _end)
    return len(doomed)


def _end(connection_id: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        send(connection_id, REVOKED_FRAME)
        close(connection_id)
    except (BotoCoreError, ClientError):  # best effort: the revocation is stored, and delivery checks it
        log.warning("could not close connection %s", connection_id, exc_info=True)


def _each(connection_ids: list[str], fn: Callable[[str], None]) -> None:
    if len(connection_ids) <= 1:
        for connection_id in connection_ids:
            fn(connection_id)
        return
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(connection_ids))) as pool:
        list(pool.map(fn, connection_ids))


def close(connection_id: str) -> None:
    """Close a connection at the gateway and forget it."""
    client = _client()
    if client is not None:
        with contextlib.suppress(client.exceptions.GoneException):
            client.delete_connection(ConnectionId=connection_id)
    remove_connection(connection_id)


def disconnect_user(user_id: str) -> None:
    """Close every open connection of the user (account deletion; ``accounts.revoke_all`` does it too)."""
    close_logins(user_id, None)
