"""POST /orders/{order_id}/archive: one zip of every paid, not refunded digital item, built by a job and streamed
S3 -> S3 through a multipart upload; the order shows it when ready."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from tests.delivery import line, paid_order, photo, refund_items
from tests.jobs import drain, queued
from tests.pipeline import fetch


def media(key: str) -> bytes:
    from chalicelib import aws
    from chalicelib.config import get_settings

    return aws.client("s3").get_object(Bucket=get_settings().media_bucket, Key=key)["Body"].read()


def put_media(key: str, data: bytes) -> None:
    from chalicelib import aws
    from chalicelib.config import get_settings

    aws.client("s3").put_object(Bucket=get_settings().media_bucket, Key=key, Body=data)


def view(order_id: str):
    from chalicelib.models.delivery import get_order
    from chalicelib.services.archives import archive_view

    return archive_view(get_order(order_id))


def request(api, user, order_id):
    return api.post(f"/orders/{order_id}/archive", token=user["access"])


@pytest.fixture
def shop(api, make_user):
    ann = make_user("ann", role="photographer")
    bob = make_user("bob", role="photographer")
    buyer = make_user("cleo")
    photos = {k: photo(api, ann if k != "c" else bob) for k in "abcd"}
    return ann, bob, buyer, photos


@pytest.fixture
def order(shop):
    ann, bob, buyer, photos = shop
    return paid_order(
        buyer,
        [
            line("i1", photos["a"], ann, title="Sunset", variant="original"),
            line("i2", photos["b"], ann, title="Sunset", variant="large"),  # same title: a unique name
            line("i3", photos["c"], bob, title="../../etc/passwd", variant="original"),
            line("i4", photos["d"], ann, kind="print", variant=None),  # prints are not in the zip
        ],
    )


def test_archive_is_built_in_the_background_and_holds_every_paid_digital_item(api, shop, order):
    _, _, buyer, photos = shop
    r = request(api, buyer, order.order_id)
    assert r.status_code == 202, r.body
    assert r.data["id"] == order.order_id and r.data["archive"] == {"status": "building"}
    assert [j["type"] for j in queued()] == ["order.archive_requested"]
    drain()
    shown = view(order.order_id)
    assert shown["status"] == "ready" and "X-Amz-Signature" in shown["url"] and "X-Amz-Expires=900" in shown["url"]
    data = fetch(shown["url"])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["Sunset.jpg", "Sunset (2).jpg", "etc_passwd.jpg"]
        assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}
        assert archive.testzip() is None
        assert archive.read("Sunset.jpg") == media(f"photos/{photos['a']}/original")
        assert archive.read("Sunset (2).jpg") == media(f"photos/{photos['b']}/large")
        assert archive.read("etc_passwd.jpg") == media(f"photos/{photos['c']}/original")
        assert archive.read("Sunset.jpg") != media(f"photos/{photos['a']}/watermarked")


def test_asking_again_for_the_same_items_is_a_no_op_and_a_refund_makes_a_new_archive(api, shop, order):
    from chalicelib.models.delivery import get_order

    _, _, buyer, _ = shop
    assert request(api, buyer, order.order_id).status_code == 202
    r = request(api, buyer, order.order_id)  # while building
    assert r.status_code == 202 and r.data["archive"] == {"status": "building"}
    assert len(queued()) == 1, "one build"
    drain()
    r = request(api, buyer, order.order_id)  # when ready
    assert r.status_code == 202 and r.data["archive"]["status"] == "ready"
    assert queued() == []
    first_key = get_order(order.order_id).archive_key

    refund_items(order, ["i1"])
    assert view(order.order_id) is None, "the old zip holds a refunded item: no longer shown"
    r = request(api, buyer, order.order_id)
    assert r.status_code == 202 and r.data["archive"] == {"status": "building"}
    drain()
    shown = view(order.order_id)
    assert shown["status"] == "ready" and get_order(order.order_id).archive_key != first_key
    with zipfile.ZipFile(io.BytesIO(fetch(shown["url"]))) as archive:
        assert archive.namelist() == ["Sunset.jpg", "etc_passwd.jpg"]  # i2 keeps the title, now alone


def test_who_may_ask_and_when(api, shop, order, make_user):
    from chalicelib.models.delivery import get_order
    from chalicelib.models.orders import Order

    ann, bob, buyer, photos = shop
    for who in (ann, bob, make_user("dora")):
        r = request(api, who, order.order_id)
        assert r.status_code == 404 and r.data["error"]["code"] == "not_found"
    assert request(api, buyer, "o_missing").status_code == 404
    assert api.post(f"/orders/{order.order_id}/archive").status_code == 401
    unpaid = paid_order(buyer, [line("i1", photos["a"], ann)], paid=False)
    r = request(api, buyer, unpaid.order_id)
    assert r.status_code == 409 and r.data["error"]["code"] == "not_paid"
    prints = paid_order(buyer, [line("i1", photos["d"], ann, kind="print", variant=None)])
    r = request(api, buyer, prints.order_id)
    assert r.status_code == 409 and r.data["error"]["code"] == "nothing_to_archive"
    everything_refunded = refund_items(paid_order(buyer, [line("i1", photos["a"], ann)]), ["i1"])
    assert request(api, buyer, everything_refunded.order_id).status_code == 409
    disputed = get_order(order.order_id)
    disputed.update(actions=[Order.status.set("disputed"), Order.dispute_status.set("open")])
    r = request(api, buyer, order.order_id)
    assert r.status_code == 409 and r.data["error"]["code"] == "nothing_to_archive"
    assert queued() == []


def test_a_ready_archive_hides_while_a_dispute_is_open(api, shop, order):
    from chalicelib.models.delivery import get_order
    from chalicelib.models.orders import Order

    _, _, buyer, _ = shop
    request(api, buyer, order.order_id)
    drain()
    assert view(order.order_id)["status"] == "ready"
    get_order(order.order_id).update(actions=[Order.status.set("disputed"), Order.dispute_status.set("open")])
    assert view(order.order_id) is None
    get_order(order.order_id).update(actions=[Order.status.set("paid"), Order.dispute_status.set("won")])
    assert view(order.order_id)["status"] == "ready"  # won: the same zip again


def test_the_job_is_idempotent_and_a_superseded_job_does_nothing(api, shop, order):
    from chalicelib import aws
    from chalicelib.config import get_settings
    from chalicelib.jobs import registry
    from chalicelib.models.delivery import get_order

    _, _, buyer, _ = shop
    request(api, buyer, order.order_id)
    [job] = queued()
    drain()
    o = get_order(order.order_id)
    payload = {"order_id": order.order_id, "fingerprint": o.archive_items}
    consume = registry.consumer("order.archive_requested", "archives")
    before = media(o.archive_key)
    # a redelivery after the build: nothing new; a rerun of a half-done build overwrites the same key
    assert consume(payload, None, 100) is None
    o.update(actions=[type(o).archive_status.set("building")])
    assert consume(payload, None, 100) is None
    again = get_order(order.order_id)
    assert again.archive_status == "ready" and again.archive_key == o.archive_key
    assert len(media(o.archive_key)) == len(before)
    listed = aws.client("s3").list_objects_v2(Bucket=get_settings().media_bucket, Prefix="archives/")
    assert [obj["Key"] for obj in listed["Contents"]] == [o.archive_key]
    # a job for an item set the order no longer wants (a refund came first) builds nothing
    assert consume({"order_id": order.order_id, "fingerprint": "0" * 32}, None, 100) is None
    assert get_order(order.order_id).archive_key == o.archive_key
    assert job["type"] == "order.archive_requested"


@pytest.fixture
def small_parts(monkeypatch):
    from chalicelib.config import get_settings

    monkeypatch.setenv("LIGHTBOX_ARCHIVE_PART_BYTES", str(5 * 1024 * 1024))
    get_settings.cache_clear()
    yield
    os.environ.pop("LIGHTBOX_ARCHIVE_PART_BYTES", None)
    get_settings.cache_clear()


def test_big_files_stream_through_a_multipart_upload(api, shop, small_parts):
    from chalicelib import aws
    from chalicelib.config import get_settings
    from chalicelib.models.delivery import get_order

    ann, _, buyer, photos = shop
    big = {k: os.urandom(4 * 1024 * 1024 + 123) for k in "ab"}
    for k, data in big.items():
        put_media(f"photos/{photos[k]}/original", data)
    order = paid_order(buyer, [line("i1", photos["a"], ann, title="One"), line("i2", photos["b"], ann, title="Two")])
    request(api, buyer, order.order_id)
    drain()
    key = get_order(order.order_id).archive_key
    head = aws.client("s3").head_object(Bucket=get_settings().media_bucket, Key=key)
    assert head["ETag"].strip('"').endswith("-2"), head["ETag"]  # two parts: 5 MiB and the rest
    assert head["ContentType"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(media(key))) as archive:
        assert archive.read("One.jpg") == big["a"] and archive.read("Two.jpg") == big["b"]


def test_a_failed_build_leaves_no_half_upload_and_is_retried(api, shop, order, small_parts, monkeypatch):
    from chalicelib import aws
    from chalicelib.config import get_settings
    from chalicelib.services import archives

    _, _, buyer, photos = shop
    put_media(f"photos/{photos['a']}/original", os.urandom(6 * 1024 * 1024))  # the first file fills a part
    real, calls = archives._chunks, {"n": 0}

    def flaky(bucket, key):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("S3 went away")
        return real(bucket, key)

    monkeypatch.setattr(archives, "_chunks", flaky)
    request(api, buyer, order.order_id)
    responses = drain()
    assert any(r["batchItemFailures"] for r in responses)
    uploads = aws.client("s3").list_multipart_uploads(Bucket=get_settings().media_bucket)
    assert not uploads.get("Uploads"), "the failed attempt's multipart upload was aborted"
    assert view(order.order_id)["status"] == "ready"


def test_an_expired_zip_or_a_build_that_died_can_be_asked_for_again(api, shop, order):
    from datetime import timedelta

    from chalicelib.models.base import now
    from chalicelib.models.delivery import get_order
    from chalicelib.models.orders import Order

    _, _, buyer, _ = shop
    request(api, buyer, order.order_id)
    get_order(order.order_id).update(actions=[Order.archive_at.set(now() - timedelta(minutes=61))])
    assert view(order.order_id) is None, "a build that never finished is not shown forever"
    queued_before = len(queued())
    assert request(api, buyer, order.order_id).data["archive"] == {"status": "building"}
    assert len(queued()) == queued_before + 1
    drain()
    assert view(order.order_id)["status"] == "ready"
    # S3 expires archives/ after 7 days (lifecycle rule); the order stops showing the zip a day before
    get_order(order.order_id).update(actions=[Order.archive_at.set(now() - timedelta(days=6, minutes=1))])
    assert view(order.order_id) is None
    assert request(api, buyer, order.order_id).data["archive"] == {"status": "building"}
    drain()
    assert view(order.order_id)["status"] == "ready"
