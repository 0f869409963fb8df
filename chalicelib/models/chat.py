"""Chat: 1:1 conversations, each participant's view of them (unread count, last activity), and messages.

Access patterns (every listing is a Query on a key or an index):
- a conversation by id ...................... Conversations GetItem(conversation_id)
- the 1:1 conversation of a pair ............ the id is derived from the sorted pair (``direct_id``), so
                                              "find or create" is one conditional write: concurrent creates
                                              give one conversation
- is U a participant of C ................... ConversationMembers GetItem(user_id=U, conversation_id=C)
- U's conversations, latest activity first .. ConversationMembers GSI by_activity (user_id, last_activity_at),
                                              all attributes (unread count, last message preview)
- messages of C, newest first ............... Messages Query(conversation_id, message_id desc); message ids
                                              are time-sortable (``new_id``)
A message and every participant's row (last activity, preview, unread count +1 for the others) are written in
one transaction, so unread counts never drift from the messages.
"""

from __future__ import annotations

import hashlib

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.models.base import (
    UpdateError,
    cancellation_codes,
    condition_failed,
    connection,
    now,
    register,
    table_meta,
)

DIRECT = "direct"
PREVIEW_CHARS = 200
TRANSACTION_ATTEMPTS = 4


def plausible_id(value: str | None) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64


def direct_id(a_user_id: str, b_user_id: str) -> str:
    """The one 1:1 conversation id of a pair, whoever starts it."""
    pair = "|".join(sorted((a_user_id, b_user_id)))
    return "c_" + hashlib.sha256(f"{DIRECT}|{pair}".encode()).hexdigest()[:24]


@register
class Conversation(Model):
    Meta = table_meta("conversations")

    conversation_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(default=DIRECT)
    participant_ids: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]  # pynamodb types `of` as the item type; it takes the item's Attribute class
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute(default=now)


class MembersByActivity(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_activity"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    last_activity_at = UTCDateTimeAttribute(range_key=True)


@register
class ConversationMember(Model):
    """One participant's view of a conversation."""

    Meta = table_meta("conversation_members")

    user_id = UnicodeAttribute(hash_key=True)
    conversation_id = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute(default=DIRECT)
    participant_ids: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]  # pynamodb types `of` as the item type; it takes the item's Attribute class
    unread_count = NumberAttribute(default=0)
    last_activity_at = UTCDateTimeAttribute(default=now)
    last_read_at = UTCDateTimeAttribute(null=True)
    last_message_id = UnicodeAttribute(null=True)
    last_sender_id = UnicodeAttribute(null=True)
    last_preview = UnicodeAttribute(null=True)  # the first PREVIEW_CHARS characters of the last message
    created_at = UTCDateTimeAttribute(default=now)

    by_activity = MembersByActivity()


@register
class Message(Model):
    Meta = table_meta("messages")

    conversation_id = UnicodeAttribute(hash_key=True)
    message_id = UnicodeAttribute(range_key=True)
    sender_id = UnicodeAttribute()
    body = UnicodeAttribute()
    created_at = UTCDateTimeAttribute(default=now)


# ---- access patterns -------------------------------------------------------------------------------------


def _transact(build, *, on_condition_failed) -> bool:
    """Run the transaction ``build(tx)``, retrying on transaction conflicts; a failed condition calls
    ``on_condition_failed(exc)`` and returns False."""
    for attempt in range(TRANSACTION_ATTEMPTS):
        try:
            with TransactWrite(connection=connection()) as tx:
                build(tx)
            return True
        except TransactWriteError as exc:
            if "ConditionalCheckFailed" in cancellation_codes(exc):
                on_condition_failed(exc)
                return False
            if attempt == TRANSACTION_ATTEMPTS - 1:
                raise ConflictError("The conversation is busy; retry.") from exc
    return False  # pragma: no cover


def create_direct(conversation_id: str, creator_id: str, other_id: str) -> bool:
    """Create the conversation and both participants' rows atomically; False if it already existed."""
    t = now()
    participants = sorted((creator_id, other_id))
    conversation = Conversation(
        conversation_id=conversation_id, kind=DIRECT, participant_ids=participants, created_by=creator_id, created_at=t
    )
    members = [
        ConversationMember(
            user_id=u,
            conversation_id=conversation_id,
            kind=DIRECT,
            participant_ids=participants,
            last_activity_at=t,
            created_at=t,
        )
        for u in participants
    ]

    def build(tx):
        tx.save(conversation, condition=Conversation.conversation_id.does_not_exist())
        for member in members:
            tx.save(member, condition=ConversationMember.conversation_id.does_not_exist())

    return _transact(build, on_condition_failed=lambda exc: None)


def membership(user_id: str, conversation_id: str, *, consistent: bool = False) -> ConversationMember | None:
    if not (plausible_id(user_id) and plausible_id(conversation_id)):
        return None
    try:
        return ConversationMember.get(user_id, conversation_id, consistent_read=consistent)
    except ConversationMember.DoesNotExist:
        return None


def conversations_of(user_id: str, limit: int | None = None, last_key: dict | None = None):
    return ConversationMember.by_activity.query(
        user_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key
    )


def add_message(message: Message, participant_ids: list[str]) -> None:
    """The message, and for every participant: last activity and preview; unread +1 for all but the sender."""
    t = message.created_at
    preview = message.body[:PREVIEW_CHARS]

    def build(tx):
        tx.save(message, condition=Message.message_id.does_not_exist())
        for user_id in participant_ids:
            actions: list[Action] = [
                ConversationMember.last_activity_at.set(t),
                ConversationMember.last_message_id.set(message.message_id),
                ConversationMember.last_sender_id.set(message.sender_id),
                ConversationMember.last_preview.set(preview),
            ]
            if user_id == message.sender_id:
                actions += [ConversationMember.last_read_at.set(t), ConversationMember.unread_count.set(0)]
            else:
                actions.append(ConversationMember.unread_count.add(1))
            tx.update(
                ConversationMember(user_id=user_id, conversation_id=message.conversation_id),
                actions=actions,
                condition=ConversationMember.conversation_id.exists(),
            )

    def gone(exc):
        raise NotFoundError("No such conversation.") from exc

    _transact(build, on_condition_failed=gone)


def mark_read(user_id: str, conversation_id: str) -> ConversationMember:
    row = ConversationMember(user_id=user_id, conversation_id=conversation_id)
    try:
        row.update(
            actions=[ConversationMember.unread_count.set(0), ConversationMember.last_read_at.set(now())],
            condition=ConversationMember.conversation_id.exists(),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            raise NotFoundError("No such conversation.") from exc
        raise
    return row


def messages_of(conversation_id: str, limit: int | None = None, last_key: dict | None = None):
    return Message.query(conversation_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def delete_memberships_of(user_id: str, limit: int | None = None) -> int:
    """Account deletion: the user's view of their conversations (the messages stay for the others)."""
    rows = list(ConversationMember.query(user_id, attributes_to_get=["user_id", "conversation_id"], limit=limit))
    with ConversationMember.batch_write() as batch:
        for row in rows:
            batch.delete(row)
    return len(rows)
