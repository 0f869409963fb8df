"""Subscriptions of fans to creators: one row per (subscriber, creator), reused when a fan subscribes again.

A row holds the current subscription of that pair (``subscription_id`` ours; ``stripe_subscription_id`` for a
card one), its status, period and whether it is counted in the creator's ``subscriber_count`` (``counted``:
the counter moves in the same transaction as the row, conditioned on the row's ``rev``, so each transition into
or out of access counts exactly once).

Access patterns:
- the caller's subscription to one creator ........ Subscriptions GetItem(subscriber_id, creator_id)
- the caller's subscriptions to a page of owners .. Subscriptions BatchGet((subscriber_id, creator_id) ...)
- a fan's subscriptions ........................... Subscriptions Query(subscriber_id)
- a creator's subscribers, newest first ........... Subscriptions GSI by_creator (creator_id, created_at)
- wallet subscriptions due for renewal ............ Subscriptions GSI by_renewal (renew_due, renew_at): sparse
                                                    (``renew_due`` is set while a wallet subscription has a next
                                                    step), keys only
- a Stripe subscription's row ..................... the Stripe subscription's metadata (subscriber_id,
                                                    creator_id) -> GetItem; no index
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import keys_only_index, now, register, table_meta

DUE = "1"  # the one bucket of the sparse by_renewal index
METHODS = ("card", "wallet")


class SubscriptionsByCreator(GlobalSecondaryIndex[Any]):
    class Meta:
        index_name = "by_creator"
        projection = AllProjection()

    creator_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


@register
class Subscription(Model):
    Meta = table_meta("subscriptions")

    subscriber_id = UnicodeAttribute(hash_key=True)
    creator_id = UnicodeAttribute(range_key=True)
    subscription_id = UnicodeAttribute()  # ours (``sb_...``); a new one each time the pair subscribes again
    method = UnicodeAttribute()  # card | wallet
    status = UnicodeAttribute()  # subscription_states.STATUSES
    price_cents = NumberAttribute()
    currency = UnicodeAttribute()
    period = NumberAttribute(default=0)  # wallet: the number of the last paid period (the renewal's ledger ref)
    current_period_start = UTCDateTimeAttribute(null=True)
    current_period_end = UTCDateTimeAttribute(null=True)
    cancel_at_period_end = BooleanAttribute(default=False)
    past_due_since = UTCDateTimeAttribute(null=True)
    counted = BooleanAttribute(default=False)  # counted in the creator's subscriber_count
    rev = NumberAttribute(default=0)  # bumped by every write; writes are conditioned on the rev they read
    stripe_subscription_id = UnicodeAttribute(null=True)
    stripe_plan_id = UnicodeAttribute(null=True)
    latest_invoice_id = UnicodeAttribute(null=True)
    renew_due = UnicodeAttribute(null=True)  # DUE while the renewal sweep has work for it (sparse by_renewal)
    renew_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute(default=now)
    updated_at = UTCDateTimeAttribute(default=now)
    canceled_at = UTCDateTimeAttribute(null=True)

    by_creator = SubscriptionsByCreator()
    by_renewal = keys_only_index("subscriptions", "by_renewal", "renew_due", "renew_at")


def subscription_of(subscriber_id: str, creator_id: str, *, consistent: bool = True) -> Subscription | None:
    try:
        return Subscription.get(subscriber_id, creator_id, consistent_read=consistent)
    except Subscription.DoesNotExist:
        return None


def subscriptions_to(subscriber_id: str, creator_ids: list[str]) -> dict[str, Subscription]:
    """One BatchGetItem: the caller's rows for these creators (at most 100 distinct owners per page)."""
    keys = [(subscriber_id, c) for c in dict.fromkeys(creator_ids)]
    return {row.creator_id: row for row in Subscription.batch_get(keys)} if keys else {}


def subscriptions_of(subscriber_id: str, limit: int, last_key: dict | None = None):
    return Subscription.query(subscriber_id, limit=limit, last_evaluated_key=last_key)


def subscribers_of(creator_id: str, limit: int, last_key: dict | None = None):
    return Subscription.by_creator.query(creator_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def renewals_due(at: Any, limit: int, last_key: dict | None = None):
    return Subscription.by_renewal.query(DUE, Subscription.renew_at <= at, limit=limit, last_evaluated_key=last_key)
