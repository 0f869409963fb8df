"""AWS calls per request, counted with botocore's event hooks: each auth route has a budget, and no Scan."""

from __future__ import annotations

import collections

from tests.conftest import PASSWORD, last_code


def test_auth_route_budgets(api, make_user, counter):
    user = make_user("costly")
    budgets = {
        "signup": (
            lambda: api.post("/auth/signup", {"email": "c2@example.com", "username": "costly2", "password": PASSWORD}),
            6,
        ),
        "verify-email": (
            lambda: api.post("/auth/verify-email", {"email": "c2@example.com", "code": last_code("c2@example.com")}),
            5,
        ),
        "login": (lambda: api.post("/auth/login", {"login": "costly", "password": PASSWORD}), 5),
        "login failure": (lambda: api.post("/auth/login", {"login": "costly", "password": "wrong wrong"}), 3),
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


def test_listing_cost_does_not_grow_with_the_page(api, make_user, counter):
    """Entitlements for a page are decided with one batch read of the caller's event roles, not one per photo."""
    from tests.pipeline import jpeg, upload

    owner, viewer = make_user("pageowner"), make_user("pageviewer")
    event_id = api.post("/events", {"name": "Private", "visibility": "private"}, token=owner["access"]).data["id"]
    api.post(f"/events/{event_id}/members", {"username": "pageviewer", "role": "viewer"}, token=owner["access"])
    upload(api, owner["access"], jpeg(64, 48), event_id=event_id, caption="same words")

    def costs():
        listing = counter.measure(lambda: api.get(f"/events/{event_id}/photos", token=viewer["access"]))
        batch_ids = ",".join(p["id"] for p in listing[0].json_body["items"])
        liking = counter.measure(lambda: api.get(f"/likes/batch?ids={batch_ids}", token=viewer["access"]))
        search = counter.measure(lambda: api.get("/photos/search?q=same", token=viewer["access"]))
        return [
            collections.Counter(c for c in calls if c.startswith("dynamodb.")) for _, calls in (listing, liking, search)
        ]

    one = costs()
    for _ in range(5):
        upload(api, owner["access"], jpeg(64, 48), event_id=event_id, caption="same words")
    six = costs()
    assert len(api.get(f"/events/{event_id}/photos", token=viewer["access"]).data["items"]) == 6
    assert one == six


def test_transactions_reuse_the_containers_dynamodb_client(api, make_user, monkeypatch):
    """A transaction (a login's rate-limit counters, a follow, a like) uses the container's one PynamoDB
    connection: a new one builds a botocore session and client, re-reading DynamoDB's service model each time
    (tenths of a second per request; most of a login's time)."""
    import botocore.session

    make_user("reuser")  # the first requests create the clients
    created: list[str] = []
    real = botocore.session.Session.create_client

    def create_client(self, service_name, *args, **kwargs):
        created.append(service_name)
        return real(self, service_name, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
    for _ in range(2):
        assert api.post("/auth/login", {"login": "reuser", "password": PASSWORD}).status_code == 200
    assert created == []
