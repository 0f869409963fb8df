"""The print-lab adapter: a paid order's lab prints go to the lab once; the lab's callbacks are read back.

The lab speaks Prodigi's v4 order API (docs/print-lab.md): ``POST {LIGHTBOX_PRINT_LAB_URL}/v4.0/Orders`` with
``X-API-Key``. Locally that is the emulator (``infrastructure/local/print_lab.py``).

- :func:`on_order_paid` is the ``print_lab`` consumer of ``order.paid`` (chalicelib/jobs/registry.py): it reads
  the order by id and :func:`submit`\\ s it. The lab unreachable (or answering 5xx/429/401) raises
  :class:`LabUnavailable`, so the job is retried (and dead-lettered in the end, ``GET /_local/jobs`` locally).
- :func:`submit` is idempotent twice over: lines that already carry a ``lab_order_id`` are not sent again, and
  the request's ``merchantReference``/``idempotencyKey`` is our order id, so a retried job whose first attempt
  reached the lab (but died before storing the answer) gets the same lab order back, never a second one.
- Asset URLs are signed GETs of each photo's original (``photos_access.sign``) valid ``print_lab_asset_ttl``
  (7 days: the lab may fetch them late, e.g. after a re-print).
- :func:`read_callback` (pure) turns a callback's body into a :class:`LabUpdate`: which lab order, which of our
  items (``items[].merchantReference`` is our item id), the status in our terms, tracking, the event id and when
  the state changed.

Uses ``urllib.request`` (requests is not packaged for Lambda).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib import error as urlerror
from urllib import request as urlrequest

from chalicelib.config import get_settings
from chalicelib.logs import get_logger
from chalicelib.models.orders import Order, OrderLine

log = get_logger(__name__)
PRINTABLE_ORDER_STATES = ("paid", "partially_refunded", "fulfilled")
SUBMITTABLE = frozenset({"pending", "submitted", "in_production"})  # a callback may beat our storing the id
PAPER_CODES = {"lustre": "PHO", "glossy": "PHO", "metallic": "MET", "fine_art": "FAP"}
FINISHES = {"lustre": "lustre", "glossy": "gloss", "metallic": "lustre", "fine_art": "matte"}


class LabUnavailable(Exception):
    """The lab could not take the order now (unreachable, 5xx, 429, not configured): retry later."""


class LabRejected(Exception):
    """The lab refused the order as invalid (4xx): retrying the same request cannot help."""


@dataclass(frozen=True)
class LabUpdate:
    event_id: str
    event_type: str
    at: datetime
    lab_order_id: str
    merchant_reference: str
    status: str  # submitted | in_production | shipped | delivered | failed
    item_ids: tuple[str, ...]  # our item ids the lab order holds (empty: every lab item of the order)
    tracking: dict[str, str] | None


# ---- submit ----------------------------------------------------------------------------------------------


def on_order_paid(payload: dict[str, Any], cursor: Any, limit: int) -> None:
    """``order.paid`` consumer: submit the order's lab items (bounded: one lab call per order)."""
    lines = payload.get("lines") or []
    if lines and not any(ln.get("kind") == "print" and ln.get("fulfilment") == "lab" for ln in lines):
        return None
    from chalicelib.models.orders import order_by_id

    order = order_by_id(payload["order_id"])
    if order is not None:
        submit(order)
    return None


def lab_lines(order: Order) -> list[OrderLine]:
    return [ln for ln in order.items if ln.kind == "print" and ln.fulfilment == "lab"]


def submit(order: Order) -> str | None:
    """Send the order's lab items not yet at the lab; returns the lab order id (None: nothing to send)."""
    from chalicelib.services import fulfilment

    if order.status not in PRINTABLE_ORDER_STATES:  # cancelled, refunded, disputed: nothing goes to the lab
        return None
    lines = [ln for ln in lab_lines(order) if ln.lab_order_id is None and ln.status in SUBMITTABLE]
    if not lines:
        return next((ln.lab_order_id for ln in lab_lines(order) if ln.lab_order_id), None)
    assets, missing = _assets(lines)
    printable = [ln for ln in lines if ln.item_id not in missing]
    if not printable:
        fulfilment.record_submission(order.order_id, None, [], failed=sorted(missing))
        return None
    try:
        answer = call("POST", "/v4.0/Orders", order_request(order, printable, assets))
    except LabRejected:
        log.error("the lab rejected an order", exc_info=True, extra={"fields": {"order_id": order.order_id}})
        fulfilment.record_submission(order.order_id, None, [], failed=[ln.item_id for ln in lines])
        return None
    lab_order_id = str(answer["order"]["id"])
    fulfilment.record_submission(order.order_id, lab_order_id, [ln.item_id for ln in printable], failed=sorted(missing))
    log.info(
        "order submitted to the lab",
        extra={"fields": {"order_id": order.order_id, "lab_order_id": lab_order_id, "outcome": answer.get("outcome")}},
    )
    return lab_order_id


def _assets(lines: list[OrderLine]) -> tuple[dict[str, str], set[str]]:
    """Signed original URLs per photo id, and the item ids whose photo is gone (they cannot be printed)."""
    from chalicelib.models.photos import Photo
    from chalicelib.services import photos_access

    photo_ids = sorted({ln.photo_id for ln in lines})
    photos = {p.photo_id: p for p in Photo.batch_get(photo_ids)}
    ttl = get_settings().print_lab_asset_ttl
    urls = {
        pid: photos_access.sign(photo, "original", ttl)
        for pid, photo in photos.items()
        if "original" in (photo.variant_keys or [])
    }
    return urls, {ln.item_id for ln in lines if ln.photo_id not in urls}


def _inches(value: Any) -> str:
    """8 -> "8", 8.5 -> "8.5": a half-inch size is not ordered as the whole inch below it."""
    number = float(value or 0)
    return str(int(number)) if number.is_integer() else f"{number:g}"


def lab_sku(line: OrderLine) -> tuple[str, dict[str, str]]:
    """Our print line as a lab product: Prodigi-style ``GLOBAL-<paper>-<w>x<h>`` (``CFPM`` framed) and attributes.
    The codes are the emulator's; map them to the real lab's catalogue when connecting one (docs/print-lab.md)."""
    width, height = _inches(line.width_in), _inches(line.height_in)
    paper = line.paper or "lustre"
    attributes = {"finish": FINISHES.get(paper, "lustre")}
    if line.frame and line.frame != "none":
        attributes["color"] = line.frame
        return f"GLOBAL-CFPM-{width}x{height}", attributes
    return f"GLOBAL-{PAPER_CODES.get(paper, 'PHO')}-{width}x{height}", attributes


def order_request(order: Order, lines: list[OrderLine], assets: dict[str, str]) -> dict[str, Any]:
    address = order.shipping_address
    if address is None:
        raise LabRejected(f"order {order.order_id} has prints but no shipping address")
    items = []
    for line in lines:
        sku, attributes = lab_sku(line)
        items.append(
            {
                "merchantReference": line.item_id,
                "sku": sku,
                "copies": int(line.quantity),
                "sizing": "fillPrintArea",
                "attributes": attributes,
                "assets": [{"printArea": "default", "url": assets[line.photo_id]}],
            }
        )
    return {
        "merchantReference": order.order_id,
        "idempotencyKey": order.order_id,
        "shippingMethod": get_settings().print_lab_shipping_method,
        "recipient": {
            "name": address.name,
            "address": {
                "line1": address.line1,
                "line2": address.line2,
                "postalOrZipCode": address.postal_code,
                "townOrCity": address.city,
                "countryCode": address.country.upper(),
            },
        },
        "items": items,
        "metadata": {"lightbox_order_id": order.order_id},
    }


def lab_secret(literal: str | None, parameter_name: str | None) -> str | None:
    """A print-lab secret: literal locally, from SSM/Secrets Manager in AWS; None when neither is set."""
    if not literal and not parameter_name:
        return None
    from chalicelib import aws

    return aws.secret(literal, parameter_name)


def webhook_secret() -> str | None:
    settings = get_settings()
    return lab_secret(settings.print_lab_webhook_secret, settings.print_lab_webhook_secret_param)


def call(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One call to the lab's API; :class:`LabUnavailable` or :class:`LabRejected` when it does not succeed."""
    settings = get_settings()
    if not settings.print_lab_url:
        raise LabUnavailable("LIGHTBOX_PRINT_LAB_URL is not set")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    api_key = lab_secret(settings.print_lab_api_key, settings.print_lab_api_key_param)
    if api_key:
        headers["X-API-Key"] = api_key
    data = json.dumps(body).encode() if body is not None else None
    request = urlrequest.Request(settings.print_lab_url + path, data=data, method=method, headers=headers)
    try:
        with urlrequest.urlopen(request, timeout=settings.print_lab_timeout) as response:
            return json.loads(response.read() or b"{}")
    except urlerror.HTTPError as exc:
        detail = exc.read()[:500].decode(errors="replace")
        if exc.code in (400, 404, 409, 422):
            raise LabRejected(f"lab answered {exc.code}: {detail}") from exc
        raise LabUnavailable(f"lab answered {exc.code}: {detail}") from exc
    except (urlerror.URLError, TimeoutError, OSError, ValueError) as exc:
        raise LabUnavailable(f"lab unreachable: {exc}") from exc


# ---- callbacks -------------------------------------------------------------------------------------------


class BadCallback(ValueError):
    pass


def status_of(lab_order: dict[str, Any]) -> str:
    """A Prodigi order's stage, details and shipments in our item states."""
    status = lab_order.get("status") or {}
    stage = status.get("stage")
    shipments = [s for s in lab_order.get("shipments") or [] if isinstance(s, dict)]
    if stage == "Cancelled":
        return "failed"
    if shipments and all(s.get("status") == "Delivered" for s in shipments):
        return "delivered"
    if shipments or stage == "Complete":
        return "shipped"
    if (status.get("details") or {}).get("inProduction") in ("InProgress", "Complete"):
        return "in_production"
    return "submitted"


def tracking_of(lab_order: dict[str, Any]) -> dict[str, str] | None:
    for shipment in lab_order.get("shipments") or []:
        tracking = shipment.get("tracking") or {}
        if tracking.get("number"):
            return {
                "carrier": str((shipment.get("carrier") or {}).get("name") or ""),
                "number": str(tracking["number"]),
                "url": str(tracking.get("url") or ""),
            }
    return None


def read_callback(body: bytes) -> LabUpdate:
    """Parse a (verified) callback body; :class:`BadCallback` if it is not one."""
    try:
        event = json.loads(body)
        lab_order = event["data"]["order"]
        at = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
        update = LabUpdate(
            event_id=str(event["id"]),
            event_type=str(event.get("type") or ""),
            at=at if at.tzinfo else at.replace(tzinfo=UTC),
            lab_order_id=str(lab_order["id"]),
            merchant_reference=str(lab_order["merchantReference"]),
            status=status_of(lab_order),
            item_ids=tuple(
                str(i["merchantReference"]) for i in lab_order.get("items") or [] if i.get("merchantReference")
            ),
            tracking=tracking_of(lab_order),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadCallback(f"not a lab callback: {exc}") from None
    if not update.event_id or not update.merchant_reference or len(update.event_id) > 200:
        raise BadCallback("not a lab callback: no event id or merchant reference")
    return update


# ---- Lab-Signature ----------------------------------------------------------------------------------------

SIGNATURE_TOLERANCE_SECONDS = 300


class BadSignature(ValueError):
    pass


def expected_signature(secret: str, timestamp: int, body: bytes) -> str:
    import hashlib
    import hmac

    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_signature(
    header: str | None,
    body: bytes,
    secret: str | None,
    *,
    now: float | None = None,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> None:
    """Check ``Lab-Signature: t=<unix>,v1=<hex>`` over ``"<t>.<raw body>"`` (several ``v1`` allowed, as while a
    secret is rotated); :class:`BadSignature` unless one matches and ``t`` is within ``tolerance`` of now."""
    import hmac
    import time

    if not secret:
        raise BadSignature("no webhook secret is configured (LIGHTBOX_PRINT_LAB_WEBHOOK_SECRET)")
    if not header or len(header) > 1000:
        raise BadSignature("missing Lab-Signature header")
    timestamps, signatures = [], []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamps.append(value)
        elif key == "v1" and re.fullmatch(r"[0-9a-f]{64}", value):  # compare_digest raises on non-ASCII str
            signatures.append(value)
    if len(timestamps) != 1 or not re.fullmatch(r"[0-9]{1,12}", timestamps[0]) or not signatures:
        raise BadSignature("malformed Lab-Signature header")
    timestamp = int(timestamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise BadSignature("Lab-Signature timestamp outside the tolerance")
    expected = expected_signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise BadSignature("Lab-Signature does not match")
