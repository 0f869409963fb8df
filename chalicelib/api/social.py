"""Follows, blocks, friends and the home feed: /users/{user_id}/follow|followers|following|block,
/users/me/blocks, /friends, /friends/requests, /feed.

``{user_id}`` takes a user id or a username (``me`` is the caller).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from chalicelib.api.photos import PhotoPage
from chalicelib.api.routing import Ctx, route
from chalicelib.api.schema_base import Body, Out, PageQuery
from chalicelib.api.schemas import Page, PublicUserOut
from chalicelib.models.base import iso
from chalicelib.services import blocks, feed, social

TAGS = ("social",)


class FollowOut(Out):
    user: PublicUserOut
    following: bool


class FollowUserOut(PublicUserOut):
    followed_at: str | None = None


class FriendOut(PublicUserOut):
    friends_since: str | None = None


class BlockOut(Out):
    user: PublicUserOut
    blocked_at: str | None


class FriendRequestIn(Body):
    username: Annotated[str, Field(min_length=1, max_length=64, description="Username (or id) of the recipient")]


class FriendRequestOut(Out):
    id: str
    sender: PublicUserOut
    recipient: PublicUserOut
    status: Literal["pending", "accepted", "declined"]
    created_at: str | None


class FriendRequestsQuery(PageQuery):
    direction: Literal["incoming", "outgoing"] = "incoming"


def _users(users: list[Any]) -> list[PublicUserOut]:
    avatars = social.avatar_urls(users)
    return [PublicUserOut.of(u, avatars.get(u.user_id)) for u in users]


def _listed(listed: list[social.Listed], out: type, at_field: str) -> list[Any]:
    views = _users([entry.user for entry in listed])
    return [out(**view.model_dump(), **{at_field: iso(entry.at)}) for view, entry in zip(views, listed, strict=False)]


def _request(request: social.FriendRequest) -> FriendRequestOut:
    sender, recipient = _users([request.sender, request.recipient])
    return FriendRequestOut(
        id=request.id, sender=sender, recipient=recipient, status=request.status, created_at=iso(request.created_at)
    )


# ---- follows -----------------------------------------------------------------------------------------------


@route("/users/{user_id}/follow", "POST", response=FollowOut, status=201, tags=TAGS, responses=(400, 403, 404))
def follow(ctx: Ctx, user_id: str) -> FollowOut:
    """Follow a user (idempotent); blocked either way: 403."""
    user = social.follow(ctx.principal, user_id)
    return FollowOut(user=_users([user])[0], following=True)


@route("/users/{user_id}/follow", "DELETE", status=204, tags=TAGS, responses=(404,))
def unfollow(ctx: Ctx, user_id: str) -> None:
    """Stop following a user (idempotent)."""
    social.unfollow(ctx.principal, user_id)


@route("/users/{user_id}/followers", "GET", query=PageQuery, response=Page[FollowUserOut], tags=TAGS, responses=(404,))
def followers(ctx: Ctx[None, PageQuery], user_id: str) -> Page[FollowUserOut]:
    """Who follows the user, most recent first."""
    listed, cursor = social.followers(ctx.principal, user_id, ctx.query.limit, ctx.query.cursor)
    return Page[FollowUserOut](items=_listed(listed, FollowUserOut, "followed_at"), next_cursor=cursor)


@route("/users/{user_id}/following", "GET", query=PageQuery, response=Page[FollowUserOut], tags=TAGS, responses=(404,))
def following(ctx: Ctx[None, PageQuery], user_id: str) -> Page[FollowUserOut]:
    """Whom the user follows, most recently followed first."""
    listed, cursor = social.following(ctx.principal, user_id, ctx.query.limit, ctx.query.cursor)
    return Page[FollowUserOut](items=_listed(listed, FollowUserOut, "followed_at"), next_cursor=cursor)


# ---- blocks ------------------------------------------------------------------------------------------------


@route("/users/{user_id}/block", "POST", response=BlockOut, status=201, tags=TAGS, responses=(400, 404))
def block(ctx: Ctx, user_id: str) -> BlockOut:
    """Block a user (idempotent): ends follows both ways and any friendship or pending request."""
    user = social.resolve(ctx.principal, user_id)
    row = blocks.block(ctx.user_id, user.user_id)
    return BlockOut(user=_users([user])[0], blocked_at=iso(row.created_at))


@route("/users/{user_id}/block", "DELETE", status=204, tags=TAGS, responses=(404,))
def unblock(ctx: Ctx, user_id: str) -> None:
    """Unblock a user (idempotent)."""
    blocks.unblock(ctx.user_id, social.resolve(ctx.principal, user_id).user_id)


@route("/users/me/blocks", "GET", query=PageQuery, response=Page[BlockOut], tags=TAGS)
def my_blocks(ctx: Ctx[None, PageQuery]) -> Page[BlockOut]:
    """The users the caller blocked."""
    from chalicelib.services.accounts import users_by_ids

    rows, cursor = blocks.blocked_by(ctx.user_id, ctx.query.limit, ctx.query.cursor)
    users = users_by_ids([r.blocked_id for r in rows])
    kept = [r for r in rows if r.blocked_id in users]
    views = _users([users[r.blocked_id] for r in kept])
    return Page[BlockOut](
        items=[BlockOut(user=v, blocked_at=iso(r.created_at)) for v, r in zip(views, kept, strict=False)],
        next_cursor=cursor,
    )


# ---- friends -----------------------------------------------------------------------------------------------


@route(
    "/friends/requests",
    "POST",
    body=FriendRequestIn,
    response=FriendRequestOut,
    status=201,
    tags=TAGS,
    responses=(403, 404, 409),
)
def send_friend_request(ctx: Ctx[FriendRequestIn]) -> FriendRequestOut:
    """Ask a user to be friends; they get a ``friend_request`` notification."""
    return _request(social.send_request(ctx.principal, ctx.body.username))


@route("/friends/requests", "GET", query=FriendRequestsQuery, response=Page[FriendRequestOut], tags=TAGS)
def friend_requests(ctx: Ctx[None, FriendRequestsQuery]) -> Page[FriendRequestOut]:
    """Pending friend requests: received (``direction=incoming``, default) or sent (``outgoing``)."""
    q = ctx.query
    items, cursor = social.requests(ctx.principal, q.direction, q.limit, q.cursor)
    return Page[FriendRequestOut](items=[_request(r) for r in items], next_cursor=cursor)


@route("/friends/requests/{request_id}/accept", "POST", response=FriendRequestOut, tags=TAGS, responses=(404,))
def accept_friend_request(ctx: Ctx, request_id: str) -> FriendRequestOut:
    """Accept a friend request you received."""
    return _request(social.accept_request(ctx.principal, request_id))


@route("/friends/requests/{request_id}/decline", "POST", response=FriendRequestOut, tags=TAGS, responses=(404,))
def decline_friend_request(ctx: Ctx, request_id: str) -> FriendRequestOut:
    """Decline a friend request you received."""
    return _request(social.decline_request(ctx.principal, request_id))


@route("/friends/requests/{request_id}", "DELETE", status=204, tags=TAGS, responses=(404,))
def withdraw_friend_request(ctx: Ctx, request_id: str) -> None:
    """Withdraw a pending friend request you sent."""
    social.withdraw_request(ctx.principal, request_id)


@route("/friends", "GET", query=PageQuery, response=Page[FriendOut], tags=TAGS)
def friends(ctx: Ctx[None, PageQuery]) -> Page[FriendOut]:
    """The caller's friends, newest friendship first."""
    listed, cursor = social.friends(ctx.principal, "me", ctx.query.limit, ctx.query.cursor)
    return Page[FriendOut](items=_listed(listed, FriendOut, "friends_since"), next_cursor=cursor)


@route("/friends/{user_id}", "DELETE", status=204, tags=TAGS, responses=(400, 404))
def unfriend(ctx: Ctx, user_id: str) -> None:
    """End a friendship."""
    social.unfriend(ctx.principal, user_id)


# ---- feed --------------------------------------------------------------------------------------------------


class FeedPage(PhotoPage):
    sources_capped: bool = Field(
        default=False,
        description="True when you follow more users (or have more events) than one page reads: the oldest-followed"
        " ones are left out of the feed (see docs/feed.md)",
    )


@route("/feed", "GET", query=PageQuery, response=FeedPage, tags=TAGS)
def home_feed(ctx: Ctx[None, PageQuery]) -> FeedPage:
    """Photos of the users you follow and of your events, newest first (see docs/feed.md)."""
    items, cursor, capped = feed.page(ctx.principal, ctx.query.limit, ctx.query.cursor)
    return FeedPage(items=items, next_cursor=cursor, sources_capped=capped)
