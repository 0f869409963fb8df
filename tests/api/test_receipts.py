"""The buyer's receipt email and the sellers' order_paid notifications, from the order.paid domain event."""

from __future__ import annotations

import os
import re

import pytest

from tests.conftest import sent_emails
from tests.delivery import line, paid_order, photo, publish_paid
from tests.jobs import drain


@pytest.fixture
def web_url(monkeypatch):
    from chalicelib.config import get_settings

    monkeypatch.setenv("LIGHTBOX_WEB_URL", "https://app.lightbox.example/")
    get_settings.cache_clear()
    yield "https://app.lightbox.example"
    os.environ.pop("LIGHTBOX_WEB_URL", None)
    get_settings.cache_clear()


def _receipts(email: str) -> list[dict]:
    return [m for m in sent_emails() if email in m["to"] and "receipt" in m["subject"].lower()]


def _order_paid(api, user) -> list[dict]:
    r = api.get("/notifications", token=user["access"])
    assert r.status_code == 200, r.body
    return [n for n in r.data["items"] if n["type"] == "order_paid"]


@pytest.fixture
def shop(api, make_user):
    ann = make_user("ann", role="photographer")
    bob = make_user("bob", role="photographer")
    buyer = make_user("cleo")
    photos = {"a": photo(api, ann), "b": photo(api, ann), "c": photo(api, bob)}
    return ann, bob, buyer, photos


def test_paid_order_emails_an_itemised_receipt_with_the_order_link_and_notifies_each_seller(api, shop, web_url):
    ann, bob, buyer, photos = shop
    order = paid_order(
        buyer,
        [
            line("i1", photos["a"], ann, title="Sunset", unit_price_cents=1250),
            line("i2", photos["b"], ann, kind="print", variant=None, quantity=2, unit_price_cents=3000),
            line("i3", photos["c"], bob, title="Harbour", variant="large", label="Web size", unit_price_cents=999),
        ],
        tax_cents=1450,
    )
    assert publish_paid(order)
    drain()

    [receipt] = _receipts(buyer["email"])
    text = receipt["text"]
    assert order.order_id in receipt["subject"]
    assert "Sunset - Full resolution, personal licence (by Ann)" in text
    assert "1 x EUR 12.50 = EUR 12.50" in text
    assert "8x10 print, lustre (by Ann)" in text and "2 x EUR 30.00 = EUR 60.00" in text
    assert "Harbour - Web size (by Bob)" in text and "1 x EUR 9.99 = EUR 9.99" in text
    assert "Subtotal: EUR 82.49" in text and "Tax: EUR 14.50" in text and "Total: EUR 96.99" in text
    assert f"{web_url}/orders/{order.order_id}" in text
    # the only link is the order page: never a signed (expiring) file URL
    assert re.findall(r"https?://\S+", text) == [f"{web_url}/orders/{order.order_id}"]
    assert "X-Amz-Signature" not in text and "photos/" not in text

    [for_ann] = _order_paid(api, ann)
    [for_bob] = _order_paid(api, bob)
    assert for_ann["target"] == {"order_id": order.order_id, "items": 2, "amount_cents": 7250, "currency": "eur"}
    assert for_bob["target"]["amount_cents"] == 999 and for_bob["actor"]["id"] == buyer["id"]
    assert _order_paid(api, buyer) == []


def test_replayed_event_and_rerun_job_send_nothing_twice(api, shop, web_url):
    from chalicelib.jobs import registry

    ann, bob, buyer, photos = shop
    order = paid_order(buyer, [line("i1", photos["a"], ann), line("i2", photos["c"], bob)])
    assert publish_paid(order)
    assert not publish_paid(order)  # the same event id: published once
    drain()
    consume = registry.consumer("order.paid", "receipts")
    for _ in range(2):  # a redelivered job (SQS is at least once)
        assert consume({"order_id": order.order_id}, None, 100) is None
    # another event id for the same order (a confirm and a webhook racing in checkout) still sends nothing again
    from chalicelib import jobs

    jobs.publish("order.paid", f"order.paid:{order.order_id}:again", {"order_id": order.order_id})
    drain()
    assert len(_receipts(buyer["email"])) == 1
    assert len(_order_paid(api, ann)) == 1 and len(_order_paid(api, bob)) == 1


def test_a_failed_send_is_retried_by_the_job_and_still_sent_once(api, shop, web_url, monkeypatch):
    from botocore.exceptions import ClientError

    from chalicelib.services import mailer

    ann, _, buyer, photos = shop
    order = paid_order(buyer, [line("i1", photos["a"], ann)])
    real_send, calls = mailer.send, {"n": 0}

    def flaky(to, subject, text):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "SendEmail")
        return real_send(to, subject, text)

    monkeypatch.setattr(mailer, "send", flaky)
    publish_paid(order)
    responses = drain()
    assert any(r["batchItemFailures"] for r in responses), "the first attempt failed and was retried"
    assert calls["n"] == 2
    assert len(_receipts(buyer["email"])) == 1
    assert len(_order_paid(api, ann)) == 1


def test_receipt_link_falls_back_to_the_first_app_origin_and_formats_zero_decimal_currencies(api, shop, monkeypatch):
    from chalicelib.config import get_settings

    monkeypatch.delenv("LIGHTBOX_WEB_URL", raising=False)
    monkeypatch.setenv("LIGHTBOX_APP_ORIGINS", "https://web.example,https://other.example")
    get_settings.cache_clear()
    try:
        ann, _, buyer, photos = shop
        order = paid_order(buyer, [line("i1", photos["a"], ann, unit_price_cents=1200, quantity=3)], currency="jpy")
        publish_paid(order)
        drain()
        [receipt] = _receipts(buyer["email"])
        assert f"https://web.example/orders/{order.order_id}" in receipt["text"]
        assert "3 x JPY 1,200 = JPY 3,600" in receipt["text"]
    finally:
        monkeypatch.delenv("LIGHTBOX_APP_ORIGINS")
        get_settings.cache_clear()


def test_an_unpaid_order_gets_no_receipt(api, shop):
    ann, _, buyer, photos = shop
    order = paid_order(buyer, [line("i1", photos["a"], ann)], paid=False)
    publish_paid_unpaid = {"order_id": order.order_id}
    from chalicelib import jobs

    jobs.publish("order.paid", f"order.paid:{order.order_id}", publish_paid_unpaid)
    drain()
    assert _receipts(buyer["email"]) == []
    assert _order_paid(api, ann) == []
