"""Delivery of paid orders: the invoice PDF, the zip archive of the digital items, counted downloads.

See docs/delivery.md. The invoice answers bytes (``application/pdf``, one of ``routing.BINARY_TYPES``): send
``Accept: application/pdf`` (or ``*/*``).
"""

from __future__ import annotations

from typing import Any

from chalice import Response
from pydantic import ConfigDict, Field

from chalicelib.api.routing import Ctx, PublicCtx, route
from chalicelib.api.schema_base import Out, Query

TAGS = ("orders",)


class InvoiceQuery(Query):
    seller_id: str | None = Field(
        None,
        max_length=64,
        description="Whose invoice (an order of several sellers has one per seller); default: the first seller's. "
        "A seller always gets their own.",
    )


class DownloadQuery(Query):
    exp: int | None = Field(None, ge=0, description="Expiry (unix seconds) of a signed download link")
    sig: str | None = Field(None, max_length=128, description="Signature of a download link (the order's download_url)")


class ArchiveOut(Out):
    status: str = Field(description="building | ready")
    url: str | None = Field(None, description="Signed GET of the zip (short expiry) once ready")


class OrderArchiveOut(Out):
    """The order (as ``GET /orders/{order_id}``) with its ``archive``."""

    model_config = ConfigDict(extra="allow", defer_build=True)
    id: str
    status: str
    archive: ArchiveOut | None


@route(
    "/orders/{order_id}/invoice",
    "GET",
    query=InvoiceQuery,
    tags=TAGS,
    content_type="application/pdf",
    responses=(404, 409),
)
def get_invoice(ctx: Ctx[None, InvoiceQuery], order_id: str) -> Response:
    """The invoice of a paid order as a PDF: buyer, the order's sellers, staff."""
    from chalicelib.services import invoices

    invoice = invoices.invoice_for(ctx.principal, order_id, ctx.query.seller_id)
    headers: dict[str, str | list[str]] = {
        "Content-Type": "application/pdf",
        "Content-Disposition": f'inline; filename="invoice-{invoice.label}.pdf"',
        "Cache-Control": "private, no-store",
    }
    return Response(body=invoices.render(invoice), status_code=200, headers=headers)


@route(
    "/orders/{order_id}/archive",
    "POST",
    response=OrderArchiveOut,
    status=202,
    tags=TAGS,
    idempotency="accepted",
    responses=(404, 409),
)
def request_archive(ctx: Ctx, order_id: str) -> dict[str, Any]:
    """Build one zip of every paid digital item of the order (in the background); the order shows it when ready."""
    from chalicelib.services import archives

    return archives.request_archive(ctx.principal, order_id)


@route(
    "/orders/{order_id}/items/{item_id}/download",
    "GET",
    query=DownloadQuery,
    status=302,
    auth="optional",
    tags=TAGS,
    responses=(404, 409, 410),
)
def download_item(ctx: PublicCtx[None, DownloadQuery], order_id: str, item_id: str) -> Response:
    """Counted download of a paid digital item: 302 to a freshly signed URL of its file (bearer or signed link)."""
    from chalicelib.services import downloads

    url = downloads.download(ctx.principal, order_id, item_id, exp=ctx.query.exp, sig=ctx.query.sig)
    return Response(body="", status_code=302, headers={"Location": url, "Cache-Control": "no-store"})
