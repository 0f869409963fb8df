"""Follows, blocks and friendships.

Access patterns (every listing is a Query on a key or an index):
- does A follow B ............................ Follows GetItem(follower_id=A, followee_id=B)
- how many follow A / whom A follows ....... Users GetItem(A): follower_count / following_count, ADDed in
                                               the transaction that puts or deletes the follow
- A's followers, newest first ................ Follows GSI by_followee (followee_id, created_at), keys only
- whom A follows, newest first ............... Follows GSI by_follower (follower_id, created_at), keys only
                                               (also: the feed's N most recently followed users)
- did A block B, or B block A ................ Blocks BatchGet((A, B), (B, A))
- whom A blocked ............................. Blocks Query(blocker_id=A)
- blocks between A and several users ......... Blocks BatchGet((A, x), (x, A) ...)
- the friendship state of A towards B ........ Friendships GetItem(user_id=A, other_id=B)
- A's friends, newest first .................. Friendships GSI friends (friends_of, since); sparse: set on
                                               both rows of a pair once the request is accepted
- friend requests A received / sent .......... Friendships GSI incoming (inbox_of, created_at) /
                                               outgoing (outbox_of, created_at); sparse, set while pending

A friendship is two rows, one per side, written together in one transaction: the sender's row says
``requested``, the recipient's ``received``; accepting turns both into ``friends``. Because each row is
written with attribute_not_exists, there is at most one request (or friendship) per pair at a time.
"""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.models.base import (
    DeleteError,
    PutError,
    cancellation_codes,
    condition_failed,
    connection,
    keys_only_index,
    now,
    register,
    table_meta,
)

REQUESTED, RECEIVED, FRIENDS = "requested", "received", "friends"


def plausible_id(value: str | None) -> bool:
    """Ids from a URL: anything empty or longer than any id we mint cannot exist (and must not reach DynamoDB,
    which refuses empty keys and keys over its size limits)."""
    return isinstance(value, str) and 0 < len(value) <= 64


# ---- follows -----------------------------------------------------------------------------------------------


@register
class Follow(Model):
    """``follower_id`` follows ``followee_id`` (asymmetric)."""

    Meta = table_meta("follows")

    follower_id = UnicodeAttribute(hash_key=True)
    followee_id = UnicodeAttribute(range_key=True)
    created_at = UTCDateTimeAttribute(default=now)

    by_followee = keys_only_index("social", "by_followee", "followee_id", "created_at")
    by_follower = keys_only_index("social", "by_follower", "follower_id", "created_at")


FOLLOW_TX_ATTEMPTS = 3  # a popular user's item is in many follows' transactions: retry a conflict, then 409


def _follow_tx(follower_id: str, followee_id: str, delta: int) -> bool:
    """Put (``delta`` 1) or delete (-1) the follow, and ADD ``delta`` to the followee's ``follower_count``
    and the follower's ``following_count``, in one transaction: the follow row's condition (not there yet /
    still there) makes a replay, or a race of two, change nothing, so the counters never double-count.
    False if the condition failed (already following / not following)."""
    from chalicelib.models.users import User

    if follower_id == followee_id:
        return False  # nobody follows themselves (and one transaction cannot update one item twice)
    row = Follow(follower_id=follower_id, followee_id=followee_id)
    for attempt in range(FOLLOW_TX_ATTEMPTS):
        try:
            with TransactWrite(connection=connection()) as tx:
                if delta > 0:
                    tx.save(row, condition=Follow.followee_id.does_not_exist())
                else:
                    tx.delete(row, condition=Follow.followee_id.exists())
                # users are never deleted (an account deletion anonymises): the condition only keeps a bad id
                # from creating a ghost user item
                tx.update(
                    User(user_id=followee_id),
                    actions=[User.follower_count.add(delta)],
                    condition=User.user_id.exists(),
                )
                tx.update(
                    User(user_id=follower_id),
                    actions=[User.following_count.add(delta)],
                    condition=User.user_id.exists(),
                )
        except TransactWriteError as exc:
            codes = cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                return False
            if "ConditionalCheckFailed" in codes:
                raise NotFoundError("No such user.") from exc
            if "TransactionConflict" in codes and attempt + 1 < FOLLOW_TX_ATTEMPTS:
                continue
            raise ConflictError("The follow could not be changed; retry.") from exc
        return True
    return False  # not reached: the last attempt returns or raises


def add_follow(follower_id: str, followee_id: str) -> bool:
    """Follow and count it; False (nothing written) if the follow already existed (idempotent)."""
    return _follow_tx(follower_id, followee_id, 1)


def remove_follow(follower_id: str, followee_id: str) -> bool:
    """Unfollow and uncount it; False (nothing written) if there was no follow."""
    if not (plausible_id(follower_id) and plausible_id(followee_id)):
        return False
    return _follow_tx(follower_id, followee_id, -1)


def is_following(follower_id: str, followee_id: str) -> bool:
    if not (plausible_id(follower_id) and plausible_id(followee_id)):
        return False
    try:
        Follow.get(follower_id, followee_id)
    except Follow.DoesNotExist:
        return False
    return True


def followers_of(user_id: str, limit: int | None = None, last_key: dict | None = None):
    return Follow.by_followee.query(user_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def following_of(user_id: str, limit: int | None = None, last_key: dict | None = None):
    return Follow.by_follower.query(user_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def follow_counts(user: object) -> tuple[int, int]:
    """(followers, following) of a user item already read: its counters (missing reads as 0; never below 0,
    which a follow from before the counters, removed after, could otherwise make)."""
    followers = getattr(user, "follower_count", None) or 0
    following = getattr(user, "following_count", None) or 0
    return max(0, int(followers)), max(0, int(following))


def recent_followees(user_id: str, n: int) -> list[str]:
    """The ``n`` users ``user_id`` followed most recently (one Query)."""
    return [f.followee_id for f in following_of(user_id, limit=n)][:n]


def delete_follows_of(user_id: str, limit: int | None = None) -> int:
    """Account deletion: follows from and to the user (up to ``limit`` of each), each with its counters (the
    other users' counts drop); returns the most found of either."""
    mine = [(f.follower_id, f.followee_id) for f in Follow.query(user_id, limit=limit)]
    theirs = [(f.follower_id, f.followee_id) for f in followers_of(user_id, limit=limit)]
    for follower_id, followee_id in dict.fromkeys(mine + theirs):
        remove_follow(follower_id, followee_id)
    return max(len(mine), len(theirs))


# ---- blocks ------------------------------------------------------------------------------------------------


@register
class Block(Model):
    """``blocker_id`` blocked ``blocked_id``: neither can follow, befriend, message or comment on the other."""

    Meta = table_meta("blocks")

    blocker_id = UnicodeAttribute(hash_key=True)
    blocked_id = UnicodeAttribute(range_key=True)
    created_at = UTCDateTimeAttribute(default=now)


def add_block(blocker_id: str, blocked_id: str) -> Block:
    """Block (idempotent): the existing row is returned when there is one."""
    row = Block(blocker_id=blocker_id, blocked_id=blocked_id)
    try:
        row.save(condition=Block.blocked_id.does_not_exist())
    except PutError as exc:
        if not condition_failed(exc):
            raise
        return Block.get(blocker_id, blocked_id, consistent_read=True)
    return row


def remove_block(blocker_id: str, blocked_id: str) -> bool:
    if not (plausible_id(blocker_id) and plausible_id(blocked_id)):
        return False
    try:
        Block(blocker_id=blocker_id, blocked_id=blocked_id).delete(condition=Block.blocked_id.exists())
    except DeleteError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def blocks_among(user_id: str, others: Iterable[str]) -> set[str]:
    """Which of ``others`` blocked ``user_id`` or were blocked by them: BatchGet of both directions."""
    others = [o for o in dict.fromkeys(others) if plausible_id(o) and o != user_id]
    if not plausible_id(user_id) or not others:
        return set()
    keys = [(user_id, o) for o in others] + [(o, user_id) for o in others]
    found: set[str] = set()
    for row in Block.batch_get(keys, attributes_to_get=["blocker_id", "blocked_id"]):
        found.add(row.blocked_id if row.blocker_id == user_id else row.blocker_id)
    return found


def blocks_of(blocker_id: str, limit: int | None = None, last_key: dict | None = None):
    return Block.query(blocker_id, limit=limit, last_evaluated_key=last_key)


def delete_blocks_of(user_id: str, limit: int | None = None) -> int:
    """Account deletion: the user's own blocks (blocks of the user by others stay, keyed by a dead id)."""
    rows = list(Block.query(user_id, limit=limit))
    with Block.batch_write() as batch:
        for row in rows:
            batch.delete(row)
    return len(rows)


# ---- friendships -------------------------------------------------------------------------------------------


@register
class Friendship(Model):
    """One side of a friendship or pending friend request (see the module docstring)."""

    Meta = table_meta("friendships")

    user_id = UnicodeAttribute(hash_key=True)
    other_id = UnicodeAttribute(range_key=True)
    state = UnicodeAttribute()  # requested | received | friends
    created_at = UTCDateTimeAttribute(default=now)  # when the request was sent
    since = UTCDateTimeAttribute(null=True)  # when it was accepted
    friends_of = UnicodeAttribute(null=True)  # = user_id once friends (sparse index)
    inbox_of = UnicodeAttribute(null=True)  # = user_id while a received request is pending
    outbox_of = UnicodeAttribute(null=True)  # = user_id while a sent request is pending

    friends = keys_only_index("social", "friends", "friends_of", "since")
    incoming = keys_only_index("social", "incoming", "inbox_of", "created_at")
    outgoing = keys_only_index("social", "outgoing", "outbox_of", "created_at")


def friendship(user_id: str, other_id: str, *, consistent: bool = False) -> Friendship | None:
    if not (plausible_id(user_id) and plausible_id(other_id)):
        return None
    try:
        return Friendship.get(user_id, other_id, consistent_read=consistent)
    except Friendship.DoesNotExist:
        return None


def create_request(from_id: str, to_id: str) -> Friendship:
    """Both rows of a new request in one transaction; 409 when the pair already has a request or friendship."""
    t = now()
    sent = Friendship(user_id=from_id, other_id=to_id, state=REQUESTED, created_at=t, outbox_of=from_id)
    received = Friendship(user_id=to_id, other_id=from_id, state=RECEIVED, created_at=t, inbox_of=to_id)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(sent, condition=Friendship.other_id.does_not_exist())
            tx.save(received, condition=Friendship.other_id.does_not_exist())
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" not in cancellation_codes(exc):
            raise ConflictError("The request could not be sent; retry.") from exc
        existing = friendship(from_id, to_id, consistent=True)
        if existing is not None and existing.state == FRIENDS:
            raise ConflictError("You are already friends.", code="already_friends") from exc
        if existing is not None and existing.state == RECEIVED:
            raise ConflictError(
                "This user already sent you a friend request; accept it instead.", code="request_received"
            ) from exc
        raise ConflictError("You already sent this user a friend request.", code="already_requested") from exc
    return sent


def accept_request(recipient_id: str, sender_id: str) -> Friendship:
    """Turn both rows of a pending request into a friendship; 404 when there is no such pending request."""
    t = now()
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(
                Friendship(user_id=recipient_id, other_id=sender_id),
                actions=[
                    Friendship.state.set(FRIENDS),
                    Friendship.since.set(t),
                    Friendship.friends_of.set(recipient_id),
                    Friendship.inbox_of.remove(),
                ],
                condition=Friendship.state == RECEIVED,
            )
            tx.update(
                Friendship(user_id=sender_id, other_id=recipient_id),
                actions=[
                    Friendship.state.set(FRIENDS),
                    Friendship.since.set(t),
                    Friendship.friends_of.set(sender_id),
                    Friendship.outbox_of.remove(),
                ],
                condition=Friendship.state == REQUESTED,
            )
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" in cancellation_codes(exc):
            raise NotFoundError("No such pending friend request.") from exc
        raise ConflictError("The request changed concurrently; retry.") from exc
    accepted = friendship(recipient_id, sender_id, consistent=True)
    assert accepted is not None  # the transaction just wrote it (a consistent read)
    return accepted


def delete_pair(a_id: str, b_id: str, *, states: tuple[str, str] | None = None) -> bool:
    """Delete both rows of a pair (a request or a friendship). With ``states``, only if a's row is in
    ``states[0]`` and b's in ``states[1]``; False when that condition (or the rows) did not hold."""
    try:
        with TransactWrite(connection=connection()) as tx:
            if states:
                tx.delete(Friendship(user_id=a_id, other_id=b_id), condition=Friendship.state == states[0])
                tx.delete(Friendship(user_id=b_id, other_id=a_id), condition=Friendship.state == states[1])
            else:
                tx.delete(Friendship(user_id=a_id, other_id=b_id))
                tx.delete(Friendship(user_id=b_id, other_id=a_id))
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" in cancellation_codes(exc):
            return False
        raise ConflictError("The friendship changed concurrently; retry.") from exc
    return True


def friends_of(user_id: str, limit: int | None = None, last_key: dict | None = None):
    return Friendship.friends.query(user_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def incoming_requests(user_id: str, limit: int | None = None, last_key: dict | None = None):
    return Friendship.incoming.query(user_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def outgoing_requests(user_id: str, limit: int | None = None, last_key: dict | None = None):
    return Friendship.outgoing.query(user_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def delete_friendships_of(user_id: str, limit: int | None = None) -> int:
    """Account deletion: requests and friendships the user is part of (up to ``limit``), both rows each."""
    others = [row.other_id for row in Friendship.query(user_id, limit=limit)]
    with Friendship.batch_write() as batch:
        for other_id in others:
            batch.delete(Friendship(user_id=user_id, other_id=other_id))
            batch.delete(Friendship(user_id=other_id, other_id=user_id))
    return len(others)
