"""Delivery to WebSocket connections via API Gateway's management API (``post_to_connection``).

Locally the same client talks to the local gateway (``LIGHTBOX_WS_ENDPOINT``). A gone connection (410) is
deleted and never retried.
"""

from __future__ import annotations

import contextlib
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.logs import get_logger
from chalicelib.models.realtime import connections_of_user, remove_connection

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


def send_many(connection_ids: list[str], frame: dict[str, Any]) -> int:
    """Fan out concurrently with a bounded pool; returns how many were delivered now. Beyond
    ``fanout_inline_max`` connections the rest go to background jobs (``push.fanout``)."""
    if not connection_ids:
        return 0
    bound = max(1, get_settings().fanout_inline_max)
    if len(connection_ids) > bound:
        _defer(connection_ids[bound:], frame)
        connection_ids = connection_ids[:bound]
    return _send_now(connection_ids, frame)


def _defer(connection_ids: list[str], frame: dict[str, Any]) -> None:
    import hashlib

    from chalicelib import jobs

    step = jobs.chunk_size()
    for start in range(0, len(connection_ids), step):
        chunk = connection_ids[start : start + step]
        digest = hashlib.sha256(json.dumps([chunk, frame], sort_keys=True, default=str).encode()).hexdigest()[:32]
        jobs.publish("push.fanout", f"push.fanout:{digest}", {"connection_ids": chunk, "frame": frame})


def on_fanout(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``push.fanout`` consumer: deliver the frame to the deferred connections (one chunk per job)."""
    ids = list(payload.get("connection_ids") or [])
    start = int((cursor or {}).get("i", 0))
    _send_now(ids[start : start + limit], payload.get("frame") or {})
    return {"i": start + limit} if start + limit < len(ids) else None


def _send_now(connection_ids: list[str], frame: dict[str, Any]) -> int:
    if not connection_ids:
        return 0
    if len(connection_ids) == 1:
        return int(send(connection_ids[0], frame))
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(connection_ids))) as pool:
        return sum(pool.map(lambda cid: send(cid, frame), connection_ids))


def send_to_user(user_id: str, frame: dict[str, Any]) -> int:
    return send_many(connections_of_user(user_id), frame)


def close(connection_id: str) -> None:
    """Close a connection at the gateway and forget it."""
    client = _client()
    if client is not None:
        with contextlib.suppress(client.exceptions.GoneException):
            client.delete_connection(ConnectionId=connection_id)
    remove_connection(connection_id)


def disconnect_user(user_id: str) -> None:
    """Close every open connection of the user (account deletion)."""
    for connection_id in connections_of_user(user_id):
        close(connection_id)
