"""/conversations: 1:1 chat over REST, and the WebSocket ``send_message`` action.

WebSocket: ``{"action": "send_message", "conversation_id": "...", "body": "..."}``. Every participant's open
connections (the sender's included) then get ``{"type": "message", "conversation_id", "message": {...}}``;
a bad frame gets ``{"type": "error", "error": {...}}`` on the sending connection only.
"""

from __future__ import annotations

from typing import Annotated, Any

from chalice import Response
from pydantic import ConfigDict, Field

from chalicelib.api.routing import Ctx, route, validation_details
from chalicelib.api.schema_base import Body, Out, PageQuery
from chalicelib.api.schemas import CleanText, Page, PublicUserOut
from chalicelib.errors import ValidationError
from chalicelib.realtime.handlers import action
from chalicelib.services import chat
from chalicelib.services.social import avatar_urls

TAGS = ("chat",)

MessageBody = Annotated[CleanText, Field(min_length=1, max_length=chat.MAX_BODY, description="1-4000 characters")]


class StartConversationIn(Body):
    username: Annotated[str, Field(min_length=1, max_length=64, description="Username (or id) to talk to")]


class SendMessageIn(Body):
    body: MessageBody


class SendMessageFrame(Body):
    model_config = ConfigDict(strict=True, extra="ignore", defer_build=True)  # clients may add their own keys

    action: str
    conversation_id: Annotated[str, Field(min_length=1, max_length=64)]
    body: MessageBody


class Author(Out):
    id: str
    username: str | None
    display_name: str | None


class MessageOut(Out):
    id: str
    conversation_id: str
    sender: Author
    body: str
    created_at: str


class LastMessageOut(Out):
    id: str
    sender: Author
    preview: str
    created_at: str | None


class ConversationOut(Out):
    id: str
    kind: str
    participants: list[PublicUserOut]
    unread_count: int
    last_message: LastMessageOut | None
    last_activity_at: str | None
    last_read_at: str | None
    created_at: str | None


def _conversation(view: dict[str, Any], avatars: dict[str, str] | None = None) -> ConversationOut:
    avatars = avatars if avatars is not None else avatar_urls(view["participants"])
    people = [PublicUserOut.of(u, avatars.get(u.user_id)) for u in view["participants"]]
    return ConversationOut(**{**view, "participants": people})


@route(
    "/conversations",
    "POST",
    body=StartConversationIn,
    response=ConversationOut,
    status=201,
    tags=TAGS,
    responses=(200, 403, 404),
)
def start_conversation(ctx: Ctx[StartConversationIn]) -> Response | ConversationOut:
    """Start the 1:1 conversation with a user: 201, or the existing one with 200."""
    view, created = chat.open_direct(ctx.principal, ctx.body.username)
    out = _conversation(view)
    if created:
        return out
    return Response(body=out.model_dump(mode="json"), status_code=200, headers={"Content-Type": "application/json"})


@route("/conversations", "GET", query=PageQuery, response=Page[ConversationOut], tags=TAGS)
def list_conversations(ctx: Ctx[None, PageQuery]) -> Page[ConversationOut]:
    """The caller's conversations, latest activity first, each with its unread count."""
    views, cursor = chat.conversations(ctx.user_id, ctx.query.limit, ctx.query.cursor)
    avatars = avatar_urls({u.user_id: u for v in views for u in v["participants"]}.values())
    return Page[ConversationOut](items=[_conversation(v, avatars) for v in views], next_cursor=cursor)


@route("/conversations/{conversation_id}", "GET", response=ConversationOut, tags=TAGS, responses=(404,))
def get_conversation(ctx: Ctx, conversation_id: str) -> ConversationOut:
    """One conversation (participants only)."""
    return _conversation(chat.get_conversation(ctx.user_id, conversation_id))


@route(
    "/conversations/{conversation_id}/messages",
    "GET",
    query=PageQuery,
    response=Page[MessageOut],
    tags=TAGS,
    responses=(404,),
)
def list_messages(ctx: Ctx[None, PageQuery], conversation_id: str) -> Page[MessageOut]:
    """Messages, newest first (participants only)."""
    items, cursor = chat.messages(ctx.user_id, conversation_id, ctx.query.limit, ctx.query.cursor)
    return Page[MessageOut](items=items, next_cursor=cursor)


@route(
    "/conversations/{conversation_id}/messages",
    "POST",
    body=SendMessageIn,
    response=MessageOut,
    status=201,
    tags=TAGS,
    responses=(403, 404, 410),
    idempotency="accepted",
)
def send_message(ctx: Ctx[SendMessageIn], conversation_id: str) -> dict[str, Any]:
    """Send a message: stored, pushed to every participant's connections, notified to offline ones."""
    return chat.send_message(ctx.user_id, conversation_id, ctx.body.body)


@route("/conversations/{conversation_id}/read", "POST", response=ConversationOut, tags=TAGS, responses=(404,))
def mark_read(ctx: Ctx, conversation_id: str) -> ConversationOut:
    """Mark the conversation read: the caller's unread count becomes 0."""
    return _conversation(chat.mark_read(ctx.user_id, conversation_id))


@action("send_message")
def ws_send_message(connection_id: str, user_id: str, frame: dict[str, Any]) -> None:
    """The WebSocket way to send: the sender's connections get the message frame like everybody else's."""
    from pydantic import ValidationError as PydanticValidationError

    try:
        parsed = SendMessageFrame.model_validate(frame)
    except PydanticValidationError as exc:
        raise ValidationError("The frame is not valid.", details=validation_details(exc)) from None
    chat.send_message(user_id, parsed.conversation_id, parsed.body)
    return None
