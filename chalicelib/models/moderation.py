"""Moderation: the append-only audit log of staff and admin actions, and users' reports of content.

Access patterns (docs/moderation.md):
- every audit entry, newest first ........... Audit GSI by_time (feed="all", at_key desc)
- one actor's entries, newest first ......... Audit GSI by_actor (actor_id, at_key desc)
- one action's entries, newest first ........ Audit GSI by_action (action, at_key desc)
- one actor's entries of one action ......... Audit GSI by_actor_action ("<actor>#<action>", at_key desc)
- an entry recorded once (idempotent key) ... Audit PutItem(audit_id) with attribute_not_exists
- a report by id ............................ Reports GetItem(report_id)
- once per reporter and target .............. the report id is derived from (reporter, target): the create is a
                                              conditional put, a repeat is 409
- the staff queue in a status ............... Reports GSI by_status (status, status_key = "<at>#<id>"), either
                                              direction; ``at`` is when the report entered the status
- the open reports of one target ............ Reports GSI by_target (target_key, target_status) begins_with "open#"
- the open reports a user made (deletion) .... Reports GSI by_reporter (reporter_id, target_status) begins_with
                                              "open#"

The audit table is written only by ``put`` (never updated or deleted by the application), so it is
append-only; in AWS the API role may additionally be denied UpdateItem/DeleteItem on it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import MapAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import now, register, table_meta

AUDIT_FEED = "all"  # the one partition of by_time: staff actions are a trickle, far below a partition's limits
REPORT_TARGETS = ("photo", "comment", "user", "message")
OPEN, RESOLVED = "open", "resolved"
RESOLUTIONS = ("dismiss", "remove", "suspend_user")


def _index(table: str, name: str, hash_attr: str, range_attr: str) -> GlobalSecondaryIndex:
    attrs = {
        "Meta": type("Meta", (), {"index_name": name, "projection": AllProjection()}),
        hash_attr: UnicodeAttribute(hash_key=True),
        range_attr: UnicodeAttribute(range_key=True),
    }
    return type(f"{table}_{name}", (GlobalSecondaryIndex,), attrs)()


def sort_key(at: datetime, item_id: str) -> str:
    """``<ISO time with microseconds>#<id>``: sorts by time, unique per item."""
    return f"{at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{item_id}"


@register
class AuditEntry(Model):
    """One staff or admin action: who, what, on what, the details, when. Never updated, never deleted."""

    Meta = table_meta("audit")

    audit_id = UnicodeAttribute(hash_key=True)  # random, or derived from the action when recorded outside its tx
    feed = UnicodeAttribute(default=AUDIT_FEED)
    at_key = UnicodeAttribute()
    actor_id = UnicodeAttribute()
    action = UnicodeAttribute()
    actor_action = UnicodeAttribute()
    target_type = UnicodeAttribute()
    target_id = UnicodeAttribute()
    details: MapAttribute[str, Any] = MapAttribute(default=dict)
    at = UTCDateTimeAttribute(default=now)

    by_time = _index("audit", "by_time", "feed", "at_key")
    by_actor = _index("audit", "by_actor", "actor_id", "at_key")
    by_action = _index("audit", "by_action", "action", "at_key")
    by_actor_action = _index("audit", "by_actor_action", "actor_action", "at_key")


def audit_query(actor_id: str | None, action: str | None, limit: int, last_key: dict | None):
    """Newest first, on the index whose key is exactly the filters given."""
    kw: dict[str, Any] = {"scan_index_forward": False, "limit": limit, "last_evaluated_key": last_key}
    if actor_id and action:
        return AuditEntry.by_actor_action.query(f"{actor_id}#{action}", **kw)
    if actor_id:
        return AuditEntry.by_actor.query(actor_id, **kw)
    if action:
        return AuditEntry.by_action.query(action, **kw)
    return AuditEntry.by_time.query(AUDIT_FEED, **kw)


# ---- reports -----------------------------------------------------------------------------------------------


def target_key(target_type: str, target_id: str) -> str:
    return f"{target_type}#{target_id}"


def report_id_for(reporter_id: str, target_type: str, target_id: str) -> str:
    """One id per (reporter, target): creating it twice is a failed condition."""
    digest = hashlib.sha256(f"{reporter_id}|{target_key(target_type, target_id)}".encode()).hexdigest()
    return f"rp_{digest[:32]}"


@register
class Report(Model):
    Meta = table_meta("reports")

    report_id = UnicodeAttribute(hash_key=True)
    reporter_id = UnicodeAttribute()
    target_type = UnicodeAttribute()
    target_id = UnicodeAttribute()
    target_key = UnicodeAttribute()
    target_parent = UnicodeAttribute(null=True)  # a message's conversation
    target_owner_id = UnicodeAttribute()  # whose content it is (suspend_user suspends them)
    reason = UnicodeAttribute()
    status = UnicodeAttribute(default=OPEN)
    status_key = UnicodeAttribute()  # sort_key(when it entered the status, report_id)
    target_status = UnicodeAttribute()  # "<status>#<status_key>": a target's open reports are one key prefix
    created_at = UTCDateTimeAttribute(default=now)
    resolved_at = UTCDateTimeAttribute(null=True)
    resolved_by = UnicodeAttribute(null=True)
    resolution = UnicodeAttribute(null=True)  # RESOLUTIONS
    note = UnicodeAttribute(null=True)
    resolved_with = UnicodeAttribute(null=True)  # the report whose resolution closed this one too

    by_status = _index("reports", "by_status", "status", "status_key")
    by_target = _index("reports", "by_target", "target_key", "target_status")
    by_reporter = _index("reports", "by_reporter", "reporter_id", "target_status")


def get_report(report_id: str, *, consistent: bool = False) -> Report | None:
    if not (isinstance(report_id, str) and 0 < len(report_id) <= 64):
        return None
    try:
        return Report.get(report_id, consistent_read=consistent)
    except Report.DoesNotExist:
        return None


def reports_in(status: str, newest_first: bool, limit: int, last_key: dict | None):
    return Report.by_status.query(status, scan_index_forward=not newest_first, limit=limit, last_evaluated_key=last_key)


def open_reports_of_target(key: str, limit: int):
    return Report.by_target.query(key, Report.target_status.startswith(f"{OPEN}#"), limit=limit)


def open_reports_by(reporter_id: str, limit: int):
    return Report.by_reporter.query(reporter_id, Report.target_status.startswith(f"{OPEN}#"), limit=limit)


@register
class StatMark(Model):
    """ "This was counted": ``order:<order_id>`` once its buyer's ``orders_count`` has it (services/user_stats.py).
    Kept past any redelivery of the event that counts it (the outbox's retention), then expired."""

    Meta = table_meta("stat_marks")

    mark = UnicodeAttribute(hash_key=True)
    expires_at = TTLAttribute()
