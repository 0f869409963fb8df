"""The HTTP API on 127.0.0.1, served by chalice's own local gateway, plus the local-only ``/_local/*``.

Requests go through ``chalice.local`` (route matching, API Gateway proxy events, authorizers, CORS
preflight) exactly as ``chalice local`` does, but threaded and without autoreload (whose reloader child
keeps serving the port when only the parent is killed). ``/_local/*`` is answered here and never
reaches the app, so it cannot be deployed.

``GET /_local/emails``: the mail moto's SES stored, read from moto server (``moto_host``'s
``/moto-api/lightbox/ses-messages``, or stock moto's ``/moto-api/data.json``).

``GET /_local/jobs``: background jobs that failed their last delivery (the jobs dead-letter queue).
"""

from __future__ import annotations

import email
import email.policy
import functools
import html
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib import error as urlerror
from urllib import request as urlrequest

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
    LocalGatewayException,
    ThreadedHTTPServer,
)

from infrastructure.local.common import LOOPBACK, iso_utc
from infrastructure.local.moto_host import SES_MESSAGES_PATH

log = logging.getLogger("devstack.api")

SES_MODELS = ("Message", "RawMessage", "TemplateMessage", "BulkTemplateMessage")


# --- mail moto's SES stored ---------------------------------------------------------------------------


def _html_to_text(body: str) -> str:
    body = re.sub(r"(?is)<(script|style).*?</\1>", "", body)
    body = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</tr>|</h\d>", "\n", body)
    return html.unescape(re.sub(r"<[^>]+>", "", body)).strip()


def _looks_like_html(body: str) -> bool:
    return bool(re.search(r"(?i)<(html|body|p|div|br|a|table|span|b|strong)\b", body))


def _plain_message(model: dict) -> dict:
    destinations = model.get("destinations") or {}
    body = model.get("body") or ""
    item = {
        "to": list(destinations.get("ToAddresses", [])),
        "cc": list(destinations.get("CcAddresses", [])),
        "bcc": list(destinations.get("BccAddresses", [])),
        "from": model.get("source"),
        "subject": model.get("subject") or "",
        "text": body,
    }
    if _looks_like_html(body):  # moto keeps only the HTML part when a message has both
        item["text"], item["html"] = _html_to_text(body), body
    return item


def _raw_message(model: dict) -> dict:
    parsed = email.message_from_string(model.get("raw_data") or "", policy=email.policy.default)
    text_part = parsed.get_body(preferencelist=("plain", "html"))
    text = text_part.get_content() if text_part is not None else ""
    if text_part is not None and text_part.get_content_subtype() == "html":
        text = _html_to_text(text)
    to = [a.strip() for a in (parsed.get("To") or "").split(",") if a.strip()]
    return {
        "to": to or list(model.get("destinations") or []),
        "cc": [a.strip() for a in (parsed.get("Cc") or "").split(",") if a.strip()],
        "bcc": [],
        "from": model.get("source") or parsed.get("From"),
        "subject": parsed.get("Subject") or "",
        "text": text,
    }


def _template_message(model: dict) -> dict:
    destinations = model.get("destinations") or {}
    if isinstance(destinations, list):  # bulk: one entry per destination
        to = [a for d in destinations for a in d.get("Destination", {}).get("ToAddresses", [])]
    else:
        to = list(destinations.get("ToAddresses", []))
    return {
        "to": to,
        "cc": [],
        "bcc": [],
        "from": model.get("source"),
        "subject": f"[template {model.get('template')}]",
        "text": model.get("template_data") or "",
    }


class EmailReader:
    """Turns moto's stored SES messages into the ``/_local/emails`` items, oldest first."""

    def __init__(self, moto_url: str, fetch: Callable[[str], dict] | None = None) -> None:
        self.moto_url = moto_url.rstrip("/")
        self._fetch = fetch or self._fetch_json
        self._first_seen: dict[str, float] = {}  # for a moto that does not stamp sent_at
        self._use_data_json = False
        self._lock = threading.Lock()

    @staticmethod
    def _fetch_json(url: str) -> dict:
        with urlrequest.urlopen(url, timeout=10) as response:
            return json.loads(response.read())

    def _stored(self) -> dict:
        if self._use_data_json:
            return self._fetch(f"{self.moto_url}/moto-api/data.json").get("ses", {})
        try:
            return self._fetch(f"{self.moto_url}{SES_MESSAGES_PATH}").get("ses", {})
        except urlerror.HTTPError as exc:
            if exc.code != 404:
                raise
            self._use_data_json = True  # a stock moto server
            return self._stored()

    def emails(self) -> list[dict]:
        ses = self._stored()
        convert = {
            "Message": _plain_message,
            "RawMessage": _raw_message,
            "TemplateMessage": _template_message,
            "BulkTemplateMessage": _template_message,
        }
        found = []
        now = time.time()
        for kind in SES_MODELS:
            for position, model in enumerate(ses.get(kind, [])):
                item = convert[kind](model)
                ident = model.get("id") or ",".join(model.get("ids") or []) or f"{kind}-{position}"
                with self._lock:
                    first_seen = self._first_seen.setdefault(ident, now)
                item["id"] = ident
                item["sent_at"] = model.get("sent_at") or iso_utc(first_seen)
                order = (model.get("sent_seq") or 0, first_seen, SES_MODELS.index(kind), position)
                found.append((order, item))
        found.sort(key=lambda pair: pair[0])
        return [item for _, item in found]


# --- the HTTP server ------------------------------------------------------------------------------------


def _json_error(status: int, code: str, message: str) -> tuple[int, dict, str]:
    return status, {"Content-Type": "application/json"}, json.dumps({"error": {"code": code, "message": message}})


class RouteNotFound(LocalGatewayException):
    CODE = 404


def _primary_origin() -> str | None:
    origins = [o.strip() for o in os.environ.get("LIGHTBOX_APP_ORIGINS", "").split(",") if o.strip()]
    return origins[0] if origins else None


class ContractGateway(LocalGateway):
    """chalice's local gateway answering what API Gateway answers with the template's gateway responses.

    An unknown path, or a method its path does not have, is API Gateway's MISSING_AUTHENTICATION_TOKEN, which
    the template maps to the contract's ``404``; chalice.local instead answers ``403`` and, when an
    Authorization header was sent, echoes the whole credential in the message. Like the gateway response,
    the body carries a request id and CORS names the primary web origin only (see
    ``infrastructure.template.gateway_cors_parameters``).
    """

    def handle_request(self, method: str, path: str, headers: dict, body: bytes | None) -> dict:
        try:
            event = self._generate_lambda_event(method, path, headers, body)
        except ValueError:
            raise self._not_found(headers) from None
        views = self._app_object.routes[event["requestContext"]["resourcePath"]]
        chalice_preflight = method == "OPTIONS" and any(view.cors for view in views.values())
        if method not in views and not chalice_preflight:
            raise self._not_found(headers)
        return super().handle_request(method, path, headers, body)

    @staticmethod
    def _not_found(headers: dict) -> RouteNotFound:
        request_id = str(uuid.uuid4())
        body = {"error": {"code": "not_found", "message": "No such route.", "details": {"request_id": request_id}}}
        out = {"Content-Type": "application/json", "x-amzn-RequestId": request_id}
        origin = next((v for k, v in headers.items() if k.lower() == "origin"), None)
        primary = _primary_origin()
        if primary is not None and origin == primary:
            out.update({"Access-Control-Allow-Origin": primary, "Access-Control-Allow-Credentials": "true"})
        out["Vary"] = "Origin"
        return RouteNotFound(out, json.dumps(body).encode())


class LocalRequestHandler(ChaliceRequestHandler):
    """chalice's request handler, with ``/_local/*`` answered before the app sees the request, and unknown
    routes answered as API Gateway answers them (:class:`ContractGateway`)."""

    def __init__(self, *args: Any, local_routes: dict[str, Callable[[], Any]], **kwargs: Any):
        self.local_routes = local_routes
        super().__init__(*args, **kwargs)

    def setup(self) -> None:
        super().setup()
        gateway = self.local_gateway
        self.local_gateway = ContractGateway(gateway._app_object, gateway._config)

    def _generic_handle(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/_local" or path.startswith("/_local/"):
            self._handle_local(path)
        else:
            super()._generic_handle()

    # chalice binds do_GET & co. to its own _generic_handle; point them at ours.
    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def _handle_local(self, path: str) -> None:
        length = int(self.headers.get("content-length", "0") or 0)
        if length:
            self.rfile.read(length)
        route = self.local_routes.get(path)
        if route is None:
            status, headers, body = _json_error(404, "not_found", f"no local route {path}")
        elif self.command not in ("GET", "HEAD"):
            status, headers, body = _json_error(405, "method_not_allowed", "only GET")
        else:
            try:
                status, headers, body = 200, {"Content-Type": "application/json"}, json.dumps(route())
            except Exception as exc:
                log.exception("local route %s failed", path)
                status, headers, body = _json_error(502, "local_backend_unavailable", str(exc))
        self._send_http_response(status, headers, body)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


class _Server(ThreadedHTTPServer):
    request_queue_size = 128  # the stdlib default (5) drops connections under a burst of clients


def _localize(app: Chalice) -> None:
    """What ``chalice.local.create_local_server`` does: a thread-local ``app.current_request``."""
    if not isinstance(app, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice


class FailedJobsReader:
    """The jobs that failed their last delivery: what the jobs dead-letter queue holds (``GET /_local/jobs``).

    Peeks with a zero visibility timeout, so the messages stay where they are (up to 10 are listed; ``count``
    is the queue's size)."""

    def __init__(self, moto_url: str, dlq_url: str | None, sqs: Any = None) -> None:
        self.moto_url = moto_url
        self.dlq_url = dlq_url
        self._sqs = sqs

    def jobs(self) -> dict:
        if not self.dlq_url:
            return {"count": 0, "items": []}
        if self._sqs is None:
            import boto3

            region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
            self._sqs = boto3.client("sqs", endpoint_url=self.moto_url, region_name=region)
        sqs = self._sqs
        count = sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
        messages = sqs.receive_message(
            QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        items = []
        for m in messages:
            try:
                body = json.loads(m["Body"])
            except ValueError:
                body = {"raw": m["Body"]}
            items.append({"message_id": m["MessageId"], **(body if isinstance(body, dict) else {"raw": body})})
        return {"count": int(count["Attributes"].get("ApproximateNumberOfMessages", 0)), "items": items}


class ApiServer:
    """The threaded HTTP API server, in a background thread (``port=0``: any free port)."""

    def __init__(
        self,
        app: Chalice,
        moto_url: str,
        host: str = LOOPBACK,
        port: int = 0,
        stage: str = "local",
        lambda_timeout: int = 30,
        jobs_dlq_url: str | None = None,
    ) -> None:
        _localize(app)
        self.emails = EmailReader(moto_url)
        self.failed_jobs = FailedJobsReader(moto_url, jobs_dlq_url)
        config = Config.create(
            chalice_stage=stage, app_name=app.app_name, lambda_timeout=lambda_timeout, lambda_memory_size=1024
        )
        routes = {"/_local/emails": self._emails, "/_local/jobs": self.failed_jobs.jobs}
        handler = functools.partial(LocalRequestHandler, local_routes=routes)
        self.server = LocalDevServer(app, config, host, port, handler_cls=handler, server_cls=_Server)
        self.host, self.port = self.server.server.server_address[:2]
        self._thread: threading.Thread | None = None

    def _emails(self) -> dict:
        return {"items": self.emails.emails()}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ApiServer:
        self._thread = threading.Thread(
            target=self.server.server.serve_forever, kwargs={"poll_interval": 0.2}, name="api-server", daemon=True
        )
        self._thread.start()
        return self

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None and self._thread.is_alive():
            self.server.shutdown()
            self._thread.join(timeout)
        self.server.server.server_close()
