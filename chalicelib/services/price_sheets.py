"""Price sheets and what a buyer may buy of a photo (the offer checkout prices a cart with).

A photographer keeps any number of sheets (each one currency, 1..100 items, skus unique within it) and at most
one default. Which sheet applies to a buyer and a photo:
- the buyer is the photo's owner ................ nothing (you cannot buy your own photo; the route says 403)
- the buyer cannot see the photo ................ nothing (the route says 404)
- the buyer is the photographer's client ........ the client's sheet if set (and not deleted), else the default
- anyone else who can see the photo ............. the photographer's default sheet
- the photo is not ready, or no sheet applies ... nothing

Orders snapshot every item (label, sku, licence, size, unit price) when they are created, so changing or
deleting a sheet never changes an existing order; nothing here is read for an order after it is placed.

For checkout (keep these names): :func:`offer_for`, :func:`offers_for` (a cart's photos with a bounded number
of reads, however many lines) and :func:`priced_item` (404/403 with the contract's error body).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import ForbiddenError, NotFoundError, ValidationError
from chalicelib.models import galleries as store
from chalicelib.models.base import new_id, now
from chalicelib.models.galleries import PriceSheet, SheetItem
from chalicelib.pagination import decode, page

MAX_ITEMS = store.MAX_ITEMS
MAX_PRICE_CENTS = 99_999_999  # Stripe's largest amount for most currencies
# ISO 4217 active codes (lowercase, as Stripe has them).
CURRENCIES = frozenset(
    {
        "aed",
        "afn",
        "all",
        "amd",
        "ang",
        "aoa",
        "ars",
        "aud",
        "awg",
        "azn",
        "bam",
        "bbd",
        "bdt",
        "bgn",
        "bhd",
        "bif",
        "bmd",
        "bnd",
        "bob",
        "brl",
        "bsd",
        "btn",
        "bwp",
        "byn",
        "bzd",
        "cad",
        "cdf",
        "chf",
        "clp",
        "cny",
        "cop",
        "crc",
        "cup",
        "cve",
        "czk",
        "djf",
        "dkk",
        "dop",
        "dzd",
        "egp",
        "ern",
        "etb",
        "eur",
        "fjd",
        "fkp",
        "gbp",
        "gel",
        "ghs",
        "gip",
        "gmd",
        "gnf",
        "gtq",
        "gyd",
        "hkd",
        "hnl",
        "htg",
        "huf",
        "idr",
        "ils",
        "inr",
        "iqd",
        "irr",
        "isk",
        "jmd",
        "jod",
        "jpy",
        "kes",
        "kgs",
        "khr",
        "kmf",
        "kpw",
        "krw",
        "kwd",
        "kyd",
        "kzt",
        "lak",
        "lbp",
        "lkr",
        "lrd",
        "lsl",
        "lyd",
        "mad",
        "mdl",
        "mga",
        "mkd",
        "mmk",
        "mnt",
        "mop",
        "mru",
        "mur",
        "mvr",
        "mwk",
        "mxn",
        "myr",
        "mzn",
        "nad",
        "ngn",
        "nio",
        "nok",
        "npr",
        "nzd",
        "omr",
        "pab",
        "pen",
        "pgk",
        "php",
        "pkr",
        "pln",
        "pyg",
        "qar",
        "ron",
        "rsd",
        "rub",
        "rwf",
        "sar",
        "sbd",
        "scr",
        "sdg",
        "sek",
        "sgd",
        "shp",
        "sle",
        "sll",
        "sos",
        "srd",
        "ssp",
        "stn",
        "svc",
        "syp",
        "szl",
        "thb",
        "tjs",
        "tmt",
        "tnd",
        "top",
        "try",
        "ttd",
        "twd",
        "tzs",
        "uah",
        "ugx",
        "usd",
        "uyu",
        "uzs",
        "ves",
        "vnd",
        "vuv",
        "wst",
        "xaf",
        "xcd",
        "xof",
        "xpf",
        "yer",
        "zar",
        "zmw",
        "zwl",
    }
)


@dataclass(frozen=True)
class OfferItem:
    sku: str
    kind: str  # digital | print
    label: str
    price_cents: int
    variant: str | None = None  # digital: large | original
    license: str | None = None  # digital: personal | commercial
    width_in: float | None = None  # print
    height_in: float | None = None
    paper: str | None = None
    frame: str | None = None
    fulfilment: str | None = None  # lab | self


@dataclass(frozen=True)
class Offer:
    """What one buyer may buy of one photo, at today's prices."""

    currency: str
    seller_id: str
    client_id: str | None  # the seller's client record of the buyer (for OrderLine.client_id)
    price_sheet_id: str
    items: list[OfferItem] = field(default_factory=list)

    def item(self, sku: str) -> OfferItem | None:
        return next((i for i in self.items if i.sku == sku), None)


# ---- pure rules ----------------------------------------------------------------------------------------------


def currency_problem(currency: Any) -> str | None:
    if not isinstance(currency, str) or currency not in CURRENCIES:
        return "must be a lowercase ISO 4217 code such as eur or usd"
    return None


def price_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an integer number of minor units"
    if not 1 <= value <= MAX_PRICE_CENTS:
        return f"must be between 1 and {MAX_PRICE_CENTS}"
    return None


def item_problems(items: Sequence[Mapping[str, Any]], field_name: str = "items") -> dict[str, str]:
    """What is wrong with a sheet's items (already of the right shapes): count, unique skus, the kind's block
    present and the other one absent, prices. Keys are field paths (``items.2.sku``)."""
    problems: dict[str, str] = {}
    if not 1 <= len(items) <= MAX_ITEMS:
        problems[field_name] = f"must hold 1 to {MAX_ITEMS} items"
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        sku = item.get("sku")
        if isinstance(sku, str):
            if sku in seen:
                problems[f"{field_name}.{i}.sku"] = f"duplicates item {seen[sku]}"
            seen.setdefault(sku, i)
        kind = item.get("kind")
        own, other = ("digital", "print") if kind == "digital" else ("print", "digital")
        if item.get(own) is None:
            problems[f"{field_name}.{i}.{own}"] = f"required for a {kind} item"
        if item.get(other) is not None:
            problems[f"{field_name}.{i}.{other}"] = f"not allowed for a {kind} item"
        bad_price = price_problem(item.get("price_cents"))
        if bad_price:
            problems[f"{field_name}.{i}.price_cents"] = bad_price
    return problems


def flatten_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A request item ({..., digital: {...}} or {..., print: {...}}) as stored (one flat map)."""
    flat = {k: item[k] for k in ("sku", "kind", "label", "price_cents")}
    block = item.get(item["kind"]) or {}
    flat.update({k: v for k, v in block.items() if v is not None})
    return flat


# ---- sheets --------------------------------------------------------------------------------------------------


def require_sheet(
    principal: Any, price_sheet_id: str, *, field: str | None = None, consistent: bool = False
) -> PriceSheet:
    """The caller's sheet; another photographer's is simply not found (404)."""
    row = store.sheet(principal.user_id, price_sheet_id, consistent=consistent)
    if row is None:
        raise NotFoundError("No such price sheet.", details={field: "not found"} if field else None)
    return row


def _check(currency: str | None, items: Sequence[Mapping[str, Any]] | None) -> None:
    problems: dict[str, str] = {}
    if currency is not None and (bad := currency_problem(currency)):
        problems["currency"] = bad
    if items is not None:
        problems.update(item_problems(items))
    if problems:
        raise ValidationError("The price sheet is not valid.", details=problems)


def create_sheet(
    principal: Any, *, name: str, currency: str, default: bool, items: Sequence[Mapping[str, Any]]
) -> PriceSheet:
    _check(currency, items)
    row = PriceSheet(
        photographer_id=principal.user_id,
        price_sheet_id=new_id("ps_"),
        name=name,
        currency=currency,
        items=[SheetItem(**flatten_item(i)) for i in items],
        is_default=default,
    )
    current = store.default_sheet_id(principal.user_id, consistent=True) if default else None
    store.write_sheet(row, new=True, default_change=(current, True) if default else None)
    return row


def list_sheets(principal: Any, limit: int, cursor: str | None) -> tuple[list[PriceSheet], str | None]:
    key = f"price-sheets:{principal.user_id}"
    return page(key, store.sheets_of(principal.user_id, limit, decode(key, cursor)), limit)


def update_sheet(
    principal: Any, price_sheet_id: str, changes: Mapping[str, Any], expected_version: int | None = None
) -> PriceSheet:
    """Only the given fields change (``items`` replaces the list). ``default: true`` makes it the default (the
    old one is unmarked in the same transaction), ``false`` clears it if it is. 409 on a concurrent change."""
    from chalicelib.errors import ConflictError

    row = require_sheet(principal, price_sheet_id, consistent=True)
    if expected_version is not None and expected_version != row.version:
        raise ConflictError(
            "The price sheet changed since you read it; reload it and retry.",
            code="version_mismatch",
            details={"version": f"current version is {row.version}"},
        )
    nulls = [f for f in ("name", "currency", "items", "default") if f in changes and changes[f] is None]
    if nulls:
        raise ValidationError("The request body is not valid.", details={f: "must not be null" for f in nulls})
    _check(changes.get("currency"), changes.get("items"))
    if "name" in changes:
        row.name = changes["name"]
    if "currency" in changes:
        row.currency = changes["currency"]
    if "items" in changes:
        row.items = [SheetItem(**flatten_item(i)) for i in changes["items"]]
    default_change = None
    if "default" in changes and bool(changes["default"]) != bool(row.is_default):
        current = store.default_sheet_id(principal.user_id, consistent=True)
        default_change = (current, bool(changes["default"]))
        row.is_default = bool(changes["default"])
    row.updated_at = now()
    store.write_sheet(row, new=False, default_change=default_change)
    return row


def delete_sheet(principal: Any, price_sheet_id: str) -> None:
    """Clients pointing at it fall back to the default sheet (their pointer is left; it finds nothing)."""
    store.delete_sheet(require_sheet(principal, price_sheet_id, consistent=True))


# ---- offers (what a buyer may buy) ---------------------------------------------------------------------------


def _items(sheet: PriceSheet) -> list[OfferItem]:
    out = []
    for i in sheet.items or []:
        w, h = i.width_in, i.height_in
        out.append(
            OfferItem(
                sku=i.sku,
                kind=i.kind,
                label=i.label,
                price_cents=int(i.price_cents),
                variant=i.variant,
                license=i.license,
                width_in=float(w) if w is not None else None,
                height_in=float(h) if h is not None else None,
                paper=i.paper,
                frame=i.frame,
                fulfilment=i.fulfilment,
            )
        )
    return out


def _visible(buyer_user_id: str, photos: list[Any]) -> set[str]:
    from chalicelib.models.photos import READY
    from chalicelib.services import photos_access
    from chalicelib.services.entitlements import Caller

    ready = [p for p in photos if p.status == READY and p.owner_id != buyer_user_id]
    decisions = photos_access.decide(Caller(user_id=buyer_user_id), ready)
    return {pid for pid, d in decisions.items() if d.visible}


def offers_for(buyer_user_id: str, photos: Iterable[Any]) -> dict[str, Offer]:
    """The offer for each photo the buyer may buy (others left out: own, invisible, not ready, no sheet).
    Reads, for up to 100 photos of any number of sellers: the entitlement's page reads, the buyer's client
    records (one Query per seller up to 3 sellers, else one Query of all), one BatchGet of the sellers' default
    pointers, one BatchGet of the sheets."""
    from chalicelib.services import clients

    photos = list({p.photo_id: p for p in photos}.values())
    visible = _visible(buyer_user_id, photos)
    candidates = [p for p in photos if p.photo_id in visible]
    sellers = {p.owner_id for p in candidates}
    client_rows = clients.clients_of_buyer(buyer_user_id, sellers)
    defaults = store.default_sheet_ids(sellers)
    wanted = {(s, defaults[s]) for s in sellers if s in defaults}
    wanted |= {(s, c.price_sheet_id) for s, c in client_rows.items() if c.price_sheet_id}
    sheets = store.sheets_by_keys(wanted)
    per_seller: dict[str, Offer | None] = {}
    for seller in sellers:
        client = client_rows.get(seller)
        sheet = sheets.get((seller, client.price_sheet_id)) if client and client.price_sheet_id else None
        if sheet is None and seller in defaults:
            sheet = sheets.get((seller, defaults[seller]))
        per_seller[seller] = (
            Offer(
                currency=sheet.currency,
                seller_id=seller,
                client_id=client.client_id if client else None,
                price_sheet_id=sheet.price_sheet_id,
                items=_items(sheet),
            )
            if sheet is not None and sheet.items
            else None
        )
    return {p.photo_id: o for p in candidates if (o := per_seller[p.owner_id]) is not None}


def offer_for(buyer_user_id: str, photo: Any) -> Offer | None:
    """What ``buyer_user_id`` may buy of ``photo`` (a Photo row) today, or None (own photo, cannot see it,
    not ready, nothing on sale)."""
    return offers_for(buyer_user_id, [photo]).get(photo.photo_id)


def priced_item(buyer_user_id: str, photo: Any, sku: str) -> tuple[Offer, OfferItem]:
    """The offer and its item ``sku``. ForbiddenError for one's own photo; NotFoundError when the buyer cannot
    see the photo, nothing is on sale, or the sku is not on the buyer's sheet."""
    if photo.owner_id == buyer_user_id:
        raise ForbiddenError("You cannot buy your own photo.", code="own_photo")
    offer = offer_for(buyer_user_id, photo)
    if offer is None:
        raise NotFoundError("This photo is not for sale to you.", code="not_for_sale")
    item = offer.item(sku)
    if item is None:
        raise NotFoundError("No such item for this photo.", details={"sku": "not on sale"})
    return offer, item


def prices(principal: Any, photo_id: str) -> Offer:
    """``GET /photos/{id}/prices``: 404 if the caller cannot see the photo, 403 for its owner, 404
    ``not_for_sale`` when no sheet applies."""
    from chalicelib.services import photos as photos_service

    photo, _, _ = photos_service.readable(principal, photo_id)
    if photo.owner_id == principal.user_id:
        raise ForbiddenError("You cannot buy your own photo.", code="own_photo")
    offer = offer_for(principal.user_id, photo)
    if offer is None:
        raise NotFoundError("This photo is not for sale to you.", code="not_for_sale")
    return offer
