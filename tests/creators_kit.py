"""Helpers for creator tests: a creator verified through the real flow (submit, upload, staff approval)."""

from __future__ import annotations

from tests.pipeline import post_file

DOCUMENT = b"%PDF-1.4\n% an identity document\n" + b"0" * 200


def submit(api, creator, *, content_type="application/pdf", data=DOCUMENT, name="Ada Lovelace", country="GB"):
    body = {
        "legal_name": name,
        "country": country,
        "document": {"filename": "id.pdf", "content_type": content_type, "size": len(data)},
    }
    return api.post("/creators/verification", body, token=creator["access"])


def submit_and_upload(api, creator, data=DOCUMENT):
    r = submit(api, creator, data=data)
    assert r.status_code == 201, r.body
    assert post_file(r.data["upload"], data, "application/pdf").status_code in (200, 201, 204)
    return r.data


def staff_user(make_user, name="staffer"):
    from chalicelib.models.users import User

    user = make_user(name)
    User.get(user["id"]).update(actions=[User.role.set("staff")])
    return user


def verified_creator(api, make_user, staff, name):
    creator = make_user(name, role="creator")
    submit_and_upload(api, creator)
    r = api.post(f"/staff/verifications/{creator['id']}/approve", {}, token=staff["access"])
    assert r.status_code == 200, r.body
    return creator


def seed_posts(owner_id: str, count: int, access: str = "free", price_cents: int = 500) -> list[str]:
    """``count`` ready photo rows of ``owner_id`` written through the models (no Pillow), every variant listed,
    each with ``access`` (``paid`` at ``price_cents``). For request-cost tests and benchmarks."""
    from chalicelib.models.base import new_id
    from chalicelib.models.photos import READY, Photo

    ids = []
    with Photo.batch_write() as batch:
        for _ in range(count):
            photo_id = new_id("p_")
            ids.append(photo_id)
            batch.save(
                Photo(
                    photo_id=photo_id,
                    owner_id=owner_id,
                    status=READY,
                    content_type="image/jpeg",
                    declared_size=1000,
                    upload_key=f"uploads/{photo_id}",
                    variant_keys=["thumb", "medium", "large", "watermarked", "preview", "original"],
                    public_bucket="public",
                    access=None if access == "free" else access,
                    price_cents=price_cents if access == "paid" else None,
                    currency="eur" if access == "paid" else None,
                )
            )
    return ids


def make_creator_row(user_id: str) -> None:
    """Make a signed-up user a verified creator directly (benchmarks; tests use ``verified_creator``)."""
    from chalicelib.models.users import User

    User(user_id=user_id).update(actions=[User.role.set("creator"), User.creator_verification.set("approved")])
