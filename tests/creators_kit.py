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
