"""Helpers of the moderation, staff users and audit tests: staff and admin accounts, reports."""

from __future__ import annotations

from tests.conftest import PASSWORD


def promote(make_user, name: str, role: str) -> dict:
    """A verified, logged-in user given ``role`` directly in the table (as the CLI would), then logged in again
    so the token carries it."""
    from chalicelib.models.users import User

    user = make_user(name)
    User.get(user["id"]).update(actions=[User.role.set(role)])
    if role == "admin":
        from chalicelib.models.users import add_to_admin_roster

        add_to_admin_roster(user["id"])
    return user


def login(api, user: dict, password: str = PASSWORD):
    return api.post("/auth/login", {"login": user["username"], "password": password})


def report(api, reporter: dict, target_type: str, target_id: str, reason: str = "Not OK", **extra):
    body = {"target": {"type": target_type, "id": target_id, **extra}, "reason": reason}
    return api.post("/reports", body, token=reporter["access"])


def audit_entries(api, admin: dict, **query) -> list[dict]:
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    r = api.get(f"/staff/audit?{qs}", token=admin["access"])
    assert r.status_code == 200, r.body
    return r.data["items"]
