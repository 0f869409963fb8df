"""``taken_at`` through the real pipeline: a UTC instant when EXIF has the offset, else local time that says so."""

from __future__ import annotations

from tests.imaging import fixtures
from tests.pipeline import upload


def test_taken_at_is_utc_with_an_offset_and_marked_local_without(api, make_user):
    user = make_user("clock")
    with_offset = upload(api, user["access"], fixtures.oriented_jpeg(1, 64, 48, offsets={0x9011: "+02:00"}))
    without = upload(api, user["access"], fixtures.oriented_jpeg(1, 64, 48))
    no_exif = upload(api, user["access"], fixtures.encode(fixtures.quadrants(64, 48), "JPEG"))

    photo = api.get(f"/photos/{with_offset}", token=user["access"]).data
    assert photo["taken_at"] == "2024-06-01T12:30:05Z"  # 14:30:05 at +02:00, as the contract's UTC timestamps
    assert photo["taken_at_local"] is False and photo["taken_at_offset"] == "+02:00"

    photo = api.get(f"/photos/{without}", token=user["access"]).data
    assert photo["taken_at"] == "2024-06-01T14:30:05"  # unchanged for clients, and never with a "Z"
    assert photo["taken_at_local"] is True and photo["taken_at_offset"] is None

    photo = api.get(f"/photos/{no_exif}", token=user["access"]).data
    assert photo["taken_at"] is None and photo["taken_at_local"] is None and photo["taken_at_offset"] is None

    listed = {p["id"]: p for p in api.get(f"/photos?owner={user['id']}").data["items"]}
    assert listed[with_offset]["taken_at"].endswith("Z") and listed[without]["taken_at_local"] is True


def test_the_openapi_document_says_what_taken_at_means(api):
    schemas = api.get("/openapi.json").data["components"]["schemas"]
    fields = schemas["PhotoOut"]["properties"]
    assert "UTC" in fields["taken_at"]["description"] and "local" in fields["taken_at"]["description"]
    assert {"taken_at_local", "taken_at_offset"} <= set(fields)
