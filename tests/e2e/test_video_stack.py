"""A video through the local stack as ``make dev`` runs it: presigned POST to moto's S3 -> the S3 notification
on the video prefix -> the video queue -> the video poller -> the real ``process_video_queue`` -> served."""

from __future__ import annotations

import time

import pytest
import requests

from tests.e2e.test_local_stack import call, signup_and_login
from tests.video import media

pytestmark = pytest.mark.xdist_group("local_stack")


def test_a_video_is_processed_through_s3_sqs_and_the_video_poller(stack, tmp_path):
    tokens = signup_and_login(stack, "e2e_vera")
    data = media.make(tmp_path / "clip.mp4", *media.testsrc(2), *media.sine(2), *media.X264, "-c:a", "aac")
    r = call(
        stack,
        "POST",
        "/photos/uploads",
        {"filename": "clip.mp4", "content_type": "video/mp4", "size": len(data)},
        token=tokens["access_token"],
        expect=201,
    )
    slot = r.json()["uploads"][0]
    post = requests.post(
        slot["upload"]["url"],
        data=slot["upload"]["fields"],
        files={"file": ("clip.mp4", data, "video/mp4")},
        timeout=30,
    )
    assert post.status_code in (200, 201, 204), post.text
    deadline, video = time.time() + 90, None
    while time.time() < deadline:
        video = call(stack, "GET", f"/photos/{slot['photo_id']}", token=tokens["access_token"], expect=200).json()
        if video["status"] in ("ready", "rejected"):
            break
        time.sleep(0.5)
    assert video["status"] == "ready", video
    assert (video["width"], video["height"]) == (160, 120)
    ranged = requests.get(video["urls"]["stream"], headers={"Range": "bytes=0-99"}, timeout=30)
    assert ranged.status_code == 206 and len(ranged.content) == 100
    boxes = media.top_level_boxes(requests.get(video["urls"]["stream"], timeout=30).content)
    assert boxes.index("moov") < boxes.index("mdat")
