"""Chat: one 1:1 conversation per pair, persisted messages, live delivery, unread counts.

Rules:
- Only participants see a conversation or its messages; everybody else gets 404 (its existence does not leak).
- Starting a conversation with someone returns the pair's existing one if there is one.
- A block between the two, either way, refuses starting a conversation and sending messages (403 ``blocked``);
  the history stays readable.
- A message reaches every open connection of every participant (sender included, for their other devices)
  as ``{"type": "message", "conversation_id", "message"}``. A participant with no open connection gets a
  ``message`` notification instead.
- Every participant but the sender gets +1 unread; sending or marking read sets one's own count to zero.
"""

from __future__ import annotations

from typing import Any

from chalicelib.errors import ForbiddenError, GoneError, NotFoundError, ValidationError
from chalicelib.models import chat as store
from chalicelib.models.base import iso, new_id, now
from chalicelib.models.chat import ConversationMember, Message
from chalicelib.pagination import decode, page
from chalicelib.services import accounts, blocks, notifications

MAX_BODY = 4000


def _author(user_id: str, users: dict[str, Any]) -> dict[str, Any]:
    user = users.get(user_id)
    return {
        "id": user_id,
        "username": getattr(user, "username", None),
        "display_name": getattr(user, "display_name", None),
    }


def message_view(message: Message, users: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": message.message_id,
        "conversation_id": message.conversation_id,
        "sender": _author(message.sender_id, users),
        "body": message.body,
        "created_at": iso(message.created_at),
    }


def conversation_view(row: ConversationMember, users: dict[str, Any]) -> dict[str, Any]:
    last = None
    if row.last_message_id:
        last = {
            "id": row.last_message_id,
            "sender": _author(row.last_sender_id, users),
            "preview": row.last_preview or "",
            "created_at": iso(row.last_activity_at),
        }
    return {
        "id": row.conversation_id,
        "kind": row.kind,
        "participants": [users[u] for u in row.participant_ids if u in users],
        "unread_count": int(row.unread_count or 0),
        "last_message": last,
        "last_activity_at": iso(row.last_activity_at),
        "last_read_at": iso(row.last_read_at),
        "created_at": iso(row.created_at),
    }


def _participant(user_id: str, conversation_id: str, *, consistent: bool = False) -> ConversationMember:
    row = store.membership(user_id, conversation_id, consistent=consistent)
    if row is None:
        raise NotFoundError("No such conversation.")
    return row


# ---- conversations -----------------------------------------------------------------------------------------


def open_direct(principal: Any, ref: str) -> tuple[dict[str, Any], bool]:
    """The 1:1 conversation with ``ref`` (username or id): (view, True) if created now, else (view, False)."""
    from chalicelib.services.social import resolve

    other = resolve(principal, ref)
    if other.user_id == principal.user_id:
        raise ValidationError("You cannot start a conversation with yourself.", details={"username": "is you"})
    blocks.require_not_blocked(principal.user_id, other.user_id, "You cannot message this user.")
    conversation_id = store.direct_id(principal.user_id, other.user_id)
    created = store.create_direct(conversation_id, principal.user_id, other.user_id)
    row = _participant(principal.user_id, conversation_id, consistent=True)
    users = {principal.user_id: principal.user, other.user_id: other}
    return conversation_view(row, users), created


def get_conversation(user_id: str, conversation_id: str) -> dict[str, Any]:
    row = _participant(user_id, conversation_id)
    return conversation_view(row, accounts.users_by_ids(list(row.participant_ids)))


def conversations(user_id: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The caller's conversations, latest activity first, each with its unread count."""
    scope = f"conversations:{user_id}"
    rows, next_cursor = page(scope, store.conversations_of(user_id, limit, decode(scope, cursor)), limit)
    users = accounts.users_by_ids([u for r in rows for u in r.participant_ids])
    return [conversation_view(r, users) for r in rows], next_cursor


def mark_read(user_id: str, conversation_id: str) -> dict[str, Any]:
    _participant(user_id, conversation_id)
    row = store.mark_read(user_id, conversation_id)
    row.refresh(consistent_read=True)
    return conversation_view(row, accounts.users_by_ids(list(row.participant_ids)))


# ---- messages ----------------------------------------------------------------------------------------------


def messages(
    user_id: str, conversation_id: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of messages, newest first (participants only)."""
    _participant(user_id, conversation_id)
    scope = f"messages:{conversation_id}:{user_id}"
    rows, next_cursor = page(scope, store.messages_of(conversation_id, limit, decode(scope, cursor)), limit)
    users = accounts.users_by_ids([m.sender_id for m in rows])
    return [message_view(m, users) for m in rows], next_cursor


def send_message(user_id: str, conversation_id: str, body: str) -> dict[str, Any]:
    """Store a message, deliver it live to every participant's connections, notify the offline ones."""
    body = body.strip() if isinstance(body, str) else ""
    if not 1 <= len(body) <= MAX_BODY:
        raise ValidationError("A message has 1 to 4000 characters.", details={"body": "1-4000 characters"})
    row = _participant(user_id, conversation_id)
    participants = list(row.participant_ids)
    users = accounts.users_by_ids(participants)
    if user_id not in users:
        raise NotFoundError("No such conversation.")
    others = [u for u in participants if u != user_id]
    if any(u not in users for u in others):
        raise GoneError("The other participant's account no longer exists.", code="recipient_gone")
    if blocks.blocked_among(user_id, others):
        raise ForbiddenError("You cannot message this user.", code="blocked")
    message = Message(
        conversation_id=conversation_id, message_id=new_id("m_"), sender_id=user_id, body=body, created_at=now()
    )
    store.add_message(message, participants)
    view = message_view(message, users)
    deliver(participants, {"type": "message", "conversation_id": conversation_id, "message": view}, message)
    return view


def deliver(participants: list[str], frame: dict[str, Any], message: Message) -> None:
    from chalicelib.realtime import push

    for user_id in participants:
        if push.send_to_user(user_id, frame) == 0:  # no open connection (or all of them gone)
            notifications.notify(
                user_id,
                "message",
                actor_id=message.sender_id,
                target={"kind": "conversation", "id": message.conversation_id, "message_id": message.message_id},
                dedupe=message.message_id,
            )


def on_user_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``user.deleted`` consumer (chalicelib/jobs): the user's conversation memberships, a chunk at a time."""
    return {} if store.delete_memberships_of(payload["user_id"], limit) >= limit else None
