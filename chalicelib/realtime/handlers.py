"""The WebSocket API's handlers (declared on the app in app.py, which delegates here)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib.errors import LightboxError, UnauthorizedError
from chalicelib.logs import get_logger
from chalicelib.models.realtime import add_connection, connection_by_id, outlived, remove_connection
from chalicelib.realtime import push
from chalicelib.services import tokens

log = get_logger(__name__)

# action name -> handler(connection_id, user_id, frame) -> reply frame or None. Features register here with
# @action; ACTION_MODULES are imported on the first frame, so $connect and the REST function never load them.
ACTIONS: dict[str, Callable[[str, str, dict[str, Any]], dict[str, Any] | None]] = {}
ACTION_MODULES = ("chalicelib.services.livestats", "chalicelib.api.chat")
_loaded = False


def _load_actions() -> None:
    global _loaded
    if not _loaded:
        import importlib

        for module in ACTION_MODULES:
            importlib.import_module(module)
        _loaded = True


def action(name: str):
    def decorator(fn):
        ACTIONS[name] = fn
        return fn

    return decorator


@action("ping")
def _ping(connection_id: str, user_id: str, frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": "pong"}


def on_connect(event: Any) -> Response | None:
    params = event.to_dict().get("queryStringParameters") or {}
    token = params.get("token") or ""
    try:
        principal = tokens.authenticate(token)
    except UnauthorizedError as exc:
        return Response(body=exc.body(), status_code=401)
    add_connection(event.connection_id, principal.user_id, principal.family_id, principal.generation)
    return None


def on_disconnect(event: Any) -> None:
    remove_connection(event.connection_id)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"code": code, "message": message}}


def on_message(event: Any) -> None:
    connection_id = event.connection_id
    reply = handle_frame(connection_id, event.body)
    if reply is not None:
        push.send(connection_id, reply)


def handle_frame(connection_id: str, body: Any) -> dict[str, Any] | None:
    try:
        frame = json.loads(body) if isinstance(body, (str, bytes)) else None
    except ValueError:
        return _error("validation_error", "Frames must be JSON objects.")
    if not isinstance(frame, dict):
        return _error("validation_error", "Frames must be JSON objects.")
    _load_actions()
    name = frame.get("action")
    handler = ACTIONS.get(name) if isinstance(name, str) else None
    if handler is None:
        return _error("unknown_action", f"Unknown action; use one of: {', '.join(sorted(ACTIONS))}.")
    connection = connection_by_id(connection_id)
    if connection is None:  # closed when its login ended (or never registered): hang up
        push.send(connection_id, _error("unauthorized", "This connection is not registered."))
        push.close(connection_id)
        return None
    if outlived(connection) or not tokens.session_alive(
        connection.user_id, connection.family_id, connection.session_gen
    ):
        # logged out, password changed or account deleted since it connected: say so, then hang up
        push.send(connection_id, push.REVOKED_FRAME)
        push.close(connection_id)
        return None
    try:
        return handler(connection_id, connection.user_id, frame)
    except LightboxError as exc:
        return {"type": "error", **exc.body()}
