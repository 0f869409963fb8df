"""Creator payments: wallet top-ups, tips and pay-per-view purchases (one row each), and the wallet audit log.

A row's id is derived from the payer and the request's ``Idempotency-Key`` (``tip_<hash>``), so a retried request
finds its row again; the money itself is a ledger transaction (``chalicelib/services/earnings.py``) whose id is
derived from the row's (``tips:<id>``, ``purchases:<id>``, ``top_up:<id>``, ``refund:rf_<id>``), so it is booked
once whatever path (wallet, confirm, webhook, replay) gets there.

Access patterns:
- a payment by id ............................. CreatorPayments GetItem(payment_id)
- a user's wallet audit (staff deposits) ...... WalletAudit Query(user_id), newest first
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.models.base import now, register, table_meta

KINDS = ("top_up", "tip", "purchase")
STATES = ("awaiting_payment", "paid", "refunded", "failed")


@register
class CreatorPayment(Model):
    """One top-up, tip or pay-per-view purchase. ``status``: awaiting_payment (card, until the PaymentIntent
    succeeds) -> paid -> refunded; ``failed``: a card payment that was never made (a duplicate purchase refunded
    at once). ``payment_method``: card | wallet."""

    Meta = table_meta("creator_payments")

    payment_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # top_up | tip | purchase
    payer_id = UnicodeAttribute()
    earner_id = UnicodeAttribute(null=True)  # the creator (tips, purchases)
    photo_id = UnicodeAttribute(null=True)  # purchases
    amount_cents = NumberAttribute()
    currency = UnicodeAttribute()
    message = UnicodeAttribute(null=True)  # tips
    payment_method = UnicodeAttribute()  # card | wallet
    status = UnicodeAttribute(default="awaiting_payment")
    payment_intent_id = UnicodeAttribute(null=True)
    payment_status = UnicodeAttribute(null=True)  # the PaymentIntent's last status (informational)
    payment_attempts = NumberAttribute(default=0)
    charge_id = UnicodeAttribute(null=True)
    refund_id = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute(default=now)
    paid_at = UTCDateTimeAttribute(null=True)
    refunded_at = UTCDateTimeAttribute(null=True)


@register
class WalletAudit(Model):
    """Who moved money into a user's wallet by hand, and why: one row per staff deposit (written in the deposit's
    ledger transaction)."""

    Meta = table_meta("wallet_audit")

    user_id = UnicodeAttribute(hash_key=True)  # whose wallet
    audit_key = UnicodeAttribute(range_key=True)  # "<at, ISO>#<deposit_id>": newest first
    deposit_id = UnicodeAttribute()
    actor_id = UnicodeAttribute()  # the staff member
    action = UnicodeAttribute(default="deposit")
    amount_cents = NumberAttribute()
    currency = UnicodeAttribute()
    reason = UnicodeAttribute()
    at = UTCDateTimeAttribute(default=now)


def get_payment(payment_id: str, *, consistent: bool = True) -> CreatorPayment | None:
    try:
        return CreatorPayment.get(payment_id, consistent_read=consistent)
    except CreatorPayment.DoesNotExist:
        return None


def audit_of(user_id: str, limit: int, last_key: dict[str, Any] | None = None):
    return WalletAudit.query(user_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)
