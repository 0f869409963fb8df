"""GET /sales/summary: aggregated when money moves, once per transaction, read at a cost that does not grow."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.test_ledger import money_event, paid


def _today() -> str:
    from chalicelib.models.base import now

    return now().date().isoformat()


def _order(order_id: str, seller: str, lines: list[tuple[str, int]], buyer: str = "u_buyer", days_ago: int = 0) -> dict:
    """An order.paid payload of ``seller``'s photos (photo_id, amount)."""
    from chalicelib.models.base import iso, now

    return {
        "order_id": order_id,
        "buyer_id": buyer,
        "currency": "eur",
        "paid_at": iso(now() - timedelta(days=days_ago)),
        "lines": [
            {"item_id": f"{order_id}-{n}", "photo_id": p, "seller_id": seller, "client_id": None, "amount_cents": a}
            for n, (p, a) in enumerate(lines)
        ],
    }


def _book(payload: dict) -> None:
    """What the order.paid jobs do (called directly: quicker than the queue for many orders)."""
    from chalicelib.services import ledger, sales_stats

    ledger.on_order_paid(payload, None, 100)
    sales_stats.on_order_paid(payload, None, 100)


def test_summary_shows_sales_refunds_fees_series_and_tops(api, make_user):
    seller = make_user("phil", role="photographer")
    sid = seller["id"]
    paid("o1", [(sid, 1000), (sid, 500)])  # lines p0, p1
    paid("o2", [(sid, 2000), ("someone-else", 700)])
    money_event("refund.succeeded", "r1", "o1", [(sid, 500)], refund_id="r1", source="api")
    r = api.get("/sales/summary", token=seller["access"])
    assert r.status_code == 200, r.body
    assert r.data["currency"] == "eur"
    assert r.data["totals"] == {
        "gross_cents": 3500,
        "refunds_cents": 500,
        "fees_cents": 300,  # 150 + 200 - 50
        "net_cents": 2700,  # 1350 + 1800 - 450
        "orders": 2,
    }
    assert len(r.data["series"]) == 30 and r.data["series"][-1] == {
        "period": _today(),
        "gross_cents": 3500,
        "net_cents": 2700,
        "orders": 2,
    }
    # lines are named p<n> by the helpers: p0 sold 1000 + 2000 and the refund's line (p0) took 500 back
    assert r.data["top_photos"] == [{"photo_id": "p0", "amount_cents": 2500}, {"photo_id": "p1", "amount_cents": 500}]
    assert r.data["top_clients"] == [{"client_id": "u_buyer", "amount_cents": 3000}]

    month = api.get("/sales/summary?granularity=month", token=seller["access"]).data
    assert len(month["series"]) == 12 and month["series"][-1]["net_cents"] == 2700
    assert month["totals"] == r.data["totals"]
    one_day = api.get(f"/sales/summary?from={_today()}&to={_today()}", token=seller["access"]).data
    assert [p["period"] for p in one_day["series"]] == [_today()] and one_day["totals"] == r.data["totals"]
    other = make_user("olga", role="photographer")
    assert api.get("/sales/summary", token=other["access"]).data["totals"]["orders"] == 0


def test_a_replayed_job_never_counts_twice(api, make_user):
    from chalicelib.services import sales_stats

    seller = make_user("phil", role="photographer")
    payload = paid("o3", [(seller["id"], 1000)])
    sales_stats.on_order_paid(payload, None, 100)  # a redelivered job
    money_event("dispute.closed", "d1", "o3", [(seller["id"], 1000)], dispute_id="d1", status="lost")
    money_event("dispute.closed", "d1b", "o3", [(seller["id"], 1000)], dispute_id="d1", status="lost")
    totals = api.get("/sales/summary", token=seller["access"]).data["totals"]
    assert totals == {"gross_cents": 1000, "refunds_cents": 1000, "fees_cents": 0, "net_cents": 0, "orders": 1}


@pytest.mark.parametrize(
    "query,field",
    [
        ("from=2026-02-01&to=2026-01-01", "from"),
        ("from=2024-01-01&to=2025-01-02", "from"),  # 368 days
        ("granularity=month&from=2020-01-01&to=2023-01-01", "from"),  # 37 months
        ("from=yesterday", "from"),
        ("granularity=week", "granularity"),
        ("currency=EUR", "currency"),
        ("to=0001-01-01", "to"),  # the default start would be before year 1
        ("granularity=month&to=0001-06-01", "to"),
        ("from=0001-01-01&to=9999-12-31&granularity=day", "from"),  # refused before 3.65M periods are built
        ("from=0001-01-01&to=9999-12-31&granularity=month", "from"),
    ],
)
def test_bad_ranges_are_400(api, make_user, query, field):
    seller = make_user("phil", role="photographer")
    r = api.get(f"/sales/summary?{query}", token=seller["access"])
    assert r.status_code == 400, r.body
    assert r.data["error"]["code"] == "validation_error" and field in r.data["error"]["details"]


def test_only_sellers_see_a_summary(api, make_user):
    member = make_user("mem")
    assert api.get("/sales/summary", token=member["access"]).status_code == 403
    assert api.get("/sales/summary").status_code == 401


def _seed_aggregates(seller_id: str, orders: list[dict]) -> None:
    """The rows the consumers leave after ``orders`` (sales of one line each, 10% fee), batch-written: the
    summary's cost is about reading them (booking 200 orders through moto takes most of a minute)."""
    from datetime import datetime

    from chalicelib.models import sales_stats as store

    stats: dict[str, dict[str, int]] = {}
    tops: dict[tuple[str, str], int] = {}
    for order in orders:
        at = datetime.fromisoformat(order["paid_at"].replace("Z", "+00:00"))
        line = order["lines"][0]
        gross = line["amount_cents"]
        fee = (gross * 1000 * 2 + 10_000) // 20_000
        for sk in (f"d#{at:%Y-%m-%d}", f"m#{at:%Y-%m}", "all"):
            row = stats.setdefault(sk, {"gross_cents": 0, "fees_cents": 0, "net_cents": 0, "orders": 0})
            row["gross_cents"] += gross
            row["fees_cents"] += fee
            row["net_cents"] += gross - fee
            row["orders"] += 1
        for kind, item in (("photo", line["photo_id"]), ("client", order["buyer_id"])):
            key = (store.top_key(seller_id, "eur", f"{at:%Y-%m}", kind), item)
            tops[key] = tops.get(key, 0) + gross
    with store.SalesStats.batch_write() as batch:
        for sk, values in stats.items():
            batch.save(store.SalesStats(pk=store.stats_pk(seller_id, "eur"), sk=sk, **values))
    with store.SalesTop.batch_write() as batch:
        for (key, item), amount in tops.items():
            batch.save(store.SalesTop(top_key=key, item_id=item, amount_cents=amount))


def test_summary_cost_does_not_grow_with_orders(api, make_user, counter):
    seller = make_user("phil", role="photographer")
    sid = seller["id"]
    orders = [
        _order(f"ord{n}", sid, [(f"photo{n % 37}", 100 + n)], buyer=f"buyer{n % 23}", days_ago=n % 40)
        for n in range(200)
    ]
    calls = {}
    for total in (10, 200):
        if total == 10:
            for order in orders[:10]:
                _book(order)  # through the real consumers
        else:
            _seed_aggregates(sid, orders)
        for granularity in ("day", "month"):
            response, made = counter.measure(
                lambda g=granularity: api.get(f"/sales/summary?granularity={g}", token=seller["access"])
            )
            assert response.status_code == 200, response.body
            assert not any(c.endswith(".Scan") for c in made)
            calls[(total, granularity)] = sorted(made)
            if total == 10:
                assert response.data["totals"]["orders"] == 10
    assert calls[(10, "day")] == calls[(200, "day")]
    assert calls[(10, "month")] == calls[(200, "month")]
    data = api.get("/sales/summary?granularity=month", token=seller["access"]).data
    assert data["totals"]["orders"] == 200 and data["totals"]["gross_cents"] == sum(100 + n for n in range(200))
    assert len(data["top_photos"]) == 10 and len(data["top_clients"]) == 10
    assert data["top_clients"][0]["amount_cents"] >= data["top_clients"][-1]["amount_cents"]


@pytest.mark.parametrize("granularity", ["day", "month"])
def test_a_huge_range_is_refused_before_any_period_is_built(api, make_user, monkeypatch, granularity):
    from chalicelib.services import sales_stats

    built: list[int] = []

    def counting(real):
        def wrapper(*args):
            out = real(*args)
            built.append(len(out))
            return out

        return wrapper

    monkeypatch.setattr(sales_stats, "_periods", counting(sales_stats._periods))
    monkeypatch.setattr(sales_stats, "_months", counting(sales_stats._months))
    seller = make_user("phil", role="photographer")
    r = api.get(f"/sales/summary?from=0001-01-01&to=9999-12-31&granularity={granularity}", token=seller["access"])
    assert r.status_code == 400 and "from" in r.data["error"]["details"]
    assert built == []
