"""Who consumes which domain event: the one table the API, the worker and the CLI share.

Consumers are named by import path (``"module:function"``) and imported only when a job runs, so nothing here
imports a service, and nothing depends on ``app.py`` having been imported.

A consumer is ``fn(payload: dict, cursor: Any, limit: int) -> Any``: it does at most ``limit`` items of work
from ``cursor`` (None on the first run) and returns the cursor to continue from (any JSON value; ``{}`` is
fine when re-reading from the start finds what is left), or None when it is done. It must be idempotent: a
chunk may run twice (a redelivery after a crash), so each step is a delete, a conditional write or a put.

``ON_COMPLETE`` runs once every consumer of an event has returned None (e.g. free an account's email and
username only after all of its content is gone). It is idempotent too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

Consumer = Callable[[dict[str, Any], Any, int], Any]

CONSUMERS: dict[str, dict[str, str]] = {
    # payload: user_id, email, username. Orders and ledger entries (next issues) join here as an
    # "orders" consumer that anonymises the buyer/seller on rows other people own; it never deletes them.
    "user.deleted": {
        "account": "chalicelib.services.accounts:on_user_deleted",  # sessions, sockets, search, anonymise
        "photos": "chalicelib.services.photos:on_user_deleted",
        "events": "chalicelib.services.events:on_user_deleted",
        "engagement": "chalicelib.services.engagement:on_user_deleted",
        "social": "chalicelib.services.social:on_user_deleted",
        "blocks": "chalicelib.services.blocks:on_user_deleted",
        "chat": "chalicelib.services.chat:on_user_deleted",
        "devices": "chalicelib.services.devices:on_user_deleted",
        "notifications": "chalicelib.services.notifications:on_user_deleted",
        "clients": "chalicelib.services.clients:on_user_deleted",  # clients, assignments, price sheets
        "verification": "chalicelib.services.verification:on_user_deleted",  # request row and document
        "ratings": "chalicelib.services.ratings:on_user_deleted",  # the ratings the user received
        "rsvps": "chalicelib.services.rsvp:on_user_deleted",  # withdraw the user's RSVPs (seats free)
        "invitations": "chalicelib.services.invitations:on_user_deleted",  # pending invitations
        "autoinvite": "chalicelib.services.autoinvite:on_user_deleted",  # the user's interest index rows
        "reports": "chalicelib.services.moderation:on_user_deleted",  # the open reports the user made
    },
    # payload: event_id (the event row is already gone)
    "event.deleted": {
        "photos": "chalicelib.services.photos:on_event_deleted",
        "members": "chalicelib.services.events:on_event_deleted",  # each chunk gets the live "deleted" frame
        "rsvps": "chalicelib.services.rsvp:on_event_deleted",
        "invitations": "chalicelib.services.invitations:on_event_deleted",  # the same for pending invitees
        "engagement": "chalicelib.services.engagement:on_event_deleted",  # the event's likes and comments
    },
    # payload: event_id, inviter_id, user_ids (the invitees beyond the inline bound): their event_invite
    "event.invited": {"notify": "chalicelib.services.invitations:on_invited"},
    # payload: event_id, change (updated | rsvp): the live event.updated frame to members and pending invitees
    "event.updated": {"live": "chalicelib.services.event_updates:on_updated"},
    # payload: event_id (a public event with auto_invite and interest_tags): invite matching users, up to 200
    "event.auto_invite": {"invitations": "chalicelib.services.autoinvite:on_auto_invite"},
    # payload: user_id: rewrite the user's interest index rows from their current settings
    "user.autoinvite_changed": {"index": "chalicelib.services.autoinvite:on_settings_changed"},
    # payload: event_id
    "event.visibility_changed": {
        "photos": "chalicelib.services.photos:on_event_visibility_changed",
        "rsvps": "chalicelib.services.rsvp:on_event_visibility_changed",  # made private: non-members' RSVPs go
    },
    # payload: photo_id, owner_id, event_id (or None)
    "photo.ready": {
        "event_members": "chalicelib.services.events:on_photo_ready",
        "post_count": "chalicelib.services.discovery:on_photo_ready",  # the creator's post_count, once
        "photo_count": "chalicelib.services.user_stats:on_photo_ready",  # the owner's photo_count, once
    },
    # payload: photo_ids (rows already gone): likes, comments and live subscriptions of those photos
    "photos.purged": {"engagement": "chalicelib.services.engagement:on_photos_purged"},
    # payload: user_id
    "notifications.read_all": {"inbox": "chalicelib.services.notifications:on_read_all"},
    # payload: connection_ids, frame
    "push.fanout": {"connections": "chalicelib.realtime.push:on_fanout"},
    # Money events. order.paid payload: order_id, buyer_id, currency, subtotal_cents, total_cents, paid_at,
    # lines [{item_id, photo_id, seller_id, client_id, sku, kind, quantity, amount_cents, fulfilment}],
    # fee_bps (the fee at the moment of payment, set by checkout; an older payload without it: the current fee).
    "order.paid": {
        "purchases": "chalicelib.services.purchases:on_order_paid",  # checkout: the purchase entries, again
        "print_lab": "chalicelib.services.print_lab:on_order_paid",  # submit the lab prints (retried while down)
        "receipts": "chalicelib.services.receipts:on_order_paid",  # the buyer's receipt, the sellers' order_paid
        "ledger": "chalicelib.services.ledger:on_order_paid",  # tx sale:<order_id>, holds for the release sweep
        "sales_stats": "chalicelib.services.sales_stats:on_order_paid",  # reads back sale:<order_id>
        "clients": "chalicelib.services.clients:on_order_paid",  # a client's orders_count and spend
        "buyer_stats": "chalicelib.services.user_stats:on_order_paid",  # the buyer's orders_count, once
    },
    # payload: order_id, buyer_id, item_ids, tracking {carrier, number, url} | None, at. Published once per
    # shipment (id "order.item_shipped:<order_id>:<hash of the item ids>") with the write that marks them shipped.
    "order.item_shipped": {"shipping_email": "chalicelib.services.fulfilment:on_item_shipped"},
    # payload: order_id, fingerprint (of the item set the zip is to hold): builds the order's zip archive
    "order.archive_requested": {"archives": "chalicelib.services.archives:on_archive_requested"},
    # payload: order_id, refund_id, currency, amount_cents, at, source, lines [{item_id, seller_id, photo_id,
    # amount_cents}]. source: api (POST /sales/orders/{id}/refunds) | stripe (made in the Stripe dashboard).
    # lines are the items' shares; amount_cents - sum(lines) refunds the order's shipping and tax (staff only).
    # Event id "refund:<refund_id>": published once, in the transaction that books the refund.
    "refund.succeeded": {
        "ledger": "chalicelib.services.ledger:on_refund_succeeded",  # tx refund:<refund_id>
        "sales_stats": "chalicelib.services.sales_stats:on_refund_succeeded",
    },
    # payload: order_id, dispute_id, currency, amount_cents, at, lines (as refund.succeeded); closed adds status
    # (won | lost). Event ids "dispute:<id>:opened" / "dispute:<id>:closed"; a closed event always follows an
    # opened one (a dispute first seen closed publishes both). A lost dispute is booked as a Refund row (source
    # dispute) with no refund.succeeded: its lines are in dispute.closed (status lost); book it from there.
    "dispute.opened": {
        "ledger": "chalicelib.services.ledger:on_dispute_opened",  # tx dispute:<id>:opened
    },
    "dispute.closed": {
        "ledger": "chalicelib.services.ledger:on_dispute_closed",  # tx dispute:<id>:won | dispute:<id>:lost
        "sales_stats": "chalicelib.services.sales_stats:on_dispute_closed",  # lost only
    },
    # payload: user_id, payout_id, amount_cents, currency (published with the payout's ledger transaction)
    "payout.requested": {"transfer": "chalicelib.services.payouts:on_payout_requested"},
    # Client galleries (chalicelib/services/clients.py). payload: photographer_id, client_id (row already gone)
    "client.deleted": {"assignments": "chalicelib.services.clients:on_client_deleted"},
    # payload: photographer_id, client_id (now active): rows assigned while invited move to the user id
    "client.activated": {"assignments": "chalicelib.services.clients:on_client_activated"},
    # payload: user_id, email: pending invitations beyond what the verifying request activated
    "client.email_verified": {"invitations": "chalicelib.services.clients:on_email_verified_job"},
    # payload: photographer_id, client_id, event_id, key (the event index's page key after the inline page)
    "client.assign_event": {"photos": "chalicelib.services.clients:on_assign_event"},
    # payload: target_key, report_id, resolution, actor_id: the target's other open reports beyond the request's
    # bound, resolved with report_id (chalicelib/services/moderation.py)
    "report.resolved": {"siblings": "chalicelib.services.moderation:on_report_resolved"},
    # Sweeps (chalicelib/jobs/sweeps.py), published by the minute schedule. payload: period, minutes
    "orders.expire": {"checkout": "chalicelib.services.checkout:on_orders_expire"},
    "earnings.release": {
        "ledger": "chalicelib.services.ledger:on_earnings_release",  # tx release:<order_id>:<seller_id>
    },
    # wallet subscriptions due (the sparse subscriptions.by_renewal index): tx subscriptions:<sub id>:<period>
    "subscriptions.renew": {"wallet": "chalicelib.services.subscriptions:on_renewals"},
}

ON_COMPLETE: dict[str, str] = {
    "user.deleted": "chalicelib.services.accounts:finish_deletion",
}


def consumers_of(event_type: str) -> list[str]:
    if event_type not in CONSUMERS:
        raise KeyError(f"unknown domain event type {event_type!r}: add it to chalicelib/jobs/registry.py")
    return sorted(CONSUMERS[event_type])


def resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def consumer(event_type: str, name: str) -> Consumer:
    return resolve(CONSUMERS[event_type][name])
