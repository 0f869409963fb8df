from __future__ import annotations

import pytest

from tests.video import media


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> dict[str, bytes]:
    return media.library(tmp_path_factory.mktemp("videos"))


@pytest.fixture(autouse=True)
def _fast_encodes(monkeypatch):
    """x264's ultrafast preset in tests (production: ``veryfast``, chalicelib/config.py)."""
    from chalicelib.config import get_settings

    monkeypatch.setenv("LIGHTBOX_VIDEO_PRESET", "ultrafast")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("LIGHTBOX_VIDEO_PRESET")
    get_settings.cache_clear()
