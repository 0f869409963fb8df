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
