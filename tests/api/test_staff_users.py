"""GET /staff/users: prefix search and role filter through indexes, each user with status, last activity (kept
cheaply: at most one write per 15 minutes, never one per request) and photo and order counts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.moderation_kit import login, promote
from tests.pipeline import jpeg, upload


@pytest.fixture
def staff(make_user):
    return promote(make_user, "staffer", "staff")


def _users(api, staff, query: str = "") -> dict:
    r = api.get(f"/staff/users?{query}", token=staff["access"])
    assert r.status_code == 200, r.body
    return r.data


def test_search_by_prefix_and_list_by_role(api, make_user, staff):
    alice, alina = make_user("alice"), make_user("alina")
    bob = make_user("bobby", role="photographer")
    assert {u["id"] for u in _users(api, staff, "q=ali")["items"]} == {alice["id"], alina["id"]}
    assert [u["id"] for u in _users(api, staff, "q=bob")["items"]] == [bob["id"]]
    assert [u["id"] for u in _users(api, staff, "q=ali&role=photographer")["items"]] == []
    assert [u["id"] for u in _users(api, staff, "role=photographer")["items"]] == [bob["id"]]
    assert [u["id"] for u in _users(api, staff, "role=staff")["items"]] == [staff["id"]]

    members = _users(api, staff, "role=member&limit=1")
    rest = _users(api, staff, f"role=member&limit=1&cursor={members['next_cursor']}")
    assert [u["id"] for u in members["items"] + rest["items"]] == [alina["id"], alice["id"]]  # newest first

    [row] = _users(api, staff, "q=alice")["items"]
    assert row["status"] == "active" and row["email"] == "alice@example.com" and row["role"] == "member"
    assert row["photo_count"] == 0 and row["orders_count"] == 0 and row["last_activity_at"].endswith("Z")

    assert api.post(f"/staff/users/{alice['id']}/suspend", {}, token=staff["access"]).status_code == 200
    assert _users(api, staff, "q=alice")["items"][0]["status"] == "suspended"


def test_without_a_filter_every_user_is_listed_newest_first_across_roles(api, make_user, staff):
    users = [staff] + [
        make_user(name, role=role)
        for name, role in (
            ("memo", "member"),
            ("phil", "photographer"),
            ("cris", "creator"),
            ("mona", "member"),
            ("pia", "photographer"),
        )
    ]
    users.append(promote(make_user, "ada", "admin"))
    newest_first = [u["id"] for u in users[::-1]]
    assert [u["id"] for u in _users(api, staff)["items"]] == newest_first
    for limit in (1, 2, 3):
        seen, cursor, pages = [], None, 0
        while True:
            page = _users(api, staff, f"limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
            assert len(page["items"]) <= limit
            seen += [u["id"] for u in page["items"]]
            cursor, pages = page["next_cursor"], pages + 1
            if cursor is None:
                break
            assert pages < 20
        assert seen == newest_first, limit
    whole = _users(api, staff, "limit=7")
    assert whole["next_cursor"] is None  # every role's Query came back short: nothing more to ask
    first = _users(api, staff, "limit=2")
    assert api.get(f"/staff/users?role=member&cursor={first['next_cursor']}", token=staff["access"]).status_code == 400


def test_only_staff_and_bad_queries(api, make_user, staff):
    member = make_user("plain")
    assert api.get("/staff/users?q=pl", token=member["access"]).status_code == 403
    assert api.get("/staff/users?q=pl").status_code == 401
    for query in ("role=king", "q=", f"q={'x' * 65}", "limit=0", "cursor=forged&role=member"):
        r = api.get(f"/staff/users?{query}", token=staff["access"])
        assert r.status_code == 400, (query, r.body)


def test_photo_count_follows_ready_and_deleted_photos(api, make_user, staff):
    from chalicelib.services import user_stats

    owner = make_user("shooter")
    first = upload(api, owner["access"], jpeg(64, 48))
    upload(api, owner["access"], jpeg(64, 48))
    assert _users(api, staff, "q=shooter")["items"][0]["photo_count"] == 2
    assert user_stats.count_photo(first, owner["id"]) is False  # a redelivered photo.ready counts nothing
    assert api.delete(f"/photos/{first}", token=owner["access"]).status_code == 204
    assert _users(api, staff, "q=shooter")["items"][0]["photo_count"] == 1


def test_orders_count_counts_each_paid_order_once(api, make_user, staff):
    from chalicelib.services import user_stats

    buyer = make_user("buyer")
    for order_id in ("o_1", "o_2", "o_1"):  # o_1 redelivered
        user_stats.on_order_paid({"order_id": order_id, "buyer_id": buyer["id"]}, None, 10)
    assert _users(api, staff, "q=buyer")["items"][0]["orders_count"] == 2


def test_last_activity_is_written_at_most_every_15_minutes_and_never_per_request(api, make_user, counter, monkeypatch):
    from chalicelib.models import base
    from chalicelib.models.users import User

    user = make_user("active")
    first = User.get(user["id"]).last_activity_at
    assert first is not None  # the login wrote it

    def updates(call) -> list[str]:
        _, calls = counter.measure(call)
        return [c for c in calls if c in ("dynamodb.UpdateItem", "dynamodb.TransactWriteItems")]

    assert updates(lambda: api.get("/auth/me", token=user["access"])) == []  # requests never write it
    r = api.post("/auth/token/refresh", {"refresh_token": user["refresh"]})
    assert r.status_code == 200
    assert User.get(user["id"]).last_activity_at == first  # within 15 minutes: not written again
    assert login(api, user).status_code == 200
    assert User.get(user["id"]).last_activity_at == first

    real_now = base.now
    monkeypatch.setattr(base, "now", lambda: real_now() + timedelta(minutes=16))
    from chalicelib.services import accounts

    monkeypatch.setattr(accounts, "now", lambda: real_now() + timedelta(minutes=16))
    r = api.post("/auth/token/refresh", {"refresh_token": r.data["refresh_token"]})
    assert r.status_code == 200
    later = User.get(user["id"]).last_activity_at
    assert later > first + timedelta(minutes=15)
