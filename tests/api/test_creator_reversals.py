"""Refunds and disputes of creator charges (tips, pay-per-view, top-ups, subscription invoices) at Stripe: every
one reaches the ledger through the signed webhook route, once, partial refunds included; a top-up charged back
after it was spent leaves a receivable the user owes, repaid by their next credit."""

from __future__ import annotations

import uuid

import pytest

from tests import refunds_support
from tests.api.test_subscriptions import subscribe
from tests.wallet_kit import (
    balance,
    charge_of,
    deliver,
    deposit,
    event,
    idem,
    ledger_balanced,
    make_creator,
    make_staff,
    paid_photo,
)

stripe_fixture = refunds_support.stripe_fixture  # the fixture (disputes: /_lightbox/disputes)


@pytest.fixture
def cast(api, make_user, stripe_server):
    return {
        "creator": make_creator(make_user, "revcreator"),
        "fan": make_user("revfan"),
        "staff": make_staff(make_user),
    }


def send(api, stripe_server, type_: str, obj_id: str) -> None:
    r = deliver(api, stripe_server, event(f"evt_{uuid.uuid4().hex[:12]}", type_, obj_id))
    assert r.status_code == 200, r.body


def refunded_at_stripe(api, stripe_server, pi: str, amount: int | None = None) -> None:
    """A refund made in the Stripe dashboard, reported by charge.refunded (delivered twice)."""
    body = {"payment_intent": pi} | ({"amount": amount} if amount is not None else {})
    stripe_server.post("/v1/refunds", body)
    for _ in range(2):
        send(api, stripe_server, "charge.refunded", charge_of(stripe_server, pi))


def lose_dispute(api, stripe_server, stripe, pi: str) -> dict:
    dispute = stripe.dispute(pi)
    send(api, stripe_server, "charge.dispute.created", dispute["id"])
    stripe.resolve(dispute["id"], "lost")
    for _ in range(2):
        send(api, stripe_server, "charge.dispute.closed", dispute["id"])
    return dispute


def card_top_up(api, fan, amount: int, key: str = "tu") -> tuple[str, str]:
    r = api.post("/wallet/top-ups", {"amount_cents": amount, "currency": "eur"}, token=fan["access"], headers=idem(key))
    assert r.status_code == 201, r.body
    tid, pi = r.data["top_up"]["id"], r.data["payment"]["payment_intent_id"]
    done = api.post(f"/wallet/top-ups/{tid}/confirm", {"payment_method_id": "pm_card_visa"}, token=fan["access"])
    assert done.data["top_up"]["status"] == "paid", done.body
    return tid, pi


def card_tip(api, fan, creator, amount: int, key: str = "t") -> tuple[str, str]:
    body = {"amount_cents": amount, "currency": "eur", "payment_method": "card"}
    created = api.post(f"/creators/{creator['id']}/tips", body, token=fan["access"], headers=idem(key)).data
    tid, pi = created["tip"]["id"], created["payment"]["payment_intent_id"]
    api.post(f"/tips/{tid}/confirm", {"payment_method_id": "pm_card_visa"}, token=fan["access"])
    return tid, pi


def net(api, creator, source: str) -> int:
    return api.get("/earnings", token=creator["access"]).data["by_source"][source]


def owed(user) -> int:
    from chalicelib.services import earnings

    return earnings.wallet_owed(user["id"], "eur")


def payment(payment_id: str):
    from chalicelib.models.creator_payments import get_payment

    return get_payment(payment_id)


# ---- top-ups ---------------------------------------------------------------------------------------------------


def test_a_spent_top_up_charged_back_leaves_a_debt_the_next_credit_repays(api, cast, stripe_server, stripe):
    """Top up 100 EUR by card, tip it all from the wallet, charge the top-up back: nothing is lost."""
    creator, fan, staff = cast["creator"], cast["fan"], cast["staff"]
    _, pi = card_top_up(api, fan, 10_000)
    r = api.post(
        f"/creators/{creator['id']}/tips",
        {"amount_cents": 10_000, "currency": "eur", "payment_method": "wallet"},
        token=fan["access"],
        headers=idem("all"),
    )
    assert r.status_code == 201 and r.data["tip"]["status"] == "paid", r.body
    assert balance(api, fan) == 0
    dispute = lose_dispute(api, stripe_server, stripe, pi)
    assert balance(api, fan) == 0 and owed(fan) == 10_000  # the user owes what the card took back
    assert api.get("/wallet?currency=eur", token=fan["access"]).data["owed_cents"] == 10_000  # and sees it
    from chalicelib.models import ledger as store

    assert store.transaction(f"refund:{dispute['id']}").entries.as_dict() == {
        "clearing:eur": 10_000,
        f"wallet:{fan['id']}:receivable:eur": -10_000,
    }
    assert ledger_balanced(api, staff)
    deposit(api, staff, fan, 3_000, "d1")  # the next credits repay the debt first
    assert balance(api, fan) == 0 and owed(fan) == 7_000
    card_top_up(api, fan, 8_000, key="tu2")
    assert balance(api, fan) == 1_000 and owed(fan) == 0
    assert api.get("/wallet?currency=eur", token=fan["access"]).data["owed_cents"] == 0
    assert ledger_balanced(api, staff)


def test_a_top_up_refunded_at_stripe_comes_out_of_the_wallet_partly_and_once(api, cast, stripe_server):
    fan, staff = cast["fan"], cast["staff"]
    tid, pi = card_top_up(api, fan, 5_000)
    refunded_at_stripe(api, stripe_server, pi, 2_000)
    assert balance(api, fan) == 3_000 and owed(fan) == 0
    refunded_at_stripe(api, stripe_server, pi)  # the rest
    assert balance(api, fan) == 0 and owed(fan) == 0
    kinds = [e["kind"] for e in api.get("/wallet", token=fan["access"]).data["entries"]["items"]]
    assert kinds == ["top_up_reversal", "top_up_reversal", "top_up"]
    assert ledger_balanced(api, staff)


# ---- tips and pay-per-view -------------------------------------------------------------------------------------


def test_partial_refunds_of_a_card_tip_are_each_booked_once(api, cast, stripe_server):
    creator, fan, staff = cast["creator"], cast["fan"], cast["staff"]
    tid, pi = card_tip(api, fan, creator, 800)
    assert net(api, creator, "tips") == 720
    refunded_at_stripe(api, stripe_server, pi, 300)
    assert net(api, creator, "tips") == 450 and payment(tid).status == "paid"
    refunded_at_stripe(api, stripe_server, pi)  # the remaining 500
    assert net(api, creator, "tips") == 0 and payment(tid).status == "refunded"
    assert ledger_balanced(api, staff)


def test_a_lost_dispute_of_a_card_purchase_relocks_and_reverses(api, cast, stripe_server, stripe):
    creator, fan, staff = cast["creator"], cast["fan"], cast["staff"]
    photo = paid_photo(creator["id"], price=500)
    created = api.post(
        f"/photos/{photo}/purchase", {"payment_method": "card"}, token=fan["access"], headers=idem("b")
    ).data
    pid, pi = created["purchase"]["id"], created["payment"]["payment_intent_id"]
    api.post(f"/purchases/{pid}/confirm", {"payment_method_id": "pm_card_visa"}, token=fan["access"])
    view = lambda: api.get(f"/photos/{photo}", token=fan["access"]).data  # noqa: E731
    assert view()["locked"] is False and net(api, creator, "purchases") == 450

    dispute = stripe.dispute(pi)
    send(api, stripe_server, "charge.dispute.created", dispute["id"])
    assert view()["locked"] is False and net(api, creator, "purchases") == 450  # open: nothing moves yet
    stripe.resolve(dispute["id"], "lost")
    for _ in range(2):
        send(api, stripe_server, "charge.dispute.closed", dispute["id"])
    assert view()["locked"] is True and net(api, creator, "purchases") == 0
    assert payment(pid).status == "refunded"
    assert ledger_balanced(api, staff)


def test_a_won_dispute_of_a_card_tip_changes_nothing(api, cast, stripe_server, stripe):
    creator, fan = cast["creator"], cast["fan"]
    tid, pi = card_tip(api, fan, creator, 600)
    dispute = stripe.dispute(pi)
    send(api, stripe_server, "charge.dispute.created", dispute["id"])
    stripe.resolve(dispute["id"], "won")
    send(api, stripe_server, "charge.dispute.closed", dispute["id"])
    assert net(api, creator, "tips") == 540 and payment(tid).status == "paid"


# ---- subscription invoices -------------------------------------------------------------------------------------


@pytest.fixture
def subscribed(api, cast, stripe_server):
    creator, fan = cast["creator"], cast["fan"]
    assert api.put("/creators/me/plan", {"price_cents": 900, "currency": "eur"}, token=creator["access"]).status_code
    r = subscribe(api, fan["access"], creator["id"])
    assert r.status_code == 201, r.body
    from chalicelib.models.subscriptions import subscription_of

    sub = stripe_server.get(f"/v1/subscriptions/{subscription_of(fan['id'], creator['id']).stripe_subscription_id}")
    invoice = stripe_server.get(f"/v1/invoices/{sub['latest_invoice']}")
    assert net(api, creator, "subscriptions") == 810
    return invoice


def test_a_refunded_subscription_invoice_reverses_its_earning(api, cast, stripe_server, subscribed):
    refunded_at_stripe(api, stripe_server, subscribed["payment_intent"], 400)
    assert net(api, cast["creator"], "subscriptions") == 810 - 360
    refunded_at_stripe(api, stripe_server, subscribed["payment_intent"])
    assert net(api, cast["creator"], "subscriptions") == 0
    assert ledger_balanced(api, cast["staff"])


def test_a_lost_dispute_of_a_subscription_invoice_reverses_its_earning(api, cast, stripe_server, stripe, subscribed):
    lose_dispute(api, stripe_server, stripe, subscribed["payment_intent"])
    assert net(api, cast["creator"], "subscriptions") == 0
    from chalicelib.models import ledger as store

    assert store.holds([f"subscriptions:{subscribed['id']}:{cast['creator']['id']}"])
    assert ledger_balanced(api, cast["staff"])
