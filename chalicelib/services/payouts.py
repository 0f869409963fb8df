"""Earnings and payouts (docs/ledger.md).

``POST /payouts`` books ``payout:<id>`` (the earner's available balance -> ``payouts:<cur>``, the money in
flight) together with the payout row and its ``payout.requested`` event in one transaction, and answers
``pending``. The event's job makes the Stripe Connect transfer (idempotency key ``payout:<id>``: a retried job
never pays twice) to the earner's connected account (created through the port when missing) and settles the
payout: ``payout:<id>:paid`` (in flight -> clearing: the money left our Stripe balance) or, when Stripe
refuses the transfer, ``payout:<id>:failed`` (in flight -> back to available).
"""

from __future__ import annotations

import hashlib
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib import jobs, pagination
from chalicelib.config import get_settings
from chalicelib.errors import ConflictError, ValidationError
from chalicelib.logs import get_logger
from chalicelib.models import ledger as store
from chalicelib.models.base import iso, new_id, now
from chalicelib.models.jobs import JobEvent
from chalicelib.services import ledger, money, sales_stats

log = get_logger(__name__)
PAYOUT_REQUESTED = "payout.requested"


def earnings(user_id: str, currency: str) -> dict[str, Any]:
    from chalicelib.services import earnings as creator_earnings

    balances = ledger.seller_balances(user_id, currency)
    sales = sales_stats.lifetime(user_id, currency)
    by_source = {"sales": sales, **creator_earnings.by_source(user_id, currency)}
    series = sales_stats.monthly_net(user_id, currency)
    if series:
        creator = creator_earnings.monthly_net(user_id, currency, series[0]["period"], series[-1]["period"])
        series = [{"period": p["period"], "net_cents": p["net_cents"] + creator.get(p["period"], 0)} for p in series]
    return {
        "available_cents": balances["available"],
        "pending_cents": balances["pending"],
        "disputed_cents": balances["disputed"],
        "lifetime_cents": sum(by_source.values()),
        "currency": currency,
        "by_source": by_source,
        "series": series,
    }


def view(payout: store.Payout) -> dict[str, Any]:
    return {
        "id": payout.payout_id,
        "amount_cents": int(payout.amount_cents),
        "currency": payout.currency,
        "status": payout.status,
        "failure": payout.failure,
        "created_at": iso(payout.created_at),
    }


def booking_id_for(user_id: str, payout_id: str, request_key: str | None) -> str:
    """The ledger transaction of a payout request: derived from the caller's ``Idempotency-Key`` (``payout:k<hash>``),
    so a retry of a request that died after the booking committed (its response was never stored) finds it
    posted and books nothing; its ``ref`` is the first attempt's payout id. The payout id itself stays
    time-sortable (``GET /payouts`` lists newest first by it)."""
    if not request_key:
        return f"payout:{payout_id}"
    return "payout:k" + hashlib.sha256(f"{user_id}\n{request_key}".encode()).hexdigest()[:32]


def request_payout(user_id: str, amount: int, currency: str, request_key: str | None = None) -> store.Payout:
    """Book the payout and queue its transfer (once per ``request_key``: a second booking of the same id answers
    the first payout). ``InsufficientFunds`` (409) beyond the available balance."""
    minimum = get_settings().payout_minimum_cents
    if amount < minimum:
        raise ValidationError(f"A payout is at least {minimum} cents.", details={"amount_cents": f"at least {minimum}"})
    payout = store.Payout(user_id=user_id, payout_id=new_id("po_"), amount_cents=amount, currency=currency)
    booking = booking_id_for(user_id, payout.payout_id, request_key)
    published: list[JobEvent] = []
    payload = {"user_id": user_id, "payout_id": payout.payout_id, "amount_cents": amount, "currency": currency}

    def extra(tx: TransactWrite) -> None:
        published.clear()
        tx.save(payout, condition=store.Payout.payout_id.does_not_exist())
        published.append(jobs.publish_in(tx, PAYOUT_REQUESTED, f"{PAYOUT_REQUESTED}:{payout.payout_id}", payload))

    try:
        booked = ledger.post(
            booking,
            money.payout(user_id, currency, amount),
            "payout",
            payout.payout_id,
            extra=extra,
        )
    except store.InsufficientFunds as exc:
        available = ledger.balance(money.seller(user_id, "available", currency))
        raise store.InsufficientFunds(
            f"The payout exceeds your available balance ({available} cents).",
            details={"amount_cents": f"at most {available}"},
        ) from exc
    if not booked:  # this very request was booked before (with its row and event: they share the transaction)
        return _earlier(user_id, booking, amount, currency)
    jobs.dispatch(published[0])
    return payout


def _earlier(user_id: str, booking: str, amount: int, currency: str) -> store.Payout:
    """The payout a previous attempt of the same request booked (its event is sent by the relay if that
    attempt died before dispatching it)."""
    tx = store.transaction(booking)
    if tx is None or not tx.ref:
        raise RuntimeError(f"{booking} was reported posted but cannot be read")
    earlier = store.Payout.get(user_id, tx.ref, consistent_read=True)
    if int(earlier.amount_cents) != amount or earlier.currency != currency:
        raise ConflictError(
            "This Idempotency-Key was already used for a different payout.", code="idempotency_key_reused"
        )
    return earlier


def payouts_page(user_id: str, limit: int, cursor: str | None) -> tuple[list[store.Payout], str | None]:
    scope = f"payouts:{user_id}"
    rows = store.payouts_of(user_id, limit, pagination.decode(scope, cursor))
    return pagination.page(scope, rows, limit)


def _connected_account(user_id: str) -> str:
    from chalicelib.models.users import user_by_id
    from chalicelib.payments import connect

    found = store.payout_account(user_id)
    if found is not None:
        return found.connect_account_id
    user = user_by_id(user_id)
    account_id = connect.create_account(user_id, user.email if user else None)
    return store.save_payout_account(
        store.PayoutAccount(user_id=user_id, connect_account_id=account_id)
    ).connect_account_id


def on_payout_requested(payload: dict[str, Any], cursor: Any, limit: int) -> None:
    """Transfer the payout to the earner's connected account and settle it (once: a settled payout is left)."""
    from chalicelib.payments import connect

    user_id, payout_id = payload["user_id"], payload["payout_id"]
    try:
        payout = store.Payout.get(user_id, payout_id, consistent_read=True)
    except store.Payout.DoesNotExist:
        return None
    if payout.status != "pending":
        return None
    destination = _connected_account(user_id)
    amount, currency = int(payout.amount_cents), payout.currency
    try:
        result = connect.transfer(destination, amount, currency, idempotency_key=f"payout:{payout_id}")
    except connect.TransferRefused as exc:
        log.warning("payout refused by Stripe", extra={"fields": {"payout_id": payout_id, "code": exc.code}})
        _settle(payout, destination, paid=False, failure=exc.code or str(exc))
        return None
    _settle(payout, destination, paid=True, transfer_id=result.id)
    return None


def _settle(
    payout: store.Payout, destination: str, *, paid: bool, transfer_id: str | None = None, failure: str | None = None
) -> None:
    status = "paid" if paid else "failed"
    model = store.Payout

    def extra(tx: TransactWrite) -> None:
        tx.update(
            model(user_id=payout.user_id, payout_id=payout.payout_id),
            actions=[
                model.status.set(status),
                model.destination.set(destination),
                model.updated_at.set(now()),
                *([model.transfer_id.set(transfer_id)] if transfer_id else []),
                *([model.failure.set(failure)] if failure else []),
            ],
            condition=model.status == "pending",
        )

    entries = money.payout_settled(payout.user_id, payout.currency, int(payout.amount_cents), paid)
    ledger.post(f"payout:{payout.payout_id}:{status}", entries, f"payout_{status}", payout.payout_id, extra=extra)
