"""Reports, the staff moderation queue, suspensions, the staff users listing and the admins' audit log.

Business rules: ``chalicelib.services.moderation`` and ``chalicelib.services.audit`` (docs/moderation.md).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from chalicelib.api.routing import Ctx, route
from chalicelib.api.schema_base import Body, CleanText, Out, Page, PageQuery
from chalicelib.services import audit, moderation

TAGS = ("moderation",)
STAFF = ("staff", "admin")
ADMIN = ("admin",)
Id = Annotated[str, Field(min_length=1, max_length=128)]
Reason = Annotated[CleanText, Field(min_length=1, max_length=moderation.MAX_REASON)]


class TargetIn(Body):
    type: Literal["photo", "comment", "user", "message"]
    id: Id
    conversation_id: Id | None = Field(None, description="A message's conversation (required for messages)")


class ReportIn(Body):
    target: TargetIn
    reason: Reason


class TargetOut(Out):
    type: str
    id: str
    conversation_id: str | None = None
    photo_id: str | None = Field(None, description="A photo comment's photo")
    event_id: str | None = Field(None, description="An event comment's event")


class ReportOut(Out):
    id: str
    reporter_id: str
    target: TargetOut
    target_owner_id: str
    reason: str
    status: Literal["open", "resolved"]
    created_at: str
    resolved_at: str | None
    resolved_by: str | None
    resolution: Literal["dismiss", "remove", "suspend_user"] | None
    note: str | None
    resolved_with: str | None = Field(description="The report whose resolution also resolved this one")


class ReportsQuery(PageQuery):
    status: Literal["open", "resolved"] = "open"
    order: Literal["oldest", "newest"] = Field("oldest", description="By when the report entered its status")


class ResolveIn(Body):
    action: Literal["dismiss", "remove", "suspend_user"]
    note: Annotated[CleanText, Field(min_length=1, max_length=moderation.MAX_REASON)] | None = None


class SuspendIn(Body):
    reason: Reason | None = None


class StaffUserOut(Out):
    id: str
    username: str
    display_name: str | None
    email: str
    role: str
    status: Literal["active", "suspended"]
    created_at: str | None
    last_activity_at: str | None = Field(description="Last session start or refresh, to within 15 minutes")
    photo_count: int
    orders_count: int
    suspended_at: str | None
    suspension_reason: str | None


class StaffUsersQuery(PageQuery):
    q: str | None = Field(None, min_length=1, max_length=64, description="Username or display-name prefix")
    role: Literal["member", "photographer", "creator", "staff", "admin"] | None = None


class AuditTargetOut(Out):
    type: str
    id: str


class AuditOut(Out):
    id: str
    actor_id: str
    action: str
    target: AuditTargetOut
    details: dict[str, Any]
    at: str


class AuditQuery(PageQuery):
    actor: Annotated[str, Field(min_length=1, max_length=128)] | None = Field(None, description="An actor's user id")
    action: audit.AuditAction | None = None


@route(
    "/reports", "POST", body=ReportIn, response=ReportOut, status=201, tags=TAGS, idempotency="accepted",
    responses=(400, 404, 409),
)  # fmt: skip
def create_report(ctx: Ctx[ReportIn]) -> ReportOut:
    """Report a photo, comment, user or message you can see, once per target (a repeat is 409)."""
    t = ctx.body.target
    row = moderation.create_report(ctx.principal, t.type, t.id, ctx.body.reason, t.conversation_id)
    return ReportOut(**moderation.report_view(row))


@route(
    "/staff/reports", "GET", query=ReportsQuery, response=Page[ReportOut], roles=STAFF, tags=TAGS,
    responses=(400, 403),
)  # fmt: skip
def list_reports(ctx: Ctx[None, ReportsQuery]) -> Page[ReportOut]:
    """Staff: the reports in a status, oldest first (or ``order=newest``)."""
    q = ctx.query
    items, cursor = moderation.reports_page(q.status, q.order == "newest", q.limit, q.cursor)
    return Page[ReportOut](items=[ReportOut(**i) for i in items], next_cursor=cursor)


@route(
    "/staff/reports/{report_id}/resolve", "POST", body=ResolveIn, response=ReportOut, roles=STAFF, tags=TAGS,
    responses=(400, 403, 404, 409),
)  # fmt: skip
def resolve_report(ctx: Ctx[ResolveIn], report_id: str) -> ReportOut:
    """Staff: dismiss, remove the content (with its files) or suspend its owner; once (a second time is 409)."""
    row = moderation.resolve(ctx.principal, report_id, ctx.body.action, ctx.body.note)
    return ReportOut(**moderation.report_view(row))


@route(
    "/staff/users", "GET", query=StaffUsersQuery, response=Page[StaffUserOut], roles=STAFF, tags=TAGS,
    responses=(400, 403),
)  # fmt: skip
def list_users(ctx: Ctx[None, StaffUsersQuery]) -> Page[StaffUserOut]:
    """Staff: users by name prefix (``q``) and/or role (neither: every user, newest first), with status, last
    activity, photo and order counts."""
    q = ctx.query
    items, cursor = moderation.staff_users(q.q, q.role, q.limit, q.cursor)
    return Page[StaffUserOut](items=[StaffUserOut(**i) for i in items], next_cursor=cursor)


@route(
    "/staff/users/{user_id}/suspend", "POST", body=SuspendIn, response=StaffUserOut, roles=STAFF, tags=TAGS,
    idempotency="accepted", responses=(403, 404, 409),
)  # fmt: skip
def suspend_user(ctx: Ctx[SuspendIn], user_id: str) -> StaffUserOut:
    """Staff: suspend an account; every session and WebSocket ends at once, login answers 403 account_suspended."""
    user = moderation.suspend(ctx.principal, user_id, ctx.body.reason)
    return StaffUserOut(**moderation.user_view(user))


@route(
    "/staff/users/{user_id}/reinstate", "POST", response=StaffUserOut, roles=STAFF, tags=TAGS,
    idempotency="accepted", responses=(403, 404, 409),
)  # fmt: skip
def reinstate_user(ctx: Ctx, user_id: str) -> StaffUserOut:
    """Staff: lift a suspension; the user can log in again."""
    user = moderation.reinstate(ctx.principal, user_id)
    return StaffUserOut(**moderation.user_view(user))


@route("/staff/audit", "GET", query=AuditQuery, response=Page[AuditOut], roles=ADMIN, tags=TAGS, responses=(400, 403))
def list_audit(ctx: Ctx[None, AuditQuery]) -> Page[AuditOut]:
    """Admins: every staff and admin action, newest first, optionally one actor's and/or one action's."""
    q = ctx.query
    items, cursor = audit.page(q.actor, q.action, q.limit, q.cursor)
    return Page[AuditOut](items=[AuditOut(**i) for i in items], next_cursor=cursor)
