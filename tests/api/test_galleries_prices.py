"""Price sheets (validation, one default, ownership), a client's sheet, GET /photos/{id}/prices and the offer
functions checkout calls."""

from __future__ import annotations

import collections
import threading

import pytest

from tests.api.test_galleries import _digital, assign, invite, private_event, seed_photos


def _print(sku, price, **over):
    block = {"width_in": 8, "height_in": 10, "paper": "lustre", "frame": "none", "fulfilment": "lab", **over}
    return {"sku": sku, "kind": "print", "label": f"Print {sku}", "price_cents": price, "print": block}


def sheet_body(name="Standard", currency="eur", default=False, items=None):
    return {"name": name, "currency": currency, "default": default, "items": items or [_digital("dl", 1500)]}


def create_sheet(api, ph, status=201, **kw):
    r = api.post("/price-sheets", sheet_body(**kw), token=ph["access"])
    assert r.status_code == status, r.body
    return r.data


@pytest.fixture
def studio(make_user):
    return {
        "ph": make_user("studio", role="photographer"),
        "other": make_user("rival", role="photographer"),
        "alice": make_user("alice"),
        "stranger": make_user("stranger"),
    }


# ---- sheets ----------------------------------------------------------------------------------------------------


def test_create_read_list_a_sheet_with_digital_and_print_items(api, studio):
    items = [_digital("dl-large", 1500), _digital("dl-orig", 4000, "original", "commercial"), _print("p8x10", 2500)]
    made = create_sheet(api, studio["ph"], items=items)
    assert made["currency"] == "eur" and made["default"] is False and made["version"] == 1
    assert made["items"][0] == {
        "sku": "dl-large",
        "kind": "digital",
        "label": "Download dl-large",
        "price_cents": 1500,
        "digital": {"variant": "large", "license": "personal"},
        "print": None,
    }
    assert made["items"][2]["print"] == {
        "width_in": 8.0,
        "height_in": 10.0,
        "paper": "lustre",
        "frame": "none",
        "fulfilment": "lab",
    }
    got = api.get(f"/price-sheets/{made['id']}", token=studio["ph"]["access"]).data
    assert got == made
    listed = api.get("/price-sheets", token=studio["ph"]["access"]).data
    assert [s["id"] for s in listed["items"]] == [made["id"]] and listed["next_cursor"] is None


def _bad_items():
    dl = _digital("dl", 100)
    return [
        ({"price_cents": 10.5}, "items.0.price_cents"),
        ({"price_cents": 10.0}, "items.0.price_cents"),
        ({"price_cents": True}, "items.0.price_cents"),
        ({"price_cents": -5}, "items.0.price_cents"),
        ({"price_cents": 0}, "items.0.price_cents"),
        ({"price_cents": 10**12}, "items.0.price_cents"),
        ({"price_cents": "100"}, "items.0.price_cents"),
        ({"kind": "print"}, "items.0.print"),
        ({"kind": "poster"}, "items.0.kind"),
        ({"sku": ""}, "items.0.sku"),
        ({"sku": "has space"}, "items.0.sku"),
        ({"digital": {"variant": "huge", "license": "personal"}}, "items.0.digital.variant"),
        ({"digital": {"variant": "large", "license": "exclusive"}}, "items.0.digital.license"),
        ({"print": _print("x", 1)["print"]}, "items.0.print"),
        ({"label": ""}, "items.0.label"),
        ({"extra": 1}, "items.0.extra"),
    ], dl


@pytest.mark.parametrize("change, field", _bad_items()[0])
def test_bad_items_are_400_with_the_field(api, studio, change, field):
    item = {**_digital("dl", 100), **change}
    r = api.post("/price-sheets", sheet_body(items=[item]), token=studio["ph"]["access"])
    assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", r.body
    assert field in r.data["error"]["details"], r.data["error"]["details"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"currency": "EUR"}, "currency"),
        ({"currency": "xyz"}, "currency"),
        ({"currency": "euro"}, "currency"),
        ({"items": []}, "items"),
        ({"name": ""}, "name"),
        ({"default": "yes"}, "default"),
        ({"items": [_digital("dl", 100), _digital("dl", 200)]}, "items.1.sku"),
        ({"items": [_digital(f"s{i}", 100) for i in range(101)]}, "items"),
        ({"items": [_print("p", 100, width_in=0)]}, "items.0.print.width_in"),
        ({"items": [_print("p", 100, paper="canvas")]}, "items.0.print.paper"),
        ({"items": [_print("p", 100, frame="gold")]}, "items.0.print.frame"),
        ({"items": [_print("p", 100, fulfilment="mail")]}, "items.0.print.fulfilment"),
    ],
)
def test_bad_sheets_are_400_and_nothing_is_written(api, studio, body, field):
    r = api.post("/price-sheets", {**sheet_body(), **body}, token=studio["ph"]["access"])
    assert r.status_code == 400 and field in r.data["error"]["details"], r.body
    assert api.get("/price-sheets", token=studio["ph"]["access"]).data["items"] == []


def test_price_sheets_are_for_photographers_and_their_own(api, studio):
    made = create_sheet(api, studio["ph"])
    assert api.post("/price-sheets", sheet_body(), token=studio["alice"]["access"]).status_code == 403
    assert api.get("/price-sheets", token=studio["alice"]["access"]).status_code == 403
    rival = studio["other"]["access"]
    assert api.get(f"/price-sheets/{made['id']}", token=rival).status_code == 404
    assert api.patch(f"/price-sheets/{made['id']}", {"name": "Mine"}, token=rival).status_code == 404
    assert api.delete(f"/price-sheets/{made['id']}", token=rival).status_code == 404
    assert api.get("/price-sheets", token=rival).data["items"] == []
    assert api.get(f"/price-sheets/{made['id']}", token=studio["ph"]["access"]).data["name"] == "Standard"
    assert api.get("/price-sheets/default", token=studio["ph"]["access"]).status_code == 404


def test_one_default_per_photographer(api, studio):
    first = create_sheet(api, studio["ph"], name="A", default=True)
    second = create_sheet(api, studio["ph"], name="B", default=True)
    token = studio["ph"]["access"]
    assert api.get(f"/price-sheets/{first['id']}", token=token).data["default"] is False
    assert api.get(f"/price-sheets/{second['id']}", token=token).data["default"] is True
    r = api.patch(f"/price-sheets/{first['id']}", {"default": True}, token=token)
    assert r.status_code == 200 and r.data["default"] is True
    assert api.get(f"/price-sheets/{second['id']}", token=token).data["default"] is False
    defaults = [s["id"] for s in api.get("/price-sheets", token=token).data["items"] if s["default"]]
    assert defaults == [first["id"]]
    # another photographer's default is theirs
    third = create_sheet(api, studio["other"], default=True)
    assert api.get(f"/price-sheets/{first['id']}", token=token).data["default"] is True and third["default"]


def test_concurrent_defaults_leave_exactly_one(api, studio):
    from chalicelib.models.galleries import PriceSheetDefault

    token = studio["ph"]["access"]
    sheets = [create_sheet(api, studio["ph"], name=f"S{i}") for i in range(4)]
    results = []

    def make_default(sheet_id):
        results.append(api.patch(f"/price-sheets/{sheet_id}", {"default": True}, token=token).status_code)

    threads = [threading.Thread(target=make_default, args=(s["id"],)) for s in sheets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) <= {200, 409} and 200 in results, results
    marked = [s["id"] for s in api.get("/price-sheets", token=token).data["items"] if s["default"]]
    assert marked == [PriceSheetDefault.get(studio["ph"]["id"]).price_sheet_id]


def test_patch_changes_prices_with_versions_and_clears_the_default(api, studio):
    token = studio["ph"]["access"]
    made = create_sheet(api, studio["ph"], default=True)
    r = api.patch(f"/price-sheets/{made['id']}", {"items": [_digital("dl", 1900)], "version": 1}, token=token)
    assert r.status_code == 200 and r.data["items"][0]["price_cents"] == 1900 and r.data["version"] == 2
    r = api.patch(f"/price-sheets/{made['id']}", {"name": "Old", "version": 1}, token=token)
    assert r.status_code == 409
    r = api.patch(f"/price-sheets/{made['id']}", {"items": [_digital("dl", 1.5)]}, token=token)
    assert r.status_code == 400 and "items.0.price_cents" in r.data["error"]["details"]
    r = api.patch(f"/price-sheets/{made['id']}", {"name": None}, token=token)
    assert r.status_code == 400 and "name" in r.data["error"]["details"]
    r = api.patch(f"/price-sheets/{made['id']}", {"default": False}, token=token)
    assert r.status_code == 200 and r.data["default"] is False
    assert api.get(f"/price-sheets/{made['id']}", token=token).data["items"][0]["price_cents"] == 1900


def test_deleting_the_default_sheet_leaves_no_default(api, studio):
    from chalicelib.models.galleries import PriceSheetDefault

    made = create_sheet(api, studio["ph"], default=True)
    assert api.delete(f"/price-sheets/{made['id']}", token=studio["ph"]["access"]).status_code == 204
    assert api.get(f"/price-sheets/{made['id']}", token=studio["ph"]["access"]).status_code == 404
    assert PriceSheetDefault.count(studio["ph"]["id"]) == 0
    assert api.delete(f"/price-sheets/{made['id']}", token=studio["ph"]["access"]).status_code == 404


# ---- a client's sheet and GET /photos/{id}/prices ----------------------------------------------------------------


def test_prices_follow_the_client_sheet_else_the_default(api, studio):
    ph, alice, token = studio["ph"], studio["alice"], studio["ph"]["access"]
    default = create_sheet(api, ph, name="Public", default=True, items=[_digital("dl", 2000)])
    special = create_sheet(api, ph, name="Alice", currency="usd", items=[_digital("dl", 1000), _print("p", 3000)])
    client = invite(api, ph, "alice@example.com")
    photo = seed_photos(ph["id"], 1)[0]
    assign(api, ph, client["id"], photo_ids=[photo])
    r = api.get(f"/photos/{photo}/prices", token=alice["access"])
    assert r.status_code == 200 and r.data["currency"] == "eur" and r.data["price_sheet_id"] == default["id"]
    r = api.put(f"/clients/{client['id']}/price-sheet", {"price_sheet_id": special["id"]}, token=token)
    assert r.status_code == 200 and r.data["price_sheet_id"] == special["id"]
    r = api.get(f"/photos/{photo}/prices", token=alice["access"])
    assert r.data["currency"] == "usd" and [i["sku"] for i in r.data["items"]] == ["dl", "p"]
    assert r.data["items"][1]["print"]["paper"] == "lustre"
    # null clears it; a deleted client sheet falls back to the default
    assert api.put(f"/clients/{client['id']}/price-sheet", {"price_sheet_id": None}, token=token).status_code == 200
    assert api.get(f"/photos/{photo}/prices", token=alice["access"]).data["price_sheet_id"] == default["id"]
    api.put(f"/clients/{client['id']}/price-sheet", {"price_sheet_id": special["id"]}, token=token)
    api.delete(f"/price-sheets/{special['id']}", token=token)
    assert api.get(f"/photos/{photo}/prices", token=alice["access"]).data["price_sheet_id"] == default["id"]


def test_a_client_sheet_must_be_the_photographers_own(api, studio):
    theirs = create_sheet(api, studio["other"])
    client = invite(api, studio["ph"], "alice@example.com")
    token = studio["ph"]["access"]
    r = api.put(f"/clients/{client['id']}/price-sheet", {"price_sheet_id": theirs["id"]}, token=token)
    assert r.status_code == 404 and "price_sheet_id" in r.data["error"]["details"]
    assert api.get(f"/clients/{client['id']}", token=token).data["price_sheet_id"] is None
    for body in ({}, {"price_sheet_id": 5}, {"price_sheet_id": ""}):
        r = api.put(f"/clients/{client['id']}/price-sheet", body, token=token)
        assert r.status_code == 400 and "price_sheet_id" in r.data["error"]["details"], body


def test_who_may_buy_what(api, studio):
    ph = studio["ph"]
    photo_public = seed_photos(ph["id"], 1)[0]
    from chalicelib.models.photos import Photo

    Photo.get(photo_public).update(actions=[Photo.visibility.set("public")])
    event_id = private_event(api, ph)
    photo_private = seed_photos(ph["id"], 1, event_id=event_id)[0]
    # nothing on sale yet: 404 not_for_sale; the owner: 403
    r = api.get(f"/photos/{photo_public}/prices", token=studio["stranger"]["access"])
    assert r.status_code == 404 and r.data["error"]["code"] == "not_for_sale"
    create_sheet(api, ph, default=True)
    # a non-client who can see the photo buys at the default sheet
    r = api.get(f"/photos/{photo_public}/prices", token=studio["stranger"]["access"])
    assert r.status_code == 200 and r.data["items"][0]["price_cents"] == 1500
    # one they cannot see: 404 like the photo itself
    r = api.get(f"/photos/{photo_private}/prices", token=studio["stranger"]["access"])
    assert r.status_code == 404 and r.data["error"]["code"] == "not_found"
    r = api.get(f"/photos/{photo_public}/prices", token=ph["access"])
    assert r.status_code == 403 and r.data["error"]["code"] == "own_photo"
    assert api.get(f"/photos/{photo_public}/prices").status_code == 401
    assert api.get("/photos/p_nope/prices", token=studio["stranger"]["access"]).status_code == 404


# ---- the functions checkout calls --------------------------------------------------------------------------------


def test_offers_for_a_cart_of_100_photos_is_a_bounded_number_of_reads(api, studio, make_user, counter):
    from chalicelib.models.photos import Photo
    from chalicelib.services import price_sheets
    from chalicelib.services.photos import photos_by_ids

    sellers = [studio["ph"], studio["other"]] + [make_user(f"seller{i}", role="photographer") for i in range(3)]
    ids = []
    for i, seller in enumerate(sellers):
        create_sheet(api, seller, default=True, items=[_digital("dl", 100 + i)])
        ids += seed_photos(seller["id"], 20)
    with Photo.batch_write() as batch:
        for photo in photos_by_ids(ids):
            photo.visibility = "public"
            batch.save(photo)
    client = invite(api, studio["ph"], "alice@example.com")
    special = create_sheet(api, studio["ph"], name="Alice", items=[_digital("dl", 55), _print("p", 900)])
    api.put(f"/clients/{client['id']}/price-sheet", {"price_sheet_id": special["id"]}, token=studio["ph"]["access"])
    photos = photos_by_ids(ids)
    offers, calls = counter.measure(lambda: price_sheets.offers_for(studio["alice"]["id"], photos))
    assert len(offers) == 100
    dynamo = collections.Counter(c for c in calls if c.startswith("dynamodb."))
    assert sum(dynamo.values()) <= 8, dynamo
    mine = offers[ids[0]]
    assert mine.client_id == client["id"] and mine.price_sheet_id == special["id"] and mine.item("dl").price_cents == 55
    theirs = offers[ids[-1]]
    assert theirs.client_id is None and theirs.item("dl").price_cents == 104 and theirs.seller_id == sellers[-1]["id"]
    offer, item = price_sheets.priced_item(studio["alice"]["id"], photos[0], "p")
    assert item.kind == "print" and item.width_in == 8.0 and item.fulfilment == "lab" and offer.currency == "eur"


def test_priced_item_refuses_what_may_not_be_bought(api, studio):
    from chalicelib.errors import ForbiddenError, NotFoundError
    from chalicelib.services import price_sheets
    from chalicelib.services.photos import get_photo

    create_sheet(api, studio["ph"], default=True)
    event_id = private_event(api, studio["ph"])
    hidden = get_photo(seed_photos(studio["ph"]["id"], 1, event_id=event_id)[0])
    with pytest.raises(ForbiddenError):
        price_sheets.priced_item(studio["ph"]["id"], hidden, "dl")
    with pytest.raises(NotFoundError):
        price_sheets.priced_item(studio["alice"]["id"], hidden, "dl")  # cannot see it
    client = invite(api, studio["ph"], "alice@example.com")
    assign(api, studio["ph"], client["id"], photo_ids=[hidden.photo_id])
    assert price_sheets.priced_item(studio["alice"]["id"], hidden, "dl")[1].price_cents == 1500
    with pytest.raises(NotFoundError):
        price_sheets.priced_item(studio["alice"]["id"], hidden, "nope")
    assert price_sheets.offer_for(studio["stranger"]["id"], hidden) is None
