"""The local WebSocket gateway, driven by a real WebSocket client and boto3 over loopback."""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest
from botocore.config import Config
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect


class Recorder:
    """Stand-in Lambda handlers that record their events."""

    def __init__(self, management_url=None):
        self.events = {"$connect": [], "$default": [], "$disconnect": []}
        self.disconnected = threading.Event()
        self.management_url = management_url
        self.lock = threading.Lock()

    def _record(self, route, event):
        with self.lock:
            self.events[route].append(event)

    def connect(self, event, context):
        self._record("$connect", event)
        assert context.get_remaining_time_in_millis() > 0 and context.aws_request_id
        token = (event.get("queryStringParameters") or {}).get("token")
        if token == "boom":
            raise RuntimeError("connect handler crashed")
        if token == "forbidden":
            return {"statusCode": 403}
        return {"statusCode": 200} if token == "good" else {"statusCode": 401}

    def message(self, event, context):
        self._record("$default", event)
        body = event["body"]
        if body == "crash":
            raise RuntimeError("message handler crashed")
        if body.startswith("sleep:"):
            time.sleep(float(body.split(":", 1)[1]))
        if body.startswith("echo:") or body.startswith("sleep:"):
            management(self.management_url).post_to_connection(
                ConnectionId=event["requestContext"]["connectionId"], Data=json.dumps({"echo": body}).encode()
            )
        return {"statusCode": 200}

    def disconnect(self, event, context):
        self._record("$disconnect", event)
        self.disconnected.set()
        return {"statusCode": 200}


def management(url):
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def gateway(start_gateway):
    recorder = Recorder()
    server = start_gateway(recorder.connect, recorder.message, recorder.disconnect)
    recorder.management_url = server.url
    return server, recorder


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def connection_id(recorder, index=-1):
    return recorder.events["$connect"][index]["requestContext"]["connectionId"]


def test_connect_event_has_api_gateway_shape(gateway):
    server, recorder = gateway
    with ws_connect(f"{server.ws_url}/?token=good", open_timeout=5, additional_headers={"X-Test": "1"}):
        event = recorder.events["$connect"][0]
    ctx = event["requestContext"]
    assert ctx["routeKey"] == "$connect" and ctx["eventType"] == "CONNECT"
    assert len(ctx["connectionId"]) == 16
    assert ctx["stage"] == "local" and ctx["apiId"] and ctx["requestId"]
    assert ctx["domainName"] == f"127.0.0.1:{server.port}"
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert isinstance(ctx["connectedAt"], int) and isinstance(ctx["requestTimeEpoch"], int)
    assert event["queryStringParameters"] == {"token": "good"}
    assert event["multiValueQueryStringParameters"] == {"token": ["good"]}
    assert event["headers"]["X-Test"] == "1"
    assert event["multiValueHeaders"]["X-Test"] == ["1"]
    assert event["isBase64Encoded"] is False


@pytest.mark.parametrize("token, status", [("bad", 401), ("forbidden", 403), ("boom", 500)])
def test_connect_refused_with_handler_status(gateway, token, status):
    server, recorder = gateway
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(f"{server.ws_url}/?token={token}", open_timeout=5)
    assert refused.value.response.status_code == status
    assert server.gateway.connections == {}
    time.sleep(0.1)
    assert recorder.events["$disconnect"] == []  # never connected, so never disconnected


def test_connect_without_token_refused(gateway):
    server, _ = gateway
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(f"{server.ws_url}/", open_timeout=5)
    assert refused.value.response.status_code == 401


def test_message_reaches_handler_with_body_and_connection_id(gateway):
    server, recorder = gateway
    with ws_connect(f"{server.ws_url}/?token=good", open_timeout=5) as ws:
        ws.send('{"action": "ping"}')
        wait_for(lambda: recorder.events["$default"])
    event = recorder.events["$default"][0]
    assert event["body"] == '{"action": "ping"}'
    assert event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["routeKey"] == "$default" and ctx["eventType"] == "MESSAGE"
    assert ctx["connectionId"] == connection_id(recorder)
    assert ctx["messageId"]


def test_post_to_connection_delivers_frame(gateway):
    server, recorder = gateway
    with ws_connect(f"{server.ws_url}/?token=good", open_timeout=5) as ws:
        ws.send("echo:hello")
        assert json.loads(ws.recv(timeout=5)) == {"echo": "echo:hello"}
        # And straight from boto3, as the app's notification code does it.
        management(server.url).post_to_connection(ConnectionId=connection_id(recorder), Data=b'{"type": "pong"}')
        assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}


def test_get_connection(gateway):
    server, recorder = gateway
    with ws_connect(f"{server.ws_url}/?token=good", open_timeout=5):
        info = management(server.url).get_connection(ConnectionId=connection_id(recorder))
    assert info["Identity"]["SourceIp"] == "127.0.0.1"
    assert info["ConnectedAt"] <= info["LastActiveAt"]


def test_post_to_closed_connection_raises_gone(gateway):
    server, recorder = gateway
    client = management(server.url)
    with ws_connect(f"{server.ws_url}/?token=good", open_timeout=5):
        conn_id = connection_id(recorder)
    assert recorder.disconnected.wait(5)
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId=conn_id, Data=b"late")
    with pytest.raises(client.exceptions.GoneException):
        client.get_connection(ConnectionId=conn_id)
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId="neverConnected0=", Data=b"x")


def test_disconnect_invoked_on_close(gateway):
    server, recorder = gateway
    with ws_connect(f"{server.ws_url}/?token=good", open_timeout=5) as ws:
        ws.send("first")
    assert recorder.disconnected.wait(5)
    event = recorder.events["$disconnect"][0]
    ctx = event["requestContext"]
    assert ctx["routeKey"] == "$disconnect" and ctx["eventType"] == "DISCONNECT"
    assert ctx["connectionId"] == connection_id(recorder)
    assert ctx["disconnectStatusCode"] == 1000
    # A frame sent just before the close still reached the message handler, before $disconnect.
    assert [e["body"] for e in recorder.events["$default"]] == ["first"]
    assert server.gateway.connections == {}


def test_delete_connection_closes_client_and_disconnects(gateway):
    server, recorder = gateway
    client = management(server.url)
    with ws_connect(f"{server.ws_url}/?token=good", open_timeout=5) as ws:
        client.delete_connection(ConnectionId=connection_id(recorder))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    assert recorder.disconnected.wait(5)
    with pytest.raises(client.exceptions.GoneException):
        client.delete_connection(ConnectionId=connection_id(recorder))


def test_payload_too_large(gateway):
    server, recorder = gateway
    client = management(server.url)
    with (
        ws_connect(f"{server.ws_url}/?token=good", open_timeout=5),
        pytest.raises(client.exceptions.PayloadTooLargeException),
    ):
        client.post_to_connection(ConnectionId=connection_id(recorder), Data=b"x" * (128 * 1024 + 1))


def test_failing_message_handler_reports_error_and_keeps_connection(gateway):
    server, recorder = gateway
    with ws_connect(f"{server.ws_url}/?token=good", open_timeout=5) as ws:
        ws.send("crash")
        error = json.loads(ws.recv(timeout=5))
        assert error["message"] == "Internal server error"
        assert error["connectionId"] == connection_id(recorder)
        ws.send("echo:still-open")
        assert json.loads(ws.recv(timeout=5)) == {"echo": "echo:still-open"}


def test_slow_handler_does_not_block_other_connections(gateway):
    server, recorder = gateway
    with (
        ws_connect(f"{server.ws_url}/?token=good", open_timeout=5) as slow,
        ws_connect(f"{server.ws_url}/?token=good", open_timeout=5) as fast,
    ):
        slow.send("sleep:3")
        time.sleep(0.05)
        started = time.monotonic()
        fast.send("echo:quick")
        assert json.loads(fast.recv(timeout=5)) == {"echo": "echo:quick"}
        # served while the slow one sleeps (a serial gateway would take 3 s); the margin allows a loaded machine
        assert time.monotonic() - started < 2.5
        assert json.loads(slow.recv(timeout=10)) == {"echo": "sleep:3"}


def test_frames_of_one_connection_arrive_in_order(gateway):
    server, recorder = gateway
    with ws_connect(f"{server.ws_url}/?token=good", open_timeout=5) as ws:
        for i in range(30):
            ws.send(f"m{i}")
        wait_for(lambda: len(recorder.events["$default"]) == 30)
    assert [e["body"] for e in recorder.events["$default"]] == [f"m{i}" for i in range(30)]


def test_many_clients_at_once(gateway):
    server, recorder = gateway
    results, errors = [], []

    def client(i):
        try:
            with ws_connect(f"{server.ws_url}/?token=good", open_timeout=5) as ws:
                ws.send(f"echo:{i}")
                results.append(json.loads(ws.recv(timeout=10))["echo"])
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert errors == []
    assert sorted(results) == sorted(f"echo:{i}" for i in range(20))
    wait_for(lambda: len(recorder.events["$disconnect"]) == 20)


def test_stop_closes_clients_and_runs_disconnect(start_gateway):
    recorder = Recorder()
    server = start_gateway(recorder.connect, recorder.message, recorder.disconnect)
    with ws_connect(f"{server.ws_url}/?token=good", open_timeout=5) as ws:
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 5
        assert recorder.disconnected.is_set()
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=2)
