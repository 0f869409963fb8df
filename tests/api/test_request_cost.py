"""AWS calls per request, counted with botocore's event hooks: each auth route has a budget, and no Scan."""

from __future__ import annotations

import collections

from tests.conftest import PASSWORD, last_code


def test_auth_route_budgets(api, make_user, counter):
    user = make_user("costly")
    budgets = {  # name: (call, the status it must answer, at most this many DynamoDB calls)
        "signup": (
            lambda: api.post("/auth/signup", {"email": "c2@example.com", "username": "costly2", "password": PASSWORD}),
            201,
            6,
        ),
        "verify-email": (
            lambda: api.post("/auth/verify-email", {"email": "c2@example.com", "code": last_code("c2@example.com")}),
            200,
            6,  # one of them: the pending client invitations of the address (services/clients.py)
        ),
        "login": (lambda: api.post("/auth/login", {"login": "costly", "password": PASSWORD}), 200, 5),
        "login failure": (lambda: api.post("/auth/login", {"login": "costly", "password": "wrong wrong"}), 401, 3),
        "me": (lambda: api.get("/auth/me", token=user["access"]), 200, 2),
        "refresh": (lambda: api.post("/auth/token/refresh", {"refresh_token": user["refresh"]}), 200, 2),
        "token verify": (lambda: api.post("/auth/token/verify", {"token": user["access"]}), 200, 1),
        "search": (lambda: api.get("/auth/search?q=cos", token=user["access"]), 200, 3),
        # the username's claim, the user (with its follow counters: no count query)
        "public profile": (lambda: api.get("/users/costly"), 200, 2),
        "profile, logged in": (lambda: api.get("/users/costly", token=user["access"]), 200, 3),
        "forgot unknown": (lambda: api.post("/auth/password/forgot", {"email": "none@example.com"}), 202, 1),
    }
    report = {}
    for name, (call, status, budget) in budgets.items():
        response, calls = counter.measure(call)
        assert response.status_code == status, (name, response.status_code, response.body)
        dynamo = [c for c in calls if c.startswith("dynamodb.")]
        assert not any(c.endswith(".Scan") for c in calls), (name, calls)
        assert len(dynamo) <= budget, (name, dynamo)
        report[name] = collections.Counter(calls)
    assert report["me"] == {"dynamodb.GetItem": 1, "dynamodb.Query": 1}  # the user, the unread count
    assert report["public profile"] == {"dynamodb.GetItem": 2}


def _seed_photos(owner_id: str, n: int, *, event_ids: list[str], words: str = "same words") -> list[str]:
    """``n`` ready photos written straight into the tables (as the processor leaves them), round-robin over
    ``event_ids``, each with its search entries: listing costs are about reading, not uploading."""
    from chalicelib.models.base import iso, new_id
    from chalicelib.models.photos import Photo
    from chalicelib.models.search import SearchEntry
    from chalicelib.services.photos import search_terms

    ids = []
    with Photo.batch_write() as photos, SearchEntry.batch_write() as entries:
        for i in range(n):
            photo = Photo(
                photo_id=new_id("p_"),
                owner_id=owner_id,
                event_id=event_ids[i % len(event_ids)],
                status="ready",
                content_type="image/jpeg",
                declared_size=100,
                upload_key=f"uploads/x{i}",
                variant_keys=["thumb", "medium", "large", "watermarked", "original"],
                caption=words,
                search_terms=search_terms(words, []),
            )
            photos.save(photo)
            for term in photo.search_terms:
                entries.save(
                    SearchEntry(
                        pk=f"photo:{term}", sk=f"{iso(photo.created_at)}#{photo.photo_id}", entity_id=photo.photo_id
                    )
                )
            ids.append(photo.photo_id)
    return ids


def _seed_events(owner_id: str, member_id: str, n: int) -> list[str]:
    """``n`` private events of ``owner_id`` in which ``member_id`` is a viewer."""
    from chalicelib.models.base import new_id
    from chalicelib.models.events import Event, EventMember

    ids = [new_id("e_") for _ in range(n)]
    with Event.batch_write() as events, EventMember.batch_write() as members:
        for event_id in ids:
            events.save(Event(event_id=event_id, owner_id=owner_id, name="Private", visibility="private"))
            members.save(EventMember(event_id=event_id, user_id=member_id, role="viewer"))
    return ids


def _dynamo(calls: list[str]) -> collections.Counter:
    return collections.Counter(c for c in calls if c.startswith("dynamodb."))


def test_a_page_of_1_or_100_photos_costs_the_same_calls_per_source(api, make_user, counter, monkeypatch):
    """Entitlements for a page are decided from facts read once per grant source (events, roles, and every
    registered source), never once per photo: a page of 100 photos in 100 private events costs what a page of 1
    does, call for call."""
    from chalicelib.services import photos_access

    source_calls = []
    monkeypatch.setattr(photos_access, "GRANT_SOURCES", [lambda caller, page: source_calls.append(len(page)) or {}])

    def world(tag: str, n: int) -> tuple[str, str]:
        owner, viewer = make_user(f"pageowner{tag}"), make_user(f"pageviewer{tag}")
        events = _seed_events(owner["id"], viewer["id"], n)
        _seed_photos(owner["id"], n, event_ids=events, words=f"same words{tag}")
        one_event = _seed_events(owner["id"], viewer["id"], 1)
        _seed_photos(owner["id"], n, event_ids=one_event)
        return viewer["access"], one_event[0], owner["id"], f"words{tag}"

    def costs(token, event_id, owner_id, word, n):
        routes = {
            "event photos": (f"/events/{event_id}/photos?limit=100", n),
            "by owner": (f"/photos?owner={owner_id}&limit=100", 2 * n if n < 50 else 100),
            "search": (f"/photos/search?q={word}&limit=100", n),
        }
        out = {}
        for name, (path, expected) in routes.items():
            source_calls.clear()
            response, calls = counter.measure(lambda path=path: api.get(path, token=token))
            assert response.status_code == 200, (name, response.body)
            assert len(response.data["items"]) == expected, (name, len(response.data["items"]))
            assert source_calls == [expected], (name, source_calls)  # each grant source: once per page
            out[name] = _dynamo(calls)
        ids = ",".join(p["id"] for p in api.get(routes["search"][0], token=token).data["items"])
        source_calls.clear()
        response, calls = counter.measure(lambda: api.get(f"/likes/batch?ids={ids}", token=token))
        assert response.status_code == 200 and len(response.data) == n, response.body
        assert source_calls == [n]
        out["likes batch"] = _dynamo(calls)
        return out

    one = costs(*world("a", 1), 1)
    hundred = costs(*world("b", 100), 100)
    assert one == hundred
    get, query, batch = "dynamodb.GetItem", "dynamodb.Query", "dynamodb.BatchGetItem"
    assert one["event photos"] == {get: 3, query: 1, batch: 2}  # caller, event, role; index; photos, owners
    assert one["search"] == {get: 1, query: 1, batch: 4}  # caller; index; photos, events, roles, owners


def test_listings_read_avatars_in_one_batch(api, make_user, counter):
    """Event members, event owners and user search show avatars from one BatchGetItem, not one read per user."""
    from chalicelib.models.events import Event, EventMember
    from chalicelib.models.users import User

    def world(tag: str, n: int):
        host = make_user(f"avhost{tag}")
        users = [make_user(f"av{tag}x{i}") for i in range(n)]
        avatars = _seed_photos(host["id"], n, event_ids=[None])
        for user, photo_id in zip(users, avatars, strict=True):  # (avatars need not be their own for the cost)
            User(user_id=user["id"]).update(actions=[User.avatar_photo_id.set(photo_id)])
        event_id = _seed_events(host["id"], users[0]["id"], 1)[0]
        for user in users[1:]:
            EventMember(event_id=event_id, user_id=user["id"], role="viewer").save()
        for user, photo_id in zip(users, avatars, strict=True):  # each user owns a public event
            Event(
                event_id=f"e_pub{tag}{photo_id[-6:]}",
                owner_id=user["id"],
                name="Open",
                visibility="public",
                public_bucket="public",
            ).save()
        return host["access"], event_id, f"av{tag}x"

    def costs(token, event_id, prefix, n):
        out = {}
        for name, path in {
            "members": f"/events/{event_id}/members?limit=100",
            "user search": f"/auth/search?q={prefix}&limit=100",
            "public events": "/events?scope=public&limit=100",
        }.items():
            response, calls = counter.measure(lambda path=path: api.get(path, token=token))
            assert response.status_code == 200, (name, response.body)
            items = response.data["items"]
            people = [i.get("user") or i.get("owner") or i for i in items]
            avatars = [p["avatar_url"] for p in people]
            expected = public_events_so_far if name == "public events" else n
            assert len(items) == expected and all(avatars), (name, items)
            out[name] = _dynamo(calls)
        return out

    public_events_so_far = 1
    one = costs(*world("a", 1), 1)
    public_events_so_far = 6  # both worlds' public events are public
    five = costs(*world("b", 5), 5)
    assert one == five
    assert one["members"]["dynamodb.BatchGetItem"] == 2  # users, their avatar photos


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
