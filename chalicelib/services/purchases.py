"""What buyers hold: Purchase rows (one per buyer and photo, one entry per paid digital order item) and the
purchase grant source of the entitlement decision.

Entries are written after an order is paid, twice on purpose: inline by ``checkout.fulfil`` right after its
transaction, and again by the ``purchases`` consumer of ``order.paid`` (in case the process died in between).
Both are idempotent: an entry is keyed ``"<order_id>:<item_id>"`` and only added when missing, so a refund or a
dispute that changed its state later is never undone by a rerun.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynamodb.exceptions import TransactWriteError

from chalicelib.logs import get_logger
from chalicelib.models.base import PutError, UpdateError, condition_failed, now
from chalicelib.models.orders import Order, Purchase, get_order, purchases_of
from chalicelib.models.photos import Photo
from chalicelib.services.entitlements import Caller, Grants

log = get_logger(__name__)
ACTIVE = "active"


def _map(value: Any) -> dict[str, Any]:
    return value.as_dict() if hasattr(value, "as_dict") else dict(value or {})


def entry_key(order_id: str, item_id: str) -> str:
    return f"{order_id}:{item_id}"


def _entries(order: Order) -> dict[str, dict[str, dict[str, Any]]]:
    """photo_id -> {entry key -> entry} of the order's digital items."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for line in order.items:
        if line.kind != "digital" or not line.variant:
            continue
        entry = {"sku": line.sku, "variant": line.variant, "state": ACTIVE}
        out.setdefault(line.photo_id, {})[entry_key(order.order_id, line.item_id)] = entry
    return out


def record(order: Order) -> int:
    """Write the purchase entries of a paid order's digital items that are not there yet: one BatchGetItem, then
    the rows that do not exist in one transaction per 50 photos of a conditional put and the photo's ``sold_at``
    mark each (a row that appeared meanwhile, or a photo gone, fails it, and that chunk goes the one-by-one way),
    and for rows that exist one update of the missing map keys and one mark each (a repeat purchase of a photo).
    Returns how many rows were written."""
    from chalicelib import jobs

    wanted = _entries(order)
    if not wanted:
        return 0
    found = purchases_of(order.buyer_id, list(wanted))
    fresh: list[str] = []
    existing: list[str] = []
    for photo_id, entries in wanted.items():
        row = found.get(photo_id)
        if row is None:
            fresh.append(photo_id)
        elif any(k not in _map(row.items) for k in entries):
            existing.append(photo_id)
    written = 0
    at = now()
    for start in range(0, len(fresh), 50):
        chunk = fresh[start : start + 50]
        try:
            with jobs.transaction() as tx:  # the models' own connection (counted, reused)
                for photo_id in chunk:
                    row = Purchase(buyer_id=order.buyer_id, photo_id=photo_id, items=wanted[photo_id], updated_at=at)
                    tx.save(row, condition=Purchase.buyer_id.does_not_exist())
                    tx.update(Photo(photo_id=photo_id), actions=[_sold(at)], condition=Photo.photo_id.exists())
            written += len(chunk)
        except TransactWriteError:  # a row that appeared meanwhile, or a photo gone: one by one
            # The marks first: a rerun (the order.paid job) finds the entries written and would not mark again.
            mark_sold(chunk)
            for photo_id in chunk:
                written += _add_one(order.buyer_id, photo_id, wanted[photo_id])
    mark_sold(existing)  # before the entries, for the same reason
    for photo_id in existing:
        written += _add_one(order.buyer_id, photo_id, wanted[photo_id])
    return written


def _sold(at: Any) -> Any:
    """The update action that marks a photo sold, keeping the first instant (``if_not_exists``)."""
    return Photo.sold_at.set(Photo.sold_at | at)


def mark_sold(photo_ids: list[str]) -> None:
    """Set each photo's ``sold_at`` if it is not set yet (one UpdateItem each; a rerun keeps the first instant):
    a photo a paid order holds a download of cannot be made a draft any more (``PATCH /photos``, 409
    ``photo_has_buyers``). A photo that is gone is skipped. New purchase rows get the mark in their own
    transaction instead (:func:`record`); this is the path of repeat purchases and of chunks that fell back."""
    at = now()
    for photo_id in photo_ids:
        try:
            Photo(photo_id=photo_id).update(actions=[_sold(at)], condition=Photo.photo_id.exists())
        except UpdateError as exc:
            if not condition_failed(exc):
                raise


def backfill_sold() -> int:
    """Operator backfill (``python -m chalicelib.cli backfill-sold-photos``), never on a request path: mark
    ``sold_at`` on every photo a paid order's digital item was bought of before the mark existed (a Purchase
    entry not keyed ``ppv:``; pay-per-view counts ``purchase_count``). A Scan of the purchases table, the one
    place that walks it; the marks keep a first instant, so a rerun changes nothing. Returns how many photos it
    looked at."""
    photo_ids: set[str] = set()
    for row in Purchase.scan(attributes_to_get=["buyer_id", "photo_id", "items"]):
        if any(not key.startswith(f"{PPV}:") for key in _map(row.items)):
            photo_ids.add(row.photo_id)
    mark_sold(sorted(photo_ids))
    return len(photo_ids)


def _add_one(buyer_id: str, photo_id: str, entries: dict[str, dict[str, Any]]) -> int:
    """Add the entries missing from one row (a conditional put if there is no row yet)."""
    try:
        row: Purchase | None = Purchase.get(buyer_id, photo_id, consistent_read=True)
    except Purchase.DoesNotExist:
        row = None
    if row is None:
        try:
            Purchase(buyer_id=buyer_id, photo_id=photo_id, items=entries, updated_at=now()).save(
                condition=Purchase.buyer_id.does_not_exist()
            )
            return 1
        except PutError as exc:  # somebody created the row meanwhile: add to it below
            if not condition_failed(exc):
                raise
        row = Purchase.get(buyer_id, photo_id, consistent_read=True)
    missing = {k: v for k, v in entries.items() if k not in _map(row.items)}
    if not missing:
        return 0
    actions = [Purchase.items[k].set(v) for k, v in missing.items()]
    actions.append(Purchase.updated_at.set(now()))
    Purchase(buyer_id=buyer_id, photo_id=photo_id).update(actions=actions, condition=Purchase.buyer_id.exists())
    return 1


def on_order_paid(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``order.paid`` consumer ``purchases``: the inline write again, in case it never happened."""
    order = get_order(str(payload["order_id"]), consistent=True)
    if order is not None and order.paid_at is not None:
        record(order)
    return None


PPV = "ppv"  # a pay-per-view entry (``ppv:<purchase_id>``, services/creator_payments.py): the whole item


def ppv_key(purchase_id: str) -> str:
    return f"{PPV}:{purchase_id}"


def active_variants(row: Purchase | None) -> frozenset[str]:
    """The variants the row's active entries grant: a checkout entry its bought variant, a pay-per-view entry
    every full variant (``entitlements.FULL``)."""
    from chalicelib.services.entitlements import FULL

    if row is None:
        return frozenset()
    out: set[str] = set()
    for entry in _map(row.items).values():
        if not isinstance(entry, dict) or entry.get("state") != ACTIVE:
            continue
        if entry.get("kind") == PPV:
            out |= FULL
        else:
            out.add(str(entry.get("variant")))
    return frozenset(out)


def holds_ppv(row: Purchase | None) -> bool:
    """Whether the row holds an active pay-per-view purchase."""
    if row is None or not row.ppv_id:
        return False
    entry = _map(row.items).get(ppv_key(row.ppv_id))
    return isinstance(entry, dict) and entry.get("state") == ACTIVE


def active_entry(row: Purchase | None, order_id: str, item_id: str) -> bool:
    if row is None:
        return False
    items = _map(row.items)
    entry = items.get(entry_key(order_id, item_id))
    return isinstance(entry, dict) and entry.get("state") == ACTIVE


def grants(caller: Caller, photos: list[Any]) -> Mapping[str, Grants]:
    """The purchase grant source: one BatchGetItem of the caller's Purchases for the page."""
    if caller.user_id is None or not photos:
        return {}
    rows = purchases_of(caller.user_id, [p.photo_id for p in photos])
    out: dict[str, Grants] = {}
    for photo_id, row in rows.items():
        variants = active_variants(row)
        if variants:
            out[photo_id] = Grants(purchased=variants)
    return out
