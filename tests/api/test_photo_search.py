"""Photo search indexes every distinct caption word (not only the first 40), and keeps up with caption edits."""

from __future__ import annotations

import math

from tests.pipeline import jpeg, upload


def ids(api, q: str) -> list[str]:
    r = api.get(f"/photos/search?q={q}")
    assert r.status_code == 200, r.body
    return [p["id"] for p in r.data["items"]]


def test_every_caption_word_is_found_and_an_edited_away_word_is_not(api, make_user):
    user = make_user("wordy")
    filler = " ".join(f"w{i:03d}" for i in range(60))  # 60 words before the ones that matter
    photo_id = upload(api, user["access"], jpeg(), caption=f"{filler} zebra yak")
    assert ids(api, "zebra") == [photo_id]  # word 61: before, only the first 40 terms (sorted) were indexed
    assert ids(api, "yak") == [photo_id] and ids(api, "w059") == [photo_id] and ids(api, "w000") == [photo_id]

    r = api.patch(f"/photos/{photo_id}", {"caption": f"{filler} yak walrus"}, token=user["access"])
    assert r.status_code == 200, r.body
    assert ids(api, "zebra") == []  # removed from the caption: no longer found
    assert ids(api, "walrus") == [photo_id]  # added beyond word 40
    assert ids(api, "yak") == [photo_id] and ids(api, "w059") == [photo_id]

    api.patch(f"/photos/{photo_id}", {"caption": "just two"}, token=user["access"])
    assert ids(api, "w059") == [] and ids(api, "yak") == [] and ids(api, "two") == [photo_id]


def test_a_caption_of_the_maximum_length_is_indexed_whole_in_bounded_batches(api, make_user, counter):
    from chalicelib.api.photos import FileIn, PatchPhotoIn
    from chalicelib.services import photos as photos_service

    def caption_limit(model) -> int:
        field = model.model_json_schema()["properties"]["caption"]
        return next(option["maxLength"] for option in field.get("anyOf", [field]) if "maxLength" in option)

    limit = caption_limit(FileIn)
    assert limit == caption_limit(PatchPhotoIn) == photos_service.MAX_CAPTION_CHARS
    words = [f"{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(26 * 26)]  # "aa" .. "zz"
    caption = " ".join(words[: (limit + 1) // 3])  # as many distinct words as the limit can hold
    assert len(caption) == limit
    terms = photos_service.search_terms(caption, [])
    assert len(terms) == len(caption.split()) == 667 <= photos_service.MAX_TERMS
    user = make_user("longcaption")
    counter.clear()
    photo_id = upload(api, user["access"], jpeg(), caption=caption)
    batches = math.ceil(len(terms) / 25)  # 27: BatchWriteItem takes 25 rows
    # written before the photo turns ready, and again by the (idempotent, repeatable) after-ready step; plus the
    # reservation's own batch write
    assert counter.calls.count("dynamodb.BatchWriteItem") <= 2 * batches + 1
    last = caption.split()[-1]
    assert ids(api, last) == [photo_id] and ids(api, "aa") == [photo_id]

    counter.clear()
    r = api.patch(f"/photos/{photo_id}", {"caption": caption.rsplit(" ", 1)[0] + " zz"}, token=user["access"])
    assert r.status_code == 200, r.body
    writes = counter.calls.count("dynamodb.BatchWriteItem")
    assert writes == 1  # an edit writes what changed (one row out, one in), not the whole caption again
    assert ids(api, last) == [] and ids(api, "zz") == [photo_id]


def test_photos_indexed_under_the_old_cap_are_backfilled_by_the_cli(api, make_user, capsys):
    from chalicelib import cli
    from chalicelib.models.base import iso
    from chalicelib.models.photos import Photo
    from chalicelib.models.search import SearchEntry

    user = make_user("legacy")
    photo_id = upload(api, user["access"], jpeg(), caption=" ".join(f"w{i:03d}" for i in range(60)) + " zebra")
    photo = Photo.get(photo_id)
    SearchEntry(pk="photo:zebra", sk=f"{iso(photo.created_at)}#{photo_id}").delete()  # as the old cap left it
    assert ids(api, "zebra") == []
    assert cli.main(["reindex-photo-search"]) == 0
    assert "reindexed 1 photos" in capsys.readouterr().out
    assert ids(api, "zebra") == [photo_id]
