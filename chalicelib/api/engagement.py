"""Likes, comments and bookmarks: /photos/{id}/like(s), /likes/*, /photos/{id}/comments, /comments/{id}/children,
/photos/{id}/bookmark, /bookmarks; the same likes and comments on events: /events/{id}/like, /events/{id}/comments.
The live side (WebSocket subscribe) is in chalicelib.services.livestats."""

from __future__ import annotations

from typing import Annotated, Any

from chalice import Response
from pydantic import Field, RootModel, field_validator

from chalicelib.api.photos import PhotoPage, _page
from chalicelib.api.routing import AnyCtx, Ctx, PublicCtx, route
from chalicelib.api.schema_base import Body, Out, PageQuery, Query
from chalicelib.api.schemas import CleanText, PublicUserOut
from chalicelib.models.base import iso
from chalicelib.pagination import decode, encode
from chalicelib.services import engagement

TAGS = ("engagement",)
MAX_BATCH = 100

PhotoId = Annotated[str, Field(min_length=1, max_length=64)]


class PhotoRefIn(Body):
    photo_id: PhotoId


class LikeOut(Out):
    photo_id: str
    liked: bool


class LikeStatOut(Out):
    count: int
    liked: bool


class LikeBatchOut(RootModel[dict[str, LikeStatOut]]):
    """Photo id -> like count and whether the caller likes it; ids unknown or not visible to the caller are
    left out."""


class LikeBatchQuery(Query):
    ids: Annotated[
        str, Field(min_length=1, max_length=MAX_BATCH * 65, description=f"Comma-separated photo ids (1-{MAX_BATCH})")
    ]

    @field_validator("ids")
    @classmethod
    def _ids(cls, value: str) -> str:
        ids = [i.strip() for i in value.split(",") if i.strip()]
        if not ids:
            raise ValueError("give at least one photo id")
        if len(dict.fromkeys(ids)) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} photo ids")
        return ",".join(ids)

    def id_list(self) -> list[str]:
        return self.ids.split(",")


class LikerOut(PublicUserOut):
    liked_at: str | None = None


class LikerPage(Out):
    items: list[LikerOut]
    next_cursor: str | None


class CommentIn(Body):
    body: Annotated[CleanText, Field(min_length=1, max_length=2000)]
    parent_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None


class CommentAuthor(Out):
    id: str
    username: str | None
    display_name: str | None


class CommentOut(Out):
    id: str
    photo_id: str | None = Field(None, description="The photo commented on (absent on event comments)")
    event_id: str | None = Field(None, description="The event commented on (absent on photo comments)")
    parent_id: str | None
    author: CommentAuthor
    body: str
    reply_count: int
    created_at: str


class CommentPage(Out):
    items: list[CommentOut]
    next_cursor: str | None


def _keys_page(ctx: PublicCtx[object, PageQuery], scope: str, query) -> tuple[list[Any], str | None]:
    """One page of an index query and its signed cursor (None on a short page)."""
    results = query(decode(scope, ctx.query.cursor))
    items = list(results)
    cursor = encode(scope, results.last_evaluated_key) if len(items) >= ctx.query.limit else None
    return items, cursor


def _who(ctx: AnyCtx) -> str:
    return ctx.principal.user_id if ctx.principal else "anonymous"


# ---- likes -------------------------------------------------------------------------------------------------


@route("/photos/{photo_id}/like", "POST", response=LikeOut, status=201, tags=TAGS, responses=(404, 409))
def like(ctx: Ctx, photo_id: str) -> LikeOut:
    """Like a photo (idempotent: liking again changes nothing)."""
    engagement.like(ctx.principal, photo_id)
    return LikeOut(photo_id=photo_id, liked=True)


@route("/photos/{photo_id}/like", "DELETE", status=204, tags=TAGS, responses=(404,))
def unlike(ctx: Ctx, photo_id: str) -> None:
    """Withdraw a like (idempotent)."""
    engagement.unlike(ctx.principal, photo_id)


@route("/likes/toggle", "POST", body=PhotoRefIn, response=LikeOut, status=201, tags=TAGS, responses=(204, 404, 409))
def toggle_like(ctx: Ctx[PhotoRefIn]) -> LikeOut | Response:
    """Like if not liked (201), else unlike (204)."""
    if engagement.toggle(ctx.principal, ctx.body.photo_id):
        return LikeOut(photo_id=ctx.body.photo_id, liked=True)
    return Response(body="", status_code=204)


@route("/likes/batch", "GET", query=LikeBatchQuery, response=LikeBatchOut, auth="optional", tags=TAGS)
def like_batch(ctx: PublicCtx[None, LikeBatchQuery]) -> LikeBatchOut:
    """Like counts (and the caller's likes) of up to 100 photos; ids not visible to the caller are left out."""
    return LikeBatchOut.model_validate(engagement.like_stats(ctx.principal, ctx.query.id_list()))


@route(
    "/photos/{photo_id}/likes", "GET", query=PageQuery, response=LikerPage, auth="optional", tags=TAGS, responses=(404,)
)
def likers(ctx: PublicCtx[None, PageQuery], photo_id: str) -> LikerPage:
    """Who liked a photo, newest first."""
    likes, cursor = _keys_page(
        ctx,
        f"likers:{photo_id}:{_who(ctx)}",
        lambda last: engagement.likers_query(ctx.principal, photo_id, ctx.query.limit, last),
    )
    users = engagement.public_users([row.user_id for row in likes])
    items = [
        LikerOut(**PublicUserOut.of(*users[row.user_id]).model_dump(), liked_at=iso(row.created_at))
        for row in likes
        if row.user_id in users
    ]
    return LikerPage(items=items, next_cursor=cursor)


# ---- comments ----------------------------------------------------------------------------------------------


@route(
    "/photos/{photo_id}/comments",
    "POST",
    body=CommentIn,
    response=CommentOut,
    status=201,
    tags=TAGS,
    responses=(403, 404, 409),
    idempotency="accepted",
)
def add_comment(ctx: Ctx[CommentIn], photo_id: str) -> dict[str, Any]:
    """Comment on a photo, or reply (``parent_id``) to a top-level comment; a reply to a reply is 400."""
    return engagement.add_comment(ctx.principal, photo_id, ctx.body.body, ctx.body.parent_id)


@route(
    "/photos/{photo_id}/comments",
    "GET",
    query=PageQuery,
    response=CommentPage,
    auth="optional",
    tags=TAGS,
    responses=(404,),
)
def comments(ctx: PublicCtx[None, PageQuery], photo_id: str) -> CommentPage:
    """Top-level comments, newest first, each with its ``reply_count``."""
    found, cursor = _keys_page(
        ctx,
        f"comments:{photo_id}:{_who(ctx)}",
        lambda last: engagement.comments_query(ctx.principal, photo_id, ctx.query.limit, last),
    )
    return CommentPage(items=engagement.comment_views(found), next_cursor=cursor)


@route(
    "/comments/{comment_id}/children",
    "GET",
    query=PageQuery,
    response=CommentPage,
    auth="optional",
    tags=TAGS,
    responses=(404,),
)
def replies(ctx: PublicCtx[None, PageQuery], comment_id: str) -> CommentPage:
    """Replies to a comment, oldest first."""
    found, cursor = _keys_page(
        ctx,
        f"replies:{comment_id}:{_who(ctx)}",
        lambda last: engagement.replies_query(ctx.principal, comment_id, ctx.query.limit, last),
    )
    return CommentPage(items=engagement.comment_views(found), next_cursor=cursor)


@route("/photos/{photo_id}/comments/{comment_id}", "DELETE", status=204, tags=TAGS, responses=(403, 404))
def delete_comment(ctx: Ctx, photo_id: str, comment_id: str) -> None:
    """Delete a comment (author, photo owner or staff); a top-level comment's replies go with it."""
    engagement.delete_comment(ctx.principal, photo_id, comment_id)


# ---- events ------------------------------------------------------------------------------------------------


class EventLikeOut(Out):
    event_id: str
    liked: bool


@route("/events/{event_id}/like", "POST", response=EventLikeOut, status=201, tags=TAGS, responses=(403, 404))
def like_event(ctx: Ctx, event_id: str) -> EventLikeOut:
    """Like an event you can see (idempotent); the event shows ``like_count``."""
    engagement.like(ctx.principal, event_id, kind="event")
    return EventLikeOut(event_id=event_id, liked=True)


@route("/events/{event_id}/like", "DELETE", status=204, tags=TAGS, responses=(404,))
def unlike_event(ctx: Ctx, event_id: str) -> None:
    """Withdraw a like of an event (idempotent)."""
    engagement.unlike(ctx.principal, event_id, kind="event")


@route(
    "/events/{event_id}/comments",
    "POST",
    body=CommentIn,
    response=CommentOut,
    status=201,
    tags=TAGS,
    responses=(403, 404),
    idempotency="accepted",
)
def add_event_comment(ctx: Ctx[CommentIn], event_id: str) -> dict[str, Any]:
    """Comment on an event you can see, or reply (``parent_id``) to a top-level comment; a reply to a reply is
    400. Replies are listed at /comments/{comment_id}/children."""
    return engagement.add_comment(ctx.principal, event_id, ctx.body.body, ctx.body.parent_id, kind="event")


@route(
    "/events/{event_id}/comments",
    "GET",
    query=PageQuery,
    response=CommentPage,
    auth="optional",
    tags=TAGS,
    responses=(404,),
)
def event_comments(ctx: PublicCtx[None, PageQuery], event_id: str) -> CommentPage:
    """An event's top-level comments, newest first, each with its ``reply_count``."""
    found, cursor = _keys_page(
        ctx,
        f"event-comments:{event_id}:{_who(ctx)}",
        lambda last: engagement.comments_query(ctx.principal, event_id, ctx.query.limit, last, kind="event"),
    )
    return CommentPage(items=engagement.comment_views(found), next_cursor=cursor)


@route("/events/{event_id}/comments/{comment_id}", "DELETE", status=204, tags=TAGS, responses=(403, 404))
def delete_event_comment(ctx: Ctx, event_id: str, comment_id: str) -> None:
    """Delete a comment (author, event owner or staff); a top-level comment's replies go with it."""
    engagement.delete_comment(ctx.principal, event_id, comment_id, kind="event")


# ---- bookmarks ---------------------------------------------------------------------------------------------


@route("/photos/{photo_id}/bookmark", "PUT", status=204, tags=TAGS, responses=(404, 409))
def bookmark(ctx: Ctx, photo_id: str) -> None:
    """Bookmark a photo (idempotent)."""
    engagement.bookmark(ctx.principal, photo_id)


@route("/photos/{photo_id}/bookmark", "DELETE", status=204, tags=TAGS)
def unbookmark(ctx: Ctx, photo_id: str) -> None:
    """Remove a bookmark (idempotent)."""
    engagement.unbookmark(ctx.principal, photo_id)


@route("/bookmarks", "GET", query=PageQuery, response=PhotoPage, tags=TAGS)
def bookmarks(ctx: Ctx[None, PageQuery]) -> PhotoPage:
    """The caller's bookmarked photos they may still see, newest bookmark first."""
    return _page(
        ctx,
        f"bookmarks:{ctx.user_id}",
        lambda last: engagement.bookmarks_query(ctx.user_id, ctx.query.limit, last),
        lambda keys: [k.photo_id for k in keys],
    )
