"""Review fixes for the jobs path: the outbox relay, resumable account deletion, bounded chunks, the worker's
time budget, minimal payloads and a bounded read-all."""

from __future__ import annotations

import pytest

from tests.api.test_jobs import _photo
from tests.conftest import PASSWORD
from tests.jobs import drain


def test_likes_of_photos_already_gone_do_not_spin_the_deletion(api, make_user, tuned):
    from chalicelib.models import engagement as store
    from chalicelib.models.photos import Photo

    tuned(chunk=2)
    user = make_user("liker")
    other = make_user("poster")
    photos = [_photo(other["id"], n) for n in range(5)]
    for photo in photos:
        assert api.post(f"/photos/{photo.photo_id}/like", token=user["access"]).status_code == 201
    for photo in photos:  # the photo rows are gone, their likes are not (yet)
        Photo(photo_id=photo.photo_id).delete()
    assert api.delete("/users/me", {"password": PASSWORD}, token=user["access"]).status_code == 204
    drain(max_rounds=40)
    assert list(store.likes_of_user(user["id"])) == []
    again = {"email": user["email"], "username": "liker", "password": PASSWORD}
    assert api.post("/auth/signup", again).status_code == 201


def _failing_sends(monkeypatch, times: int = 1):
    """SQS throttles the next ``times`` sends of jobs (at the boundary: the SQS client call)."""
    from botocore.exceptions import ClientError

    from chalicelib import jobs

    real = jobs.enqueue
    left = {"n": times}

    def enqueue(batch):
        if left["n"] > 0:
            left["n"] -= 1
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "SendMessageBatch")
        return real(batch)

    monkeypatch.setattr(jobs, "enqueue", enqueue)


def test_a_failed_send_after_the_tombstone_is_relayed_and_the_deletion_completes(api, make_user, monkeypatch):
    from chalicelib import jobs
    from chalicelib.models.jobs import JobEvent
    from tests.jobs import queued

    user = make_user("throttled")
    photo = _photo(user["id"], 1)
    _failing_sends(monkeypatch)
    assert api.delete("/users/me", {"password": PASSWORD}, token=user["access"]).status_code == 204
    assert api.get("/users/me", token=user["access"]).status_code == 401
    assert queued() == []  # nothing reached the queue
    row = JobEvent.get(f"user.deleted:{user['id']}")
    assert row.undispatched is not None
    assert jobs.relay() == 0  # too young: the publisher may still be sending it
    assert jobs.relay(min_age_seconds=0) == 1
    assert JobEvent.get(row.event_id).undispatched is None
    drain()
    from chalicelib.models.photos import Photo

    with pytest.raises(Photo.DoesNotExist):
        Photo.get(photo.photo_id)
    again = {"email": user["email"], "username": "throttled", "password": PASSWORD}
    assert api.post("/auth/signup", again).status_code == 201


def test_a_crash_after_the_tombstone_is_finished_by_the_job(api, make_user, monkeypatch):
    from chalicelib import jobs
    from chalicelib.models.users import User
    from chalicelib.realtime import push

    user = make_user("crashed")
    monkeypatch.setattr(push, "disconnect_user", lambda user_id: (_ for _ in ()).throw(ConnectionError("gone")))
    _failing_sends(monkeypatch)
    assert api.delete("/users/me", {"password": PASSWORD}, token=user["access"]).status_code == 204
    assert User.get(user["id"]).username == "crashed"  # not anonymised yet
    monkeypatch.undo()
    jobs.relay(min_age_seconds=0)
    drain()
    assert User.get(user["id"]).username == f"deleted-{user['id']}"
    again = {"email": user["email"], "username": "crashed", "password": PASSWORD}
    assert api.post("/auth/signup", again).status_code == 201


def test_read_all_in_a_job_leaves_notifications_that_arrived_after_the_click(api, make_user, tuned):
    from chalicelib.services import notifications

    tuned(chunk=2, inline=2)
    user = make_user("reader")
    for n in range(5):
        notifications.notify(user["id"], "followed", actor_id=f"u_x{n}", target={"kind": "user"}, dedupe=f"d{n}")
    assert api.post("/notifications/read-all", token=user["access"]).status_code == 204
    notifications.notify(user["id"], "followed", actor_id="u_late", target={"kind": "user"}, dedupe="late")
    drain()
    assert notifications.unread_count(user["id"]) == 1  # the one that arrived after the click


class FakeContext:
    """A Lambda context whose remaining time drops by ``step_ms`` at each look."""

    def __init__(self, remaining_ms: int, step_ms: int) -> None:
        self.remaining_ms, self.step_ms = remaining_ms, step_ms

    def get_remaining_time_in_millis(self) -> int:
        left = self.remaining_ms
        self.remaining_ms -= self.step_ms
        return left


def test_the_worker_leaves_jobs_it_has_no_time_for_as_batch_item_failures(aws_mock):
    import app as app_module
    from chalicelib import jobs
    from tests.jobs import receive, record

    jobs.publish("push.fanout", "push.fanout:t", {"connection_ids": [], "frame": {"type": "ping"}})
    for n in range(3):
        jobs.publish("notifications.read_all", f"notifications.read_all:u_x:{n}", {"user_id": "u_x"})
    messages = receive()
    assert len(messages) == 4
    event = {"Records": [record(m) for m in messages]}
    # 60 s at the start, 25 s less per job: two jobs run, the two not started are left for redelivery.
    response = app_module.run_jobs(event, FakeContext(60_000, 25_000))
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert failed == [m["MessageId"] for m in messages[2:]]
