"""GET /orders/{order_id}/items/{item_id}/download: counted downloads of paid digital items (302 to a fresh S3 URL),
by bearer token or by the signed link the order view hands out."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from tests.delivery import line, paid_order, photo, refund_items
from tests.pipeline import fetch


def counts(order_id: str) -> dict[str, int]:
    from chalicelib.services.downloads import download_counts

    return download_counts(order_id)


def link(order, item_id: str) -> str:
    from chalicelib.services.downloads import download_link

    return download_link(order, order.line(item_id))


@pytest.fixture
def shop(api, make_user):
    ann = make_user("ann", role="photographer")
    buyer = make_user("cleo")
    photos = {k: photo(api, ann) for k in "abc"}
    order = paid_order(
        buyer,
        [
            line("i1", photos["a"], ann, variant="original"),
            line("i2", photos["b"], ann, variant="large"),
            line("i3", photos["c"], ann, kind="print", variant=None),
        ],
    )
    return ann, buyer, photos, order


def test_each_fetch_is_counted_and_redirects_to_the_clean_file(api, shop):
    from chalicelib import aws
    from chalicelib.config import get_settings

    _, buyer, photos, order = shop
    path = f"/orders/{order.order_id}/items/i1/download"
    r = api.get(path, token=buyer["access"])
    assert r.status_code == 302, r.body
    assert r.headers["Cache-Control"] == "no-store"
    location = r.headers["Location"]
    assert "X-Amz-Expires=300" in location
    bucket = get_settings().media_bucket
    original = aws.client("s3").get_object(Bucket=bucket, Key=f"photos/{photos['a']}/original")["Body"].read()
    watermarked = aws.client("s3").get_object(Bucket=bucket, Key=f"photos/{photos['a']}/watermarked")["Body"].read()
    data = fetch(location)
    assert data == original and data != watermarked
    assert api.get(path, token=buyer["access"]).status_code == 302
    assert api.get(f"/orders/{order.order_id}/items/i2/download", token=buyer["access"]).status_code == 302
    assert counts(order.order_id) == {"i1": 2, "i2": 1}


def test_the_signed_link_works_without_a_token_and_only_as_signed(api, shop, make_user):
    _, buyer, _, order = shop
    url = link(order, "i2")
    parsed = urlparse(url)
    assert parsed.path == f"/orders/{order.order_id}/items/i2/download"
    r = api.get(f"{parsed.path}?{parsed.query}")  # a browser following the link: no Authorization header
    assert r.status_code == 302 and "large" in urlparse(r.headers["Location"]).path
    query = parse_qs(parsed.query)
    for bad in (
        f"exp={query['exp'][0]}&sig={'0' * 64}",  # forged
        f"exp={int(query['exp'][0]) + 60}&sig={query['sig'][0]}",  # extended
        f"exp={query['exp'][0]}",  # unsigned
        f"exp={query['exp'][0]}&sig=%C3%A9",  # non-ASCII: hmac.compare_digest would raise on it
        f"exp={query['exp'][0]}&sig={query['sig'][0][:-1]}%C3%A9",
    ):
        r = api.get(f"{parsed.path}?{bad}")
        assert r.status_code == 404 and r.data["error"]["code"] == "not_found", bad
    other = parse_qs(urlparse(link(order, "i1")).query)
    r = api.get(f"/orders/{order.order_id}/items/i2/download?exp={other['exp'][0]}&sig={other['sig'][0]}")
    assert r.status_code == 404, "a link of another item"
    r = api.get("/orders/x/items/y/download?exp=1&sig=%C3%A9")
    assert r.status_code == 404, r.body
    r = api.get(f"{parsed.path}?exp=abc&sig=x")
    assert r.status_code == 400 and r.data["error"]["code"] == "validation_error"
    assert counts(order.order_id) == {"i2": 1}


def test_an_expired_link_is_410(api, shop, monkeypatch):
    from chalicelib.services import downloads

    _, _, _, order = shop
    monkeypatch.setattr(downloads, "epoch", lambda: 1_000_000)
    url = urlparse(link(order, "i1"))
    monkeypatch.setattr(downloads, "epoch", lambda: 1_000_000 + 301)
    r = api.get(f"{url.path}?{url.query}")
    assert r.status_code == 410 and r.data["error"]["code"] == "link_expired"
    assert counts(order.order_id) == {}


def test_only_the_buyer_and_only_what_is_paid_and_not_refunded(api, shop, make_user):
    from chalicelib.models.delivery import get_order
    from chalicelib.models.orders import Order

    ann, buyer, photos, order = shop
    base = f"/orders/{order.order_id}/items"
    for who in (ann, make_user("dora")):
        assert api.get(f"{base}/i1/download", token=who["access"]).status_code == 404
    assert api.get(f"{base}/i3/download", token=buyer["access"]).status_code == 404  # a print has no file
    assert api.get(f"{base}/nope/download", token=buyer["access"]).status_code == 404
    assert api.get("/orders/o_missing/items/i1/download", token=buyer["access"]).status_code == 404
    unpaid = paid_order(buyer, [line("i1", photos["a"], ann)], paid=False)
    r = api.get(f"/orders/{unpaid.order_id}/items/i1/download", token=buyer["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "not_paid"
    get_order(order.order_id).update(actions=[Order.status.set("disputed"), Order.dispute_status.set("open")])
    r = api.get(f"{base}/i1/download", token=buyer["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "suspended"
    get_order(order.order_id).update(actions=[Order.status.set("paid"), Order.dispute_status.set("won")])
    refund_items(order, ["i1"])
    r = api.get(f"{base}/i1/download", token=buyer["access"])
    assert r.status_code == 410 and r.data["error"]["code"] == "refunded"
    url = urlparse(link(order, "i1"))  # a link handed out before the refund stops too
    assert api.get(f"{url.path}?{url.query}").status_code == 410
    assert api.get(f"{base}/i2/download", token=buyer["access"]).status_code == 302
    assert counts(order.order_id) == {"i2": 1}
