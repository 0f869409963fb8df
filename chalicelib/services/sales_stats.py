"""Sales analytics: rows aggregated when money moves, read by ``GET /sales/summary`` and ``GET /earnings``.

The consumers of ``order.paid``, ``refund.succeeded`` and ``dispute.closed`` (lost) read back the ledger
transaction the event posted (``shares``: each seller's gross, fee and net booked or reversed), so the analytics
and the ledger agree to the cent, and add them with ADD to the seller's day, month and all-time rows and to the
month's photo and client rows. Each (transaction, seller) applies once: its TransactWrite carries a marker row
with ``attribute_not_exists``. A ledger transaction not posted yet (its job runs later) fails the job, which is
retried.

The summary's cost is bounded by the range (at most 366 days or 36 months: one Query of the series rows, two
Queries per month touched for the top photos and clients), never by the number of orders.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.errors import ValidationError
from chalicelib.models import ledger as ledger_store
from chalicelib.models import sales_stats as store
from chalicelib.models.base import (
    TransactWriteError,
    at_epoch,
    cancellation_codes,
    connection,
    epoch,
    now,
)
from chalicelib.services import ledger

MAX_DAYS = 366
MAX_MONTHS = 36
TOP = 10
ROWS_PER_TRANSACTION = 95  # top rows of one part (the first part also holds the marker, 3 stats rows, a client)
MARKER_TTL_SECONDS = 60 * 24 * 3600
METRICS = ("gross_cents", "refunds_cents", "fees_cents", "net_cents", "orders")


def _at(payload: dict[str, Any], key: str) -> datetime:
    raw = payload.get(key)
    return datetime.fromisoformat(raw.replace("Z", "+00:00")) if isinstance(raw, str) else now()


def _ledger_tx(tx_id: str) -> ledger_store.LedgerTransaction:
    tx = ledger_store.transaction(tx_id)
    if tx is None:
        raise ledger.NotBookedYet(f"{tx_id} is not in the ledger yet")
    return tx


def _shares(tx: ledger_store.LedgerTransaction) -> dict[str, dict[str, Any]]:
    return tx.shares.as_dict() if tx.shares is not None else {}


def _apply(
    tx_id: str,
    seller_id: str,
    currency: str,
    at: datetime,
    deltas: dict[str, int],
    photos: dict[str, int],
    clients: dict[str, int],
) -> None:
    """Add ``deltas`` to the seller's day, month and all-time rows, ``photos``/``clients`` to the month's top
    rows: once per (tx_id, seller), in parts of at most ~100 actions, each part with its marker."""
    pk = store.stats_pk(seller_id, currency)
    day, month = at.strftime("%Y-%m-%d"), at.strftime("%Y-%m")
    tops = [(store.top_key(seller_id, currency, month, "client"), k, v) for k, v in sorted(clients.items()) if v]
    tops += [(store.top_key(seller_id, currency, month, "photo"), k, v) for k, v in sorted(photos.items()) if v]
    parts = [tops[i : i + ROWS_PER_TRANSACTION] for i in range(0, len(tops), ROWS_PER_TRANSACTION)] or [[]]
    actions = [getattr(store.SalesStats, m).add(v) for m, v in deltas.items() if v]
    for n, part in enumerate(parts):
        try:
            with TransactWrite(connection=connection()) as tx:
                tx.save(
                    store.SalesStats(
                        pk=f"#applied:{tx_id}",
                        sk=f"{seller_id}#{n}",
                        expires_at=at_epoch(epoch() + MARKER_TTL_SECONDS),
                    ),
                    condition=store.SalesStats.pk.does_not_exist(),
                )
                if n == 0 and actions:
                    for sk in (f"d#{day}", f"m#{month}", "all"):
                        tx.update(store.SalesStats(pk=pk, sk=sk), actions=actions)
                for key, item_id, amount in part:
                    tx.update(
                        store.SalesTop(top_key=key, item_id=item_id), actions=[store.SalesTop.amount_cents.add(amount)]
                    )
        except TransactWriteError as exc:
            codes = cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                continue  # this part was applied before
            raise


def _lines_of(payload: dict[str, Any], seller_id: str) -> list[dict[str, Any]]:
    return [line for line in payload.get("lines", []) if line["seller_id"] == seller_id]


def on_order_paid(payload: dict[str, Any], cursor: Any, limit: int) -> None:
    tx_id = f"sale:{payload['order_id']}"
    tx = _ledger_tx(tx_id)
    at = _at(payload, "paid_at")
    for seller_id, share in sorted(_shares(tx).items()):
        photos: dict[str, int] = {}
        client = payload.get("buyer_id") or "unknown"
        for line in _lines_of(payload, seller_id):
            photos[line["photo_id"]] = photos.get(line["photo_id"], 0) + int(line["amount_cents"])
            client = line.get("client_id") or client
        deltas = {"gross_cents": share["gross"], "fees_cents": share["fee"], "net_cents": share["net"], "orders": 1}
        _apply(tx_id, seller_id, tx.currency, at, deltas, photos, {client: int(share["gross"])})
    return None


def _reversal(payload: dict[str, Any], tx_base: str) -> None:
    sale = _ledger_tx(f"sale:{payload['order_id']}")
    clients = {sid: share.get("client") for sid, share in _shares(sale).items()}
    at = _at(payload, "at")
    for tx_id, _ in ledger.transaction_ids(payload, tx_base):
        tx = _ledger_tx(tx_id)
        for seller_id, share in sorted(_shares(tx).items()):
            gross = int(share["gross"])
            # the photos' part of the reversal, in the event's line proportions, capped at what was reversed
            photos: dict[str, int] = {}
            left = gross
            for line in _lines_of(payload, seller_id):
                part = min(left, int(line["amount_cents"]))
                photos[line["photo_id"]] = photos.get(line["photo_id"], 0) - part
                left -= part
            deltas = {"refunds_cents": gross, "fees_cents": -int(share["fee"]), "net_cents": -int(share["net"])}
            client = clients.get(seller_id) or payload.get("buyer_id") or "unknown"
            _apply(tx_id, seller_id, tx.currency, at, deltas, photos, {client: -gross})


def on_refund_succeeded(payload: dict[str, Any], cursor: Any, limit: int) -> None:
    _reversal(payload, f"refund:{payload['refund_id']}")
    return None


def on_dispute_closed(payload: dict[str, Any], cursor: Any, limit: int) -> None:
    if payload.get("status") == "lost":  # booked as a refund; a won dispute changed no sales figure
        _reversal(payload, f"dispute:{payload['dispute_id']}:lost")
    return None


# ---- reads -----------------------------------------------------------------------------------------------


def _months(first: date, last: date) -> list[str]:
    out = []
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _periods(granularity: str, first: date, last: date) -> list[str]:
    if granularity == "month":
        return _months(first, last)
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def default_range(granularity: str, today: date | None = None) -> tuple[date, date]:
    today = today or now().date()
    if granularity == "month":
        start = date(today.year - (1 if today.month < 12 else 0), today.month % 12 + 1, 1)
        return start, today
    return today - timedelta(days=29), today


def resolve_range(granularity: str, first: date | None, last: date | None) -> tuple[date, date]:
    """The range asked for; a missing end is today, a missing start the default span (30 days, 12 months)."""
    default_first, default_last = default_range(granularity)
    last = last or default_last
    if first is not None:
        return first, last
    try:
        return last - (default_last - default_first), last
    except OverflowError:  # `to` too close to year 1 to take the default span before it
        raise ValidationError("`to` is too early; give `from`.", details={"to": "too early"}) from None


def summary(seller_id: str, currency: str, granularity: str, first: date, last: date) -> dict[str, Any]:
    if last < first:
        raise ValidationError("`from` must not be after `to`.", details={"from": "after to"})
    # the span is checked arithmetically before any period is built (a huge range must cost nothing)
    if granularity == "day" and (last - first).days + 1 > MAX_DAYS:
        raise ValidationError(f"At most {MAX_DAYS} days at a time.", details={"from": f"more than {MAX_DAYS} days"})
    if granularity == "month" and (last.year - first.year) * 12 + last.month - first.month + 1 > MAX_MONTHS:
        raise ValidationError(
            f"At most {MAX_MONTHS} months at a time.", details={"from": f"more than {MAX_MONTHS} months"}
        )
    periods = _periods(granularity, first, last)
    prefix = "d#" if granularity == "day" else "m#"
    rows = {r.sk[2:]: r for r in store.stats_rows(seller_id, currency, prefix + periods[0], prefix + periods[-1])}
    totals = dict.fromkeys(METRICS, 0)
    series = []
    for period in periods:
        row = rows.get(period)
        values = {m: int(getattr(row, m) or 0) if row else 0 for m in METRICS}
        for m in METRICS:
            totals[m] += values[m]
        series.append(
            {
                "period": period,
                "gross_cents": values["gross_cents"],
                "net_cents": values["net_cents"],
                "orders": values["orders"],
            }
        )
    return {
        "currency": currency,
        "totals": totals,
        "series": series,
        "top_photos": [{"photo_id": k, "amount_cents": v} for k, v in _top(seller_id, currency, first, last, "photo")],
        "top_clients": [
            {"client_id": k, "amount_cents": v} for k, v in _top(seller_id, currency, first, last, "client")
        ],
    }


def _top(seller_id: str, currency: str, first: date, last: date, kind: str) -> list[tuple[str, int]]:
    """The top ten over the months the range touches: each month's top ten, summed (a bounded read)."""
    sums: dict[str, int] = {}
    for month in _months(first, last):
        for item_id, amount in store.top_of(store.top_key(seller_id, currency, month, kind), TOP):
            sums[item_id] = sums.get(item_id, 0) + amount
    ranked = sorted(((k, v) for k, v in sums.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:TOP]


def lifetime(seller_id: str, currency: str) -> int:
    row = store.stats_row(seller_id, currency, "all")
    return int(row.net_cents or 0) if row else 0


def monthly_net(seller_id: str, currency: str, months: int = 12) -> list[dict[str, Any]]:
    first, last = default_range("month")
    periods = _months(first, last)[-months:]
    rows = {r.sk[2:]: r for r in store.stats_rows(seller_id, currency, f"m#{periods[0]}", f"m#{periods[-1]}")}
    return [{"period": p, "net_cents": int(rows[p].net_cents or 0) if p in rows else 0} for p in periods]
