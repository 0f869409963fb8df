"""Moderation and staff tools: suspension and reinstatement, users' reports and their resolution, the staff
users listing (docs/moderation.md).

Who may suspend whom (the same rule reinstates): staff suspend members, photographers and creators; admins
also suspend staff; nobody suspends an admin (an admin demotes them first) or themselves.

A suspension is one transaction: the user's ``suspended_*`` attributes, a session-generation cut (every token,
session and socket of the account ends at once, as ``accounts.revoke_all`` does) and the audit entry; then the
open WebSocket connections are closed. While suspended, login and refresh answer ``403 account_suspended``
(``accounts._start_session``, the one place every sign-in path starts a session), and ``tokens.state_of``
counts the account inactive. Reinstatement clears the attributes: the user logs in again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from chalicelib.logs import get_logger
from chalicelib.models import moderation as store
from chalicelib.models.base import cancellation_codes, condition_failed, connection, iso, now
from chalicelib.models.moderation import OPEN, RESOLVED, Report, report_id_for, sort_key, target_key
from chalicelib.models.users import STAFF_ROLES, User, user_by_id
from chalicelib.services import audit

log = get_logger(__name__)

MAX_REASON = 1000
SIBLINGS_INLINE = 25  # other open reports of the same target resolved by the request; more go to a job
REMOVED_MESSAGE = "This message was removed by staff."
Extra = Callable[[TransactWrite], None]


# ---- suspension ----------------------------------------------------------------------------------------------


def _subject(actor: Any, user_id: str) -> User:
    """The user ``actor`` may suspend or reinstate (404 unknown or deleted, 403 by the rule above)."""
    user = user_by_id(user_id, consistent=True) if isinstance(user_id, str) and user_id else None
    if user is None:
        raise NotFoundError("No such user.")
    if user.user_id == actor.user_id:
        raise ForbiddenError("You cannot suspend or reinstate yourself.")
    if user.role == "admin":
        raise ForbiddenError("Admins cannot be suspended; an admin demotes them first.")
    if user.role in STAFF_ROLES and actor.role != "admin":
        raise ForbiddenError("Only admins suspend or reinstate staff.")
    return user


def _commit(build: Extra) -> list[str | None]:
    """[] when committed, else the cancellation codes."""
    try:
        with TransactWrite(connection=connection()) as tx:
            build(tx)
    except TransactWriteError as exc:
        codes = cancellation_codes(exc)
        if "ConditionalCheckFailed" in codes:
            return codes
        raise ConflictError("The account changed concurrently; retry.") from exc
    return []


def suspend(actor: Any, user_id: str, reason: str | None, *, report_id: str | None = None) -> User:
    user = _subject(actor, user_id)
    if user.suspended:
        raise ConflictError("The account is already suspended.", code="already_suspended")
    if _commit(lambda tx: _suspend_in(tx, actor, user, reason, report_id)):
        raise ConflictError("The account changed meanwhile; look again.", code="already_suspended")
    _after_suspension(user)
    return user_by_id(user.user_id, consistent=True) or user


def _suspend_in(tx: TransactWrite, actor: Any, user: User, reason: str | None, report_id: str | None) -> None:
    """The suspension, the generation cut and the audit entry, in ``tx``; conditioned on the user being active
    with the role that was checked."""
    t = now()
    tx.update(
        User(user_id=user.user_id),
        actions=[
            User.suspended_at.set(t),
            User.suspended_by.set(actor.user_id),
            User.suspension_reason.set(reason) if reason else User.suspension_reason.remove(),
            User.session_gen.add(1),
            User.session_gen_kept.remove(),
        ],
        condition=User.user_id.exists() & User.suspended_at.does_not_exist() & (User.role == user.role),
    )
    details = {"reason": reason, "report_id": report_id, "role": user.role}
    audit.add_to(tx, audit.entry(actor.user_id, "user.suspend", "user", user.user_id, details))


def _after_suspension(user: User) -> None:
    from chalicelib.realtime import push

    try:  # best effort: the cut is stored, so delivery skips these sockets and they can do nothing
        push.close_logins(user.user_id, None)
    except Exception:
        log.warning("suspension: sockets not closed", extra={"fields": {"user_id": user.user_id}}, exc_info=True)


def reinstate(actor: Any, user_id: str) -> User:
    user = _subject(actor, user_id)
    if not user.suspended:
        raise ConflictError("The account is not suspended.", code="not_suspended")

    def build(tx: TransactWrite) -> None:
        tx.update(
            User(user_id=user.user_id),
            actions=[User.suspended_at.remove(), User.suspended_by.remove(), User.suspension_reason.remove()],
            condition=User.user_id.exists() & (User.suspended_at == user.suspended_at),
        )
        details = {"suspended_at": iso(user.suspended_at)}
        audit.add_to(tx, audit.entry(actor.user_id, "user.reinstate", "user", user.user_id, details))

    if _commit(build):
        raise ConflictError("The account changed meanwhile; look again.", code="not_suspended")
    return user_by_id(user.user_id, consistent=True) or user


def status_of(user: User) -> str:
    return "suspended" if user.suspended else "active"


# ---- reports -------------------------------------------------------------------------------------------------


def _reportable(
    principal: Any, target_type: str, target_id: str, conversation_id: str | None
) -> tuple[str, str | None]:
    """(the owner of the target, its parent) if the reporter can see it; 404 otherwise."""
    if target_type == "photo":
        from chalicelib.services import photos

        photo, _, _ = photos.readable(principal, target_id)
        return photo.owner_id, None
    if target_type == "comment":
        from chalicelib.models import engagement as comments
        from chalicelib.services import engagement

        missing = NotFoundError("No such comment.", code="comment_not_found")
        found = comments.target_of_comment(target_id)
        if found is None:
            raise missing
        on, parent_id = found  # a photo's comment or an event's: the id says which
        engagement._open(principal, on.kind, parent_id)
        comment = comments.get_comment(parent_id, target_id, on)
        if comment is None:
            raise missing
        return comment.author_id, parent_id
    if target_type == "user":
        user = user_by_id(target_id) if target_id.startswith("u_") else None
        if user is None:
            raise NotFoundError("No such user.")
        return user.user_id, None
    from chalicelib.models import chat

    if not conversation_id:
        raise ValidationError(
            "A message is reported with its conversation.", details={"target.conversation_id": "required"}
        )
    if chat.membership(principal.user_id, conversation_id) is None or not chat.plausible_id(target_id):
        raise NotFoundError("No such message.")
    try:
        message = chat.Message.get(conversation_id, target_id)
    except chat.Message.DoesNotExist:
        raise NotFoundError("No such message.") from None
    return message.sender_id, conversation_id


def create_report(
    principal: Any, target_type: str, target_id: str, reason: str, conversation_id: str | None = None
) -> Report:
    """Once per reporter and target (the id is derived from the pair; a repeat is ``409 already_reported``)."""
    owner_id, parent = _reportable(principal, target_type, target_id, conversation_id)
    if owner_id == principal.user_id:
        raise ValidationError("You cannot report yourself or your own content.", code="cannot_report_self")
    report_id = report_id_for(principal.user_id, target_type, target_id)
    t = now()
    row = Report(
        report_id=report_id,
        reporter_id=principal.user_id,
        target_type=target_type,
        target_id=target_id,
        target_key=target_key(target_type, target_id),
        target_parent=parent,
        target_owner_id=owner_id,
        reason=reason,
        status=OPEN,
        status_key=sort_key(t, report_id),
        target_status=f"{OPEN}#{sort_key(t, report_id)}",
        created_at=t,
    )
    try:
        row.save(condition=Report.report_id.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            raise ConflictError("You reported this already.", code="already_reported") from exc
        raise
    return row


def report_view(row: Report) -> dict[str, Any]:
    target: dict[str, Any] = {"type": row.target_type, "id": row.target_id}
    if row.target_type == "message":
        target["conversation_id"] = row.target_parent
    if row.target_type == "comment":
        from chalicelib.models import engagement as comments

        found = comments.target_of_comment(row.target_id)  # the id says on which photo or event it is
        if found is not None:
            target[f"{found[0].kind}_id"] = found[1]
    return {
        "id": row.report_id,
        "reporter_id": row.reporter_id,
        "target": target,
        "target_owner_id": row.target_owner_id,
        "reason": row.reason,
        "status": row.status,
        "created_at": iso(row.created_at),
        "resolved_at": iso(row.resolved_at),
        "resolved_by": row.resolved_by,
        "resolution": row.resolution,
        "note": row.note,
        "resolved_with": row.resolved_with,
    }


def reports_page(status: str, newest_first: bool, limit: int, cursor: str | None):
    from chalicelib import pagination

    scope = f"reports:{status}:{'newest' if newest_first else 'oldest'}"
    results = store.reports_in(status, newest_first, limit, pagination.decode(scope, cursor))
    rows, next_cursor = pagination.page(scope, results, limit)
    return [report_view(r) for r in rows], next_cursor


def _resolution_actions(resolution: str, actor_id: str, note: str | None, report_id: str, primary: str | None):
    t = now()
    key = sort_key(t, report_id)
    return [
        Report.status.set(RESOLVED),
        Report.status_key.set(key),
        Report.target_status.set(f"{RESOLVED}#{key}"),
        Report.resolved_at.set(t),
        Report.resolved_by.set(actor_id),
        Report.resolution.set(resolution),
        Report.note.set(note) if note else Report.note.remove(),
        Report.resolved_with.set(primary) if primary else Report.resolved_with.remove(),
    ]


def resolve(actor: Any, report_id: str, resolution: str, note: str | None) -> Report:
    """Dismiss, remove the content (with its files, through its delete path) or suspend its owner; the report
    is resolved once (a second resolution is ``409 report_resolved``), with its audit entry, in one transaction
    (with the suspension, for ``suspend_user``). The other open reports of the same target are resolved with it."""
    report = store.get_report(report_id, consistent=True)
    if report is None:
        raise NotFoundError("No such report.")
    if report.status != OPEN:
        raise ConflictError("This report is resolved already.", code="report_resolved")
    owner = None
    if resolution == "remove":
        if report.target_type == "user":
            raise ValidationError(
                "A user is not removed: suspend them (suspend_user).", details={"action": "not for a user"}
            )
        remove_content(actor, report)  # idempotent: a retry after a failure below removes nothing more
    elif resolution == "suspend_user":
        owner = _subject(actor, report.target_owner_id)
    details: dict[str, Any] = {"resolution": resolution, "target_type": report.target_type}
    details |= {"target_id": report.target_id, "note": note, "target_owner_id": report.target_owner_id}
    entry = audit.entry(actor.user_id, "report.resolve", "report", report.report_id, details)

    def build(tx: TransactWrite) -> None:
        tx.update(
            Report(report_id=report.report_id),
            actions=_resolution_actions(resolution, actor.user_id, note, report.report_id, None),
            condition=Report.status == OPEN,
        )
        audit.add_to(tx, entry)
        if owner is not None and not owner.suspended:
            _suspend_in(tx, actor, owner, note or report.reason, report.report_id)

    if _commit(build):
        again = store.get_report(report.report_id, consistent=True)
        if again is None or again.status != OPEN:
            raise ConflictError("This report is resolved already.", code="report_resolved")
        raise ConflictError("The account changed meanwhile; look again.", code="retry")
    if owner is not None and not owner.suspended:
        _after_suspension(owner)
    _resolve_siblings(report, resolution, actor.user_id)
    return store.get_report(report.report_id, consistent=True) or report


def _resolve_siblings(report: Report, resolution: str, actor_id: str) -> None:
    """Up to SIBLINGS_INLINE other open reports of the target now; a full page hands the rest to a job."""
    more = resolve_open_of_target(report.target_key, report.report_id, resolution, actor_id, SIBLINGS_INLINE)
    if more:
        from chalicelib import jobs

        payload = {"target_key": report.target_key, "report_id": report.report_id}
        jobs.publish(
            "report.resolved",
            f"report.resolved:{report.report_id}",
            payload | {"resolution": resolution, "actor_id": actor_id},
        )


def resolve_open_of_target(key: str, primary: str, resolution: str, actor_id: str, limit: int) -> bool:
    """Resolve (each by a condition on ``open``) up to ``limit`` open reports of a target with ``primary``; True
    if there may be more. Resolved reports leave the index's ``open#`` prefix, so re-reading from the start
    finds what is left."""
    rows = [r for r in store.open_reports_of_target(key, limit + 1) if r.report_id != primary][:limit]
    for row in rows:
        try:
            row.update(
                actions=_resolution_actions(resolution, actor_id, None, row.report_id, primary),
                condition=Report.status == OPEN,
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
    return len(rows) >= limit


def on_report_resolved(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``report.resolved`` (beyond the request's bound): the target's other open reports, a chunk at a time
    (re-reading from the start finds those still open)."""
    more = resolve_open_of_target(
        payload["target_key"], payload["report_id"], payload["resolution"], payload["actor_id"], limit
    )
    return {} if more else None


def on_user_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``user.deleted``: the reports the user made that are still open go (nobody is left to hear of them), a
    chunk at a time, each conditioned on still being open (a concurrent resolution keeps its report); deleted
    reports leave the index's ``open#`` prefix, so re-reading from the start finds the rest. Resolved reports
    stay, as staff's record (with their ``report.resolve`` audit entries); reports about the user's content
    stay in the queue until staff resolve them (``remove`` finds the content gone and resolves them too)."""
    from pynamodb.exceptions import DeleteError

    rows = list(store.open_reports_by(payload["user_id"], limit))
    for row in rows:
        try:
            row.delete(condition=Report.status == OPEN)
        except DeleteError as exc:
            if not condition_failed(exc):
                raise
    return {} if len(rows) >= limit else None


# ---- removal ---------------------------------------------------------------------------------------------------


def remove_content(actor: Any, report: Report) -> None:
    """Remove a reported photo (with every stored file), comment (with its replies) or message (its body), through
    the existing delete paths; content already gone counts as removed. Audited once per target."""
    try:
        if report.target_type == "photo":
            from chalicelib.services import photos

            photos.delete_photo(actor, report.target_id, audited=False)
        elif report.target_type == "comment":
            from chalicelib.models import engagement as comments
            from chalicelib.services import engagement

            found = comments.target_of_comment(report.target_id)
            if found is None:
                raise NotFoundError("No such comment.")
            on, parent_id = found
            engagement.delete_comment(actor, parent_id, report.target_id, kind=on.kind, audited=False)
        elif report.target_type == "message":
            _remove_message(report.target_parent or "", report.target_id)
    except NotFoundError:
        pass  # gone already (removed by its owner, or by a first attempt of this resolution)
    details = {"report_id": report.report_id, "owner_id": report.target_owner_id}
    audit.record(
        audit.entry(
            actor.user_id, "content.remove", report.target_type, report.target_id, details,
            audit_id=audit.removal_id(report.target_type, report.target_id),
        )
    )  # fmt: skip


def _remove_message(conversation_id: str, message_id: str) -> None:
    """The message stays in the conversation (the order of the thread), its body replaced; the participants'
    previews too when it was the last message."""
    from chalicelib.models import chat
    from chalicelib.models.base import update_existing

    try:
        message = chat.Message.get(conversation_id, message_id)
    except chat.Message.DoesNotExist:
        raise NotFoundError("No such message.") from None
    update_existing(message, [chat.Message.body.set(REMOVED_MESSAGE)])
    conversation = chat.Conversation.get(conversation_id)
    for user_id in conversation.participant_ids:
        try:
            chat.ConversationMember(user_id=user_id, conversation_id=conversation_id).update(
                actions=[chat.ConversationMember.last_preview.set(REMOVED_MESSAGE)],
                condition=chat.ConversationMember.last_message_id == message_id,
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                raise


# ---- the staff users listing ---------------------------------------------------------------------------------


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.user_id,
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "role": user.role,
        "status": status_of(user),
        "created_at": iso(user.created_at),
        "last_activity_at": iso(user.last_activity_at),
        "photo_count": max(0, int(user.photo_count or 0)),
        "orders_count": max(0, int(user.orders_count or 0)),
        "suspended_at": iso(user.suspended_at),
        "suspension_reason": user.suspension_reason,
    }


def _users_in_order(ids: list[str]) -> list[User]:
    from chalicelib.services.accounts import users_by_ids

    found = users_by_ids(ids)
    return [found[i] for i in dict.fromkeys(ids) if i in found]


def staff_users(q: str | None, role: str | None, limit: int, cursor: str | None):
    """``q``: the username / display-name prefix index (each page's users filtered by ``role`` if given, so a
    page may hold fewer than ``limit``); ``role`` alone: the users.by_role index, newest first; neither: every
    user, newest first (:func:`_newest_users`). One Query (five without a filter) and one BatchGet per page:
    the counters are on the user rows."""
    from chalicelib import pagination
    from chalicelib.services import accounts

    scope = f"staff_users:{q or ''}:{role or ''}"
    last_key = pagination.decode(scope, cursor)
    if q is None and role is None:
        return _newest_users(scope, limit, last_key)
    if q is not None:
        results = accounts.search_users(q, limit, last_key)
        rows, next_cursor = pagination.page(scope, results, limit)
        users = [u for u in _users_in_order([r.entity_id for r in rows]) if role is None or u.role == role]
    else:
        results = User.by_role.query(role, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)
        rows, next_cursor = pagination.page(scope, results, limit)
        users = _users_in_order([r.user_id for r in rows])
    return [user_view(u) for u in users], next_cursor


def _newest_users(scope: str, limit: int, last_key: dict[str, Any] | None):
    """Every user, newest first, without a Scan or an index of its own: one by_role Query per role (five, each
    of at most ``limit`` keys), merged by ``created_at``; the page takes the newest ``limit``. The cursor holds
    each role's position (the by_role key of the last user of that role the pages gave) and the roles that are
    done. A user whose role changes between pages may be listed twice or not at all (as in any listing of a
    changing index)."""
    import heapq
    import itertools

    from chalicelib import pagination
    from chalicelib.models.users import ROLES

    state = _merge_state(last_key)
    positions: dict[str, dict[str, Any]] = state["at"]
    done: set[str] = set(state["done"])
    streams: dict[str, list[User]] = {}
    more: dict[str, bool] = {}
    for role in ROLES:
        if role in done:
            continue
        results = User.by_role.query(
            role, scan_index_forward=False, limit=limit, last_evaluated_key=positions.get(role)
        )
        streams[role] = list(results)
        more[role] = len(streams[role]) >= limit and results.last_evaluated_key is not None
    ordered = heapq.merge(
        *([(r.created_at, r.user_id, role, r) for r in rows] for role, rows in streams.items()), reverse=True
    )
    taken = list(itertools.islice(ordered, limit))
    for role, rows in streams.items():
        mine = [row for _, _, r, row in taken if r == role]
        if mine:
            last = mine[-1]
            positions[role] = {
                "user_id": {"S": last.user_id},
                "role": {"S": role},
                "created_at": {"S": User.created_at.serialize(last.created_at)},
            }
        if len(mine) == len(rows) and not more[role]:
            done.add(role)
    next_cursor = None
    if len(done) < len(ROLES):
        next_cursor = pagination.encode(
            scope, {"at": {r: k for r, k in positions.items() if r not in done}, "done": sorted(done)}
        )
    users = _users_in_order([row.user_id for _, _, _, row in taken])
    return [user_view(u) for u in users], next_cursor


def _merge_state(last_key: dict[str, Any] | None) -> dict[str, Any]:
    """The merge's cursor (signed, so only ever one we minted; checked anyway)."""
    from chalicelib.models.users import ROLES

    if not last_key:
        return {"at": {}, "done": []}
    at, done = last_key.get("at"), last_key.get("done")
    if not (isinstance(at, dict) and set(at) <= set(ROLES) and isinstance(done, list) and set(done) <= set(ROLES)):
        raise ValidationError("The cursor is invalid.", code="invalid_cursor", details={"cursor": "invalid"})
    return {"at": dict(at), "done": list(done)}
