"""Review fixes for the jobs path: the outbox relay, resumable account deletion, bounded chunks, the worker's
time budget, minimal payloads and a bounded read-all."""

from __future__ import annotations

import os

import pytest

from tests.api.test_jobs import _photo
from tests.conftest import PASSWORD
from tests.jobs import drain


@pytest.fixture
def tuned(monkeypatch):
    from chalicelib.config import get_settings

    def tune(chunk: int = 3, inline: int = 2) -> None:
        monkeypatch.setenv("LIGHTBOX_JOB_CHUNK_SIZE", str(chunk))
        monkeypatch.setenv("LIGHTBOX_FANOUT_INLINE_MAX", str(inline))
        get_settings.cache_clear()

    yield tune
    for var in ("LIGHTBOX_JOB_CHUNK_SIZE", "LIGHTBOX_FANOUT_INLINE_MAX"):
        os.environ.pop(var, None)
    get_settings.cache_clear()


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
