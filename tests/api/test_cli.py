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
