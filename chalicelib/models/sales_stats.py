"""Pre-aggregated sales per seller: per day, per month and all-time, and per month the photos and clients sold.

Rows are changed with ADD when money moves (chalicelib/services/sales_stats.py), each money transaction once
per seller: the same TransactWrite writes a marker row (``#applied:<tx_id>``, ``<seller>#<part>``) with
``attribute_not_exists``, so a replayed job adds nothing.

Access patterns (Queries on keys and an index only; the summary's cost does not grow with the orders):
- a seller's days / months in a range ...... SalesStats Query(pk = "<seller>#<cur>", sk between "d#<from>" and
                                             "d#<to>") (or "m#..."); the all-time row is sk "all"
- a creator's earnings of one source ........ SalesStats Query(pk = "<creator>#<cur>#<source>", sk between
                                             "m#<from>" and "m#<to>"); all-time: sk "all" (BatchGet per source)
- a month's top photos or clients .......... SalesTop GSI by_amount (top_key, amount_cents), highest first,
                                             keys only (the amount is in the index key)
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.models.base import keys_only_index, register, table_meta


def stats_pk(seller_id: str, currency: str) -> str:
    return f"{seller_id}#{currency}"


def source_pk(seller_id: str, currency: str, source: str) -> str:
    """A creator's earnings of one source (subscriptions | tips | purchases): month rows and the all-time row,
    ADDed in the ledger transaction that books or reverses them (chalicelib/services/earnings.py)."""
    return f"{seller_id}#{currency}#{source}"


def top_key(seller_id: str, currency: str, month: str, kind: str) -> str:
    """``kind``: photo | client."""
    return f"{seller_id}#{currency}#{month}#{kind}"


@register
class SalesStats(Model):
    Meta = table_meta("sales_stats")

    pk = UnicodeAttribute(hash_key=True)  # "<seller>#<cur>", or "#applied:<tx_id>" for a marker
    sk = UnicodeAttribute(range_key=True)  # "d#YYYY-MM-DD" | "m#YYYY-MM" | "all", or "<seller>#<part>"
    gross_cents = NumberAttribute(default=0)
    refunds_cents = NumberAttribute(default=0)
    fees_cents = NumberAttribute(default=0)
    net_cents = NumberAttribute(default=0)
    orders = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)  # markers only: they outlive any redelivery of their job


@register
class SalesTop(Model):
    Meta = table_meta("sales_top")

    top_key = UnicodeAttribute(hash_key=True)  # "<seller>#<cur>#<YYYY-MM>#photo|client"
    item_id = UnicodeAttribute(range_key=True)  # the photo id or the client (the buyer) id
    amount_cents = NumberAttribute(default=0)  # sold less refunded

    by_amount = keys_only_index("sales_top", "by_amount", "top_key", "amount_cents", NumberAttribute)


def stats_rows(seller_id: str, currency: str, first: str, last: str) -> list[SalesStats]:
    """The seller's rows with sk between ``first`` and ``last`` (e.g. "d#2026-01-01".."d#2026-12-31")."""
    return list(SalesStats.query(stats_pk(seller_id, currency), SalesStats.sk.between(first, last)))


def stats_row(seller_id: str, currency: str, sk: str) -> SalesStats | None:
    try:
        return SalesStats.get(stats_pk(seller_id, currency), sk)
    except SalesStats.DoesNotExist:
        return None


def top_of(key: str, limit: int) -> list[tuple[str, int]]:
    rows = SalesTop.by_amount.query(key, scan_index_forward=False, limit=limit)
    return [(r.item_id, int(r.amount_cents)) for r in rows]
