"""Creators: the public profile (plan, counters) of a creator.

The verification itself is on the user (``User.creator_verification``: none | pending | approved | rejected) so
the principal carries it; the request, its document and the decision are ``CreatorVerification`` rows (below,
with their access patterns), the plan and the counters are here.

Access patterns:
- a creator's profile ......................... CreatorProfiles GetItem(user_id) / BatchGet (a page of creators)
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
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
