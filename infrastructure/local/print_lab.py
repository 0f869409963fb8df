"""A print-lab emulator for the local stack: Prodigi's v4 order API, in memory, on 127.0.0.1.

    python -m infrastructure.local.print_lab --port 8430 --callback-url http://127.0.0.1:8000/webhooks/print-lab \
        --secret S [--api-key K] [--step-seconds 3]

What it serves (shapes after Prodigi's v4 API: see docs/print-lab.md for what is Prodigi's and what is ours):

- ``POST /v4.0/Orders`` (``X-API-Key``): ``merchantReference, shippingMethod, recipient{name, address{line1,
  line2, postalOrZipCode, townOrCity, countryCode}}, items[{merchantReference, sku, copies, sizing,
  assets[{printArea, url}]}]``, optional ``idempotencyKey``. The same ``idempotencyKey`` (else
  ``merchantReference``) again answers the order it created (``outcome: "AlreadyExists"``, 200) instead of a
  second one (``outcome: "Created"``, 201).
- ``GET /v4.0/Orders/{id}`` (``X-API-Key``): ``{"outcome": "Ok", "order": {...}}``.
- Each order walks ``accepted -> in_production -> shipped (tracking) -> delivered``: on a timer
  (``--step-seconds``, 0 disables it) and one step per ``POST /_lab/orders/{id}/advance``. Every change POSTs a
  callback (a CloudEvents envelope as Prodigi's callbacks are, ``data.order`` the order at that moment, ``id`` the
  event id, ``time`` when the state changed) to ``--callback-url``, signed
  ``Lab-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``; a failed delivery is retried a few
  times, in order, on one delivery thread.
- ``GET /_lab/orders?merchant_reference=R``: the orders of that reference; ``GET /_lab/orders/{id}``: the order
  with its state and the callbacks sent; ``POST /_lab/orders/{id}/resend``
  sends the last callback again (same event id and body, a fresh signature); ``POST /_lab/orders/{id}/cancel``
  cancels an order not yet shipped (stage ``Cancelled``); ``DELETE /_lab/orders`` forgets everything;
  ``GET /_lab/health``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import itertools
import json
import queue
import re
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib import error as urlerror
from urllib import request as urlrequest
from urllib.parse import parse_qs, urlsplit

from infrastructure.local.common import LOOPBACK, iso_utc

STATES = ("accepted", "in_production", "shipped", "delivered")
SHIPPING_METHODS = ("Budget", "Standard", "Express", "Overnight")
SIZINGS = ("fillPrintArea", "fitPrintArea", "stretchToPrintArea")
EVENT_TYPES = {
    "accepted": "com.prodigi.order.status.stage.changed#InProgress",
    "in_production": "com.prodigi.order.status.details.changed#InProduction",
    "shipped": "com.prodigi.order.shipments.shipment#Shipped",
    "delivered": "com.prodigi.order.shipments.shipment#Delivered",
    "cancelled": "com.prodigi.order.status.stage.changed#Cancelled",
}
DELIVERY_ATTEMPTS = 4
DELIVERY_BACKOFF_SECONDS = 0.5
MAX_BODY = 1024 * 1024
_ids = itertools.count(840_000)


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``Lab-Signature`` header value of ``body``."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


@dataclass
class LabOrder:
    id: str
    request: dict[str, Any]
    created: float
    state: str = "accepted"
    changed: float = 0.0
    cancelled: bool = False
    tracking: dict[str, str] | None = None
    shipment_id: str | None = None
    dispatched: float | None = None
    item_ids: list[str] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)  # what was sent, newest last
    last_event: bytes | None = None

    def final(self) -> bool:
        return self.cancelled or self.state == STATES[-1]


class Lab:
    def __init__(self, callback_url: str, secret: str, api_key: str | None, step_seconds: float, base_url: str):
        self.callback_url = callback_url
        self.secret = secret
        self.api_key = api_key
        self.step_seconds = step_seconds
        self.base_url = base_url
        self.lock = threading.Lock()
        self.orders: dict[str, LabOrder] = {}
        self.by_key: dict[str, str] = {}
        self.outbox: queue.Queue[tuple[LabOrder, str, bytes]] = queue.Queue()
        self.stopping = threading.Event()

    # ---- orders -------------------------------------------------------------------------------------------

    def create(self, body: dict[str, Any]) -> tuple[LabOrder, bool]:
        key = str(body.get("idempotencyKey") or body["merchantReference"])
        with self.lock:
            existing = self.by_key.get(key)
            if existing is not None:
                return self.orders[existing], False
            moment = time.time()
            order = LabOrder(id=f"ord_{next(_ids)}", request=body, created=moment, changed=moment)
            order.item_ids = [f"ori_{secrets.token_hex(4)}" for _ in body["items"]]
            self.orders[order.id] = order
            self.by_key[key] = order.id
            self._changed(order, "accepted")
        return order, True

    def advance(self, order_id: str) -> LabOrder | None:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return None
            if not order.final():
                self._step(order)
            return order

    def cancel(self, order_id: str) -> LabOrder | None:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return None
            if not order.final() and order.state in ("accepted", "in_production"):
                order.cancelled = True
                order.changed = time.time()
                self._changed(order, "cancelled")
            return order

    def resend(self, order_id: str) -> LabOrder | None:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return None
            if order.last_event is not None:
                self.outbox.put((order, "resend", order.last_event))
            return order

    def reset(self) -> None:
        with self.lock:
            self.orders.clear()
            self.by_key.clear()

    def _step(self, order: LabOrder) -> None:
        order.state = STATES[STATES.index(order.state) + 1]
        order.changed = time.time()
        if order.state == "shipped":
            number = f"LAB{secrets.randbelow(10**10):010d}"
            order.tracking = {"carrier": "DHL Express", "number": number, "url": f"{self.base_url}/_lab/track/{number}"}
            order.shipment_id = f"shp_{secrets.token_hex(4)}"
            order.dispatched = order.changed
        self._changed(order, order.state)

    def _changed(self, order: LabOrder, what: str) -> None:
        event = {
            "specversion": "1.0",
            "type": EVENT_TYPES[what],
            "source": f"{self.base_url}/v4.0/Orders/",
            "id": f"evt_{secrets.token_hex(8)}",
            "time": iso_utc(order.changed),
            "datacontenttype": "application/json",
            "subject": order.id,
            "data": {"order": self.order_json(order)},
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        order.last_event = body
        self.outbox.put((order, event["id"], body))

    def tick(self) -> None:
        """Advance every order whose step is due (the timer)."""
        if self.step_seconds <= 0:
            return
        due = time.time() - self.step_seconds
        with self.lock:
            for order in self.orders.values():
                if not order.final() and order.changed <= due:
                    self._step(order)

    # ---- Prodigi's order shape ------------------------------------------------------------------------------

    def order_json(self, order: LabOrder) -> dict[str, Any]:
        position = STATES.index(order.state)

        def detail(reached_at: int) -> str:
            return "Complete" if position > reached_at else ("InProgress" if position == reached_at else "NotStarted")

        details = {
            "downloadAssets": "Complete",
            "printReadyAssetsPrepared": "Complete",
            "allocateProductionLocation": "Complete",
            "inProduction": detail(1),
            "shipping": detail(2) if position < 2 else "Complete",
        }
        stage = "Cancelled" if order.cancelled else ("Complete" if position >= 2 else "InProgress")
        shipments = []
        if order.tracking is not None and order.dispatched is not None:
            shipments.append(
                {
                    "id": order.shipment_id,
                    "status": "Delivered" if order.state == "delivered" else "Shipped",
                    "carrier": {"name": order.tracking["carrier"], "service": "Express"},
                    "tracking": {"number": order.tracking["number"], "url": order.tracking["url"]},
                    "dispatchDate": iso_utc(order.dispatched),
                    "items": [{"itemId": item_id} for item_id in order.item_ids],
                    "fulfillmentLocation": {"countryCode": "GB", "labCode": "emulator"},
                }
            )
        request = order.request
        return {
            "id": order.id,
            "created": iso_utc(order.created),
            "lastUpdated": iso_utc(order.changed),
            "merchantReference": request["merchantReference"],
            "idempotencyKey": request.get("idempotencyKey"),
            "shippingMethod": request["shippingMethod"],
            "status": {"stage": stage, "issues": [], "details": details},
            "charges": [],
            "shipments": shipments,
            "recipient": request["recipient"],
            "items": [
                {
                    "id": item_id,
                    "status": "Ok",
                    "merchantReference": item.get("merchantReference"),
                    "sku": item["sku"],
                    "copies": item["copies"],
                    "sizing": item["sizing"],
                    "assets": [
                        {"id": f"{item_id}_a{n}", "printArea": a["printArea"], "url": a["url"], "status": "Complete"}
                        for n, a in enumerate(item["assets"])
                    ],
                }
                for item_id, item in zip(order.item_ids, request["items"], strict=True)
            ],
            "metadata": request.get("metadata") or {},
        }

    def lab_view(self, order: LabOrder) -> dict[str, Any]:
        return {
            "id": order.id,
            "state": "cancelled" if order.cancelled else order.state,
            "merchant_reference": order.request["merchantReference"],
            "tracking": order.tracking,
            "callbacks": list(order.callbacks),
            "order": self.order_json(order),
        }

    # ---- callbacks --------------------------------------------------------------------------------------------

    def deliver_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                order, event_id, body = self.outbox.get(timeout=0.2)
            except queue.Empty:
                continue
            record: dict[str, Any] = {"event_id": json.loads(body)["id"], "resend": event_id == "resend"}
            for attempt in range(DELIVERY_ATTEMPTS):
                record.update(attempts=attempt + 1, at=iso_utc())
                try:
                    request = urlrequest.Request(
                        self.callback_url,
                        data=body,
                        method="POST",
                        headers={"Content-Type": "application/json", "Lab-Signature": sign(self.secret, body)},
                    )
                    with urlrequest.urlopen(request, timeout=10) as response:
                        record["status"] = response.status
                except urlerror.HTTPError as exc:
                    record["status"] = exc.code
                except (urlerror.URLError, OSError) as exc:
                    record["status"] = None
                    record["error"] = str(exc)
                if record["status"] is not None and 200 <= record["status"] < 300:
                    break
                time.sleep(DELIVERY_BACKOFF_SECONDS * 2**attempt)
            with self.lock:
                order.callbacks.append(record)

    def tick_forever(self) -> None:
        while not self.stopping.wait(min(0.2, self.step_seconds or 0.2)):
            self.tick()


def validate(body: Any) -> dict[str, list[str]]:
    """Prodigi-style ``failures``: field path -> problems; empty when the order is acceptable."""
    failures: dict[str, list[str]] = {}

    def need(ok: bool, path: str, problem: str = "Required") -> None:
        if not ok:
            failures.setdefault(path, []).append(problem)

    if not isinstance(body, dict):
        return {"body": ["Must be a JSON object"]}
    need(isinstance(body.get("merchantReference"), str) and bool(body["merchantReference"]), "merchantReference")
    need(body.get("shippingMethod") in SHIPPING_METHODS, "shippingMethod", f"One of {', '.join(SHIPPING_METHODS)}")
    recipient = body.get("recipient")
    address = recipient.get("address") if isinstance(recipient, dict) else None
    need(isinstance(recipient, dict) and bool(recipient.get("name")), "recipient.name")
    for name in ("line1", "postalOrZipCode", "townOrCity"):
        need(isinstance(address, dict) and bool(address.get(name)), f"recipient.address.{name}")
    country = address.get("countryCode") if isinstance(address, dict) else None
    need(isinstance(country, str) and re.fullmatch(r"[A-Z]{2}", country) is not None, "recipient.address.countryCode")
    items = body.get("items")
    need(isinstance(items, list) and 0 < len(items) <= 100, "items", "1 to 100 items")
    for n, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            need(False, f"items[{n}]", "Must be an object")
            continue
        need(isinstance(item.get("sku"), str) and bool(item["sku"]), f"items[{n}].sku")
        copies = item.get("copies")
        need(isinstance(copies, int) and not isinstance(copies, bool) and copies >= 1, f"items[{n}].copies")
        need(item.get("sizing") in SIZINGS, f"items[{n}].sizing", f"One of {', '.join(SIZINGS)}")
        assets = item.get("assets")
        need(isinstance(assets, list) and bool(assets), f"items[{n}].assets")
        for m, asset in enumerate(assets if isinstance(assets, list) else []):
            ok = (
                isinstance(asset, dict)
                and bool(asset.get("printArea"))
                and str(asset.get("url", "")).startswith("http")
            )
            need(ok, f"items[{n}].assets[{m}]", "printArea and an http(s) url")
    return failures


class Handler(BaseHTTPRequestHandler):
    lab: Lab
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"print-lab: {self.command} {self.path} -> {format % args}\n")

    def _send(self, status: int, body: dict[str, Any] | None = None) -> None:
        data = json.dumps(body if body is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, outcome: str, text: str, failures: dict[str, list[str]] | None = None) -> None:
        self._send(status, {"statusCode": status, "statusText": text, "outcome": outcome, "failures": failures or {}})

    def _authorised(self) -> bool:
        key = self.headers.get("X-API-Key")
        if self.lab.api_key is not None and not (key and hmac.compare_digest(key, self.lab.api_key)):
            self._error(401, "NotAuthenticated", "A valid X-API-Key header is required")
            return False
        return True

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("too large")
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw.strip() else None

    def do_GET(self) -> None:
        lab = self.lab
        if self.path == "/_lab/health":
            self._send(200, {"status": "ok", "orders": len(lab.orders)})
            return
        match = re.fullmatch(r"/v4\.0/Orders/([\w-]+)", self.path)
        if match:
            if not self._authorised():
                return
            with lab.lock:
                order = lab.orders.get(match.group(1))
                body = lab.order_json(order) if order else None
            if body is None:
                self._error(404, "NotFound", "No such order")
            else:
                self._send(200, {"outcome": "Ok", "order": body})
            return
        if self.path.startswith("/_lab/orders?"):
            wanted = parse_qs(urlsplit(self.path).query).get("merchant_reference", [None])[0]
            with lab.lock:
                found = [lab.lab_view(o) for o in lab.orders.values() if o.request["merchantReference"] == wanted]
            self._send(200, {"items": found})
            return
        match = re.fullmatch(r"/_lab/orders/([\w-]+)", self.path)
        if match:
            with lab.lock:
                order = lab.orders.get(match.group(1))
                view = lab.lab_view(order) if order else None
            self._send(200, view) if view else self._error(404, "NotFound", "No such order")
            return
        if self.path.startswith("/_lab/track/"):
            self._send(200, {"tracking": self.path.rsplit("/", 1)[-1], "carrier": "DHL Express"})
            return
        self._error(404, "NotFound", "No such route")

    def do_POST(self) -> None:
        lab = self.lab
        try:
            body = self._body()
        except (ValueError, UnicodeDecodeError):
            self._error(400, "ValidationFailed", "The body is not valid JSON", {"body": ["Malformed JSON"]})
            return
        if self.path == "/v4.0/Orders":
            if not self._authorised():
                return
            failures = validate(body)
            if failures:
                self._error(400, "ValidationFailed", "The order is not valid", failures)
                return
            order, created = lab.create(body)
            with lab.lock:
                order_body = lab.order_json(order)
            self._send(
                201 if created else 200, {"outcome": "Created" if created else "AlreadyExists", "order": order_body}
            )
            return
        match = re.fullmatch(r"/_lab/orders/([\w-]+)/(advance|resend|cancel)", self.path)
        if match:
            order_id, action = match.groups()
            found = getattr(lab, action)(order_id)
            if found is None:
                self._error(404, "NotFound", "No such order")
                return
            with lab.lock:
                self._send(200, lab.lab_view(found))
            return
        self._error(404, "NotFound", "No such route")

    def do_DELETE(self) -> None:
        if self.path == "/_lab/orders":
            self.lab.reset()
            self._send(200, {"deleted": True})
            return
        self._error(404, "NotFound", "No such route")


def serve(
    port: int, callback_url: str, secret: str, *, api_key: str | None = None, step_seconds: float = 3.0
) -> tuple[ThreadingHTTPServer, Lab]:
    """Start the emulator's threads and return its server (call ``serve_forever``) and state."""
    lab = Lab(callback_url, secret, api_key, step_seconds, f"http://{LOOPBACK}:{port}")
    handler = type("LabHandler", (Handler,), {"lab": lab})
    server = ThreadingHTTPServer((LOOPBACK, port), handler)
    server.daemon_threads = True
    threading.Thread(target=lab.deliver_forever, name="print-lab-callbacks", daemon=True).start()
    threading.Thread(target=lab.tick_forever, name="print-lab-timer", daemon=True).start()
    return server, lab


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--callback-url", required=True, help="where signed status callbacks are POSTed")
    parser.add_argument("--secret", required=True, help="the shared secret of the Lab-Signature header")
    parser.add_argument("--api-key", default=None, help="the X-API-Key the order API requires (default: any)")
    parser.add_argument("--step-seconds", type=float, default=3.0, help="seconds per state on the timer; 0: none")
    args = parser.parse_args(argv)
    server, _lab = serve(
        args.port, args.callback_url, args.secret, api_key=args.api_key, step_seconds=args.step_seconds
    )
    print(f"print-lab emulator on http://{LOOPBACK}:{args.port} -> {args.callback_url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
