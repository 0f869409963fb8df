"""Lab prints end to end: order.paid -> the print_lab job -> the print-lab emulator (a real process on a free port)
-> its signed callbacks, relayed into POST /webhooks/print-lab -> item states, tracking, the shipping email and
order.updated frames. Orders are written as rows (status paid), since checkout is built elsewhere."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib import request as urlrequest

import pytest

from infrastructure.local.common import free_port, http_status
from infrastructure.local.devstack import REPO_ROOT
from infrastructure.local.print_lab import sign
from tests.conftest import sent_emails
from tests.jobs import drain, receive, run_batch
from tests.servers import spawn_on_free_port

SECRET = "whsec_lab_test"
API_KEY = "lab-key-test"


class Capture:
    """Where the emulator POSTs its callbacks: kept as (headers, body) for the test to relay into the app."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with capture.lock:
                    capture.received.append((dict(self.headers.items()), body))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # the kernel picks the port: no race
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"

    def wait(self, count: int, timeout: float = 10.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} callbacks, got {len(self.received)}")


class Lab:
    def __init__(self, url: str, capture: Capture) -> None:
        self.url = url
        self.capture = capture

    def call(self, method: str, path: str) -> dict:
        with urlrequest.urlopen(urlrequest.Request(self.url + path, method=method), timeout=5) as response:
            return json.loads(response.read())

    def advance(self, lab_order_id: str) -> dict:
        return self.call("POST", f"/_lab/orders/{lab_order_id}/advance")

    def order(self, lab_order_id: str) -> dict:
        return self.call("GET", f"/_lab/orders/{lab_order_id}")

    def reset(self) -> None:
        self.call("DELETE", "/_lab/orders")
        with self.capture.lock:
            self.capture.received.clear()


@pytest.fixture(scope="module")
def lab_process() -> Iterator[Lab]:
    capture = Capture()
    try:
        process, port = spawn_on_free_port(
            lambda port: (
                [sys.executable, "-m", "infrastructure.local.print_lab", "--port", str(port)]
                + ["--callback-url", capture.url, "--secret", SECRET, "--api-key", API_KEY, "--step-seconds", "0"]
            ),
            lambda port: http_status(f"http://127.0.0.1:{port}/_lab/health") == 200,
            timeout=15,
            cwd=str(REPO_ROOT),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except BaseException:
        capture.server.shutdown()
        raise
    url = f"http://127.0.0.1:{port}"
    try:
        yield Lab(url, capture)
    finally:
        process.terminate()
        process.wait(10)
        capture.server.shutdown()


@pytest.fixture
def lab(lab_process: Lab, monkeypatch) -> Iterator[Lab]:
    from chalicelib.config import get_settings

    lab_process.reset()
    monkeypatch.setenv("LIGHTBOX_PRINT_LAB_URL", lab_process.url)
    monkeypatch.setenv("LIGHTBOX_PRINT_LAB_API_KEY", API_KEY)
    monkeypatch.setenv("LIGHTBOX_PRINT_LAB_WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()
    yield lab_process
    monkeypatch.undo()
    get_settings.cache_clear()


# ---- rows -------------------------------------------------------------------------------------------------


def make_photo(owner_id: str) -> str:
    from chalicelib.models.base import new_id
    from chalicelib.models.photos import Photo

    photo_id = new_id("p")
    Photo(
        photo_id=photo_id,
        owner_id=owner_id,
        status="ready",
        content_type="image/jpeg",
        declared_size=1000,
        upload_key=f"uploads/{photo_id}",
        original_format="jpeg",
        variant_keys=["thumb", "watermarked", "large", "original"],
    ).save()
    return photo_id


def print_line(item_id: str, photo_id: str, seller_id: str, fulfilment: str = "lab", **extra):
    from chalicelib.models.orders import OrderLine

    return OrderLine(
        item_id=item_id,
        photo_id=photo_id,
        seller_id=seller_id,
        sku=f"print-8x10-{fulfilment}",
        kind="print",
        label="8x10 lustre print",
        quantity=extra.pop("quantity", 1),
        unit_price_cents=2500,
        line_total_cents=2500,
        width_in=8,
        height_in=10,
        paper="lustre",
        fulfilment=fulfilment,
        **{"frame": "none", **extra},
    )


def digital_line(item_id: str, photo_id: str, seller_id: str, status: str = "pending"):
    from chalicelib.models.orders import OrderLine

    return OrderLine(
        item_id=item_id,
        photo_id=photo_id,
        seller_id=seller_id,
        sku="digital-large",
        kind="digital",
        label="Web size",
        quantity=1,
        unit_price_cents=900,
        line_total_cents=900,
        variant="large",
        license="personal",
        status=status,
    )


def make_order(buyer_id: str, lines: list, *, status: str = "paid") -> str:
    from chalicelib.models.base import new_id, now
    from chalicelib.models.orders import Order, SellerOrder, ShippingAddress

    order_id = new_id("o")
    sellers = sorted({ln.seller_id for ln in lines})
    total = sum(int(ln.line_total_cents) for ln in lines)
    Order(
        order_id=order_id,
        buyer_id=buyer_id,
        status=status,
        currency="eur",
        items=lines,
        seller_ids=sellers,
        subtotal_cents=total,
        total_cents=total,
        shipping_address=ShippingAddress(
            name="Ada Buyer", line1="1 Main St", city="Berlin", postal_code="10115", country="de"
        ),
        paid_at=now() if status == "paid" else None,
    ).save()
    for seller_id in sellers:
        SellerOrder(seller_id=seller_id, order_id=order_id, buyer_id=buyer_id, status=status).save()
    return order_id


def publish_paid(order_id: str) -> None:
    """Publish ``order.paid`` for an order written directly, with the payload checkout publishes."""
    from chalicelib import jobs
    from chalicelib.models.orders import Order
    from chalicelib.services.checkout import paid_event

    assert jobs.publish("order.paid", f"order.paid:{order_id}", paid_event(Order.get(order_id)))


def lines_of(order_id: str) -> dict:
    from chalicelib.models.orders import Order

    return {ln.item_id: ln for ln in Order.get(order_id, consistent_read=True).items}


def relay(api, callback: tuple[dict[str, str], bytes], **headers):
    sent_headers, body = callback
    signature = headers.pop("signature", sent_headers["Lab-Signature"])
    return api.call("POST", "/webhooks/print-lab", raw=body, headers={"Lab-Signature": signature, **headers})


def shipping_emails(to: str) -> list[dict]:
    return [m for m in sent_emails() if to in m["to"] and "shipped" in m["subject"]]


@pytest.fixture
def scene(api, make_user):
    seller = make_user("seller", role="photographer")
    other = make_user("otherseller", role="photographer")
    buyer = make_user("buyer")
    return {"seller": seller, "other": other, "buyer": buyer, "photo": make_photo(seller["id"])}


# ---- lab items --------------------------------------------------------------------------------------------


def test_lab_prints_are_submitted_once_and_walk_to_shipped_with_one_email_and_live_frames(app, api, scene, lab, live):
    import app as app_module
    from chalicelib.models.orders import Order
    from chalicelib.services import print_lab
    from tests.realtime import connect

    seller, buyer, photo = scene["seller"]["id"], scene["buyer"], scene["photo"]
    order_id = make_order(
        buyer["id"],
        [
            print_line("i1", photo, seller, quantity=2),
            print_line("i2", photo, seller, frame="black"),
            print_line("i3", photo, seller, fulfilment="self"),
            digital_line("i4", photo, seller),
        ],
    )
    connection_id, _ = connect(app_module, buyer["access"])
    publish_paid(order_id)
    drain()

    lines = lines_of(order_id)
    assert lines["i1"].status == lines["i2"].status == "submitted"
    lab_order_id = lines["i1"].lab_order_id
    assert lab_order_id and lines["i2"].lab_order_id == lab_order_id
    assert (lines["i3"].status, lines["i3"].lab_order_id, lines["i4"].status) == ("pending", None, "pending")

    at_lab = lab.order(lab_order_id)
    assert at_lab["merchant_reference"] == order_id and at_lab["state"] == "accepted"
    items = at_lab["order"]["items"]
    assert [(i["merchantReference"], i["copies"], i["sku"]) for i in items] == [
        ("i1", 2, "GLOBAL-PHO-8x10"),
        ("i2", 1, "GLOBAL-CFPM-8x10"),
    ]
    assert f"photos/{photo}/original" in items[0]["assets"][0]["url"]
    assert at_lab["order"]["recipient"]["address"]["countryCode"] == "DE"

    # A retried job whose first run reached the lab but died before storing the answer: the same lab order.
    order = Order.get(order_id)
    for line in order.items[:2]:
        line.lab_order_id, line.status = None, "pending"
    order.save()
    assert print_lab.submit(Order.get(order_id)) == lab_order_id
    assert lab.call("GET", "/_lab/health")["orders"] == 1
    assert lines_of(order_id)["i1"].status == "submitted"

    accepted = lab.capture.wait(1)[0]
    assert relay(api, accepted).status_code == 200  # already submitted: nothing to do

    lab.advance(lab_order_id)
    r = relay(api, lab.capture.wait(2)[1])
    assert r.status_code == 200 and r.data == {"received": True, "applied": True}
    assert {lines_of(order_id)[i].status for i in ("i1", "i2")} == {"in_production"}
    frames = live.of_type(connection_id, "order.updated")
    assert frames and frames[-1]["order"]["id"] == order_id
    assert [i["status"] for i in frames[-1]["order"]["items"]] == [
        "in_production",
        "in_production",
        "pending",
        "pending",
    ]

    shipped_state = lab.advance(lab_order_id)
    shipped = lab.capture.wait(3)[2]
    assert relay(api, shipped).data["applied"] is True
    lines = lines_of(order_id)
    tracking = shipped_state["tracking"]
    assert lines["i1"].status == "shipped" and lines["i1"].tracking.number == tracking["number"]
    assert lines["i2"].tracking.carrier == tracking["carrier"] and lines["i2"].tracking.url == tracking["url"]
    assert live.of_type(connection_id, "order.updated")[-1]["order"]["items"][0]["tracking"] == tracking
    drain()
    emails = shipping_emails(buyer["email"])
    assert len(emails) == 1
    assert tracking["number"] in emails[0]["text"] and "8x10 lustre print x 2" in emails[0]["text"]

    # The lab re-sends the shipped callback (same event id), and an unsigned copy of it arrives: nothing changes.
    frames_before = len(live.of_type(connection_id, "order.updated"))
    lab.call("POST", f"/_lab/orders/{lab_order_id}/resend")
    resent = lab.capture.wait(4)[3]
    assert json.loads(resent[1])["id"] == json.loads(shipped[1])["id"]
    assert relay(api, resent).data == {"received": True, "applied": False}
    assert relay(api, shipped).data["applied"] is False
    drain()
    assert len(shipping_emails(buyer["email"])) == 1
    assert len(live.of_type(connection_id, "order.updated")) == frames_before

    lab.advance(lab_order_id)
    assert relay(api, lab.capture.wait(5)[4]).data["applied"] is True
    assert lines_of(order_id)["i1"].status == "delivered"
    assert Order.get(order_id).status == "paid"  # the self print and the digital item are not done yet


def test_out_of_order_and_replayed_callbacks_change_nothing(api, scene, lab):
    from chalicelib.models.orders import Order

    order_id = make_order(scene["buyer"]["id"], [print_line("i1", scene["photo"], scene["seller"]["id"])])
    publish_paid(order_id)
    drain()
    lab_order_id = lines_of(order_id)["i1"].lab_order_id
    lab.advance(lab_order_id)
    lab.advance(lab_order_id)
    accepted, in_production, shipped = lab.capture.wait(3)

    assert relay(api, shipped).data["applied"] is True  # in_production got lost on the way: shipped applies
    version = Order.get(order_id).version
    late = relay(api, in_production)
    assert late.status_code == 200 and late.data["applied"] is False
    assert relay(api, accepted).data["applied"] is False
    line = lines_of(order_id)["i1"]
    assert line.status == "shipped" and line.tracking.number
    assert Order.get(order_id).version == version  # no write at all


def test_bad_signatures_and_old_timestamps_are_400_and_change_nothing(api, scene, lab):
    order_id = make_order(scene["buyer"]["id"], [print_line("i1", scene["photo"], scene["seller"]["id"])])
    publish_paid(order_id)
    drain()
    lab.advance(lines_of(order_id)["i1"].lab_order_id)
    callback = lab.capture.wait(2)[1]
    body = callback[1]

    forged = sign("not-the-secret", body)
    # 300 s of tolerance: 10 s past it either way, so a second ticking between signing and checking changes nothing
    old = sign(SECRET, body, int(time.time()) - 310)
    future = sign(SECRET, body, int(time.time()) + 310)
    now_ = int(time.time())
    unicode_v1 = f"t={now_},v1=\u00e9"  # hmac.compare_digest raises on a non-ASCII str
    superscript_t = "t=\u00b2,v1=aa"  # "²".isdigit() is True, int("²") raises
    arabic_t = sign(SECRET, body, now_).replace(f"t={now_}", "t=" + "".join(chr(0x660 + int(c)) for c in str(now_)))
    malformed = ("t=abc,v1=00", "", "v1=" + sign(SECRET, body).split("v1=")[1], unicode_v1, superscript_t, arabic_t)
    for signature in (forged, old, future, *malformed):
        r = relay(api, callback, signature=signature)
        assert r.status_code == 400, (signature, r.body)
        assert r.data["error"]["code"] == "bad_signature"
    tampered = body.replace(b'"InProgress"', b'"Complete"', 1)
    assert relay(api, (callback[0], tampered)).status_code == 400  # signed body changed
    garbage = b'{"hello": "world"}'
    r = api.call("POST", "/webhooks/print-lab", raw=garbage, headers={"Lab-Signature": sign(SECRET, garbage)})
    assert r.status_code == 400 and r.data["error"]["code"] == "bad_request"
    assert lines_of(order_id)["i1"].status == "submitted"

    assert relay(api, callback, signature=sign(SECRET, body, int(time.time()) - 290)).data["applied"] is True


def test_lab_down_leaves_the_job_to_retry(api, scene, lab, monkeypatch):
    from chalicelib.config import get_settings

    order_id = make_order(scene["buyer"]["id"], [print_line("i1", scene["photo"], scene["seller"]["id"])])
    monkeypatch.setenv("LIGHTBOX_PRINT_LAB_URL", f"http://127.0.0.1:{free_port()}")
    get_settings.cache_clear()
    publish_paid(order_id)
    messages = receive()
    response = run_batch(messages)
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    consumers = {json.loads(m["Body"])["consumer"] for m in messages if m["MessageId"] in failed}
    assert "print_lab" in consumers  # reported for redelivery (the ledger's readers may wait for their turn too)
    assert lines_of(order_id)["i1"].status == "pending"

    monkeypatch.setenv("LIGHTBOX_PRINT_LAB_URL", lab.url)
    get_settings.cache_clear()
    drain()
    line = lines_of(order_id)["i1"]
    assert line.status == "submitted" and line.lab_order_id
    assert lab.order(line.lab_order_id)["merchant_reference"] == order_id


def test_concurrent_callbacks_each_take_effect(api, scene, lab):
    """Two callbacks of one order at once: the version check makes the loser re-read, so both apply."""
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.services import fulfilment, print_lab

    seller, photo = scene["seller"]["id"], scene["photo"]
    order_id = make_order(scene["buyer"]["id"], [print_line("i1", photo, seller), print_line("i2", photo, seller)])
    publish_paid(order_id)
    drain()
    lab_order_id = lines_of(order_id)["i1"].lab_order_id
    lab.advance(lab_order_id)
    in_production = json.loads(lab.capture.wait(2)[1][1])

    def only(item_id: str, event_id: str) -> bytes:
        event = json.loads(json.dumps(in_production))
        event["id"] = event_id
        event["data"]["order"]["items"] = [
            i for i in event["data"]["order"]["items"] if i["merchantReference"] == item_id
        ]
        return json.dumps(event).encode()

    updates = [print_lab.read_callback(only("i1", "evt_a")), print_lab.read_callback(only("i2", "evt_b"))]
    with ThreadPoolExecutor(2) as pool:
        assert all(pool.map(fulfilment.apply_lab_callback, updates))
    assert {ln.status for ln in lines_of(order_id).values()} == {"in_production"}


# ---- self-fulfilled items: the seller's PATCH ---------------------------------------------------------------


def patch(api, user, order_id, item_id, body):
    return api.patch(f"/sales/orders/{order_id}/items/{item_id}", body, token=user["access"])


TRACKING = {"carrier": "DHL", "number": "JD0001", "url": "https://track.example/JD0001"}


def test_seller_moves_a_self_fulfilled_print_and_the_order_becomes_fulfilled(api, scene, live):
    import app as app_module
    from chalicelib.models.orders import Order, SellerOrder
    from tests.realtime import connect

    seller, buyer, photo = scene["seller"], scene["buyer"], scene["photo"]
    order_id = make_order(
        buyer["id"],
        [
            print_line("s1", photo, seller["id"], fulfilment="self"),
            digital_line("d1", photo, seller["id"], "available"),
        ],
    )
    connection_id, _ = connect(app_module, buyer["access"])

    r = patch(api, seller, order_id, "s1", {"status": "in_production"})
    assert r.status_code == 200, r.body
    assert r.data["item"]["status"] == "in_production" and r.data["order_status"] == "paid"
    assert live.of_type(connection_id, "order.updated")[-1]["order"]["items"][0]["status"] == "in_production"

    r = patch(api, seller, order_id, "s1", {"status": "shipped"})
    assert r.status_code == 400 and "tracking" in r.data["error"]["details"]
    r = patch(api, seller, order_id, "s1", {"status": "shipped", "tracking": {**TRACKING, "url": "ftp://x"}})
    assert r.status_code == 400
    r = patch(api, seller, order_id, "s1", {"status": "shipped", "tracking": TRACKING})
    assert r.status_code == 200 and r.data["item"]["tracking"] == TRACKING
    assert patch(api, seller, order_id, "s1", {"status": "shipped", "tracking": TRACKING}).status_code == 200  # retry
    drain()
    emails = shipping_emails(buyer["email"])
    assert len(emails) == 1 and "JD0001" in emails[0]["text"]

    r = patch(api, seller, order_id, "s1", {"status": "in_production"})
    assert r.status_code == 409 and r.data["error"]["code"] == "illegal_transition"

    r = patch(api, seller, order_id, "s1", {"status": "delivered"})
    assert r.status_code == 200 and r.data["order_status"] == "fulfilled"
    assert Order.get(order_id).status == "fulfilled"
    assert SellerOrder.get(seller["id"], order_id).status == "fulfilled"
    assert live.of_type(connection_id, "order.updated")[-1]["order"]["status"] == "fulfilled"
    assert patch(api, seller, order_id, "s1", {"status": "shipped", "tracking": TRACKING}).status_code == 409


def test_seller_patch_refuses_what_it_may_not_touch(api, scene):
    seller, other, buyer, photo = scene["seller"], scene["other"], scene["buyer"], scene["photo"]
    order_id = make_order(
        buyer["id"],
        [
            print_line("s1", photo, seller["id"], fulfilment="self"),
            print_line("l1", photo, seller["id"]),
            digital_line("d1", photo, seller["id"]),
        ],
    )
    unpaid = make_order(
        buyer["id"], [print_line("s1", photo, seller["id"], fulfilment="self")], status="awaiting_payment"
    )
    ship = {"status": "shipped", "tracking": TRACKING}

    for user in (other, buyer):  # not their item: as if it did not exist
        r = patch(api, user, order_id, "s1", {"status": "in_production"})
        assert r.status_code == 404 and r.data["error"]["code"] == "not_found"
    assert patch(api, seller, order_id, "nope", {"status": "in_production"}).status_code == 404
    assert patch(api, seller, "o-missing", "s1", {"status": "in_production"}).status_code == 404
    assert api.patch(f"/sales/orders/{order_id}/items/s1", {"status": "in_production"}).status_code == 401

    assert patch(api, seller, order_id, "s1", ship).status_code == 409  # skips in_production
    assert patch(api, seller, order_id, "s1", {"status": "delivered"}).status_code == 409
    assert patch(api, seller, order_id, "l1", {"status": "in_production"}).status_code == 409  # the lab's item
    assert patch(api, seller, order_id, "d1", {"status": "in_production"}).status_code == 409  # digital
    r = patch(api, seller, unpaid, "s1", {"status": "in_production"})
    assert r.status_code == 409 and r.data["error"]["code"] == "order_not_paid"

    for body in (
        {"status": "submitted"},
        {"status": "pending"},
        {},
        {"status": "shipped", "tracking": {"carrier": "X"}},
    ):
        r = patch(api, seller, order_id, "s1", body)
        assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", body
    assert lines_of(order_id)["s1"].status == "pending"
