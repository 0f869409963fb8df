"""Creators: the public profile (plan, counters) of a creator.

The verification itself is on the user (``User.creator_verification``: none | pending | approved | rejected) so
the principal carries it; the request, its document and the decision are ``CreatorVerification`` rows (below,
with their access patterns), the plan and the counters are here.

Access patterns:
- a creator's profile ......................... CreatorProfiles GetItem(user_id) / BatchGet (a page of creators)
- a creator's verification request ............ CreatorVerifications GetItem(user_id)
- verification requests in a status (staff) ... CreatorVerifications GSI by_status (status, submitted_at), ALL
- a ready public post counted once ............ Photo.post_counted + CreatorProfiles ADD in one transaction
                                                (``count_post``; ``unpublish_post``, ``uncount_post`` undo it)
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import now, register, table_meta


@register
class CreatorProfile(Model):
    """A creator's monthly plan and public counters. ``plan_price_cents`` missing: no plan. A price change keeps
    the old Stripe plan for existing subscribers and makes a new one for new subscribers (``stripe_plan_id``)."""

    Meta = table_meta("creator_profiles")

    user_id = UnicodeAttribute(hash_key=True)
    plan_price_cents = NumberAttribute(null=True)
    plan_currency = UnicodeAttribute(null=True)
    stripe_product_id = UnicodeAttribute(null=True)  # one product per creator
    stripe_plan_id = UnicodeAttribute(null=True)  # the plan new subscribers get (monthly, plan_price_cents)
    plan_version = NumberAttribute(default=0)  # bumped with each price change (the plan's idempotency key)
    subscriber_count = NumberAttribute(default=0)  # subscriptions with access (ADDed on each status change)
    post_count = NumberAttribute(default=0)  # ready media of the creator
    updated_at = UTCDateTimeAttribute(default=now)


def profile(user_id: str, *, consistent: bool = False) -> CreatorProfile | None:
    try:
        return CreatorProfile.get(user_id, consistent_read=consistent)
    except CreatorProfile.DoesNotExist:
        return None


def profiles(user_ids: list[str]) -> dict[str, CreatorProfile]:
    keys = list(dict.fromkeys(user_ids))
    return {p.user_id: p for p in CreatorProfile.batch_get(keys)} if keys else {}


def add_counts(user_id: str, *, subscribers: int = 0, posts: int = 0) -> None:
    """ADD to the counters (a missing profile is created by the update)."""
    actions = []
    if subscribers:
        actions.append(CreatorProfile.subscriber_count.add(subscribers))
    if posts:
        actions.append(CreatorProfile.post_count.add(posts))
    if actions:
        CreatorProfile(user_id=user_id).update(actions=actions + [CreatorProfile.updated_at.set(now())])


# ---- identity verification ---------------------------------------------------------------------------------
# Access patterns:
# - a creator's current request ................ CreatorVerifications GetItem(user_id)
# - requests in a status, oldest first (staff) .. GSI by_status (status, submitted_at), ALL projection (a page
#                                                 needs every field: no BatchGet after it)


class VerificationsByStatus(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    submitted_at = UTCDateTimeAttribute(range_key=True)


@register
class CreatorVerification(Model):
    """A creator's identity verification request (one row per creator: a resubmission after a rejection
    replaces it with a new ``request_id``). The document is an object in the uploads bucket under
    ``resources.VERIFICATION_PREFIX`` (never a media key; expired by a lifecycle rule and deleted right
    after the decision). ``User.creator_verification`` changes with ``status`` in one transaction."""

    Meta = table_meta("creator_verifications")

    user_id = UnicodeAttribute(hash_key=True)
    request_id = UnicodeAttribute()
    status = UnicodeAttribute(default="pending")  # pending | approved | rejected
    legal_name = UnicodeAttribute()
    country = UnicodeAttribute()  # ISO 3166-1 alpha-2
    document_key = UnicodeAttribute()
    document_filename = UnicodeAttribute()
    document_content_type = UnicodeAttribute()
    document_size = NumberAttribute()
    submitted_at = UTCDateTimeAttribute(default=now)
    decided_at = UTCDateTimeAttribute(null=True)
    decided_by = UnicodeAttribute(null=True)  # the staff member's user id
    reason = UnicodeAttribute(null=True)  # why it was rejected (shown to the creator)

    by_status = VerificationsByStatus()


def verification(user_id: str, *, consistent: bool = False) -> CreatorVerification | None:
    try:
        return CreatorVerification.get(user_id, consistent_read=consistent)
    except CreatorVerification.DoesNotExist:
        return None


def verifications_in(status: str, limit: int, last_key: dict | None) -> Any:
    """A page of requests in ``status``, oldest first (a result iterator with ``last_evaluated_key``)."""
    return CreatorVerification.by_status.query(status, limit=limit, last_evaluated_key=last_key)


# ---- post_count: each ready public post counted exactly once ---------------------------------------------------------


def _transact(write: Any) -> bool:
    from pynamodb.exceptions import TransactWriteError
    from pynamodb.transactions import TransactWrite

    from chalicelib.models.base import cancellation_codes

    try:
        with TransactWrite(connection=CreatorProfile._get_connection().connection) as tx:
            write(tx)
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" in cancellation_codes(exc):
            return False
        raise
    return True


def count_post(photo_id: str, owner_id: str) -> bool:
    """Add a ready public post (visibility public, outside any event) to its owner's ``post_count`` unless it
    was counted (or uncounted) before: the mark on the photo and the counter change in one transaction, so a
    redelivered ``photo.ready`` adds nothing (nor one for a photo made private meanwhile)."""
    from chalicelib.models.photos import READY, Photo

    public = (Photo.visibility.does_not_exist() | (Photo.visibility == "public")) & Photo.event_id.does_not_exist()
    public &= Photo.published.does_not_exist() | (Photo.published == True)  # noqa: E712 - not a draft

    def write(tx: Any) -> None:
        tx.update(
            Photo(photo_id=photo_id),
            actions=[Photo.post_counted.set(True)],
            condition=Photo.photo_id.exists() & Photo.post_counted.does_not_exist() & (Photo.status == READY) & public,
        )
        tx.update(
            CreatorProfile(user_id=owner_id),
            actions=[CreatorProfile.post_count.add(1), CreatorProfile.updated_at.set(now())],
        )

    return _transact(write)


def uncount_post(photo_id: str, owner_id: str) -> None:
    """Before a photo is deleted: take it out of ``post_count`` if it is in it, and in any case mark it so a
    late ``photo.ready`` never counts it (two conditional writes at most, whichever state the mark is in)."""
    from chalicelib.models.photos import Photo

    def counted(tx: Any) -> None:
        tx.update(
            Photo(photo_id=photo_id),
            actions=[Photo.post_counted.set(False)],
            condition=Photo.post_counted == True,  # noqa: E712  (a PynamoDB condition, not a comparison)
        )
        tx.update(
            CreatorProfile(user_id=owner_id),
            actions=[CreatorProfile.post_count.add(-1), CreatorProfile.updated_at.set(now())],
        )

    def never(tx: Any) -> None:
        tx.update(
            Photo(photo_id=photo_id),
            actions=[Photo.post_counted.set(False)],
            condition=Photo.photo_id.exists() & Photo.post_counted.does_not_exist(),
        )

    for write in (counted, never, counted):  # the mark may be set between the first two: then it is counted
        if _transact(write):
            return


def unpublish_post(photo_id: str, owner_id: str) -> bool:
    """A counted post made private (or a draft): out of ``post_count``, and the mark cleared so making it public
    again counts it again; conditioned on the mark and on the stored visibility or draft state (a racing edit
    back, or a deletion, wins: nothing changes). False if it was not counted."""
    from chalicelib.models.photos import Photo

    def write(tx: Any) -> None:
        tx.update(
            Photo(photo_id=photo_id),
            actions=[Photo.post_counted.remove()],
            condition=(Photo.post_counted == True)  # noqa: E712
            & ((Photo.visibility == "private") | (Photo.published == False)),  # noqa: E712
        )
        tx.update(
            CreatorProfile(user_id=owner_id),
            actions=[CreatorProfile.post_count.add(-1), CreatorProfile.updated_at.set(now())],
        )

    return _transact(write)
