"""Blocking: a block works both ways. If either user blocked the other, neither can follow, befriend,
message or comment on the other. Blocking also ends the follows in both directions and any friendship or
pending friend request between the two.

Other features ask :func:`is_blocked` (one BatchGetItem) or :func:`require_not_blocked` (raises 403).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.errors import ForbiddenError, ValidationError
from chalicelib.models import social as store
from chalicelib.models.social import Block
from chalicelib.pagination import decode, page


def is_blocked(a_user_id: str, b_user_id: str) -> bool:
    """True if either user blocked the other (one BatchGetItem of both directions)."""
    if not a_user_id or not b_user_id or a_user_id == b_user_id:
        return False
    return bool(store.blocks_among(a_user_id, [b_user_id]))


def blocked_among(user_id: str, others: Iterable[str]) -> set[str]:
    """Those of ``others`` with a block between them and ``user_id``, either way (BatchGetItem)."""
    return store.blocks_among(user_id, others)


def require_not_blocked(actor_id: str, other_id: str, message: str = "You cannot interact with this user.") -> None:
    if is_blocked(actor_id, other_id):
        raise ForbiddenError(message, code="blocked")


def block(blocker_id: str, blocked_id: str) -> Block:
    """Block (idempotent), then end follows both ways and any friendship or pending request."""
    if blocker_id == blocked_id:
        raise ValidationError("You cannot block yourself.", details={"user_id": "is you"})
    row = store.add_block(blocker_id, blocked_id)
    store.remove_follow(blocker_id, blocked_id)
    store.remove_follow(blocked_id, blocker_id)
    store.delete_pair(blocker_id, blocked_id)
    return row


def unblock(blocker_id: str, blocked_id: str) -> bool:
    """Lift a block (idempotent); False if there was none. Follows and friendships are not restored."""
    return store.remove_block(blocker_id, blocked_id)


def blocked_by(user_id: str, limit: int, cursor: str | None) -> tuple[list[Block], str | None]:
    """The users ``user_id`` blocked, one page; the cursor is bound to this listing and this user."""
    scope = f"blocks:{user_id}"
    return page(scope, store.blocks_of(user_id, limit, decode(scope, cursor)), limit)


def on_user_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``user.deleted`` consumer (chalicelib/jobs): the user's own blocks, a chunk at a time."""
    return {} if store.delete_blocks_of(payload["user_id"], limit) >= limit else None
