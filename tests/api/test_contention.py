"""DynamoDB cancels a transaction with ``TransactionConflict`` when another transaction touches one of its items
at the same time (a double-submitted 2FA verify, an owner inviting while the auto-invite job writes the same
user, events created while their owner RSVPs). Moto never does, so the tests make it: such a cancellation is
retried with backoff, and when every attempt raced it is a ``409 contention``, never a 500. ``last_activity_at``
is best effort: a failed write of it does not fail the sign-in."""

from __future__ import annotations

import pytest

from tests.api.test_events import create
from tests.api.test_twofactor import _challenge, _code, clock, secured  # noqa: F401 - fixtures


@pytest.fixture
def conflicts(monkeypatch):
    """``conflicts.left = n``: the next n TransactWriteItems writing a table named ``conflicts.on`` (e.g. the
    rate limiter's, which every sign-in uses, are left alone) are cancelled with TransactionConflict."""
    from moto.dynamodb.exceptions import TransactionCanceledException
    from moto.dynamodb.models import DynamoDBBackend

    from chalicelib.models import base

    original = DynamoDBBackend.transact_write_items

    class Conflicts:
        left = 0
        raised = 0
        on = ""

    def flaky(self, transact_items):
        tables = {op.get("TableName", "") for item in transact_items for op in item.values()}
        if Conflicts.left and any(t.endswith(Conflicts.on) for t in tables):
            Conflicts.left -= 1
            Conflicts.raised += 1
            reasons = [(None, None, None)] * (len(transact_items) - 1) + [("TransactionConflict", "busy", None)]
            raise TransactionCanceledException(reasons)
        return original(self, transact_items)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", flaky)
    monkeypatch.setattr(base, "TRANSACTION_ATTEMPTS", 3)  # the "every attempt raced" cases stay fast
    return Conflicts


def test_a_conflicting_two_factor_verify_is_retried_then_409(api, secured, clock, conflicts):  # noqa: F811
    conflicts.on = "-two_factor_challenges"
    token = _challenge(api, secured)
    conflicts.left = 1
    r = api.post("/auth/2fa/verify", {"challenge_token": token, "code": _code(secured["secret"], clock)})
    assert r.status_code == 200, r.body
    assert conflicts.raised == 1
    clock.advance(30)
    token = _challenge(api, secured)
    conflicts.left = 3
    r = api.post("/auth/2fa/verify", {"challenge_token": token, "code": _code(secured["secret"], clock)})
    assert r.status_code == 409 and r.data["error"]["code"] == "contention", r.body
    # Nothing was spent: the same challenge and code complete the sign-in now.
    r = api.post("/auth/2fa/verify", {"challenge_token": token, "code": _code(secured["secret"], clock)})
    assert r.status_code == 200, r.body


def test_conflicting_invitations_are_retried_then_409(api, make_user, conflicts):
    owner, ivan, jana = make_user("olga"), make_user("ivan"), make_user("jana")
    event = create(api, owner["access"], "Supper", visibility="private")
    conflicts.on, conflicts.left = "-event_invitations", 1
    r = api.post(f"/events/{event['id']}/invitations", {"usernames": ["ivan"]}, token=owner["access"])
    assert r.status_code == 201, r.body
    assert conflicts.raised == 1
    assert [i["event"]["id"] for i in api.get("/invitations", token=ivan["access"]).data["items"]] == [event["id"]]
    conflicts.left = 3
    r = api.post(f"/events/{event['id']}/invitations", {"usernames": ["jana"]}, token=owner["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "contention", r.body
    assert api.get("/invitations", token=jana["access"]).data["items"] == []


def test_a_conflicting_event_creation_is_retried_then_409(api, make_user, conflicts):
    from chalicelib.models.users import User

    host = make_user("host")
    conflicts.on, conflicts.left = "-events", 1
    create(api, host["access"], "First")
    assert conflicts.raised == 1
    conflicts.left = 3
    r = api.post("/events", {"name": "Second", "visibility": "public"}, token=host["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "contention", r.body
    assert User.get(host["id"], consistent_read=True).events_hosted == 1
    mine = api.get("/events?scope=mine", token=host["access"]).data["items"]
    assert [e["name"] for e in mine] == ["First"]


def test_a_failed_last_activity_write_does_not_fail_the_login(api, make_user, monkeypatch):
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb.models import DynamoDBBackend

    from chalicelib.models.users import User

    user = make_user("busy")
    User(user_id=user["id"]).update(actions=[User.last_activity_at.remove()])  # due for a write again
    original = DynamoDBBackend.update_item
    failed = []

    def flaky(self, table_name, key, update_expression, expression_attribute_names, *args, **kwargs):
        if "last_activity_at" in (expression_attribute_names or {}).values():
            failed.append(table_name)
            raise JsonRESTError("TransactionConflictException", "The item is in a transaction.")
        return original(self, table_name, key, update_expression, expression_attribute_names, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", flaky)
    r = api.post("/auth/login", {"login": "busy", "password": user["password"]})
    assert r.status_code == 200, r.body
    assert failed and r.data["access_token"]


def test_a_conflicting_rate_limit_counter_is_retried_then_409(api, make_user, conflicts):
    """Every sign-in from one address counts on one counter: logins at once from behind one NAT conflict."""
    user = make_user("natted")
    conflicts.on, conflicts.left = "-rate_counters", 1
    assert api.post("/auth/login", {"login": "natted", "password": user["password"]}).status_code == 200
    assert conflicts.raised == 1
    conflicts.left = 3
    r = api.post("/auth/login", {"login": "natted", "password": user["password"]})
    assert r.status_code == 409 and r.data["error"]["code"] == "contention", r.body
    conflicts.left = 0
    assert api.post("/auth/login", {"login": "natted", "password": user["password"]}).status_code == 200
