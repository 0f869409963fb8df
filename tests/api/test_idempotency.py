"""Idempotency-Key (contract, Conventions): a retry replays the first response and does nothing twice."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.pipeline import jpeg, upload


@pytest.fixture
def scene(api, make_user):
    owner, fan = make_user("olga"), make_user("fred")
    photo = upload(api, owner["access"], jpeg(64, 48))
    return {"owner": owner, "fan": fan, "photo": photo}


def comment_rows(photo_id: str) -> list:
    from chalicelib.models.engagement import Comment

    return list(Comment.query(photo_id, consistent_read=True))


def key(value: str) -> dict:
    return {"Idempotency-Key": value}


def test_a_retry_replays_the_first_response_and_comments_once(api, scene):
    path, token = f"/photos/{scene['photo']}/comments", scene["fan"]["access"]
    first = api.post(path, {"body": "lovely"}, token=token, headers=key("k-1"))
    assert first.status_code == 201
    again = api.post(path, {"body": "lovely"}, token=token, headers=key("k-1"))
    assert again.status_code == 201 and again.data == first.data
    assert again.headers["Idempotent-Replayed"] == "true"
    assert [c.comment_id for c in comment_rows(scene["photo"])] == [first.data["id"]]
    # Without a key (accepted, not required) every request acts, as before.
    assert api.post(path, {"body": "lovely"}, token=token).status_code == 201
    assert len(comment_rows(scene["photo"])) == 2


def test_replies_and_messages_accept_keys_too(api, scene, make_user):
    path, token = f"/photos/{scene['photo']}/comments", scene["fan"]["access"]
    top = api.post(path, {"body": "top"}, token=token).data
    reply = {"body": "re", "parent_id": top["id"]}
    assert (
        api.post(path, reply, token=token, headers=key("r")).data
        == api.post(path, reply, token=token, headers=key("r")).data
    )
    assert len(comment_rows(scene["photo"])) == 2
    conversation = api.post("/conversations", {"username": "olga"}, token=token).data["id"]
    send = f"/conversations/{conversation}/messages"
    one = api.post(send, {"body": "hi"}, token=token, headers=key("m"))
    two = api.post(send, {"body": "hi"}, token=token, headers=key("m"))
    assert one.status_code == two.status_code == 201 and one.data == two.data
    assert len(api.get(send, token=token).data["items"]) == 1


def test_upload_reservations_are_replayed_not_duplicated(api, scene):
    token = scene["fan"]["access"]
    body = {"filename": "a.jpg", "content_type": "image/jpeg", "size": 1000}
    first = api.post("/photos/uploads", body, token=token, headers=key("u"))
    again = api.post("/photos/uploads", body, token=token, headers=key("u"))
    assert first.status_code == again.status_code == 201
    assert first.data == again.data


def test_the_same_key_with_another_body_is_409_reused(api, scene):
    path, token = f"/photos/{scene['photo']}/comments", scene["fan"]["access"]
    assert api.post(path, {"body": "one"}, token=token, headers=key("k")).status_code == 201
    r = api.post(path, {"body": "two"}, token=token, headers=key("k"))
    assert r.status_code == 409 and r.data["error"]["code"] == "idempotency_key_reused"
    # Another route with the same key is another request too.
    r = api.post(
        "/photos/uploads", {"filename": "a.jpg", "content_type": "image/jpeg", "size": 9}, token=token, headers=key("k")
    )
    assert r.status_code == 409 and r.data["error"]["code"] == "idempotency_key_reused"
    assert len(comment_rows(scene["photo"])) == 1


@pytest.mark.parametrize("bad", ["", "x" * 256, " padded", "tab\there"])
def test_a_bad_key_is_400(api, scene, bad):
    r = api.post(f"/photos/{scene['photo']}/comments", {"body": "hi"}, token=scene["fan"]["access"], headers=key(bad))
    assert r.status_code == 400 and "Idempotency-Key" in r.data["error"]["details"]
    assert comment_rows(scene["photo"]) == []


def test_a_255_character_key_is_fine(api, scene):
    r = api.post(
        f"/photos/{scene['photo']}/comments", {"body": "hi"}, token=scene["fan"]["access"], headers=key("x" * 255)
    )
    assert r.status_code == 201


def test_keys_are_per_caller(api, scene):
    path = f"/photos/{scene['photo']}/comments"
    mine = api.post(path, {"body": "same"}, token=scene["fan"]["access"], headers=key("shared"))
    theirs = api.post(path, {"body": "same"}, token=scene["owner"]["access"], headers=key("shared"))
    assert mine.status_code == theirs.status_code == 201 and mine.data["id"] != theirs.data["id"]
    assert "Idempotent-Replayed" not in theirs.headers
    assert len(comment_rows(scene["photo"])) == 2


def test_a_4xx_from_the_handler_is_stored_and_replayed(api, scene):
    """As Stripe: once the handler ran, its answer is the answer, even after the state changed."""
    path, token = "/photos/p_nope/comments", scene["fan"]["access"]
    first = api.post(path, {"body": "hi"}, token=token, headers=key("missing"))
    assert first.status_code == 404
    again = api.post(path, {"body": "hi"}, token=token, headers=key("missing"))
    assert again.status_code == 404 and again.data == first.data and again.headers["Idempotent-Replayed"] == "true"


def test_requests_refused_before_the_handler_are_not_stored(api, scene):
    path = f"/photos/{scene['photo']}/comments"
    assert api.post(path, {"body": "hi"}, headers=key("early")).status_code == 401
    assert api.post(path, {"body": 5}, token=scene["fan"]["access"], headers=key("early")).status_code == 400
    r = api.post(path, {"body": "hi"}, token=scene["fan"]["access"], headers=key("early"))
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers


def test_a_failure_releases_the_key(api, scene, monkeypatch):
    from chalicelib.services import engagement

    path, token = f"/photos/{scene['photo']}/comments", scene["fan"]["access"]
    original = engagement.add_comment
    monkeypatch.setattr(engagement, "add_comment", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    assert api.post(path, {"body": "hi"}, token=token, headers=key("flaky")).status_code == 500
    monkeypatch.setattr(engagement, "add_comment", original)
    r = api.post(path, {"body": "hi"}, token=token, headers=key("flaky"))
    assert r.status_code == 201 and len(comment_rows(scene["photo"])) == 1


def _comment_work(photo_id: str, user_id: str):
    from chalice import Response

    from chalicelib.services import engagement
    from tests.api.test_engagement import principal

    def work() -> Response:
        created = engagement.add_comment(principal(user_id), photo_id, "at once")
        return Response(body=created, status_code=201, headers={"Content-Type": "application/json"})

    return work


def test_a_concurrent_request_with_the_same_key_gets_409_in_progress(api, scene, atomic_moto):
    """Deterministic interleaving: the second request arrives while the first holds the key."""
    from chalicelib.errors import ConflictError
    from chalicelib.services import idempotency

    photo_id, user_id = scene["photo"], scene["fan"]["id"]
    fp = idempotency.fingerprint("POST", f"/photos/{photo_id}/comments", {}, {"body": "at once"})
    inside, second_done = threading.Event(), threading.Event()
    outcome: dict = {}
    work = _comment_work(photo_id, user_id)

    def first_work():
        inside.set()
        assert second_done.wait(10)
        return work()

    def second():
        assert inside.wait(10)
        try:
            idempotency.run(user_id, "race", fp, work)
        except ConflictError as exc:
            outcome["second"] = exc
        finally:
            second_done.set()

    thread = threading.Thread(target=second)
    thread.start()
    first = idempotency.run(user_id, "race", fp, first_work)
    thread.join()
    assert first.status_code == 201
    assert outcome["second"].status == 409 and outcome["second"].code == "idempotency_key_in_progress"
    assert outcome["second"].headers["Retry-After"] == "1"
    assert len(comment_rows(photo_id)) == 1
    replay = idempotency.run(user_id, "race", fp, work)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"


def test_many_concurrent_requests_with_one_key_comment_once(api, scene, atomic_moto):
    from chalicelib.errors import ConflictError
    from chalicelib.services import idempotency

    photo_id, user_id = scene["photo"], scene["fan"]["id"]
    fp = idempotency.fingerprint("POST", f"/photos/{photo_id}/comments", {}, {"body": "at once"})
    barrier = threading.Barrier(12)
    work = _comment_work(photo_id, user_id)

    def call(_):
        barrier.wait()
        try:
            return idempotency.run(user_id, "crowd", fp, work).status_code
        except ConflictError as exc:
            return exc.code

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(call, range(12)))
    assert set(results) <= {201, "idempotency_key_in_progress"} and 201 in results
    assert len(comment_rows(photo_id)) == 1


def test_an_abandoned_claim_is_taken_over_after_its_lock(api, scene, monkeypatch):
    from chalicelib.models import idempotency as store
    from chalicelib.services import idempotency

    user_id = scene["fan"]["id"]
    assert store.claim(user_id, "crashed", "fp", "dead-lambda", lock_seconds=-1, keep_seconds=3600)
    work = _comment_work(scene["photo"], user_id)
    assert idempotency.run(user_id, "crashed", "fp", work).status_code == 201


@pytest.mark.parametrize(
    "status,code,stored",
    [
        (409, "refund_in_progress", False),
        (409, "concurrent_change", False),
        (409, "conflict", True),
        (409, "cart_empty", True),
        (404, "not_found", True),
        (429, "rate_limited", False),
        (502, "bad_gateway", False),
    ],
)
def test_conflicts_that_ask_for_a_retry_are_not_stored(status, code, stored):
    """A 409 "changed concurrently; retry" stored under the key would answer every retry for 24 hours."""
    from chalice import Response

    from chalicelib.services import idempotency

    body = {"error": {"code": code, "message": "x"}}
    assert idempotency._storable(Response(body=body, status_code=status)) is stored
    assert idempotency._storable(Response(body=json.dumps(body), status_code=status)) is stored
