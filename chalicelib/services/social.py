"""Follows (asymmetric) and friendships (symmetric, by request and acceptance).

Rules:
- Nobody follows, befriends or blocks themselves (400).
- A block between two users, either way, refuses follows and friend requests (403 ``blocked``).
- Following is idempotent; the followed user gets one ``followed`` notification per follower.
- A friend request is one pending request per pair: sending a second one, or one back while theirs is
  pending, is a 409. The recipient accepts or declines it; the sender may withdraw it. The recipient gets a
  ``friend_request`` notification, and the sender another one (``target.status = "accepted"``) on acceptance.
- A friend request's id names its sender and recipient (``fr_<sender>.<recipient>``); only those two may act
  on it, everybody else gets 404.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.errors import NotFoundError, ValidationError
from chalicelib.models import social as store
from chalicelib.models.base import epoch
from chalicelib.models.social import FRIENDS, RECEIVED, REQUESTED
from chalicelib.pagination import decode, page
from chalicelib.services import accounts, blocks, notifications

REQUEST_PREFIX = "fr_"


@dataclass(frozen=True)
class Listed:
    """A user in a listing, with the time that places them there (followed at, friends since, ...)."""

    user: Any
    at: datetime | None


@dataclass(frozen=True)
class FriendRequest:
    id: str
    sender: Any
    recipient: Any
    status: str  # pending | accepted | declined
    created_at: datetime | None


def resolve(principal: Any, ref: str) -> Any:
    """A user by id or username; ``me`` is the caller. 404 when there is no such (live) user."""
    if ref == "me" and principal is not None:
        return principal.user
    if not store.plausible_id(ref):
        raise NotFoundError("No such user.")
    return accounts.public_profile(ref)


def _not_self(principal: Any, user: Any, what: str) -> None:
    if user.user_id == principal.user_id:
        raise ValidationError(f"You cannot {what} yourself.", details={"user_id": "is you"})


def avatar_urls(users: Iterable[Any]) -> dict[str, str]:
    """Signed thumb URLs of the users' avatars, with one BatchGetItem for all of their avatar photos."""
    from chalicelib.services.users_view import avatar_urls as batched

    return batched(users)


def _listed(rows: list[Any], id_attr: str, at_attr: str) -> list[Listed]:
    users = accounts.users_by_ids([getattr(r, id_attr) for r in rows])
    return [Listed(users[getattr(r, id_attr)], getattr(r, at_attr)) for r in rows if getattr(r, id_attr) in users]


# ---- follows -----------------------------------------------------------------------------------------------


def follow(principal: Any, ref: str) -> Any:
    """Follow a user (idempotent); returns the followed user."""
    target = resolve(principal, ref)
    _not_self(principal, target, "follow")
    blocks.require_not_blocked(principal.user_id, target.user_id, "You cannot follow this user.")
    if store.add_follow(principal.user_id, target.user_id):
        notifications.notify(
            target.user_id,
            "followed",
            actor_id=principal.user_id,
            target={"kind": "user", "id": principal.user_id},
            dedupe=principal.user_id,
        )
    return target


def unfollow(principal: Any, ref: str) -> None:
    """Stop following (idempotent)."""
    target = resolve(principal, ref)
    store.remove_follow(principal.user_id, target.user_id)


def is_following(follower_id: str, followee_id: str) -> bool:
    return store.is_following(follower_id, followee_id)


def followers(principal: Any, ref: str, limit: int, cursor: str | None) -> tuple[list[Listed], str | None]:
    """Who follows the user, most recent first."""
    user = resolve(principal, ref)
    scope = f"followers:{user.user_id}:{principal.user_id}"
    rows, next_cursor = page(scope, store.followers_of(user.user_id, limit, decode(scope, cursor)), limit)
    return _listed(rows, "follower_id", "created_at"), next_cursor


def following(principal: Any, ref: str, limit: int, cursor: str | None) -> tuple[list[Listed], str | None]:
    """Whom the user follows, most recently followed first."""
    user = resolve(principal, ref)
    scope = f"following:{user.user_id}:{principal.user_id}"
    rows, next_cursor = page(scope, store.following_of(user.user_id, limit, decode(scope, cursor)), limit)
    return _listed(rows, "followee_id", "created_at"), next_cursor


def follow_counts(user: Any) -> tuple[int, int]:
    """(followers, following) of a user item already read (its counters: no query)."""
    return store.follow_counts(user)


def relationship(viewer_id: str, other_id: str) -> dict[str, Any]:
    """How the viewer stands with another user, for their profile page: following, followed back, the
    friendship (``none | friends | request_sent | request_received`` with the pending request's id) and
    ``blocked`` (the viewer blocked them). Whether they blocked the viewer is not said: the actions a block
    refuses answer 403 ``blocked`` as they would anyway."""
    if viewer_id == other_id:
        return {
            "is_me": True,
            "following": False,
            "followed_by": False,
            "friendship": "none",
            "friend_request_id": None,
            "blocked": False,
        }
    pair = store.friendship(viewer_id, other_id)
    state = {REQUESTED: "request_sent", RECEIVED: "request_received", FRIENDS: "friends"}.get(
        pair.state if pair else "", "none"
    )
    rid = None
    if state == "request_sent":
        rid = request_id(viewer_id, other_id)
    elif state == "request_received":
        rid = request_id(other_id, viewer_id)
    return {
        "is_me": False,
        "following": store.is_following(viewer_id, other_id),
        "followed_by": store.is_following(other_id, viewer_id),
        "friendship": state,
        "friend_request_id": rid,
        "blocked": any(True for _ in store.Block.batch_get([(viewer_id, other_id)])),
    }


# ---- friends -----------------------------------------------------------------------------------------------


def request_id(sender_id: str, recipient_id: str) -> str:
    return f"{REQUEST_PREFIX}{sender_id}.{recipient_id}"


def _parse_request_id(principal: Any, rid: str) -> tuple[str, str]:
    """(sender, recipient) of a request the caller is part of; 404 for anything else."""
    sender, dot, recipient = (
        rid[len(REQUEST_PREFIX) :].partition(".") if rid.startswith(REQUEST_PREFIX) else ("", "", "")
    )
    if not (dot and store.plausible_id(sender) and store.plausible_id(recipient)) or principal.user_id not in (
        sender,
        recipient,
    ):
        raise NotFoundError("No such friend request.")
    return sender, recipient


def send_request(principal: Any, ref: str) -> FriendRequest:
    recipient = resolve(principal, ref)
    _not_self(principal, recipient, "befriend")
    blocks.require_not_blocked(principal.user_id, recipient.user_id, "You cannot send this user a friend request.")
    row = store.create_request(principal.user_id, recipient.user_id)
    rid = request_id(principal.user_id, recipient.user_id)
    notifications.notify(
        recipient.user_id,
        "friend_request",
        actor_id=principal.user_id,
        target={"kind": "friend_request", "id": rid, "status": "pending"},
        dedupe=f"{rid}@{epoch(row.created_at)}",
    )
    return FriendRequest(rid, principal.user, recipient, "pending", row.created_at)


def accept_request(principal: Any, rid: str) -> FriendRequest:
    sender_id, recipient_id = _parse_request_id(principal, rid)
    if recipient_id != principal.user_id:
        raise NotFoundError("No such friend request.")  # only the recipient accepts
    if blocks.is_blocked(sender_id, recipient_id):
        raise NotFoundError("No such friend request.")  # a block ended it
    row = store.accept_request(recipient_id, sender_id)
    sender = accounts.users_by_ids([sender_id]).get(sender_id)
    if sender is None:
        raise NotFoundError("No such friend request.")
    notifications.notify(
        sender_id,
        "friend_request",
        actor_id=recipient_id,
        target={"kind": "friend_request", "id": rid, "status": "accepted"},
        dedupe=f"accepted:{rid}@{epoch(row.since)}",
    )
    return FriendRequest(rid, sender, principal.user, "accepted", row.created_at)


def decline_request(principal: Any, rid: str) -> FriendRequest:
    """The recipient declines; the request is gone (the sender may ask again later)."""
    sender_id, recipient_id = _parse_request_id(principal, rid)
    if recipient_id != principal.user_id:
        raise NotFoundError("No such friend request.")
    pending = store.friendship(recipient_id, sender_id, consistent=True)
    if (
        pending is None
        or pending.state != RECEIVED
        or not store.delete_pair(recipient_id, sender_id, states=(RECEIVED, REQUESTED))
    ):
        raise NotFoundError("No such pending friend request.")
    sender = accounts.users_by_ids([sender_id]).get(sender_id)
    return FriendRequest(rid, sender, principal.user, "declined", pending.created_at)


def withdraw_request(principal: Any, rid: str) -> None:
    """The sender takes back a pending request (the recipient may decline with this too)."""
    sender_id, recipient_id = _parse_request_id(principal, rid)
    if not store.delete_pair(sender_id, recipient_id, states=(REQUESTED, RECEIVED)):
        raise NotFoundError("No such pending friend request.")


def requests(principal: Any, direction: str, limit: int, cursor: str | None) -> tuple[list[FriendRequest], str | None]:
    """Pending requests the caller received (``incoming``) or sent (``outgoing``), newest first."""
    me = principal.user_id
    scope = f"friend-requests:{direction}:{me}"
    query = store.incoming_requests if direction == "incoming" else store.outgoing_requests
    rows, next_cursor = page(scope, query(me, limit, decode(scope, cursor)), limit)
    users = accounts.users_by_ids([r.other_id for r in rows])
    items = []
    for row in rows:
        other = users.get(row.other_id)
        if other is None:
            continue
        if direction == "incoming":
            items.append(FriendRequest(request_id(other.user_id, me), other, principal.user, "pending", row.created_at))
        else:
            items.append(FriendRequest(request_id(me, other.user_id), principal.user, other, "pending", row.created_at))
    return items, next_cursor


def friends(principal: Any, ref: str, limit: int, cursor: str | None) -> tuple[list[Listed], str | None]:
    """The user's friends, newest friendship first."""
    user = resolve(principal, ref)
    scope = f"friends:{user.user_id}:{principal.user_id}"
    rows, next_cursor = page(scope, store.friends_of(user.user_id, limit, decode(scope, cursor)), limit)
    return _listed(rows, "other_id", "since"), next_cursor


def unfriend(principal: Any, ref: str) -> None:
    other = resolve(principal, ref)
    _not_self(principal, other, "unfriend")  # the pair (me, me) is no key: a clear 400, not a 409 "retry"
    if not store.delete_pair(principal.user_id, other.user_id, states=(FRIENDS, FRIENDS)):
        raise NotFoundError("You are not friends with this user.")


def friendship_state(user_id: str, other_id: str) -> str | None:
    """ "friends", "requested" (user asked other), "received" (other asked user) or None."""
    row = store.friendship(user_id, other_id)
    return row.state if row else None


def on_user_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``user.deleted`` consumer (chalicelib/jobs): follows both ways, friendships and requests go, in chunks."""
    user_id = payload["user_id"]
    more = store.delete_follows_of(user_id, limit) >= limit
    more = store.delete_friendships_of(user_id, limit) >= limit or more
    return {} if more else None


__all__ = ["FRIENDS", "RECEIVED", "REQUESTED", "FriendRequest", "Listed"]
