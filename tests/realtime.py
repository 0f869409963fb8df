"""WebSocket helpers for tests: API Gateway-shaped events for the app's real handlers, and a fake management
API client that records what ``post_to_connection`` sent to each connection."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict


class GoneException(Exception):
    pass


class FakeManagementApi:
    class exceptions:  # lower case: mirrors botocore's client.exceptions
        GoneException = GoneException

    def __init__(self):
        self.frames: dict[str, list[dict]] = defaultdict(list)
        self.gone: set[str] = set()

    def post_to_connection(self, ConnectionId: str, Data: bytes):  # boto3's argument names
        if ConnectionId in self.gone:
            raise GoneException(ConnectionId)
        self.frames[ConnectionId].append(json.loads(Data))

    def delete_connection(self, ConnectionId: str):
        if ConnectionId in self.gone:
            raise GoneException(ConnectionId)
        self.gone.add(ConnectionId)
        self.closed = [*getattr(self, "closed", []), ConnectionId]

    def of_type(self, connection_id: str, type_: str) -> list[dict]:
        return [f for f in self.frames[connection_id] if f.get("type") == type_]


def ws_event(route_key: str, connection_id: str, *, token: str | None = None, body: str | None = None) -> dict:
    """An API Gateway WebSocket event (tests/events/ws_connect.json, ws_default.json, ws_disconnect.json)."""
    from tests.conftest import load_event

    name = {"$connect": "ws_connect.json", "$disconnect": "ws_disconnect.json"}.get(route_key, "ws_default.json")
    event = load_event(name)
    event["requestContext"].update(routeKey=route_key, connectionId=connection_id, requestId=str(uuid.uuid4()))
    event.pop("queryStringParameters", None)
    event.pop("multiValueQueryStringParameters", None)
    event.pop("body", None)
    if token is not None:
        event["queryStringParameters"] = {"token": token}
        event["multiValueQueryStringParameters"] = {"token": [token]}
    if body is not None:
        event["body"] = body
    return event


def connect(app_module, token: str, connection_id: str | None = None) -> tuple[str, dict]:
    connection_id = connection_id or uuid.uuid4().hex[:16]
    return connection_id, app_module.ws_connect(ws_event("$connect", connection_id, token=token), None)


def send(app_module, connection_id: str, frame: dict | str) -> dict:
    body = frame if isinstance(frame, str) else json.dumps(frame)
    return app_module.ws_message(ws_event("$default", connection_id, body=body), None)
