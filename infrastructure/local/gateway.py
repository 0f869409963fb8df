"""A local stand-in for API Gateway's WebSocket API, including its ``@connections`` management API.

One aiohttp server on one port serves both sides, as API Gateway does:

- ``GET /?token=...`` with an upgrade: the client's WebSocket. ``$connect`` is handed to the connect
  handler before the upgrade; a non-2xx ``statusCode`` refuses it with that status. Every text frame
  goes to the message handler (route ``$default``); the close goes to the disconnect handler.
- ``POST|GET|DELETE /@connections/{id}`` (also under ``/{stage}/``): what boto3's
  ``apigatewaymanagementapi`` client calls, so the app's production path (``post_to_connection``)
  is the one used locally, ``GoneException`` included.

Handlers are ordinary synchronous Lambda handlers ``handler(event, context)``; they run in a thread pool
so a slow one never stalls other connections. Frames of one connection reach the message handler in
order, one at a time.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import json
import logging
import os
import secrets
import string
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from infrastructure.local.common import LOOPBACK, LambdaContext, iso_utc, now_ms

log = logging.getLogger("devstack.gateway")

Handler = Callable[[dict, Any], Any]

#: API Gateway's limit for one WebSocket frame and for a post_to_connection payload.
MAX_PAYLOAD_BYTES = 128 * 1024
#: How long stopping the gateway waits for open connections' handlers to finish.
SHUTDOWN_GRACE_SECONDS = 5.0


def new_connection_id() -> str:
    """16 characters like API Gateway's (``L0SM9cOFvHcCIhw=``), URL-safe so it fits in a path."""
    return base64.urlsafe_b64encode(os.urandom(11)).decode("ascii")


def _api_id() -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10))


def _request_time(epoch_ms: int) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms / 1000))


def _multi(pairs) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value  # API Gateway keeps the last value in the single-value map
        multi.setdefault(key, []).append(value)
    return single, multi


def _status_of(result: Any) -> int:
    if isinstance(result, dict):
        try:
            return int(result.get("statusCode", 200))
        except (TypeError, ValueError):
            return 500
    return 200


@dataclass
class Connection:
    connection_id: str
    ws: web.WebSocketResponse
    source_ip: str
    user_agent: str | None
    headers: dict[str, str]
    multi_headers: dict[str, list[str]]
    connected_at: int
    last_active_at: int
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    inbox: asyncio.Queue = field(default_factory=asyncio.Queue)

    @property
    def open(self) -> bool:
        return not self.ws.closed


class WebSocketGateway:
    """The state and the routes of one local WebSocket API."""

    def __init__(
        self,
        connect: Handler | None,
        message: Handler | None,
        disconnect: Handler | None,
        *,
        stage: str = "local",
        function_prefix: str = "lightbox-local",
        max_workers: int = 32,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        self.handlers = {"$connect": connect, "$default": message, "$disconnect": disconnect}
        self.stage = stage
        self.api_id = _api_id()
        self.function_prefix = function_prefix
        self.connections: dict[str, Connection] = {}
        self._own_executor = executor is None
        self.executor = executor or concurrent.futures.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="ws-handler"
        )
        self._sessions: set[asyncio.Task] = set()

    # --- invoking the Lambda handlers ------------------------------------------------------------

    async def _invoke(self, route_key: str, event: dict) -> Any:
        handler = self.handlers[route_key]
        if handler is None:
            return {"statusCode": 200}
        name = getattr(handler, "__name__", None) or route_key.strip("$")
        context = LambdaContext(f"{self.function_prefix}-{name}", timeout_seconds=29.0)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, handler, event, context)

    def _request_context(
        self,
        route_key: str,
        event_type: str,
        conn_id: str,
        connected_at: int,
        domain: str,
        source_ip: str,
        user_agent: str | None,
    ) -> dict:
        epoch = now_ms()
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": uuid.uuid4().hex[:16],
            "requestTime": _request_time(epoch),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": connected_at,
            "requestTimeEpoch": epoch,
            "identity": {"sourceIp": source_ip, "userAgent": user_agent},
            "requestId": uuid.uuid4().hex[:16],
            "domainName": domain,
            "connectionId": conn_id,
            "apiId": self.api_id,
        }

    # --- the client side -----------------------------------------------------------------------------

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_PAYLOAD_BYTES, autoping=True)
        if not ws.can_prepare(request).ok:
            return web.json_response({"message": "Upgrade Required"}, status=426)
        conn_id = new_connection_id()
        connected_at = now_ms()
        source_ip = request.remote or LOOPBACK
        user_agent = request.headers.get("User-Agent")
        headers, multi_headers = _multi(request.headers.items())
        headers.setdefault("X-Forwarded-For", source_ip)
        query, multi_query = _multi(request.query.items())
        event = {
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "requestContext": self._request_context(
                "$connect", "CONNECT", conn_id, connected_at, request.host, source_ip, user_agent
            ),
            "isBase64Encoded": False,
        }
        try:
            result = await self._invoke("$connect", event)
        except Exception:
            log.exception("$connect handler failed; refusing %s", conn_id)
            return web.json_response({"message": "Internal server error"}, status=500)
        status = _status_of(result)
        if not 200 <= status < 300:
            log.info("$connect refused %s with %s", conn_id, status)
            body = result.get("body") if isinstance(result, dict) else None
            return web.Response(
                status=status, text=body if isinstance(body, str) else "", content_type="application/json"
            )

        await ws.prepare(request)
        conn = Connection(conn_id, ws, source_ip, user_agent, headers, multi_headers, connected_at, connected_at)
        self.connections[conn_id] = conn
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
        worker = asyncio.create_task(self._deliver_messages(conn, request.host))
        log.info("connected %s from %s", conn_id, source_ip)
        try:
            async for msg in ws:
                conn.last_active_at = now_ms()
                if msg.type == WSMsgType.TEXT:
                    conn.inbox.put_nowait((msg.data, False))
                elif msg.type == WSMsgType.BINARY:
                    conn.inbox.put_nowait((base64.b64encode(msg.data).decode("ascii"), True))
                elif msg.type == WSMsgType.ERROR:
                    log.info("connection %s errored: %s", conn_id, ws.exception())
                    break
        finally:
            self.connections.pop(conn_id, None)
            conn.inbox.put_nowait(None)
            await asyncio.shield(self._finish(conn, worker, request.host))
            if task is not None:
                self._sessions.discard(task)
        return ws

    async def _finish(self, conn: Connection, worker: asyncio.Task, domain: str) -> None:
        """Let queued frames reach the message handler, then tell the disconnect handler."""
        try:
            await worker
        except Exception:
            log.exception("message worker of %s failed", conn.connection_id)
        code = conn.ws.close_code if conn.ws.close_code is not None else 1006
        event = {
            "headers": conn.headers,
            "multiValueHeaders": conn.multi_headers,
            "requestContext": {
                **self._request_context(
                    "$disconnect",
                    "DISCONNECT",
                    conn.connection_id,
                    conn.connected_at,
                    domain,
                    conn.source_ip,
                    conn.user_agent,
                ),
                "disconnectStatusCode": code,
                "disconnectReason": f"Client-side close frame status code '{code}'",
            },
            "isBase64Encoded": False,
        }
        try:
            await self._invoke("$disconnect", event)
        except Exception:
            log.exception("$disconnect handler failed for %s", conn.connection_id)
        log.info("disconnected %s (%s)", conn.connection_id, code)

    async def _deliver_messages(self, conn: Connection, domain: str) -> None:
        while True:
            item = await conn.inbox.get()
            if item is None:
                return
            body, is_base64 = item
            context = self._request_context(
                "$default", "MESSAGE", conn.connection_id, conn.connected_at, domain, conn.source_ip, conn.user_agent
            )
            context["messageId"] = uuid.uuid4().hex[:16]
            event = {"requestContext": context, "body": body, "isBase64Encoded": is_base64}
            try:
                await self._invoke("$default", event)
            except Exception:
                # What API Gateway itself sends when the integration fails.
                log.exception("$default handler failed for %s", conn.connection_id)
                await self._send(
                    conn,
                    json.dumps(
                        {
                            "message": "Internal server error",
                            "connectionId": conn.connection_id,
                            "requestId": context["requestId"],
                        }
                    ).encode(),
                )

    async def _send(self, conn: Connection, data: bytes) -> bool:
        if not conn.open:
            return False
        try:
            async with conn.send_lock:
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    await conn.ws.send_bytes(data)
                else:
                    await conn.ws.send_str(text)
        except (ConnectionError, RuntimeError) as exc:
            log.info("send to %s failed: %s", conn.connection_id, exc)
            return False
        conn.last_active_at = now_ms()
        return True

    # --- the @connections management API -------------------------------------------------------------

    @staticmethod
    def _error(status: int, error_type: str, message: str) -> web.Response:
        return web.json_response(
            {"message": message},
            status=status,
            headers={"x-amzn-ErrorType": error_type, "x-amzn-RequestId": str(uuid.uuid4())},
        )

    def _open_connection(self, request: web.Request) -> Connection | None:
        conn = self.connections.get(request.match_info["connection_id"])
        return conn if conn is not None and conn.open else None

    def _gone(self, request: web.Request) -> web.Response:
        return self._error(410, "GoneException", f"Connection {request.match_info['connection_id']} is gone")

    async def post_to_connection(self, request: web.Request) -> web.Response:
        data = await request.read()
        if len(data) > MAX_PAYLOAD_BYTES:
            return self._error(
                413, "PayloadTooLargeException", f"Payload of {len(data)} bytes exceeds {MAX_PAYLOAD_BYTES}"
            )
        conn = self._open_connection(request)
        if conn is None or not await self._send(conn, data):
            return self._gone(request)
        return web.Response(status=200)

    async def get_connection(self, request: web.Request) -> web.Response:
        conn = self._open_connection(request)
        if conn is None:
            return self._gone(request)
        return web.json_response(
            {
                "connectedAt": iso_utc(conn.connected_at / 1000),
                "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
                "lastActiveAt": iso_utc(conn.last_active_at / 1000),
            }
        )

    async def delete_connection(self, request: web.Request) -> web.Response:
        conn = self._open_connection(request)
        if conn is None:
            return self._gone(request)
        await conn.ws.close(code=1000, message=b"Going away")
        return web.Response(status=204)

    # --- lifecycle ---------------------------------------------------------------------------------------

    async def close_all(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Close every client (1001 Going Away) and wait, bounded, for their disconnect handlers."""
        for conn in list(self.connections.values()):
            with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
                await asyncio.wait_for(conn.ws.close(code=1001, message=b"Server shutting down"), timeout=1.0)
        if self._sessions:
            await asyncio.wait(list(self._sessions), timeout=grace)

    def shutdown_executor(self) -> None:
        if self._own_executor:
            self.executor.shutdown(wait=False, cancel_futures=True)


GATEWAY_KEY = web.AppKey("gateway", WebSocketGateway)


def create_gateway_app(
    connect: Handler | None, message: Handler | None, disconnect: Handler | None, **options: Any
) -> web.Application:
    """The aiohttp application; ``app[GATEWAY_KEY]`` is the :class:`WebSocketGateway` behind it."""
    gateway = WebSocketGateway(connect, message, disconnect, **options)
    app = web.Application(client_max_size=MAX_PAYLOAD_BYTES + 1024)
    app[GATEWAY_KEY] = gateway
    for prefix in ("", "/{stage}"):
        path = prefix + "/@connections/{connection_id}"
        app.router.add_post(path, gateway.post_to_connection)
        app.router.add_get(path, gateway.get_connection)
        app.router.add_delete(path, gateway.delete_connection)
    app.router.add_get("/", gateway.handle_websocket)

    async def on_shutdown(_app: web.Application) -> None:
        await gateway.close_all()

    app.on_shutdown.append(on_shutdown)
    return app


class GatewayServer:
    """Runs a gateway app on its own event loop in a background thread (``port=0``: any free port)."""

    def __init__(self, app: web.Application, host: str = LOOPBACK, port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def gateway(self) -> WebSocketGateway:
        return self.app[GATEWAY_KEY]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> GatewayServer:
        self._thread = threading.Thread(target=self._run, name="ws-gateway", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("WebSocket gateway did not start")
        if self._error is not None:
            raise RuntimeError(f"WebSocket gateway failed to start: {self._error}") from self._error
        return self

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self._runner = web.AppRunner(
                self.app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_SECONDS
            )
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port)
            loop.run_until_complete(site.start())
            self.port = self._runner.addresses[0][1]
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._runner.cleanup())
            self.gateway.shutdown_executor()
            loop.close()

    def stop(self, timeout: float = SHUTDOWN_GRACE_SECONDS + 5) -> None:
        if self._loop is None or self._thread is None or not self._thread.is_alive():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
