"""Event invitations: the owner invites up to 100 users by username at once; each invitee gets an
``event_invite`` notification, sees the invitation in ``GET /invitations``, and accepts (becoming a viewer
member) or declines. An answer is final and remembered: nobody is invited to the same event twice, by the owner
or by auto-invite (the invitation row is written with attribute_not_exists and kept).

A pending invitation lets its invitee read the event itself (:func:`can_read`, asked by
``events.access`` for private events), so they can decide.

Bounded work per request: the usernames resolve in two BatchGetItems (claims, users), memberships, blocks and
earlier invitations in one each, the rows go in one transaction per 100; the first ``fanout_inline_max``
invitees are notified inline, the rest by the ``event.invited`` job.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from chalicelib.config import get_settings
from chalicelib.errors import ConflictError, ForbiddenError, NotFoundError
from chalicelib.models import invitations as store
from chalicelib.models.events import Event, EventMember
from chalicelib.models.invitations import ACCEPTED, DECLINED, PENDING, Invitation
from chalicelib.pagination import decode, page

# Why a username was not invited (per name in the response)
UNKNOWN, OWNER, MEMBER, INVITED, DECLINED_BEFORE, UNAVAILABLE = (
    "unknown_user",
    "owner",
    "already_member",
    "already_invited",
    "declined",
    "unavailable",  # a block between owner and invitee, either way (which way is not told)
)


# ---- reading ------------------------------------------------------------------------------------------------


def can_read(event: Event, user_id: str | None) -> bool:
    """True if ``user_id`` holds a pending invitation to the event (one GetItem): it may read the event, even
    a private one. ``events.access`` asks this for callers who are neither owner, member nor staff."""
    if not user_id:
        return False
    row = store.invitation(event.event_id, user_id)
    return row is not None and row.status == PENDING


def pending(user_id: str, limit: int, cursor: str | None) -> tuple[list[Invitation], str | None]:
    scope = f"invitations:{user_id}"
    return page(scope, store.pending_of_user(user_id, limit, decode(scope, cursor)), limit)


# ---- inviting -----------------------------------------------------------------------------------------------


def _user_ids_by_username(usernames: list[str]) -> dict[str, str]:
    """lower-cased username -> user id, for the names that exist (one BatchGetItem of claims)."""
    from chalicelib.models.users import Claim, claim_key

    keys = [claim_key("username", name) for name in usernames]
    return {c.claim.split("#", 1)[1]: c.user_id for c in Claim.batch_get(keys)} if keys else {}


def invite(principal: Any, event_id: str, usernames: list[str]) -> dict[str, Any]:
    """Invite the users (owner only). Returns ``{"invited": [user], "skipped": [{"username", "reason"}]}``."""
    from chalicelib.services import accounts, blocks
    from chalicelib.services import events as events_service

    event, _ = events_service.access(principal, event_id, consistent=True)
    if principal.user_id != event.owner_id:
        raise ForbiddenError("Only the event's owner may invite.")
    names = list(dict.fromkeys(name.lower() for name in usernames))
    ids = _user_ids_by_username(names)
    users = accounts.users_by_ids(list(ids.values()))
    skipped: list[dict[str, str]] = []
    candidates: dict[str, str] = {}  # user id -> the name asked for
    for name in names:
        user_id = ids.get(name)
        if user_id is None or user_id not in users:
            skipped.append({"username": name, "reason": UNKNOWN})
        elif user_id == event.owner_id:
            skipped.append({"username": name, "reason": OWNER})
        else:
            candidates[user_id] = name
    members = {m.user_id for m in EventMember.batch_get([(event_id, u) for u in candidates])} if candidates else set()
    blocked = blocks.blocked_among(event.owner_id, candidates) if candidates else set()
    earlier = store.invitations_among(event_id, candidates)
    rows = []
    for user_id, name in candidates.items():
        reason = (
            MEMBER
            if user_id in members
            else UNAVAILABLE
            if user_id in blocked
            else (DECLINED_BEFORE if earlier[user_id].status == DECLINED else INVITED)
            if user_id in earlier
            else None
        )
        if reason:
            skipped.append({"username": name, "reason": reason})
        else:
            rows.append(store.new_invitation(event_id, user_id, principal.user_id))
    written = store.put_invitations(rows)
    done = {row.user_id for row in written}
    skipped += [{"username": candidates[r.user_id], "reason": INVITED} for r in rows if r.user_id not in done]
    notify_invited(event, [r.user_id for r in written], principal.user_id)
    return {"invited": [users[r.user_id] for r in written], "skipped": skipped}


def notify_invited(event: Event, user_ids: list[str], inviter_id: str | None) -> None:
    """``event_invite`` to each invitee: the first ``fanout_inline_max`` now, the rest in ``event.invited``
    jobs (a chunk per run). Keyed by the event, so a rerun notifies nobody twice."""
    from chalicelib import jobs

    bound = max(1, get_settings().fanout_inline_max)
    for user_id in user_ids[:bound]:
        _notify(event.event_id, user_id, inviter_id or event.owner_id)
    rest = user_ids[bound:]
    if rest:
        digest = hashlib.sha256(",".join(rest).encode()).hexdigest()[:24]
        jobs.publish(
            "event.invited",
            f"event.invited:{event.event_id}:{digest}",
            {"event_id": event.event_id, "inviter_id": inviter_id or event.owner_id, "user_ids": rest},
        )


def _notify(event_id: str, user_id: str, inviter_id: str) -> None:
    from chalicelib.services import notifications

    notifications.notify(
        user_id, "event_invite", actor_id=inviter_id, target={"kind": "event", "id": event_id}, dedupe=event_id
    )


def on_invited(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``event.invited`` consumer: notify the invitees beyond the inline bound, ``limit`` per run."""
    user_ids = list(payload.get("user_ids") or [])
    start = int((cursor or {}).get("i", 0))
    for user_id in user_ids[start : start + limit]:
        _notify(payload["event_id"], user_id, payload["inviter_id"])
    return {"i": start + limit} if start + limit < len(user_ids) else None


# ---- answering ----------------------------------------------------------------------------------------------


def _own(principal: Any, event_id: str) -> tuple[Invitation, Event]:
    from chalicelib.services import events as events_service

    row = store.invitation(event_id, principal.user_id)
    event = events_service.get_event(event_id) if row is not None else None
    if row is None or event is None:
        raise NotFoundError("You have no invitation to this event.", code="invitation_not_found")
    return row, event


def accept(principal: Any, event_id: str) -> Invitation:
    """Become a viewer member of the event. Accepting again changes nothing; after a decline, 409; with a block
    between the invitee and the owner (either way, e.g. one made after the invitation), 403 ``blocked``."""
    from chalicelib.models import events as events_store
    from chalicelib.services import blocks

    row, event = _own(principal, event_id)
    if row.status == DECLINED:
        raise ConflictError("You declined this invitation.", code="invitation_declined")
    if row.status == PENDING:
        blocks.require_not_blocked(principal.user_id, event.owner_id, "You cannot join this user's events.")
        member = EventMember(event_id=event_id, user_id=principal.user_id, role="viewer")
        with contextlib.suppress(ConflictError):  # added by the owner meanwhile: a member already
            events_store.add_member(member)
        if not store.answer(row, ACCEPTED):
            row = store.invitation(event_id, principal.user_id) or row
    return row


def decline(principal: Any, event_id: str) -> Invitation:
    """Decline (remembered: the user is not invited to this event again). Declining again changes nothing;
    after accepting, 409 (leave the event instead). An RSVP to a private event goes with the invitation."""
    row, event = _own(principal, event_id)
    if row.status == ACCEPTED:
        raise ConflictError("You accepted this invitation; leave the event instead.", code="invitation_accepted")
    if row.status == PENDING and not store.answer(row, DECLINED):
        row = store.invitation(event_id, principal.user_id) or row
        if row.status == ACCEPTED:
            raise ConflictError("You accepted this invitation; leave the event instead.", code="invitation_accepted")
    from chalicelib.services import rsvp

    rsvp.access_lost(event, principal.user_id)
    return row


# ---- background jobs ----------------------------------------------------------------------------------------


def on_event_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``event.deleted`` consumer: the pending invitees get the ``event.updated`` (deleted) frame, then the
    event's invitations go, ``limit`` rows per run (re-reading from the start finds what is left)."""
    from chalicelib.services import event_updates

    rows = list(store.invitations_of_event(payload["event_id"], limit))
    event_updates.send_now(payload["event_id"], "deleted", [r.user_id for r in rows if r.status == PENDING])
    store.delete_invitations(rows)
    return {} if len(rows) >= limit else None


def on_user_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``user.deleted`` consumer: the user's pending invitations (answered ones are kept anonymous)."""
    rows = list(store.pending_of_user(payload["user_id"], limit))
    store.delete_invitations(rows)
    return {} if len(rows) >= limit else None
