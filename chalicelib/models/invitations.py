"""Event invitations: one row per (event, invited user), kept after the answer so a decline is remembered and
nobody is invited to the same event twice (the row is written with attribute_not_exists).

Access patterns (every listing is a Query on a key or an index):
- a user's invitation to an event ............ Invitations GetItem(event_id, user_id)
- the invitations of several users to one event  Invitations BatchGetItem((event_id, user_id) ...)
- a user's pending invitations, newest first .. Invitations GSI pending (pending_user_id, created_at): sparse, the
                                                attribute is set while the invitation is pending
- every invitation of an event (fan-out, cleanup) Invitations Query(event_id)

Statuses: ``pending`` -> ``accepted`` (the user became a viewer) | ``declined``. Both answers are final.
"""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.errors import ConflictError
from chalicelib.models.base import (
    PutError,
    UpdateError,
    commit,
    condition_failed,
    now,
    register,
    table_meta,
)

PENDING, ACCEPTED, DECLINED = "pending", "accepted", "declined"
STATUSES = (PENDING, ACCEPTED, DECLINED)
SOURCES = ("owner", "auto")  # invited by the owner, or by the auto-invite job
MAX_TRANSACTION_ITEMS = 100


class PendingByUser(GlobalSecondaryIndex):
    class Meta:
        index_name = "pending"
        projection = AllProjection()

    pending_user_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


@register
class Invitation(Model):
    Meta = table_meta("event_invitations")

    event_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute(default=PENDING)
    source = UnicodeAttribute(default="owner")
    inviter_id = UnicodeAttribute(null=True)  # None: the auto-invite job
    pending_user_id = UnicodeAttribute(null=True)  # = user_id while pending (the sparse pending index)
    created_at = UTCDateTimeAttribute(default=now)
    responded_at = UTCDateTimeAttribute(null=True)

    pending = PendingByUser()


def _plausible(value: str | None) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64


def new_invitation(event_id: str, user_id: str, inviter_id: str | None, source: str = "owner") -> Invitation:
    return Invitation(
        event_id=event_id,
        user_id=user_id,
        status=PENDING,
        source=source,
        inviter_id=inviter_id,
        pending_user_id=user_id,
        created_at=now(),
    )


def invitation(event_id: str, user_id: str) -> Invitation | None:
    if not (_plausible(event_id) and _plausible(user_id)):
        return None
    try:
        return Invitation.get(event_id, user_id, consistent_read=True)
    except Invitation.DoesNotExist:
        return None


def invitations_among(event_id: str, user_ids: Iterable[str]) -> dict[str, Invitation]:
    """The invitations of these users to the event: one BatchGetItem per 100."""
    keys = [(event_id, u) for u in dict.fromkeys(user_ids)]
    return {row.user_id: row for row in Invitation.batch_get(keys)} if keys else {}


def put_invitation(row: Invitation) -> bool:
    """Write one invitation unless the user was ever invited to the event; False if they were."""
    try:
        row.save(condition=Invitation.user_id.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def put_invitations(rows: list[Invitation]) -> list[Invitation]:
    """Write the invitations that do not exist yet, each with its own condition, in one transaction per 100
    (a write lost to a concurrent invitation of the same user is dropped and the rest retried; contention with
    a concurrent transaction is retried with backoff, then a ``409 contention``). Returns the rows written."""
    written: list[Invitation] = []
    for start in range(0, len(rows), MAX_TRANSACTION_ITEMS):
        remaining = rows[start : start + MAX_TRANSACTION_ITEMS]
        while remaining:
            batch = remaining

            def build(tx: TransactWrite, batch: list[Invitation] = batch) -> None:
                for row in batch:
                    tx.save(row, condition=Invitation.user_id.does_not_exist())

            codes = commit(build, "The invitations are busy; retry.", via=Invitation._get_connection().connection)
            if not codes:
                written += remaining
                break
            lost = {i for i, code in enumerate(codes) if code == "ConditionalCheckFailed"}
            if not lost:
                raise ConflictError("The invitations changed concurrently; retry.", code="contention")
            remaining = [row for i, row in enumerate(remaining) if i not in lost]
    return written


def answer(row: Invitation, status: str) -> bool:
    """pending -> ``status`` (accepted | declined); False if the invitation is no longer pending."""
    try:
        row.update(
            actions=[
                Invitation.status.set(status),
                Invitation.pending_user_id.remove(),
                Invitation.responded_at.set(now()),
            ],
            condition=Invitation.status == PENDING,
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def pending_of_user(user_id: str, limit: int | None = None, last_key: dict | None = None):
    return Invitation.pending.query(user_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def invitations_of_event(event_id: str, limit: int | None = None, last_key: dict | None = None):
    return Invitation.query(event_id, limit=limit, last_evaluated_key=last_key)


def delete_invitations(rows: Iterable[Invitation]) -> None:
    with Invitation.batch_write() as batch:
        for row in rows:
            batch.delete(Invitation(event_id=row.event_id, user_id=row.user_id))
