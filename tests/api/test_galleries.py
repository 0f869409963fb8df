"""Client galleries: invitations and activation, assignment, the gallery, removal, stats, account deletion."""

from __future__ import annotations

import collections
import secrets
import time

import pytest

from tests.conftest import PASSWORD, last_code, sent_emails
from tests.jobs import drain

_seq = {"n": 0}


def seed_photos(owner_id: str, n: int, *, event_id: str | None = None, status: str = "ready") -> list[str]:
    """``n`` photos written straight into the table as the processor leaves them, ids increasing (newest last)."""
    from chalicelib.models.photos import Photo

    base = int(time.time() * 1000)
    ids = []
    with Photo.batch_write() as batch:
        for _ in range(n):
            _seq["n"] += 1
            photo_id = f"p_{base + _seq['n']:011x}{secrets.token_hex(6)}"
            batch.save(
                Photo(
                    photo_id=photo_id,
                    owner_id=owner_id,
                    event_id=event_id,
                    status=status,
                    visibility="private" if event_id is None else "public",
                    content_type="image/jpeg",
                    declared_size=100,
                    upload_key=f"uploads/{photo_id}",
                    variant_keys=["thumb", "medium", "large", "watermarked", "original"],
                )
            )
            ids.append(photo_id)
    return ids


def private_event(api, owner) -> str:
    r = api.post("/events", {"name": "Wedding", "visibility": "private"}, token=owner["access"])
    assert r.status_code == 201, r.body
    return r.data["id"]


@pytest.fixture
def studio(make_user):
    """A photographer, a second photographer, a verified member (a future client) and a stranger."""
    return {
        "ph": make_user("studio", role="photographer"),
        "other": make_user("rival", role="photographer"),
        "alice": make_user("alice"),
        "stranger": make_user("stranger"),
    }


def invite(api, ph, email, name=None, status=201):
    body = {"email": email} if name is None else {"email": email, "name": name}
    r = api.post("/clients", body, token=ph["access"])
    assert r.status_code == status, r.body
    return r.data


def assign(api, ph, client_id, status=200, **body):
    r = api.put(f"/clients/{client_id}/photos", body, token=ph["access"])
    assert r.status_code == status, r.body
    return r.data


def gallery_ids(api, user, limit=100):
    r = api.get(f"/gallery?limit={limit}", token=user["access"])
    assert r.status_code == 200, r.body
    return [p["id"] for p in r.data["items"]]


# ---- invitations -----------------------------------------------------------------------------------------------


def test_inviting_an_existing_verified_account_makes_an_active_client_and_emails_them(api, studio):
    client = invite(api, studio["ph"], "ALICE@Example.com", "Alice A.")
    assert client["status"] == "active" and client["email"] == "alice@example.com" and client["name"] == "Alice A."
    assert client["user"]["id"] == studio["alice"]["id"] and "email" not in client["user"]
    assert client["orders_count"] == 0 and client["total_spent_cents"] == 0
    mail = [m for m in sent_emails() if "alice@example.com" in m["to"]][-1]
    assert "gallery" in mail["subject"] and "Studio" in mail["text"]


def test_an_invitation_becomes_active_when_that_email_is_verified(api, studio):
    client = invite(api, studio["ph"], "newbie@example.com")
    assert client["status"] == "invited" and client.get("user") is None
    r = api.post("/auth/signup", {"email": "newbie@example.com", "username": "newbie", "password": PASSWORD})
    assert r.status_code == 201
    again = api.get(f"/clients/{client['id']}", token=studio["ph"]["access"]).data
    assert again["status"] == "invited"  # not verified yet
    code = last_code("newbie@example.com")
    assert api.post("/auth/verify-email", {"email": "newbie@example.com", "code": code}).status_code == 200
    again = api.get(f"/clients/{client['id']}", token=studio["ph"]["access"]).data
    assert again["status"] == "active" and again["user"]["username"] == "newbie"


def test_the_same_email_twice_is_409_and_nothing_is_duplicated(api, studio):
    first = invite(api, studio["ph"], "bob@example.com")
    r = api.post("/clients", {"email": "Bob@example.com"}, token=studio["ph"]["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "client_exists"
    assert r.data["error"]["details"]["client_id"] == first["id"]
    listed = api.get("/clients", token=studio["ph"]["access"]).data["items"]
    assert [c["id"] for c in listed] == [first["id"]]
    # another photographer may have the same person as a client
    assert invite(api, studio["other"], "bob@example.com")["id"] != first["id"]


def test_concurrent_invitations_of_one_email_make_one_client(api, studio):
    import threading

    statuses = []

    def go():
        statuses.append(api.post("/clients", {"email": "race@example.com"}, token=studio["ph"]["access"]).status_code)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 409, 409, 409]
    assert len(api.get("/clients", token=studio["ph"]["access"]).data["items"]) == 1


def test_a_retried_invitation_with_its_idempotency_key_replays_the_first_answer(api, studio):
    headers = {"Idempotency-Key": "invite-1"}
    first = api.post("/clients", {"email": "retry@example.com"}, token=studio["ph"]["access"], headers=headers)
    again = api.post("/clients", {"email": "retry@example.com"}, token=studio["ph"]["access"], headers=headers)
    assert first.status_code == again.status_code == 201 and first.data == again.data
    assert len([m for m in sent_emails() if "retry@example.com" in m["to"]]) == 1


def test_a_verified_email_change_activates_the_invitation(api, studio):
    client = invite(api, studio["ph"], "stranger.new@example.com")
    token = studio["stranger"]["access"]
    r = api.post("/auth/email/change", {"password": PASSWORD, "new_email": "stranger.new@example.com"}, token=token)
    assert r.status_code in (200, 202, 204), r.body
    code = last_code("stranger.new@example.com")
    assert api.post("/auth/email/verify", {"code": code}, token=token).status_code == 200
    got = api.get(f"/clients/{client['id']}", token=studio["ph"]["access"]).data
    assert got["status"] == "active" and got["user"]["id"] == studio["stranger"]["id"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": 42}, "email"),
        ({"email": "x@example.com", "name": ""}, "name"),
        ({"email": "x@example.com", "name": "a" * 121}, "name"),
        ({"email": "x@example.com", "role": "admin"}, "role"),
    ],
)
def test_bad_invitations_are_400_with_the_field(api, studio, body, field):
    r = api.post("/clients", body, token=studio["ph"]["access"])
    assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", r.body
    assert field in r.data["error"]["details"]


def test_only_photographers_have_clients_and_not_themselves(api, studio):
    for method, path in [
        ("POST", "/clients"),
        ("GET", "/clients"),
        ("GET", "/clients/c_x"),
        ("DELETE", "/clients/c_x"),
    ]:
        r = api.call(
            method, path, {"email": "y@example.com"} if method == "POST" else None, token=studio["alice"]["access"]
        )
        assert r.status_code == 403, (method, path, r.body)
    assert api.get("/clients").status_code == 401
    r = api.post("/clients", {"email": "studio@example.com"}, token=studio["ph"]["access"])
    assert r.status_code == 400 and "email" in r.data["error"]["details"]


def test_another_photographers_client_is_not_found(api, studio):
    client = invite(api, studio["ph"], "alice@example.com")
    for call in (
        lambda: api.get(f"/clients/{client['id']}", token=studio["other"]["access"]),
        lambda: api.delete(f"/clients/{client['id']}", token=studio["other"]["access"]),
        lambda: api.put(f"/clients/{client['id']}/photos", {"photo_ids": ["p_1"]}, token=studio["other"]["access"]),
        lambda: api.put(
            f"/clients/{client['id']}/price-sheet", {"price_sheet_id": None}, token=studio["other"]["access"]
        ),
    ):
        assert call().status_code == 404
    assert api.get(f"/clients/{client['id']}", token=studio["ph"]["access"]).status_code == 200


def test_clients_page_with_signed_cursors(api, studio, make_user):
    emails = [f"c{i}@example.com" for i in range(5)]
    made = [invite(api, studio["ph"], e)["id"] for e in emails]
    seen, cursor = [], None
    while True:
        r = api.get("/clients?limit=2" + (f"&cursor={cursor}" if cursor else ""), token=studio["ph"]["access"])
        assert r.status_code == 200
        seen += [c["id"] for c in r.data["items"]]
        cursor = r.data["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(made))  # newest first
    first = api.get("/clients?limit=2", token=studio["ph"]["access"]).data["next_cursor"]
    assert api.get(f"/clients?cursor={first}x", token=studio["ph"]["access"]).status_code == 400
    r = api.get(f"/clients?cursor={first}", token=studio["other"]["access"])  # another photographer's listing
    assert r.status_code == 400 and r.data["error"]["code"] == "invalid_cursor"
    assert api.get("/clients?limit=101", token=studio["ph"]["access"]).status_code == 400


# ---- assignment and the gallery --------------------------------------------------------------------------------


def test_assigned_photos_show_in_the_gallery_newest_first_watermarked_with_photographer(api, studio):
    client = invite(api, studio["ph"], "alice@example.com")
    photos = seed_photos(studio["ph"]["id"], 3)
    assert assign(api, studio["ph"], client["id"], photo_ids=photos) == {"assigned": 3, "queued": False}
    r = api.get("/gallery", token=studio["alice"]["access"])
    assert r.status_code == 200 and r.data["next_cursor"] is None
    items = r.data["items"]
    assert [p["id"] for p in items] == list(reversed(photos))
    for p in items:
        assert set(p["urls"]) == {"thumb", "watermarked"}
        assert p["photographer"]["id"] == studio["ph"]["id"] and p["photographer"]["username"] == "studio"
        assert p["purchased"] == [] and p["owner"]["id"] == studio["ph"]["id"]
    # exactly as GET /photos/{id} renders it (but for the tagged users and signed URLs' signatures)
    one = api.get(f"/photos/{photos[0]}", token=studio["alice"]["access"]).data
    mine = next(p for p in items if p["id"] == photos[0])
    for key in set(one) - {"urls", "user_tags", "user_tag_count"}:
        assert one[key] == mine[key], key
    assert set(one["urls"]) == {"thumb", "watermarked"}
    # nobody else sees them; the stranger's gallery is empty
    assert api.get(f"/photos/{photos[0]}", token=studio["stranger"]["access"]).status_code == 404
    assert gallery_ids(api, studio["stranger"]) == []


def test_gallery_pages_and_its_cursor_is_the_callers_own(api, studio):
    client = invite(api, studio["ph"], "alice@example.com")
    photos = seed_photos(studio["ph"]["id"], 5)
    assign(api, studio["ph"], client["id"], photo_ids=photos)
    seen, cursor = [], None
    while True:
        r = api.get("/gallery?limit=2" + (f"&cursor={cursor}" if cursor else ""), token=studio["alice"]["access"])
        seen += [p["id"] for p in r.data["items"]]
        cursor = r.data["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(photos))
    first = api.get("/gallery?limit=2", token=studio["alice"]["access"]).data["next_cursor"]
    r = api.get(f"/gallery?limit=2&cursor={first}", token=studio["stranger"]["access"])
    assert r.status_code == 400 and r.data["error"]["code"] == "invalid_cursor"


def test_only_own_photos_can_be_assigned_and_nothing_is_written_otherwise(api, studio):
    client = invite(api, studio["ph"], "alice@example.com")
    mine = seed_photos(studio["ph"]["id"], 2)
    theirs = seed_photos(studio["other"]["id"], 1)
    rejected = seed_photos(studio["ph"]["id"], 1, status="rejected")
    for bad in (theirs, ["p_doesnotexist"], rejected):
        r = api.put(f"/clients/{client['id']}/photos", {"photo_ids": mine + bad}, token=studio["ph"]["access"])
        assert r.status_code == 404 and bad[0] in r.data["error"]["details"]["photo_ids"], r.body
    assert gallery_ids(api, studio["alice"]) == []
    other_event = private_event(api, studio["other"])
    r = api.put(f"/clients/{client['id']}/photos", {"event_id": other_event}, token=studio["ph"]["access"])
    assert r.status_code == 404 and "event_id" in r.data["error"]["details"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "photo_ids"),
        ({"photo_ids": []}, "photo_ids"),
        ({"photo_ids": [f"p_{i}" for i in range(101)]}, "photo_ids"),
        ({"photo_ids": "p_1"}, "photo_ids"),
        ({"photo_ids": [1]}, "photo_ids.0"),
        ({"photo_ids": ["p_1"], "event_id": "e_1"}, "photo_ids"),
        ({"event_id": 5}, "event_id"),
    ],
)
def test_bad_assignments_are_400(api, studio, body, field):
    client = invite(api, studio["ph"], "alice@example.com")
    r = api.put(f"/clients/{client['id']}/photos", body, token=studio["ph"]["access"])
    assert r.status_code == 400 and field in r.data["error"]["details"], r.body


def test_a_client_sees_only_the_assigned_photos_of_a_private_event(api, studio):
    event_id = private_event(api, studio["ph"])
    photos = seed_photos(studio["ph"]["id"], 4, event_id=event_id)
    client = invite(api, studio["ph"], "alice@example.com")
    assign(api, studio["ph"], client["id"], photo_ids=photos[:2])
    r = api.get(f"/events/{event_id}/photos", token=studio["alice"]["access"])
    assert r.status_code == 200 and sorted(p["id"] for p in r.data["items"]) == sorted(photos[:2])
    assert all(set(p["urls"]) == {"thumb", "watermarked"} for p in r.data["items"])
    assert api.get(f"/photos/{photos[3]}", token=studio["alice"]["access"]).status_code == 404
    assert api.get(f"/events/{event_id}/photos", token=studio["stranger"]["access"]).status_code == 404


def test_a_whole_event_small_is_assigned_inline(api, studio):
    event_id = private_event(api, studio["ph"])
    photos = seed_photos(studio["ph"]["id"], 3, event_id=event_id)
    seed_photos(studio["other"]["id"], 1, event_id=event_id)  # a contributor's photo is not the studio's to give
    seed_photos(studio["ph"]["id"], 1, event_id=event_id, status="pending_upload")
    client = invite(api, studio["ph"], "alice@example.com")
    assert assign(api, studio["ph"], client["id"], event_id=event_id) == {"assigned": 3, "queued": False}
    assert sorted(gallery_ids(api, studio["alice"])) == sorted(photos)


def test_a_large_event_assigns_a_page_now_and_the_rest_in_a_job(api, studio, monkeypatch, tuned):
    from chalicelib.services import clients

    monkeypatch.setattr(clients, "MAX_ASSIGN", 3)
    tuned(chunk=2)
    event_id = private_event(api, studio["ph"])
    photos = seed_photos(studio["ph"]["id"], 8, event_id=event_id)
    client = invite(api, studio["ph"], "alice@example.com")
    assert assign(api, studio["ph"], client["id"], event_id=event_id) == {"assigned": 3, "queued": True}
    assert len(gallery_ids(api, studio["alice"])) == 3  # truthful: what was answered is what is there
    drain()
    assert sorted(gallery_ids(api, studio["alice"])) == sorted(photos)


def test_photos_assigned_while_invited_reach_the_account_once_it_is_verified(api, studio, make_user):
    client = invite(api, studio["ph"], "later@example.com")
    photos = seed_photos(studio["ph"]["id"], 2)
    assert assign(api, studio["ph"], client["id"], photo_ids=photos)["assigned"] == 2
    later = make_user("later")
    drain()  # client.activated moves the rows to the account
    assert sorted(gallery_ids(api, later)) == sorted(photos)
    assert api.get(f"/photos/{photos[0]}", token=later["access"]).status_code == 200
    # unassigning works on the moved rows
    assert api.delete(f"/clients/{client['id']}/photos/{photos[0]}", token=studio["ph"]["access"]).status_code == 204
    assert gallery_ids(api, later) == [photos[1]]


def test_unassign_ends_access(api, studio):
    client = invite(api, studio["ph"], "alice@example.com")
    photos = seed_photos(studio["ph"]["id"], 2)
    assign(api, studio["ph"], client["id"], photo_ids=photos)
    assert api.delete(f"/clients/{client['id']}/photos/{photos[0]}", token=studio["ph"]["access"]).status_code == 204
    assert gallery_ids(api, studio["alice"]) == [photos[1]]
    assert api.get(f"/photos/{photos[0]}", token=studio["alice"]["access"]).status_code == 404
    r = api.delete(f"/clients/{client['id']}/photos/{photos[0]}", token=studio["ph"]["access"])
    assert r.status_code == 404
    assert api.delete(f"/clients/{client['id']}/photos/{'x' * 200}", token=studio["ph"]["access"]).status_code == 404


def test_deleting_a_client_ends_access_but_purchases_stay(api, studio, monkeypatch):
    from chalicelib.models.orders import Purchase
    from chalicelib.services import clients

    monkeypatch.setattr(clients, "INLINE_REMOVALS", 2)  # the rest goes in the client.deleted job
    client = invite(api, studio["ph"], "alice@example.com")
    photos = seed_photos(studio["ph"]["id"], 5)
    assign(api, studio["ph"], client["id"], photo_ids=photos)
    Purchase(
        buyer_id=studio["alice"]["id"],
        photo_id=photos[0],
        items={"o_1:i_1": {"sku": "dl-large", "variant": "large", "state": "active"}},
    ).save()
    assert gallery_ids(api, studio["alice"])[-1] == photos[0]
    assert api.get("/gallery", token=studio["alice"]["access"]).data["items"][-1]["purchased"] == ["dl-large"]
    assert api.delete(f"/clients/{client['id']}", token=studio["ph"]["access"]).status_code == 204
    assert api.get(f"/clients/{client['id']}", token=studio["ph"]["access"]).status_code == 404
    drain()
    assert gallery_ids(api, studio["alice"]) == []
    assert all(api.get(f"/photos/{p}", token=studio["alice"]["access"]).status_code == 404 for p in photos)
    assert Purchase.get(studio["alice"]["id"], photos[0]).items  # what was bought stays bought
    # the email may be invited again, as a new client
    assert invite(api, studio["ph"], "alice@example.com")["id"] != client["id"]


def test_gallery_costs_the_same_calls_whatever_the_photographers_library(api, studio, make_user, counter):
    """GET /gallery reads the caller's assignment rows through their own key: a photographer with 300 photos
    costs what one with 3 does, call for call."""
    big = make_user("bigstudio", role="photographer")
    bob = make_user("bob")
    small_client = invite(api, studio["ph"], "alice@example.com")
    big_client = invite(api, big, "bob@example.com")
    small = seed_photos(studio["ph"]["id"], 3)
    library = seed_photos(big["id"], 300)
    assign(api, studio["ph"], small_client["id"], photo_ids=small)
    assign(api, big, big_client["id"], photo_ids=library[-3:])

    def cost(user):
        r, calls = counter.measure(lambda: api.get("/gallery", token=user["access"]))
        assert r.status_code == 200 and len(r.data["items"]) == 3
        assert not any(c.endswith(".Scan") for c in calls)
        return collections.Counter(c for c in calls if c.startswith("dynamodb."))

    small_cost, big_cost = cost(studio["alice"]), cost(bob)
    assert small_cost == big_cost
    assert sum(big_cost.values()) <= 10, big_cost
    assert big_cost["dynamodb.Query"] <= 2  # the gallery's own Query (and the unread count of the principal)


# ---- stats from order.paid -------------------------------------------------------------------------------------


def _paid(order_id, buyer_id, lines, currency="eur"):
    return {
        "order_id": order_id,
        "buyer_id": buyer_id,
        "currency": currency,
        "subtotal_cents": sum(line["amount_cents"] for line in lines),
        "total_cents": sum(line["amount_cents"] for line in lines),
        "paid_at": "2026-12-01T10:00:00Z",
        "lines": lines,
    }


def _line(seller_id, amount, client_id=None, item="i_1"):
    return {
        "item_id": item,
        "photo_id": "p_x",
        "seller_id": seller_id,
        "client_id": client_id,
        "sku": "dl",
        "kind": "digital",
        "quantity": 1,
        "amount_cents": amount,
        "fulfilment": None,
    }


def test_order_paid_counts_each_order_once_per_seller_client(api, studio):
    from chalicelib import jobs

    ph, other, alice = studio["ph"], studio["other"], studio["alice"]
    client = invite(api, ph, "alice@example.com")
    payload = _paid(
        "o_1",
        alice["id"],
        [
            _line(ph["id"], 1500, client["id"], "i_1"),
            _line(ph["id"], 500, client["id"], "i_2"),
            _line(other["id"], 900, None, "i_3"),  # not other's client: nothing to count there
        ],
    )
    assert jobs.publish("order.paid", "order.paid:o_1", payload)
    drain()
    jobs.publish("order.paid", "order.paid:o_1:replayed", payload)  # the same order delivered again
    drain()
    got = api.get(f"/clients/{client['id']}", token=ph["access"]).data
    assert got["orders_count"] == 1 and got["total_spent_cents"] == 2000 and got["currency"] == "eur"
    # a second order, found by the buyer's client record when checkout did not name the client
    jobs.publish("order.paid", "order.paid:o_2", _paid("o_2", alice["id"], [_line(ph["id"], 700)]))
    drain()
    listed = api.get("/clients", token=ph["access"]).data["items"][0]
    assert listed["orders_count"] == 2 and listed["total_spent_cents"] == 2700
    assert listed["spent_by_currency"] == {"eur": 2700}


def test_order_paid_of_someone_else_never_counts_for_a_client(api, studio):
    from chalicelib import jobs

    client = invite(api, studio["ph"], "alice@example.com")
    payload = _paid("o_9", studio["stranger"]["id"], [_line(studio["ph"]["id"], 1000, client["id"])])
    jobs.publish("order.paid", "order.paid:o_9", payload)
    drain()
    assert api.get(f"/clients/{client['id']}", token=studio["ph"]["access"]).data["orders_count"] == 0


# ---- account deletion ------------------------------------------------------------------------------------------


def test_a_deleted_photographers_clients_assignments_and_sheets_go(api, studio):
    from chalicelib.models.galleries import Client, ClientPhoto, PriceSheet

    ph = studio["ph"]
    client = invite(api, ph, "alice@example.com")
    invite(api, ph, "someone@example.com")
    photos = seed_photos(ph["id"], 2)
    assign(api, ph, client["id"], photo_ids=photos)
    sheet = {"name": "S", "currency": "eur", "default": True, "items": [_digital("dl", 100)]}
    assert api.post("/price-sheets", sheet, token=ph["access"]).status_code == 201
    assert api.delete("/users/me", {"password": PASSWORD}, token=ph["access"]).status_code == 204
    drain()
    assert list(Client.query(ph["id"])) == []
    assert list(PriceSheet.query(ph["id"])) == []
    assert list(ClientPhoto.query(studio["alice"]["id"])) == []


def test_a_deleted_buyers_client_records_go(api, studio):
    from chalicelib.models.galleries import Client

    client = invite(api, studio["ph"], "alice@example.com")
    invite(api, studio["other"], "alice@example.com")
    assign(api, studio["ph"], client["id"], photo_ids=seed_photos(studio["ph"]["id"], 1))
    assert api.delete("/users/me", {"password": PASSWORD}, token=studio["alice"]["access"]).status_code == 204
    drain()
    assert api.get(f"/clients/{client['id']}", token=studio["ph"]["access"]).status_code == 404
    assert list(Client.by_user.query(studio["alice"]["id"])) == []
    assert api.get("/clients", token=studio["other"]["access"]).data["items"] == []


def _digital(sku, price, variant="large", license="personal"):
    return {
        "sku": sku,
        "kind": "digital",
        "label": f"Download {sku}",
        "price_cents": price,
        "digital": {"variant": variant, "license": license},
    }
