"""The operator command line: demo seed (users of every role, an event, photos through the real pipeline)."""

from __future__ import annotations

from tests.pipeline import pump


def test_seed_creates_every_role_an_event_and_processed_photos(api, capsys):
    from chalicelib import cli

    assert cli.main(["seed"]) == 2  # refuses without a local endpoint unless forced
    assert cli.main(["seed", "--force"]) == 0
    pump()
    out = capsys.readouterr().out
    for username in ("admin", "staff", "phil", "cleo", "mia", "max"):
        assert username in out
    token = api.post("/auth/login", {"login": "max", "password": cli.SEED_PASSWORD}).data["access_token"]
    assert api.get("/auth/me", token=token).data["role"] == "member"
    events = api.get("/events?scope=joined", token=token).data["items"]
    assert [e["name"] for e in events] == ["Harbour Festival"]
    photos = api.get(f"/events/{events[0]['id']}/photos", token=token).data["items"]
    assert len(photos) == 3 and {p["status"] for p in photos} == {"ready"}
    assert cli.main(["seed", "--force"]) == 0  # idempotent
    assert "already there" in capsys.readouterr().out


def test_backfill_event_types_indexes_old_public_events(api, make_user, capsys):
    from chalicelib import cli
    from chalicelib.models.events import Event

    host = make_user("hoster")
    r = api.post("/events", {"name": "Old", "visibility": "public", "event_type": "study"}, token=host["access"])
    old = r.data["id"]
    private = api.post("/events", {"name": "Mine", "visibility": "private"}, token=host["access"]).data["id"]
    row = Event.get(old, consistent_read=True)
    row.update(actions=[Event.public_type.remove()])  # as written before the index existed
    version = Event.get(old, consistent_read=True).version
    listed = lambda: [e["id"] for e in api.get("/events?scope=public&event_type=study").data["items"]]  # noqa: E731
    assert old not in listed()
    assert cli.main(["backfill-event-types"]) == 0
    assert "indexed 1 public events" in capsys.readouterr().out
    assert listed() == [old]
    assert Event.get(old, consistent_read=True).version == version  # a PATCH from an earlier read still applies
    assert Event.get(private, consistent_read=True).public_type is None
    assert cli.main(["backfill-event-types"]) == 0 and "indexed 0" in capsys.readouterr().out  # idempotent


def test_backfill_sold_photos_marks_order_purchases_not_pay_per_view(api, make_user, capsys):
    from chalicelib import cli
    from chalicelib.models.orders import Purchase
    from chalicelib.models.photos import Photo
    from tests.checkout_kit import seed_photo

    seller, buyer = make_user("bfseller", role="photographer"), make_user("bfbuyer")
    ordered, ppv_only = seed_photo(seller["id"]), seed_photo(seller["id"])
    Purchase(buyer_id=buyer["id"], photo_id=ordered, items={"o_1:it1": {"sku": "dl", "state": "active"}}).save()
    Purchase(buyer_id=buyer["id"], photo_id=ppv_only, items={"ppv:cp_1": {"state": "active"}}).save()
    assert cli.main(["backfill-sold-photos"]) == 0 and "marked 1 photos" in capsys.readouterr().out
    first = Photo.get(ordered, consistent_read=True).sold_at
    assert first is not None and Photo.get(ppv_only, consistent_read=True).sold_at is None
    assert cli.main(["backfill-sold-photos"]) == 0  # idempotent: the first instant stays
    assert Photo.get(ordered, consistent_read=True).sold_at == first
