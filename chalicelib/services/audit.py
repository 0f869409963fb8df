"""The audit log: every staff and admin action, appended, never changed (docs/moderation.md).

An action that is one DynamoDB transaction (a role change, a verification decision, a deposit, an order refund's
claim, a suspension, a reinstatement, a report's resolution) adds its entry to that very transaction
(:func:`add_to`): the action and its entry commit together or not at all. An action of several steps (a payment
refund through Stripe, a content removal through the delete paths) records its entry right after, under an id
derived from the action (:func:`record`): a retried action finds the entry there and adds none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, get_args

from chalicelib.logs import get_logger
from chalicelib.models.base import PutError, condition_failed, iso, new_id, now
from chalicelib.models.moderation import AuditEntry, audit_query, sort_key

if TYPE_CHECKING:
    from pynamodb.transactions import TransactWrite

log = get_logger(__name__)

AuditAction = Literal[
    "user.role_change",
    "verification.approve",
    "verification.reject",
    "wallet.deposit",
    "payment.refund",
    "order.refund",
    "content.remove",
    "event.update",
    "event.delete",
    "share_link.revoke",
    "user.suspend",
    "user.reinstate",
    "report.resolve",
]
ACTIONS: tuple[str, ...] = get_args(AuditAction)


def entry(
    actor_id: str,
    action: str,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None = None,
    *,
    audit_id: str | None = None,
) -> AuditEntry:
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    at = now()
    audit_id = audit_id or new_id("au_")
    return AuditEntry(
        audit_id=audit_id,
        at_key=sort_key(at, audit_id),
        actor_id=actor_id,
        action=action,
        actor_action=f"{actor_id}#{action}",
        target_type=target_type,
        target_id=target_id,
        details={k: v for k, v in (details or {}).items() if v is not None},
        at=at,
    )


def add_to(tx: TransactWrite, row: AuditEntry) -> None:
    """Append ``row`` in the action's own transaction (never overwriting an entry)."""
    tx.save(row, condition=AuditEntry.audit_id.does_not_exist())


def record(row: AuditEntry) -> bool:
    """Append ``row`` after its action, once: False when an entry of that id is there already (a retry)."""
    try:
        row.save(condition=AuditEntry.audit_id.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def staff_action(
    principal: Any,
    owner_id: str | None,
    action: str,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None = None,
    *,
    audit_id: str,
) -> None:
    """A staff member's (or an admin's) action on someone else's content through an ordinary route (a photo's,
    a comment's or an event's deletion, an event's edit, a share link's revocation), recorded after it under
    ``audit_id`` (derived from the action, so a retry logs once). Nothing for anyone else, nor for their own."""
    if not (principal and principal.is_staff) or principal.user_id == owner_id:
        return
    record(
        entry(
            principal.user_id,
            action,
            target_type,
            target_id,
            {"owner_id": owner_id} | (details or {}),
            audit_id=audit_id,
        )
    )


def removal_id(target_type: str, target_id: str) -> str:
    """The id of a ``content.remove`` entry: once per target, whichever path (a route, a report) removed it."""
    from chalicelib.models.moderation import target_key

    return f"remove:{target_key(target_type, target_id)}"


def view(row: AuditEntry) -> dict[str, Any]:
    return {
        "id": row.audit_id,
        "actor_id": row.actor_id,
        "action": row.action,
        "target": {"type": row.target_type, "id": row.target_id},
        "details": row.details.as_dict() if hasattr(row.details, "as_dict") else dict(row.details or {}),
        "at": iso(row.at),
    }


def page(actor_id: str | None, action: str | None, limit: int, cursor: str | None):
    from chalicelib import pagination

    scope = f"audit:{actor_id or ''}:{action or ''}"
    rows, next_cursor = pagination.page(
        scope, audit_query(actor_id, action, limit, pagination.decode(scope, cursor)), limit
    )
    return [view(r) for r in rows], next_cursor
