"""AWS calls per request, counted with botocore's event hooks: each auth route has a budget, and no Scan."""
from __future__ import annotations

import collections


from tests.conftest import PASSWORD, last_code


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
        response, calls = counter.measure(call)
        assert response.status_code < 500, (name, response.body)
        dynamo = [c for c in calls if c.startswith("dynamodb.")]
        assert not any(c.endswith(".Scan") for c in calls), (name, calls)
        assert len(dynamo) <= budget, (name, dynamo)
        report[name] = collections.Counter(calls)
    assert report["me"] == {"dynamodb.GetItem": 1, "dynamodb.Query": 1}  # the user, the unread count
