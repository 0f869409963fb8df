"""Clients of a photographer: invitations, activation, assigned photos, the client's gallery, order stats.

Rules (see docs/galleries.md):
- Only photographers have clients. A client is identified to its photographer by email; inviting the same
  email twice is ``409 client_exists`` (the existing client's id in ``details``), so a retried POST never makes
  two (an ``Idempotency-Key`` replays the first answer).
- ``invited`` becomes ``active`` when an account with that verified email exists: at invitation (one claim
  GetItem and one user GetItem) or the moment an email is verified later (:func:`on_email_verified`, called by
  accounts: one Query of the sparse ``invitations_by_email`` index).
- Assigned photos are rows keyed (grantee, photo_id): the grant source answers for a page with one BatchGetItem
  and ``GET /gallery`` is one Query on the caller's user id, whatever the size of the photographer's library.
- Deleting a client removes its row at once and its assignment rows (the first 100 inline, the rest in the
  ``client.deleted`` job); purchases are the checkout's table and stay.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import ConflictError, NotFoundError, ValidationError
from chalicelib.models import galleries as store
from chalicelib.models.base import at_epoch, epoch, new_id
from chalicelib.models.galleries import ACTIVE, INVITED, Client, ClientPhoto
from chalicelib.pagination import decode, page

MAX_ASSIGN = 100  # photo ids per request; an event's first page of photos is assigned inline, the rest by a job
INLINE_ACTIVATIONS = 25  # invitations activated in the verifying request; more go to a job
INLINE_REMOVALS = 100  # assignment rows removed in the deleting request; more go to a job
UNASSIGNABLE = ("pending_upload", "rejected")


@dataclass(frozen=True)
class Assigned:
    assigned: int  # rows written by this request
    queued: bool  # the rest of the event is being assigned by a background job


# ---- clients -------------------------------------------------------------------------------------------------


def _email_key(email: str) -> str:
    from chalicelib.services.accounts import normalize_email

    return normalize_email(email).lower()  # account emails are claimed case-insensitively


def require_client(principal: Any, client_id: str, *, consistent: bool = False) -> Client:
    row = store.client(principal.user_id, client_id, consistent=consistent)
    if row is None:
        raise NotFoundError("No such client.")
    return row


def _verified_user_id(email: str) -> str | None:
    from chalicelib.models.users import user_by_id, user_id_by_claim

    user_id = user_id_by_claim("email", email)
    user = user_by_id(user_id) if user_id else None
    if user is None or not user.email_verified or getattr(user, "deleted", False):
        return None
    return user.user_id


def invite(principal: Any, email: str, name: str | None) -> Client:
    email = _email_key(email)
    if email == _email_key(principal.user.email):
        raise ValidationError("You cannot be your own client.", details={"email": "is your own address"})
    existing = store.client_id_by_email(principal.user_id, email)
    if existing:
        raise _exists(existing)
    user_id = _verified_user_id(email)
    row = Client(
        photographer_id=principal.user_id,
        client_id=new_id("c_"),
        email=email,
        name=name or None,
        status=ACTIVE if user_id else INVITED,
        user_id=user_id,
        pending_email=None if user_id else email,
    )
    if user_id:
        from chalicelib.models.base import now

        row.activated_at = now()
    try:
        store.create_client(row)
    except ConflictError as exc:
        found = store.client_id_by_email(principal.user_id, email)
        if found:  # a concurrent invitation of the same email won
            raise _exists(found) from exc
        raise
    _send_invitation(principal.user, row)
    return row


def _exists(client_id: str) -> ConflictError:
    return ConflictError(
        "That email address is already one of your clients.",
        code="client_exists",
        details={"email": "already a client", "client_id": client_id},
    )


def _send_invitation(photographer: Any, row: Client) -> None:
    from chalicelib.config import get_settings
    from chalicelib.services import mailer

    who = photographer.display_name or photographer.username
    origins = get_settings().app_origins
    where = f" at {origins[0]}" if origins else ""
    action = "Log in" if row.status == ACTIVE else "Sign up (or log in)"
    mailer.send(
        row.email,
        f"{who} shared a photo gallery with you on Lightbox",
        f"{who} invited you to a private gallery on Lightbox.\n\n"
        f"{action}{where} with this email address ({row.email}) to see your photos and order prints or downloads."
        "\n\nIf you do not know the sender, ignore this email.",
    )


def list_clients(principal: Any, limit: int, cursor: str | None) -> tuple[list[Client], str | None]:
    key = f"clients:{principal.user_id}"
    return page(key, store.clients_of(principal.user_id, limit, decode(key, cursor)), limit)


def delete_client(principal: Any, client_id: str) -> None:
    """The client's row goes at once with its email key and ``client.deleted`` in one transaction; the first
    ``INLINE_REMOVALS`` assignment rows go before the answer, the job removes the rest (it re-reads until none
    is left, so it also catches rows written by a job that raced the deletion)."""
    from chalicelib import jobs

    row = require_client(principal, client_id, consistent=True)
    payload = {"photographer_id": row.photographer_id, "client_id": row.client_id}
    with jobs.transaction() as tx:
        store.delete_client_rows(row, tx)
        event = jobs.publish_in(tx, "client.deleted", f"client.deleted:{row.client_id}", payload)
    _remove_assignments(row.client_id, INLINE_REMOVALS)
    jobs.dispatch(event)


def _remove_assignments(client_id: str, limit: int) -> int:
    keys = [(k.grantee, k.photo_id) for k in store.assignments_of_client(client_id, limit)]
    store.delete_assignments(keys)
    return len(keys)


def set_price_sheet(principal: Any, client_id: str, price_sheet_id: str | None) -> Client:
    from chalicelib.services import price_sheets

    row = require_client(principal, client_id)
    if price_sheet_id is not None:
        price_sheets.require_sheet(principal, price_sheet_id, field="price_sheet_id")
    if not store.set_client_sheet(row, price_sheet_id):
        raise NotFoundError("No such client.")
    row.price_sheet_id = price_sheet_id
    return row


# ---- activation ----------------------------------------------------------------------------------------------


def on_email_verified(user_id: str, email: str) -> None:
    """Called by accounts the moment ``email`` becomes verified for ``user_id``: its pending invitations become
    active (one Query of a sparse index; nearly always empty). Beyond ``INLINE_ACTIVATIONS`` a job goes on."""
    email = _email_key(email)
    keys = list(store.pending_invitations(email, INLINE_ACTIVATIONS + 1))
    for key in keys[:INLINE_ACTIVATIONS]:
        _activate(key.photographer_id, key.client_id, user_id)
    if len(keys) > INLINE_ACTIVATIONS:
        from chalicelib import jobs

        jobs.publish(
            "client.email_verified",
            f"client.email_verified:{user_id}:{new_id()}",
            {"user_id": user_id, "email": email},
        )


def _activate(photographer_id: str, client_id: str, user_id: str) -> None:
    from chalicelib import jobs

    if photographer_id == user_id:
        return  # a photographer who took the invited address is not their own client
    if store.activate(Client(photographer_id=photographer_id, client_id=client_id), user_id):
        payload = {"photographer_id": photographer_id, "client_id": client_id}
        jobs.publish("client.activated", f"client.activated:{client_id}", payload)


def on_email_verified_job(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``client.email_verified``: the invitations the verifying request left (re-reading finds what is left)."""
    keys = list(store.pending_invitations(payload["email"], limit))
    for key in keys:
        _activate(key.photographer_id, key.client_id, payload["user_id"])
    return {} if len(keys) >= limit else None


def _rekey(row: Client, limit: int) -> int:
    """Move up to ``limit`` of the client's rows still keyed by its client id to its user id (put, then delete:
    a rerun finds the rest)."""
    if row.status != ACTIVE or not row.user_id:
        return 0
    old = list(ClientPhoto.query(row.client_id, limit=limit))
    store.save_assignments(store.assignment_row(row, a.photo_id, a.event_id) for a in old)
    store.delete_assignments((a.grantee, a.photo_id) for a in old)
    return len(old)


def on_client_activated(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``client.activated``: the rows assigned while the client was invited now grant its account."""
    row = store.client(payload["photographer_id"], payload["client_id"], consistent=True)
    if row is None:
        return None
    return {} if _rekey(row, limit) >= limit else None


def on_client_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``client.deleted``: the client's assignment rows (both grantees), a chunk at a time."""
    return {} if _remove_assignments(payload["client_id"], limit) >= limit else None


# ---- assignment ----------------------------------------------------------------------------------------------


def assign(principal: Any, client_id: str, photo_ids: list[str] | None, event_id: str | None) -> Assigned:
    """``photo_ids`` (1..100, every one the caller's own, else 404 naming them and nothing is written) or a whole
    ``event_id`` of the caller's: its first page of the caller's photos now, the rest by ``client.assign_event``."""
    from chalicelib.services import photos as photos_service

    row = require_client(principal, client_id, consistent=True)
    if photo_ids is not None:
        ids = list(dict.fromkeys(photo_ids))
        found = {p.photo_id: p for p in photos_service.photos_by_ids(ids)}
        bad = [
            i
            for i in ids
            if i not in found or found[i].owner_id != principal.user_id or found[i].status in UNASSIGNABLE
        ]
        if bad:
            raise NotFoundError(
                "Some photos are not yours or do not exist.", details={"photo_ids": f"not found: {', '.join(bad)}"}
            )
        n = store.save_assignments(store.assignment_row(row, i, found[i].event_id) for i in ids)
        _settle(row)
        return Assigned(n, False)
    assert event_id is not None
    from chalicelib.services import events as events_service

    event = events_service.get_event(event_id)
    if event is None or event.owner_id != principal.user_id:
        raise NotFoundError("No such event of yours.", details={"event_id": "not found"})
    n, last = _assign_event_page(row, event_id, MAX_ASSIGN, None)
    queued = last is not None
    if queued:
        from chalicelib import jobs

        jobs.publish(
            "client.assign_event",
            f"client.assign_event:{row.client_id}:{event_id}:{new_id()}",
            {"photographer_id": row.photographer_id, "client_id": row.client_id, "event_id": event_id, "key": last},
        )
    _settle(row)
    return Assigned(n, queued)


def _assign_event_page(row: Client, event_id: str, limit: int, last_key: dict | None) -> tuple[int, dict | None]:
    """One page of the event's photos: the photographer's own, assignable ones. Returns (written, next key)."""
    from chalicelib.models.photos import Photo
    from chalicelib.services import photos as photos_service

    keys = Photo.by_event.query(event_id, limit=limit, last_evaluated_key=last_key)
    ids = [k.photo_id for k in keys]
    own = [
        p
        for p in photos_service.photos_by_ids(ids)
        if p.owner_id == row.photographer_id and p.status not in UNASSIGNABLE
    ]
    n = store.save_assignments(store.assignment_row(row, p.photo_id, event_id) for p in own)
    return n, (keys.last_evaluated_key if len(ids) >= limit else None)


def _settle(written_for: Client) -> None:
    """After writing rows: if the client was activated (its rows now keyed by user id) or deleted meanwhile,
    move or remove what was just written, so no row is left under a key nobody reads or grants a deleted
    client."""
    now_row = store.client(written_for.photographer_id, written_for.client_id, consistent=True)
    if now_row is None:
        _remove_assignments(written_for.client_id, INLINE_REMOVALS)
    elif now_row.grantee != written_for.grantee:
        _rekey(now_row, MAX_ASSIGN)


def on_assign_event(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``client.assign_event``: the rest of an event, a page at a time (the cursor is the index's page key)."""
    row = store.client(payload["photographer_id"], payload["client_id"], consistent=True)
    if row is None:
        return None
    state = cursor if cursor is not None else {"key": payload["key"]}
    _, last = _assign_event_page(row, payload["event_id"], limit, state["key"])
    _settle(row)
    return {"key": last} if last is not None else None


def unassign(principal: Any, client_id: str, photo_id: str) -> None:
    row = require_client(principal, client_id)
    if not store.plausible_id(photo_id) or not store.delete_assignment([row.grantee, row.client_id], photo_id):
        raise NotFoundError("That photo is not assigned to this client.")


# ---- the grant source and the listing source (photos_access) -------------------------------------------------


def assigned_grants(caller: Any, photos: list[Any]) -> Mapping[str, Any]:
    """``photos_access.GRANT_SOURCES``: ``Grants(assigned=True)`` for the page's photos assigned to the caller,
    with one BatchGetItem of (caller, photo_id)."""
    from chalicelib.services.entitlements import Grants

    if caller.user_id is None or not photos:
        return {}
    found = store.assignments_in(caller.user_id, [p.photo_id for p in photos])
    owners = {p.photo_id: p.owner_id for p in photos}
    grant = Grants(assigned=True)
    return {pid: grant for pid, a in found.items() if owners.get(pid) == a.photographer_id}


def assigned_listing(caller: Any, event: Any, ordering: str) -> Any:
    """``photos_access.LISTING_SOURCES``: a client who may not read a private event lists the photos of it
    assigned to them through ``by_grantee_event`` (newest first whatever ``ordering``: the index has no likes).
    One Query of one key (a caller with no assignment in the event still gets the event's 404)."""
    from chalicelib.services.photos_access import PhotoIndex

    if caller.user_id is None:
        return None
    user_id, event_id = caller.user_id, event.event_id
    if not list(store.gallery_in_event(user_id, event_id, 1)):
        return None

    def query(limit: int, last: dict | None) -> Any:
        return store.gallery_in_event(user_id, event_id, limit, last)

    return PhotoIndex("client-assignments", query)


# ---- the gallery -------------------------------------------------------------------------------------------


def gallery(principal: Any, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The caller's assigned photos, newest first, each as ``GET /photos/{id}`` shows it plus ``photographer``
    (public view) and ``purchased`` (active skus). Reads per page: one Query, one BatchGet of photos, the
    entitlement's page reads, one BatchGet of purchases (and the owners' avatars)."""
    from chalicelib.services import photos as photos_service
    from chalicelib.services.accounts import users_by_ids
    from chalicelib.services.users_view import avatar_urls

    key = f"gallery:{principal.user_id}"
    rows, next_cursor = page(key, store.gallery_query(principal.user_id, limit, decode(key, cursor)), limit)
    by_photo = {r.photo_id: r for r in rows}
    found = [
        p for p in photos_service.photos_by_ids(list(by_photo)) if p.owner_id == by_photo[p.photo_id].photographer_id
    ]
    views = photos_service.views(principal, found)
    owners = users_by_ids([v["owner"]["id"] for v in views])
    avatars = avatar_urls(owners.values())
    bought = purchased_skus(principal.user_id, [v["id"] for v in views])
    for view in views:
        owner = owners.get(view["owner"]["id"])
        view["photographer"] = public_user(owner, avatars) if owner is not None else None
        view["purchased"] = bought.get(view["id"], [])
    return views, next_cursor


def public_user(user: Any, avatars: Mapping[str, str]) -> dict[str, Any]:
    from chalicelib.models.base import iso

    return {
        "id": user.user_id,
        "username": user.username,
        "display_name": user.display_name,
        "bio": user.bio,
        "role": user.role,
        "creator_verified": bool(user.creator_verified),
        "avatar_url": avatars.get(user.user_id),
        "created_at": iso(user.created_at),
    }


def purchased_skus(buyer_id: str, photo_ids: list[str]) -> dict[str, list[str]]:
    """The skus the buyer holds (state ``active``) of each photo: one BatchGetItem of Purchases per 100."""
    from chalicelib.models.orders import Purchase

    keys = [(buyer_id, p) for p in dict.fromkeys(photo_ids)]
    out: dict[str, list[str]] = {}
    for purchase in Purchase.batch_get(keys) if keys else []:
        raw: Any = purchase.items or {}
        entries = raw.as_dict() if hasattr(raw, "as_dict") else dict(raw)
        skus = sorted(
            {
                str(e["sku"])
                for e in entries.values()
                if isinstance(e, dict) and e.get("state") == "active" and e.get("sku")
            }
        )
        out[purchase.photo_id] = skus
    return out


# ---- client records for checkout and stats -----------------------------------------------------------------


def client_of(buyer_id: str, photographer_id: str) -> Client | None:
    """The photographer's (active) client record of this buyer, if any: one Query."""
    return next(iter(store.client_records_of_user(buyer_id, photographer_id, 1)), None)


def clients_of_buyer(buyer_id: str, photographer_ids: set[str]) -> dict[str, Client]:
    """The buyer's client records with these photographers: one Query per seller, at most ``len`` sellers
    (a cart has few); one Query of all of them when that is cheaper."""
    if not photographer_ids:
        return {}
    if len(photographer_ids) <= 3:
        found = (client_of(buyer_id, p) for p in photographer_ids)
        return {c.photographer_id: c for c in found if c is not None}
    return {
        c.photographer_id: c for c in store.client_records_of_user(buyer_id) if c.photographer_id in photographer_ids
    }


def on_order_paid(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``order.paid``: each seller whose buyer is their client counts the order once and adds its lines'
    amounts, in one transaction with the marker row ``(client_id, order_id)``: a replayed job counts nothing."""
    totals: dict[str, int] = defaultdict(int)
    client_ids: dict[str, str | None] = {}
    for line in payload.get("lines") or []:
        seller = line["seller_id"]
        totals[seller] += int(line.get("amount_cents") or 0)
        client_ids[seller] = client_ids.get(seller) or line.get("client_id")
    buyer, currency = payload["buyer_id"], payload["currency"]
    expires = at_epoch(epoch() + store.CLIENT_ORDER_TTL_DAYS * 86400)
    for seller, amount in sorted(totals.items()):
        known = client_ids.get(seller)
        row = store.client(seller, known) if known else client_of(buyer, seller)
        if row is None or row.user_id != buyer:
            continue
        store.count_order(row, payload["order_id"], amount, currency, expires)
    return None


# ---- account deletion --------------------------------------------------------------------------------------


def on_user_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``user.deleted``: as photographer, their clients (each with its assignments, in ``client.deleted`` jobs)
    and their price sheets; as buyer, the client records others kept of them. A phase and a chunk at a time."""
    from chalicelib import jobs

    user_id = payload["user_id"]
    phase = (cursor or {}).get("phase", "clients")
    if phase == "clients":
        rows = list(store.clients_of(user_id, limit))
        for row in rows:
            _delete_row(row, jobs)
        return {"phase": "clients" if len(rows) >= limit else "sheets"}
    if phase == "sheets":
        n = store.delete_sheets_of(user_id, limit)
        return {"phase": "sheets" if n >= limit else "buyer"}
    rows = list(store.client_records_of_user(user_id, limit=limit))
    for row in rows:
        _delete_row(row, jobs)
    return {"phase": "buyer"} if len(rows) >= limit else None


def _delete_row(row: Client, jobs: Any) -> None:
    payload = {"photographer_id": row.photographer_id, "client_id": row.client_id}
    try:
        with jobs.transaction() as tx:
            store.delete_client_rows(row, tx)
            event = jobs.publish_in(tx, "client.deleted", f"client.deleted:{row.client_id}", payload)
    except Exception:
        if store.client(row.photographer_id, row.client_id, consistent=True) is not None:
            raise
        return  # deleted meanwhile (its own event was published with it)
    jobs.dispatch(event)
