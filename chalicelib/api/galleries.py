"""/clients/*, /gallery, /price-sheets/*, /photos/{id}/prices: a photographer's clients and price sheets, the
client's gallery, and what a caller may buy of a photo. Decisions and access patterns: docs/galleries.md."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from chalicelib.api.photos import PhotoOut
from chalicelib.api.routing import Ctx, route
from chalicelib.api.schema_base import Body, CleanText, Out, Page, PageQuery
from chalicelib.api.schemas import Email, PublicUserOut
from chalicelib.errors import ValidationError
from chalicelib.models.base import iso
from chalicelib.services import clients, price_sheets

TAGS = ("galleries",)
PHOTOGRAPHER = ("photographer",)

Id = Annotated[str, Field(min_length=1, max_length=64)]
Sku = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Cents = Annotated[int, Field(ge=1, le=price_sheets.MAX_PRICE_CENTS, description="Minor units (integer)")]
Currency = Annotated[str, Field(pattern=r"^[a-z]{3}$", description="Lowercase ISO 4217 (eur, usd)")]
Inches = Annotated[float, Field(gt=0, le=120)]


# ---- schemas: clients ----------------------------------------------------------------------------------------


class ClientIn(Body):
    email: Email
    name: Annotated[CleanText, Field(max_length=120)] | None = None


class ClientOut(Out):
    id: str
    email: str
    name: str | None
    status: Literal["invited", "active"]
    user: PublicUserOut | None = None
    orders_count: int
    total_spent_cents: int = Field(description="Spent in `currency` (the currency of the client's latest order)")
    currency: str | None
    spent_by_currency: dict[str, int]
    price_sheet_id: str | None
    created_at: str


class AssignIn(Body):
    photo_ids: Annotated[list[Id], Field(min_length=1, max_length=clients.MAX_ASSIGN)] | None = None
    event_id: Id | None = None


class AssignOut(Out):
    assigned: int = Field(description="Photos assigned by this request")
    queued: bool = Field(description="true: the rest of the event's photos are being assigned in the background")


class ClientSheetIn(Body):
    price_sheet_id: Id | None = Field(description="null: the photographer's default sheet applies")


class GalleryPhotoOut(PhotoOut):
    photographer: PublicUserOut | None
    purchased: list[str] = Field(description="Skus the caller bought of this photo (active)")


# ---- schemas: price sheets -----------------------------------------------------------------------------------


class DigitalIn(Body):
    variant: Literal["large", "original"]
    license: Literal["personal", "commercial"]


class PrintIn(Body):
    width_in: Inches
    height_in: Inches
    paper: Literal["lustre", "glossy", "metallic", "fine_art"]
    frame: Literal["none", "black", "white", "oak"]
    fulfilment: Literal["lab", "self"]


class SheetItemIn(Body):
    sku: Sku
    kind: Literal["digital", "print"]
    label: Annotated[CleanText, Field(min_length=1, max_length=120)]
    price_cents: Cents
    digital: DigitalIn | None = None
    print: PrintIn | None = None


Items = Annotated[list[SheetItemIn], Field(min_length=1, max_length=price_sheets.MAX_ITEMS)]
SheetName = Annotated[CleanText, Field(min_length=1, max_length=120)]


class PriceSheetIn(Body):
    name: SheetName
    currency: Currency
    default: bool = False
    items: Items


class PriceSheetPatchIn(Body):
    """Only the fields present change; ``items`` replaces the whole list."""

    name: SheetName | None = None
    currency: Currency | None = None
    default: bool | None = None
    items: Items | None = None
    version: int | None = Field(None, description="If given, the change applies only to this version (else 409)")


class SheetItemOut(Out):
    sku: str
    kind: Literal["digital", "print"]
    label: str
    price_cents: int
    digital: dict[str, str] | None = None
    print: dict[str, Any] | None = None


class PriceSheetOut(Out):
    id: str
    name: str
    currency: str
    default: bool
    items: list[SheetItemOut]
    created_at: str
    updated_at: str
    version: int


class PricesOut(Out):
    currency: str
    items: list[SheetItemOut]
    price_sheet_id: str
    seller_id: str


# ---- views ---------------------------------------------------------------------------------------------------


def _clients_out(rows: list[Any]) -> list[ClientOut]:
    from chalicelib.services.accounts import users_by_ids
    from chalicelib.services.users_view import avatar_urls

    users = users_by_ids([r.user_id for r in rows if r.user_id])
    avatars = avatar_urls(users.values())
    out = []
    for r in rows:
        spent = {k: int(v) for k, v in _plain(r.spent_cents).items()}
        user = users.get(r.user_id) if r.user_id else None
        out.append(
            ClientOut(
                id=r.client_id,
                email=r.email,
                name=r.name,
                status=r.status,
                user=PublicUserOut.of(user, avatars.get(user.user_id)) if user is not None else None,
                orders_count=int(r.orders_count or 0),
                total_spent_cents=spent.get(r.last_currency or "", 0),
                currency=r.last_currency,
                spent_by_currency=spent,
                price_sheet_id=r.price_sheet_id,
                created_at=iso(r.created_at) or "",
            )
        )
    return out


def _plain(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return value.as_dict() if hasattr(value, "as_dict") else dict(value)


def _item_out(i: Any) -> SheetItemOut:
    digital = {"variant": i.variant, "license": i.license} if i.kind == "digital" else None
    printed = None
    if i.kind == "print":
        w, h = i.width_in, i.height_in
        printed = {
            "width_in": float(w) if w is not None else None,
            "height_in": float(h) if h is not None else None,
            "paper": i.paper,
            "frame": i.frame,
            "fulfilment": i.fulfilment,
        }
    return SheetItemOut(
        sku=i.sku, kind=i.kind, label=i.label, price_cents=int(i.price_cents), digital=digital, print=printed
    )


def _sheet_out(s: Any) -> PriceSheetOut:
    return PriceSheetOut(
        id=s.price_sheet_id,
        name=s.name,
        currency=s.currency,
        default=bool(s.is_default),
        items=[_item_out(i) for i in s.items or []],
        created_at=iso(s.created_at) or "",
        updated_at=iso(s.updated_at) or "",
        version=s.version or 1,
    )


def _items_of(body: Any) -> list[dict[str, Any]] | None:
    return [i.model_dump() for i in body.items] if body.items is not None else None


# ---- clients -------------------------------------------------------------------------------------------------


@route(
    "/clients",
    "POST",
    body=ClientIn,
    response=ClientOut,
    status=201,
    roles=PHOTOGRAPHER,
    idempotency="accepted",
    tags=TAGS,
    responses=(400, 403, 409),
)
def create_client(ctx: Ctx[ClientIn]) -> ClientOut:
    """Invite a client by email (photographers); active at once if a verified account has that email."""
    return _clients_out([clients.invite(ctx.principal, ctx.body.email, ctx.body.name)])[0]


@route(
    "/clients", "GET", query=PageQuery, response=Page[ClientOut], roles=PHOTOGRAPHER, tags=TAGS, responses=(400, 403)
)
def list_clients(ctx: Ctx[None, PageQuery]) -> Page[ClientOut]:
    """The caller's clients, newest first, each with ``orders_count`` and ``total_spent_cents``."""
    rows, cursor = clients.list_clients(ctx.principal, ctx.query.limit, ctx.query.cursor)
    return Page[ClientOut](items=_clients_out(rows), next_cursor=cursor)


@route("/clients/{client_id}", "GET", response=ClientOut, roles=PHOTOGRAPHER, tags=TAGS, responses=(403, 404))
def get_client(ctx: Ctx, client_id: str) -> ClientOut:
    """One of the caller's clients."""
    return _clients_out([clients.require_client(ctx.principal, client_id)])[0]


@route("/clients/{client_id}", "DELETE", status=204, roles=PHOTOGRAPHER, tags=TAGS, responses=(403, 404))
def delete_client(ctx: Ctx, client_id: str) -> None:
    """Remove a client: their access to the assigned photos ends; what they bought stays bought."""
    clients.delete_client(ctx.principal, client_id)


@route(
    "/clients/{client_id}/photos",
    "PUT",
    body=AssignIn,
    response=AssignOut,
    roles=PHOTOGRAPHER,
    tags=TAGS,
    responses=(400, 403, 404),
)
def assign_photos(ctx: Ctx[AssignIn], client_id: str) -> AssignOut:
    """Assign 1..100 of the caller's photos (``photo_ids``) or the caller's photos of an event (``event_id``)."""
    b = ctx.body
    if (b.photo_ids is None) == (b.event_id is None):
        raise ValidationError(
            "Give photo_ids or event_id.", details={"photo_ids": "give exactly one of photo_ids, event_id"}
        )
    done = clients.assign(ctx.principal, client_id, b.photo_ids, b.event_id)
    return AssignOut(assigned=done.assigned, queued=done.queued)


@route(
    "/clients/{client_id}/photos/{photo_id}", "DELETE", status=204, roles=PHOTOGRAPHER, tags=TAGS, responses=(403, 404)
)
def unassign_photo(ctx: Ctx, client_id: str, photo_id: str) -> None:
    """Take one photo out of a client's gallery."""
    clients.unassign(ctx.principal, client_id, photo_id)


@route(
    "/clients/{client_id}/price-sheet",
    "PUT",
    body=ClientSheetIn,
    response=ClientOut,
    roles=PHOTOGRAPHER,
    tags=TAGS,
    responses=(400, 403, 404),
)
def set_client_sheet(ctx: Ctx[ClientSheetIn], client_id: str) -> ClientOut:
    """The client's own price sheet (one of the caller's); null: the caller's default sheet applies."""
    return _clients_out([clients.set_price_sheet(ctx.principal, client_id, ctx.body.price_sheet_id)])[0]


# ---- the gallery ---------------------------------------------------------------------------------------------


@route("/gallery", "GET", query=PageQuery, response=Page[GalleryPhotoOut], tags=TAGS, responses=(400, 403))
def gallery(ctx: Ctx[None, PageQuery]) -> dict[str, Any]:
    """Photos assigned to the caller, newest first, with ``photographer`` and ``purchased`` skus."""
    if not ctx.principal.user.email_verified:
        from chalicelib.errors import ForbiddenError

        raise ForbiddenError("Verify your email address first.", code="email_not_verified")
    items, cursor = clients.gallery(ctx.principal, ctx.query.limit, ctx.query.cursor)
    return {"items": items, "next_cursor": cursor}


# ---- price sheets --------------------------------------------------------------------------------------------


@route(
    "/price-sheets",
    "POST",
    body=PriceSheetIn,
    response=PriceSheetOut,
    status=201,
    roles=PHOTOGRAPHER,
    idempotency="accepted",
    tags=TAGS,
    responses=(400, 403, 409),
)
def create_sheet(ctx: Ctx[PriceSheetIn]) -> PriceSheetOut:
    """A price sheet of the caller's; ``default: true`` makes it the default (the old default stops being it)."""
    b = ctx.body
    items = _items_of(b) or []
    row = price_sheets.create_sheet(ctx.principal, name=b.name, currency=b.currency, default=b.default, items=items)
    return _sheet_out(row)


@route(
    "/price-sheets",
    "GET",
    query=PageQuery,
    response=Page[PriceSheetOut],
    roles=PHOTOGRAPHER,
    tags=TAGS,
    responses=(400, 403),
)
def list_sheets(ctx: Ctx[None, PageQuery]) -> Page[PriceSheetOut]:
    """The caller's price sheets, newest first."""
    rows, cursor = price_sheets.list_sheets(ctx.principal, ctx.query.limit, ctx.query.cursor)
    return Page[PriceSheetOut](items=[_sheet_out(r) for r in rows], next_cursor=cursor)


@route(
    "/price-sheets/{price_sheet_id}", "GET", response=PriceSheetOut, roles=PHOTOGRAPHER, tags=TAGS, responses=(403, 404)
)
def get_sheet(ctx: Ctx, price_sheet_id: str) -> PriceSheetOut:
    """One of the caller's price sheets (another photographer's: 404)."""
    return _sheet_out(price_sheets.require_sheet(ctx.principal, price_sheet_id))


@route(
    "/price-sheets/{price_sheet_id}",
    "PATCH",
    body=PriceSheetPatchIn,
    response=PriceSheetOut,
    roles=PHOTOGRAPHER,
    tags=TAGS,
    responses=(400, 403, 404, 409),
)
def patch_sheet(ctx: Ctx[PriceSheetPatchIn], price_sheet_id: str) -> PriceSheetOut:
    """Change a price sheet; orders already placed keep the prices they were placed at."""
    fields = ctx.body.model_fields_set - {"version"}
    changes: dict[str, Any] = {name: getattr(ctx.body, name) for name in fields}
    if "items" in changes:
        changes["items"] = _items_of(ctx.body)
    return _sheet_out(price_sheets.update_sheet(ctx.principal, price_sheet_id, changes, ctx.body.version))


@route("/price-sheets/{price_sheet_id}", "DELETE", status=204, roles=PHOTOGRAPHER, tags=TAGS, responses=(403, 404, 409))
def delete_sheet(ctx: Ctx, price_sheet_id: str) -> None:
    """Delete a price sheet; clients it was set for fall back to the default sheet."""
    price_sheets.delete_sheet(ctx.principal, price_sheet_id)


@route("/photos/{photo_id}/prices", "GET", response=PricesOut, tags=TAGS, responses=(403, 404))
def photo_prices(ctx: Ctx, photo_id: str) -> PricesOut:
    """What the caller may buy of this photo, at today's prices (own photo: 403; cannot see it or nothing on
    sale: 404)."""
    offer = price_sheets.prices(ctx.principal, photo_id)
    items = [_item_out(i) for i in offer.items]
    return PricesOut(
        currency=offer.currency, items=items, price_sheet_id=offer.price_sheet_id, seller_id=offer.seller_id
    )
