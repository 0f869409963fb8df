"""Creator identity verification: /creators/verification (the creator), /staff/verifications (staff).

See chalicelib/services/verification.py and docs/creators.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from chalicelib.api.routing import Ctx, route
from chalicelib.api.schema_base import Body, CleanText, Out, PageQuery
from chalicelib.pagination import decode, encode
from chalicelib.services import verification

TAGS = ("creators",)
STAFF = ("staff", "admin")
CREATORS = ("creator",)


class DocumentIn(Body):
    filename: Annotated[str, Field(min_length=1, max_length=255)]
    content_type: Literal["image/jpeg", "image/png", "application/pdf"]
    size: Annotated[int, Field(gt=0, le=verification.MAX_DOCUMENT_BYTES, description="Exact size in bytes")]


class VerificationIn(Body):
    legal_name: Annotated[CleanText, Field(min_length=2, max_length=200)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
    document: DocumentIn


class PresignedPost(Out):
    url: str
    fields: dict[str, str]


class VerificationSubmitted(Out):
    status: Literal["pending"]
    upload: PresignedPost


class VerificationStatus(Out):
    status: Literal["none", "pending", "approved", "rejected"]
    reason: str | None = None


class StaffQuery(PageQuery):
    status: Literal["pending", "approved", "rejected"] = "pending"


class DocumentOut(Out):
    filename: str
    content_type: str
    size: int
    url: str | None = Field(None, description="A signed GET of the document, valid 5 minutes (pending only)")


class VerificationRequestOut(Out):
    user_id: str
    request_id: str
    status: str
    legal_name: str
    country: str
    document: DocumentOut
    submitted_at: str
    decided_at: str | None
    reason: str | None


class VerificationPage(Out):
    items: list[VerificationRequestOut]
    next_cursor: str | None


class RejectIn(Body):
    reason: Annotated[CleanText, Field(min_length=1, max_length=1000)] | None = None


class ApproveIn(Body):
    reason: Annotated[CleanText, Field(max_length=1000)] | None = None


class DecisionOut(Out):
    user_id: str
    status: Literal["approved", "rejected"]
    reason: str | None


@route(
    "/creators/verification",
    "POST",
    body=VerificationIn,
    response=VerificationSubmitted,
    status=201,
    roles=CREATORS,
    tags=TAGS,
    responses=(403, 409),
    idempotency="accepted",
)
def submit(ctx: Ctx[VerificationIn]) -> dict[str, Any]:
    """Ask to be verified: the answer's presigned POST uploads the ID document (private, staff only)."""
    b, d = ctx.body, ctx.body.document
    return verification.submit(ctx.principal, b.legal_name, b.country, d.filename, d.content_type, d.size)


@route("/creators/verification", "GET", response=VerificationStatus, roles=CREATORS, tags=TAGS, responses=(403,))
def status(ctx: Ctx) -> dict[str, Any]:
    """The caller's verification status (and why it was rejected)."""
    return verification.status_of(ctx.principal)


@route(
    "/staff/verifications", "GET", query=StaffQuery, response=VerificationPage, roles=STAFF, tags=TAGS, responses=(403,)
)
def staff_list(ctx: Ctx[None, StaffQuery]) -> VerificationPage:
    """Staff: verification requests in a status, oldest first, each pending one with a 5-minute document URL."""
    scope = f"verifications:{ctx.query.status}"
    items, results = verification.page(ctx.query.status, ctx.query.limit, decode(scope, ctx.query.cursor))
    cursor = encode(scope, results.last_evaluated_key) if len(items) >= ctx.query.limit else None
    return VerificationPage(items=[VerificationRequestOut(**i) for i in items], next_cursor=cursor)


@route(
    "/staff/verifications/{user_id}/approve",
    "POST",
    body=ApproveIn,
    response=DecisionOut,
    roles=STAFF,
    tags=TAGS,
    responses=(403, 404, 409),
)
def approve(ctx: Ctx[ApproveIn], user_id: str) -> dict[str, Any]:
    """Staff: approve a pending request; the creator is notified and the document deleted."""
    return verification.decide(ctx.principal, user_id, True, ctx.body.reason)


@route(
    "/staff/verifications/{user_id}/reject",
    "POST",
    body=RejectIn,
    response=DecisionOut,
    roles=STAFF,
    tags=TAGS,
    responses=(403, 404, 409),
)
def reject(ctx: Ctx[RejectIn], user_id: str) -> dict[str, Any]:
    """Staff: reject a pending request with a ``reason`` (400 without); the creator may submit again."""
    return verification.decide(ctx.principal, user_id, False, ctx.body.reason)
