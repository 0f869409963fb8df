"""Periodic sweeps as domain events: the minute schedule (``app.relay_jobs``) publishes each sweep once per
period, and the jobs worker runs its consumers (bounded chunks with continuations, like any job).

A sweep's event id is its type and period number (``orders.expire:<n>``), so a schedule that fires twice, or two
overlapping runs, publish it once. Consumers must be idempotent and look for due work through an index (never
a Scan): e.g. unpaid orders past their expiry (``orders.by_unpaid``), earnings past their hold.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.models.base import epoch

# event type -> period in minutes. Their consumers are in chalicelib/jobs/registry.py.
SWEEPS: dict[str, int] = {
    "orders.expire": 5,  # unpaid orders past expires_at are cancelled (their PaymentIntents too)
    "earnings.release": 60,  # pending earnings past the holding period become available
    "subscriptions.renew": 5,  # wallet subscriptions due: the next period booked, past_due, or cancelled
}


def tick(at: datetime | None = None) -> int:
    """Publish every sweep whose period has begun since it was last published. Returns how many were new."""
    from chalicelib import jobs

    seconds = epoch(at)
    published = 0
    for event_type, minutes in SWEEPS.items():
        period = seconds // (minutes * 60)
        if jobs.publish(event_type, f"{event_type}:{period}", {"period": period, "minutes": minutes}):
            published += 1
    return published
