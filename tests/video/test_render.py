"""The pipeline's own code on real files (no AWS): what it refuses and why, what it makes, and that ffmpeg runs
inside their time, memory and stderr limits."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from chalicelib.video import VideoRejected, ffmpeg, process
from tests.video import media


def render(tmp_path: Path, data: bytes, **overrides):
    source = tmp_path / "source"
    source.write_bytes(data)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    options = {
        "watermark_text": "Lightbox",
        "max_seconds": 600,
        "timeout_seconds": 60,
        "memory_mib": 1536,
        "max_output_bytes": 256 * 1024 * 1024,
        "preset": "ultrafast",
        "deadline": time.monotonic() + 120,
    }
    options.update(overrides)
    return process.render(str(source), str(work), **options)


def rejection(tmp_path: Path, data: bytes, **overrides) -> str:
    with pytest.raises(VideoRejected) as caught:
        render(tmp_path, data, **overrides)
    return caught.value.reason


@pytest.mark.parametrize("name", ["mp4", "webm", "mov_no_audio"])
def test_containers_and_codecs_become_an_h264_aac_stream(tmp_path, samples, name):
    out = render(tmp_path, samples[name])
    info, report = media.facts(Path(out.files["stream"][0]))
    assert info.video_codec == "h264" and (info.width, info.height) == (160, 120) == (out.width, out.height)
    assert info.audio_codec == ("aac" if name != "mov_no_audio" else None)
    assert abs(out.duration_s - {"mp4": 3, "webm": 2, "mov_no_audio": 2}[name]) < 0.2
    assert set(out.files) == {"thumb", "medium", "large", "poster", "preview_poster", "preview", "stream"}


def test_the_stream_is_faststart_and_has_no_metadata(tmp_path, samples):
    source = tmp_path / "src.mp4"
    source.write_bytes(samples["mp4"])
    _, before = media.facts(source)
    assert media.LOCATION in before and "iPhone 15" in before  # the sample does carry them
    out = render(tmp_path, samples["mp4"])
    for name in ("stream", "preview"):
        path = Path(out.files[name][0])
        boxes = media.top_level_boxes(path.read_bytes())
        assert boxes.index("moov") < boxes.index("mdat"), (name, boxes)
        _, report = media.facts(path)
        assert media.LOCATION not in report and "iPhone" not in report and "Apple" not in report
        assert "location" not in report.lower()
    assert media.LOCATION.encode() not in Path(out.files["stream"][0]).read_bytes()


def test_rotation_is_applied_to_the_pixels(tmp_path, samples):
    out = render(tmp_path, samples["rotated"])
    info, report = media.facts(Path(out.files["stream"][0]))
    assert (info.width, info.height) == (120, 160) == (out.width, out.height)  # portrait
    assert info.rotation == 0 and "rotation of" not in report
    with Image.open(out.files["poster"][0]) as poster:
        assert poster.size == (120, 160)
    preview, _ = media.facts(Path(out.files["preview"][0]))
    assert preview.height > preview.width


def test_preview_is_short_small_silent_and_marked(tmp_path):
    clip = media.make(
        tmp_path / "big.mp4", *media.testsrc(12, "1280x720", 5), *media.sine(12), *media.X264, "-c:a", "aac"
    )
    out = render(tmp_path, clip)
    preview, report = media.facts(Path(out.files["preview"][0]))
    assert preview.duration_s <= 10.05 and preview.audio_codec is None and "Audio:" not in report
    assert preview.height <= 480 and preview.video_codec == "h264"
    stream, _ = media.facts(Path(out.files["stream"][0]))
    assert (stream.width, stream.height) == (1280, 720) and stream.audio_codec == "aac"  # never upscaled
    # The watermark is in the pixels: the preview's first frame against the same frame scaled without it.
    size = f"{preview.width}x{preview.height}"
    marked = media.make(tmp_path / "marked.png", "-i", out.files["preview"][0], "-frames:v", "1")
    plain = media.make(tmp_path / "plain.png", "-i", str(tmp_path / "big.mp4"), "-frames:v", "1", "-s", size)
    with Image.open(io.BytesIO(marked)) as a, Image.open(io.BytesIO(plain)) as b:
        difference = ImageStat.Stat(ImageChops.difference(a.convert("L"), b.convert("L"))).mean[0]
    assert difference > 2, difference  # with the mark about 6; encoding noise alone about 0.8
    with Image.open(out.files["preview_poster"][0]) as blurred, Image.open(out.files["poster"][0]) as poster:
        assert max(blurred.size) <= 640 and poster.size == (1280, 720)
    with Image.open(out.files["thumb"][0]) as thumb, Image.open(out.files["large"][0]) as large:
        assert max(thumb.size) == 256 and large.size == (1280, 720)


def test_a_1080p_cap_keeps_the_aspect(tmp_path):
    clip = media.make(tmp_path / "wide.mp4", *media.testsrc(0.5, "2560x1080", 2), *media.X264)
    out = render(tmp_path, clip)
    assert (out.width, out.height) == (1920, 810)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("truncated_index", "corrupt or truncated"),
        ("truncated_data", "truncated"),
        ("png_codec", "codec png is not supported"),
        ("audio_only", "no video stream"),
        ("two_hours", "7200 seconds long; the limit is 600"),
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path, samples, name, words):
    assert words in rejection(tmp_path, samples[name])


def test_non_videos_are_refused_by_their_bytes(tmp_path):
    assert "not a video (found: JPEG image)" in rejection(tmp_path, media.jpeg())
    assert "not a video (found: ZIP archive)" in rejection(tmp_path, media.zip_bomb())
    assert "not a video" in rejection(tmp_path, b"")
    assert "corrupt or truncated" in rejection(tmp_path, b"\0\0\0\x20ftypisom" + b"\xff" * 5000)


def test_a_low_limit_refuses_a_longer_video(tmp_path, samples):
    assert "3 seconds long; the limit is 2 seconds" in rejection(tmp_path, samples["mp4"], max_seconds=2)


def test_limits_end_the_run_rather_than_the_worker(tmp_path, samples):
    """Too little memory or time: a rejection, never a crash or a hang."""
    assert "memory" in rejection(tmp_path, samples["mp4"], memory_mib=48)
    started = time.monotonic()
    assert "too long" in rejection(tmp_path, samples["mp4"], deadline=time.monotonic() + 0.5)
    assert time.monotonic() - started < 5


def test_ffmpeg_is_killed_at_its_timeout_and_its_stderr_is_bounded():
    started = time.monotonic()
    endless = ["-f", "lavfi", "-i", "testsrc=size=64x64:rate=25", "-f", "null", "-"]
    result = ffmpeg.run(["-loglevel", "debug", *endless], timeout=1.0, memory_mib=512, max_output_bytes=1024)
    assert result.timed_out and time.monotonic() - started < 4
    assert 0 < len(result.stderr.encode()) <= ffmpeg.STDERR_BYTES


def test_ffmpeg_gets_its_limits_without_preexec_fn(monkeypatch):
    """The limits are in the ffmpeg process itself (its /proc limits), set without ``preexec_fn``: that runs
    Python between fork and exec, which can deadlock a child forked while other threads (the app host's HTTP
    servers, the stderr reader) hold a lock, and a valid video would then be refused at the timeout."""
    import subprocess
    import threading

    started: list[subprocess.Popen] = []
    kwargs_seen: list[dict] = []

    class Recording(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            kwargs_seen.append(kwargs)
            super().__init__(*args, **kwargs)
            started.append(self)

    binary = os.path.realpath(ffmpeg.executable())  # before recording: imageio runs `ffmpeg -version` once
    monkeypatch.setattr(ffmpeg.subprocess, "Popen", Recording)
    endless = ["-f", "lavfi", "-i", "testsrc=size=64x64:rate=25", "-f", "null", "-"]
    results = []
    runner = threading.Thread(
        target=lambda: results.append(ffmpeg.run(endless, timeout=5, memory_mib=700, max_output_bytes=12345))
    )
    runner.start()
    try:
        limits = ""
        until = time.monotonic() + 4
        while time.monotonic() < until:
            if started:
                assert all(kwargs.get("preexec_fn") is None for kwargs in kwargs_seen)
                pid = started[0].pid
                try:
                    if os.path.realpath(f"/proc/{pid}/exe") == binary:
                        limits = Path(f"/proc/{pid}/limits").read_text()
                        status = Path(f"/proc/{pid}/status").read_text()
                        break
                except FileNotFoundError:
                    pass
            time.sleep(0.02)
        assert limits, "ffmpeg never ran"
        rows = {line[:26].strip(): line[26:].split()[:2] for line in limits.splitlines()[1:]}
        assert rows["Max address space"] == [str(700 * 1024 * 1024)] * 2
        assert rows["Max file size"] == ["12345", "12345"]
        assert rows["Max core file size"] == ["0", "0"]
        ignored = int(next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16)
        assert not ignored & (1 << (25 - 1)), "SIGXFSZ is ignored: a write past the limit would not end ffmpeg"
    finally:
        runner.join(10)
    [result] = results
    assert result.timed_out


def test_an_output_over_its_size_limit_is_refused_with_that_reason(tmp_path, samples):
    reason = rejection(tmp_path, samples["mp4"], max_output_bytes=4096)
    assert "larger than the 4096 bytes allowed" in reason, reason


def _free(monkeypatch, free: int) -> None:
    import shutil
    import types

    monkeypatch.setattr(shutil, "disk_usage", lambda path: types.SimpleNamespace(total=free, used=0, free=free))


def test_a_nearly_full_disk_is_refused_before_ffmpeg_fills_it(tmp_path, samples, monkeypatch):
    later = process.POSTER_MAX_BYTES + process.IMAGES_BYTES + process.PREVIEW_MAX_BYTES
    _free(monkeypatch, later + 1000)  # room for the poster and the preview, none for the stream
    assert rejection(tmp_path, samples["mp4"]) == process.NO_ROOM
    assert not (tmp_path / "work" / "stream.mp4").exists()


def test_each_output_is_capped_by_the_free_space_less_what_the_others_need(tmp_path, samples, monkeypatch):
    runs = []
    real = ffmpeg.run

    def recording(args, **kwargs):
        if "-y" in args:  # a run that writes a file (the last argument), not a probe
            runs.append((args[-1], kwargs["max_output_bytes"]))
        return real(args, **kwargs)

    monkeypatch.setattr(ffmpeg, "run", recording)
    later = process.POSTER_MAX_BYTES + process.IMAGES_BYTES + process.PREVIEW_MAX_BYTES
    _free(monkeypatch, later + 3 * process.MiB)
    render(tmp_path, samples["mp4"], max_output_bytes=10**12)
    caps = {os.path.basename(out): cap for out, cap in runs}
    assert caps["stream.mp4"] == 3 * process.MiB
    assert caps["poster.jpg"] == process.POSTER_MAX_BYTES and caps["preview.mp4"] == process.PREVIEW_MAX_BYTES
    # The stream of a 2 GB upload (the largest accepted) and everything else fit in Lambda's 10 GB /tmp with it.
    assert process.stream_cap(2 * 1024**3) == 4 * 1024**3 and process.stream_cap(1000) == process.STREAM_FLOOR_BYTES
    assert 2 * 1024**3 + process.stream_cap(2 * 1024**3) + later < 10 * 1000**3


def test_a_disk_full_error_is_a_rejection_not_a_retry(tmp_path):
    """ENOSPC (``/dev/full`` answers every write with it) is refused with its reason, not retried as FfmpegFailed
    (three deliveries of up to 14 minutes each)."""
    args = [*media.testsrc(1), *media.X264, "-f", "mp4", "-y", "/dev/full"]
    with pytest.raises(VideoRejected) as caught:
        process._run(args, 20, 1536, 10**9)
    assert caught.value.reason == process.NO_ROOM
