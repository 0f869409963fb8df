"""The adapter's pure parts: Lab-Signature, reading a Prodigi-shaped callback, our print lines as lab products."""

from __future__ import annotations

import json

import pytest

from chalicelib.services.print_lab import (
    BadCallback,
    BadSignature,
    read_callback,
    status_of,
    tracking_of,
    verify_signature,
)
from infrastructure.local.print_lab import sign

NOW = 1_800_000_000


def test_signature_round_trip_with_the_emulators_signer():
    body = b'{"id":"evt_1"}'
    verify_signature(sign("s3cret", body, NOW), body, "s3cret", now=NOW)
    verify_signature(sign("s3cret", body, NOW - 300), body, "s3cret", now=NOW)  # at the edge of the tolerance
    verify_signature(f"{sign('s3cret', body, NOW)},v1=deadbeef", body, "s3cret", now=NOW)  # rotation: any v1


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        sign("other", b'{"id":"evt_1"}', NOW),
        sign("s3cret", b'{"id":"evt_1"}', NOW - 301),
        sign("s3cret", b'{"id":"evt_1"}', NOW + 301),
        sign("s3cret", b'{"id":"evt_2"}', NOW),  # another body
        f"t={NOW}",
        f"t={NOW},t={NOW},v1=00",
        "garbage",
    ],
)
def test_bad_signatures_are_refused(header):
    with pytest.raises(BadSignature):
        verify_signature(header, b'{"id":"evt_1"}', "s3cret", now=NOW)


def test_no_configured_secret_refuses_everything():
    body = b"{}"
    with pytest.raises(BadSignature):
        verify_signature(sign("", body, NOW), body, None, now=NOW)


def order(stage="InProgress", in_production="NotStarted", shipments=()):
    return {
        "id": "ord_1",
        "merchantReference": "o1",
        "status": {"stage": stage, "details": {"inProduction": in_production}},
        "shipments": list(shipments),
        "items": [{"merchantReference": "i1"}, {"merchantReference": "i2"}],
    }


SHIPPED = {"status": "Shipped", "carrier": {"name": "DHL"}, "tracking": {"number": "N1", "url": "https://t/N1"}}


@pytest.mark.parametrize(
    ("lab_order", "status"),
    [
        (order(), "submitted"),
        (order(in_production="InProgress"), "in_production"),
        (order(stage="Complete", in_production="Complete", shipments=[SHIPPED]), "shipped"),
        (order(stage="Complete", shipments=[{**SHIPPED, "status": "Delivered"}]), "delivered"),
        (order(stage="Cancelled"), "failed"),
    ],
)
def test_prodigi_stages_map_to_item_states(lab_order, status):
    assert status_of(lab_order) == status


def test_a_callback_names_the_event_the_time_the_items_and_tracking():
    event = {"id": "evt_9", "type": "t", "time": "2026-12-01T10:00:00Z", "data": {"order": order(shipments=[SHIPPED])}}
    update = read_callback(json.dumps(event).encode())
    assert (update.event_id, update.lab_order_id, update.merchant_reference) == ("evt_9", "ord_1", "o1")
    assert update.item_ids == ("i1", "i2") and update.status == "shipped"
    assert update.at.isoformat() == "2026-12-01T10:00:00+00:00"
    assert (
        update.tracking
        == tracking_of(event["data"]["order"])
        == {"carrier": "DHL", "number": "N1", "url": "https://t/N1"}
    )


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b"not json", b'{"id": "e"}', b'{"id": "e", "time": "x", "data": {"order": {}}}'],
)
def test_what_is_not_a_callback_is_refused(body):
    with pytest.raises(BadCallback):
        read_callback(body)


def test_lab_skus_keep_half_inch_sizes():
    from chalicelib.models.orders import OrderLine
    from chalicelib.services.print_lab import lab_sku

    line = OrderLine(item_id="i", photo_id="p", seller_id="s", sku="x", kind="print", label="x", quantity=1)
    line.unit_price_cents, line.line_total_cents = 100, 100
    line.width_in, line.height_in, line.paper, line.frame = 8.5, 11, "lustre", "none"
    assert lab_sku(line)[0].endswith("-8.5x11")
    line.width_in, line.frame = 8, "black"
    assert lab_sku(line)[0] == "GLOBAL-CFPM-8x11"
