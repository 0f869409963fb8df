"""AWS calls per request, counted with botocore's event hooks: each auth route has a budget, and no Scan."""
from __future__ import annotations

import collections

import botocore.client
import pytest

from tests.conftest import PASSWORD, last_code


class CallCounter:
    def __init__(self):
        self.calls: list[str] = []

    def hook(self, event_name: str, **kwargs):
        # event_name is "before-call.<service>.<Operation>"
        _, service, operation = event_name.split(".", 2)
        self.calls.append(f"{service}.{operation}")

    def by_service(self, service: str) -> list[str]:
        return [c for c in self.calls if c.startswith(service + ".")]


@pytest.fixture
def counter(app, monkeypatch):
    """Every botocore client created from now on reports each API call to the counter."""
    from chalicelib import aws
    from chalicelib.models.registry import all_models

    counter = CallCounter()
    original = botocore.client.ClientCreator.create_client

    def create_client(self, *args, **kwargs):
        client = original(self, *args, **kwargs)
        client.meta.events.register("before-call.*.*", counter.hook)
        return client

    monkeypatch.setattr(botocore.client.ClientCreator, "create_client", create_client)
    aws.reset()
    for model in all_models():
        model._connection = None
    yield counter
    for model in all_models():
        model._connection = None


def measure(counter, fn):
    counter.calls.clear()
    response = fn()
    return response, list(counter.calls)


def test_auth_route_budgets(api, make_user, counter):
    user = make_user("costly")
    budgets = {
        "signup": (lambda: api.post("/auth/signup", {"email": "c2@example.com", "username": "costly2",
                                                     "password": PASSWORD}), 6),
        "verify-email": (lambda: api.post("/auth/verify-email", {"email": "c2@example.com",
                                                                 "code": last_code("c2@example.com")}), 5),
        "login": (lambda: api.post("/auth/login", {"login": "costly", "password": PASSWORD}), 4),
        "login failure": (lambda: api.post("/auth/login", {"login": "costly", "password": "wrong wrong"}), 5),
        "me": (lambda: api.get("/auth/me", token=user["access"]), 2),
        "refresh": (lambda: api.post("/auth/token/refresh", {"refresh_token": user["refresh"]}), 2),
        "token verify": (lambda: api.post("/auth/token/verify", {"token": user["access"]}), 1),
        "search": (lambda: api.get("/auth/search?q=cos", token=user["access"]), 3),
        "public profile": (lambda: api.get("/users/costly"), 2),
        "forgot unknown": (lambda: api.post("/auth/password/forgot", {"email": "none@example.com"}), 1),
    }
    report = {}
    for name, (call, budget) in budgets.items():
        response, calls = measure(counter, call)
        assert response.status_code < 500, (name, response.body)
        dynamo = [c for c in calls if c.startswith("dynamodb.")]
        assert not any(c.endswith(".Scan") for c in calls), (name, calls)
        assert len(dynamo) <= budget, (name, dynamo)
        report[name] = collections.Counter(calls)
    assert report["me"] == {"dynamodb.GetItem": 1, "dynamodb.Query": 1}  # the user, the unread count
