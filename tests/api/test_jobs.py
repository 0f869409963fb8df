"""Background jobs: domain events published once, consumed idempotently in bounded, resumable chunks."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import PASSWORD
from tests.jobs import drain, queued, receive, record, run_batch


def _photo(owner_id: str, n: int, **extra):
    from chalicelib import storage
    from chalicelib.models.base import new_id
    from chalicelib.models.photos import READY, Photo

    photo = Photo(
        photo_id=new_id("p_"),
        owner_id=owner_id,
        status=READY,
        content_type="image/jpeg",
        declared_size=10,
        upload_key=f"uploads/x{n}",
        variant_keys=["thumb", "watermarked"],
        public_bucket="public",
        **extra,
    )
    photo.save()
    storage.put_media(storage.variant_key(photo.photo_id, "thumb"), b"jpeg", "image/jpeg")
    return photo


def _media_exists(photo_id: str) -> bool:
    from chalicelib import aws, storage
    from chalicelib.config import get_settings

    found = aws.client("s3").list_objects_v2(
        Bucket=get_settings().media_bucket, Prefix=storage.variant_key(photo_id, "")
    )
    return found.get("KeyCount", 0) > 0


@pytest.fixture
def consumers(monkeypatch):
    """A test event type whose consumers record their runs (and may fail on demand)."""
    from chalicelib.jobs import registry

    runs: list[tuple[str, object]] = []
    failures: dict[str, int] = {}
    monkeypatch.setitem(
        registry.CONSUMERS, "test.happened", {"a": f"{__name__}:consumer_a", "b": f"{__name__}:consumer_b"}
    )
    monkeypatch.setitem(globals(), "RUNS", runs)
    monkeypatch.setitem(globals(), "FAILURES", failures)
    return runs, failures


RUNS: list = []
FAILURES: dict = {}


def consumer_a(payload, cursor, limit):
    if FAILURES.get("a", 0) > 0:
        FAILURES["a"] -= 1
        raise ConnectionError("throttled")  # transient: the next delivery succeeds
    RUNS.append(("a", cursor))
    return {"n": 1} if cursor is None else None  # two chunks


def consumer_b(payload, cursor, limit):
    RUNS.append(("b", cursor))
    return None


# ---- account deletion ---------------------------------------------------------------------------------------


def test_deleting_an_account_with_many_photos_finishes_through_continuations(api, make_user, tuned, live, monkeypatch):
    from chalicelib.models import engagement as store
    from chalicelib.models.photos import Photo
    from chalicelib.services import photos as photos_service

    tuned(chunk=3)
    owner = make_user("gone")
    other = make_user("stays")
    mine = [_photo(owner["id"], n) for n in range(8)]
    theirs = _photo(other["id"], 99)
    assert api.post(f"/photos/{theirs.photo_id}/like", token=owner["access"]).status_code == 201
    store.subscribe(theirs.photo_id, "watcher", other["id"])
    share = {"variant": "watermarked", "expires_in_seconds": 3600}
    link = api.post(f"/photos/{mine[0].photo_id}/share", share, token=owner["access"])
    assert link.status_code == 201, link.body
    cursors = []
    real = photos_service.on_user_deleted
    monkeypatch.setattr(photos_service, "on_user_deleted", lambda p, c, n: cursors.append(c) or real(p, c, n))

    assert api.delete("/users/me", {"password": PASSWORD}, token=owner["access"]).status_code == 204
    # The API forgets the account at once: its photos and share links stop being served before the job runs.
    assert api.get(f"/photos/{mine[0].photo_id}").status_code == 404
    assert api.get(f"/photos/share/{link.data['token']}").status_code == 410
    assert not any(p["id"] == mine[1].photo_id for p in api.get("/photos").data["items"])
    assert {j["type"] for j in queued()} == {"user.deleted"}

    drain()
    assert len(cursors) >= 4, cursors  # 8 photos in chunks of 3, then the tags phase: several continuation jobs
    assert cursors[0] is None and all(c is not None for c in cursors[1:])
    for photo in mine:
        with pytest.raises(Photo.DoesNotExist):
            Photo.get(photo.photo_id)
        assert not _media_exists(photo.photo_id)
    # Their like is withdrawn from the other photo, and its live watchers get the new count.
    assert Photo.get(theirs.photo_id).like_count == 0
    assert [f["like_count"] for f in live.of_type("watcher", "photo.stats")][-1] == 0
    assert _media_exists(theirs.photo_id)
    # The claims are free now.
    again = {"email": owner["email"], "username": "gone", "password": PASSWORD}
    assert api.post("/auth/signup", again).status_code == 201


def test_claims_stay_taken_until_every_consumer_finished(api, make_user, monkeypatch):
    from chalicelib.jobs import COMPLETE

    user = make_user("claimed")
    _photo(user["id"], 1)
    assert api.delete("/users/me", {"password": PASSWORD}, token=user["access"]).status_code == 204
    again = {"email": user["email"], "username": "claimed", "password": PASSWORD}
    seen = 0
    while True:
        messages = receive()
        if not messages:
            break
        if all(json.loads(m["Body"])["consumer"] == COMPLETE for m in messages):
            # Every consumer is done; only the completion job is left: still taken.
            assert api.post("/auth/signup", again).status_code == 409
            seen += 1
        else:
            assert api.post("/auth/signup", {**again, "username": "claimed"}).status_code == 409
        run_batch(messages)
    assert seen == 1
    assert api.post("/auth/signup", again).status_code == 201


# ---- publish once, consume once ---------------------------------------------------------------------------


def test_a_duplicate_publish_or_a_redelivered_job_does_nothing_twice(aws_mock, consumers):
    from chalicelib import jobs

    runs, _ = consumers
    assert jobs.publish("test.happened", "t:1", {"x": 1}) is True
    assert jobs.publish("test.happened", "t:1", {"x": 1}) is False
    first = receive()
    assert sorted(json.loads(m["Body"])["consumer"] for m in first) == ["a", "b"]
    import app as app_module

    event = {"Records": [record(m) for m in first]}
    assert app_module.run_jobs(event, None) == {"batchItemFailures": []}
    assert app_module.run_jobs(event, None) == {"batchItemFailures": []}  # the same messages again
    drain()
    assert sorted(runs, key=str) == [("a", None), ("a", {"n": 1}), ("b", None)]
    # A second copy of a continuation (e.g. enqueued again after a crash) is dropped too.
    jobs.enqueue([jobs.Job("test.happened", "t:1", "a", 1, {"n": 1})])
    drain()
    assert len(runs) == 3


def test_a_transient_failure_is_a_batch_item_failure_and_the_others_succeed(aws_mock, consumers, caplog):
    from chalicelib import jobs

    runs, failures = consumers
    failures["a"] = 1
    jobs.publish("test.happened", "t:2", {})
    messages = receive()
    by_consumer = {json.loads(m["Body"])["consumer"]: m["MessageId"] for m in messages}
    response = run_batch(messages)
    assert response == {"batchItemFailures": [{"itemIdentifier": by_consumer["a"]}]}
    assert runs == [("b", None)]
    drain()  # redelivered: now it succeeds and continues
    assert sorted(runs, key=str) == [("a", None), ("a", {"n": 1}), ("b", None)]


def test_a_job_failing_its_last_delivery_is_logged_as_dead_lettered(aws_mock, consumers, caplog):
    import app as app_module
    from chalicelib import jobs
    from chalicelib.resources import JOBS_QUEUE_MAX_RECEIVES

    _, failures = consumers
    failures["a"] = 1
    jobs.publish("test.happened", "t:3", {})
    (message,) = [m for m in receive() if json.loads(m["Body"])["consumer"] == "a"]
    rec = record(message)
    rec["attributes"]["ApproximateReceiveCount"] = str(JOBS_QUEUE_MAX_RECEIVES)
    assert app_module.run_jobs({"Records": [rec]}, None)["batchItemFailures"] == [
        {"itemIdentifier": message["MessageId"]}
    ]
    assert any(r.getMessage() == "job dead-lettered" for r in caplog.records)


def test_cascades_do_not_depend_on_app_being_imported():
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from chalicelib.jobs import registry\n"
        "for event, consumers in registry.CONSUMERS.items():\n"
        "    for name in consumers:\n"
        "        registry.consumer(event, name)\n"
        "for path in registry.ON_COMPLETE.values():\n"
        "    registry.resolve(path)\n"
        "assert 'app' not in sys.modules\n"
    )
    env = {**os.environ, "LIGHTBOX_STAGE": "test"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=os.getcwd())


# ---- fan-out --------------------------------------------------------------------------------------------------


def test_a_big_events_photo_ready_notifications_go_through_jobs_in_pages(api, make_user, tuned):
    """Every member of an event hears of a new photo through the jobs, a page of members per run: 60 members in
    pages of 12 are as many continuations as 1,000 in pages of 250 (what this test had, at 22 s), at a tenth of
    the cost."""
    from chalicelib.models.events import EventMember
    from chalicelib.models.notifications import Notification
    from tests import pipeline

    members = 60
    tuned(chunk=12)
    owner = make_user("host")
    contributor = make_user("shooter")
    event = api.post("/events", {"name": "Big", "visibility": "private"}, token=owner["access"]).data
    with EventMember.batch_write() as batch:
        for n in range(members):
            batch.save(EventMember(event_id=event["id"], user_id=f"u_member{n:04d}", role="viewer"))
    r = api.post(
        f"/events/{event['id']}/members", {"username": "shooter", "role": "contributor"}, token=owner["access"]
    )
    assert r.status_code == 201, r.body
    data = pipeline.jpeg(64, 48)
    photo_id, slot = pipeline.reserve(api, contributor["access"], data, event_id=event["id"])
    assert pipeline.post_file(slot, data).status_code in (200, 201, 204)
    [response] = pipeline.pump(jobs=False)
    assert response == {"batchItemFailures": []}
    # The processor notified nobody itself: one photo.ready event waits, a job per consumer.
    assert list(Notification.query(f"u_member{members - 1:04d}")) == []
    assert sorted((j["type"], j["consumer"], j["step"]) for j in queued()) == [
        ("photo.ready", "event_members", 0),
        ("photo.ready", "photo_count", 0),
        ("photo.ready", "post_count", 0),
    ]
    batches = drain()
    assert len(batches) >= 5  # 61 members in pages of 12
    for user_id in [f"u_member{n:04d}" for n in range(members)] + [owner["id"]]:
        (n,) = Notification.query(user_id)
        assert n.type == "event_photo_added" and n.target.as_dict()["id"] == photo_id
    assert list(Notification.query(contributor["id"])) == []  # never to yourself


def test_fan_out_beyond_the_inline_bound_goes_to_jobs(api, make_user, live, tuned):
    from chalicelib.models.realtime import add_connection
    from chalicelib.realtime import push

    tuned(chunk=2, inline=2)
    user = make_user("fanout")
    ids = [f"c{n}" for n in range(7)]
    for connection_id in ids:  # deferred delivery re-checks each connection's row and login
        add_connection(connection_id, user["id"])
    assert push.send_many(ids, {"type": "ping"}) == 2
    assert set(live.frames) == {"c0", "c1"}
    drain()
    assert all(live.of_type(c, "ping") == [{"type": "ping"}] for c in ids)


def test_mark_all_read_beyond_the_bound_finishes_in_a_job(api, make_user, tuned):
    from chalicelib.services import notifications

    tuned(chunk=2, inline=2)
    user = make_user("reader")
    for n in range(5):
        notifications.notify(user["id"], "followed", actor_id=f"u_x{n}", target={"kind": "user"}, dedupe=f"d{n}")
    assert notifications.unread_count(user["id"]) == 5
    assert api.post("/notifications/read-all", token=user["access"]).status_code == 204
    assert notifications.unread_count(user["id"]) == 3
    drain()
    assert notifications.unread_count(user["id"]) == 0
