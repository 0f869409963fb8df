"""Creator plans and fan subscriptions (docs/subscriptions.md): by card through Stripe, or from the wallet.

- ``set_plan``: the creator's Stripe product (once, key ``creator:<id>:product``) and a monthly plan per price
  (key ``creator:<id>:plan:<version>:<currency>:<price>``); a price change makes a new plan for NEW subscribers,
  existing ones keep theirs; the same price again makes nothing.
- ``subscribe`` by card: a Stripe customer (``checkout.ensure_customer``) whose default card is the one given (or
  the saved one), a Stripe subscription on the creator's current plan (key ``subscription:<our id>``), charged at
  once; 3-D Secure answers the first invoice's ``client_secret``; a decline cancels it and is ``402``. Our id is
  derived from (fan, creator, ``Idempotency-Key``), so a retry after a 5xx finds the same row and the same Stripe
  subscription (by its id on the row, else by metadata in the customer's list) and charges nothing more; an
  earlier attempt left ``incomplete`` is ended in Stripe (card or wallet subscribe).
- A Stripe subscription whose metadata ``subscription_id`` is not the pair's current row (abandoned or replaced)
  is cancelled in Stripe if still live, and its paid invoice, if never booked, refunded instead of booked.
- ``subscribe`` by wallet: the first period is booked at once from the wallet (``earnings.book``, ref
  ``<our id>:1``) with the row written in the same transaction; ``on_renewals`` books each next period once (ref
  ``<our id>:<n>``), moves to ``past_due`` when the wallet is short and cancels after the grace period.
- Stripe events (``on_stripe_subscription``, ``on_stripe_invoice``): the subscription (and invoice) is re-read
  from Stripe and our row set from it; every paid invoice books the creator's earnings once (ref ``<invoice id>``).
- Every write of a row is conditioned on the ``rev`` it read, with the creator's ``subscriber_count`` ADDed in
  the same transaction when the row moves into or out of access (``counted``): exactly once per transition.
- ``grants``: the subscription grant source of the entitlement decision (one BatchGetItem per page).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import jobs
from chalicelib.config import get_settings
from chalicelib.errors import ConflictError, NotFoundError, PaymentRequiredError, ValidationError
from chalicelib.logs import get_logger
from chalicelib.models import base as _base
from chalicelib.models import creators as creators_store
from chalicelib.models import subscriptions as store
from chalicelib.models.base import UpdateError, condition_failed, new_id
from chalicelib.models.creators import CreatorProfile
from chalicelib.models.subscriptions import Subscription
from chalicelib.payments import stripe_gateway as stripe
from chalicelib.services import earnings
from chalicelib.services import subscription_states as states
from chalicelib.services.entitlements import Caller, Grants

log = get_logger(__name__)
SOURCE = "subscriptions"
MAX_ATTEMPTS = 4


def _now() -> datetime:
    return _base.now()  # through the module, so tests can move the clock


class _Stale(Exception):
    """The row changed since it was read."""


class _Done(Exception):
    """What this request was to write is there already."""


# ---- plans -------------------------------------------------------------------------------------------------


def set_plan(principal: Any, price_cents: int, currency: str) -> CreatorProfile:
    from chalicelib.services import accounts

    accounts.require_verified_creator(principal)
    currency = currency.lower()
    if currency not in stripe.STRIPE_CURRENCIES:
        raise ValidationError(
            f"Payments in {currency.upper()} are not supported.", details={"currency": "not a Stripe currency"}
        )
    low, high = stripe.min_charge(currency), get_settings().creator_price_max_cents
    if not low <= price_cents <= high:
        raise ValidationError(
            f"A monthly price must be between {low} and {high} minor units of {currency.upper()}.",
            details={"price_cents": f"must be between {low} and {high}"},
        )
    user_id = principal.user_id
    profile = creators_store.profile(user_id, consistent=True)
    if (
        profile is not None
        and profile.stripe_plan_id
        and profile.plan_price_cents == price_cents
        and profile.plan_currency == currency
    ):
        return profile  # the same price again: no new plan
    product_id = profile.stripe_product_id if profile is not None else None
    if not product_id:
        product = stripe.create_product(
            f"Subscription to {principal.user.username}",
            idempotency_key=f"creator:{user_id}:product",
            metadata={"creator_id": user_id},
        )
        product_id = str(product["id"])
    read_version = int(profile.plan_version or 0) if profile is not None else 0
    version = read_version + 1
    plan = stripe.create_plan(
        product_id,
        price_cents,
        currency,
        idempotency_key=f"creator:{user_id}:plan:{version}:{currency}:{price_cents}",
        metadata={"creator_id": user_id, "version": str(version)},
    )
    unchanged = (
        CreatorProfile.plan_version.does_not_exist() | (CreatorProfile.plan_version == 0)
        if read_version == 0
        else CreatorProfile.plan_version == read_version
    )
    try:
        CreatorProfile(user_id=user_id).update(
            actions=[
                CreatorProfile.plan_price_cents.set(price_cents),
                CreatorProfile.plan_currency.set(currency),
                CreatorProfile.stripe_product_id.set(product_id),
                CreatorProfile.stripe_plan_id.set(str(plan["id"])),
                CreatorProfile.plan_version.set(version),
                CreatorProfile.updated_at.set(_now()),
            ],
            condition=unchanged,
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        raise ConflictError(
            "The plan was changed at the same time; look at it and retry.", code="plan_changed"
        ) from None
    found = creators_store.profile(user_id, consistent=True)
    assert found is not None
    return found


# ---- writing a row -----------------------------------------------------------------------------------------


def _copy(row: Subscription, **changes: Any) -> Subscription:
    values = dict(row.attribute_values)
    values.update(changes)
    return Subscription(**values)


def _ops(tx: TransactWrite, prev: Subscription | None, new: Subscription) -> None:
    """The row (conditioned on the rev read) and the creator's counter when the row moves into or out of access."""
    new.rev = (int(prev.rev or 0) if prev is not None else 0) + 1
    new.updated_at = _now()
    condition: Any = (
        Subscription.subscriber_id.does_not_exist() if prev is None else Subscription.rev == int(prev.rev or 0)
    )
    tx.save(new, condition=condition)
    delta = states.counter_delta(bool(prev.counted) if prev is not None else False, bool(new.counted))
    if prev is not None and prev.creator_id != new.creator_id:
        raise ValueError("a row keeps its creator")
    if delta:
        tx.update(
            CreatorProfile(user_id=new.creator_id),
            actions=[CreatorProfile.subscriber_count.add(delta), CreatorProfile.updated_at.set(_now())],
        )


def _commit(prev: Subscription | None, new: Subscription) -> Subscription:
    try:
        with jobs.transaction() as tx:
            _ops(tx, prev, new)
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" in (_base.cancellation_codes(exc) or []):
            raise _Stale() from None
        raise
    return new


def _access(row: Subscription | None, at: datetime | None = None) -> bool:
    if row is None:
        return False
    return states.has_access(row.status, row.current_period_end, bool(row.cancel_at_period_end), at or _now())


def _notify_subscribed(row: Subscription) -> None:
    from chalicelib.services import notifications

    try:
        notifications.notify(
            row.creator_id,
            "subscribed",
            actor_id=row.subscriber_id,
            target={"kind": "subscription", "id": row.subscription_id, "creator_id": row.creator_id},
            dedupe=row.subscription_id,
        )
    except Exception:  # the subscription stands; a notification is best effort
        log.warning("subscribed notification failed", extra={"subscription_id": row.subscription_id}, exc_info=True)


# ---- subscribing -------------------------------------------------------------------------------------------


def _creator_plan(creator_id: str) -> CreatorProfile:
    from chalicelib.models.users import user_by_id

    creator = user_by_id(creator_id)
    if creator is None or not creator.creator_verified:
        raise NotFoundError("No such creator.", code="creator_not_found")
    profile = creators_store.profile(creator_id, consistent=True)
    if profile is None or not profile.stripe_plan_id or not profile.plan_price_cents or not profile.plan_currency:
        raise ConflictError("This creator has no subscription plan yet.", code="no_plan")
    return profile


def subscription_id_for(fan: str, creator_id: str, request_key: str | None) -> str:
    """Our subscription id: derived from the caller's ``Idempotency-Key`` (a retry after a failure resumes the same
    subscription, with the same Stripe key ``subscription:<it>``), else new."""
    if not request_key:
        return new_id("sb_")
    digest = hashlib.sha256(f"subscription\n{fan}\n{creator_id}\n{request_key}".encode()).hexdigest()[:24]
    return f"sb_{digest}"


def subscribe(
    principal: Any,
    creator_id: str,
    method: str,
    payment_method_id: str | None = None,
    request_key: str | None = None,
) -> tuple[Subscription, dict[str, Any] | None]:
    fan = principal.user_id
    if creator_id == fan:
        raise ConflictError("You cannot subscribe to yourself.", code="own_subscription")
    profile = _creator_plan(creator_id)
    sub_id = subscription_id_for(fan, creator_id, request_key)
    prev = store.subscription_of(fan, creator_id)
    resume = prev is not None and prev.subscription_id == sub_id  # a retry of a request that failed after writing
    if resume:
        assert prev is not None
        if prev.method != method:
            raise ConflictError("This Idempotency-Key was used for a different request.", code="idempotency_key_reused")
        if prev.status in states.ENDED:
            raise ConflictError(
                "This Idempotency-Key was used for a subscription that has ended; subscribe with a new key.",
                code="idempotency_key_reused",
            )
        if method == "wallet":
            return prev, None  # booked with its row in one transaction: it is done
    elif _access(prev):
        raise ConflictError("You are already subscribed to this creator.", code="already_subscribed")
    if method == "wallet":
        return _subscribe_wallet(fan, creator_id, profile, sub_id), None
    return _subscribe_card(fan, creator_id, profile, prev, payment_method_id, sub_id)


def _subscribe_wallet(fan: str, creator_id: str, profile: CreatorProfile, sub_id: str) -> Subscription:
    settings = get_settings()
    at = _now()
    price, currency = int(profile.plan_price_cents), str(profile.plan_currency)
    end = at + timedelta(days=settings.subscription_period_days)
    before = store.subscription_of(fan, creator_id)
    if before is not None and before.method == "card" and before.status == "incomplete":
        # an earlier card attempt left waiting for 3-D Secure: it must not become payable next to this one
        _end_attempt(fan, before)
    written: dict[str, Subscription] = {}

    def extra(tx: TransactWrite) -> None:
        prev = store.subscription_of(fan, creator_id)  # read again on every attempt of the posting
        if prev is not None and prev.subscription_id == sub_id:
            raise _Done()  # a concurrent retry of this very request wrote it
        if _access(prev, at):
            raise ConflictError("You are already subscribed to this creator.", code="already_subscribed")
        new = Subscription(
            subscriber_id=fan,
            creator_id=creator_id,
            subscription_id=sub_id,
            method="wallet",
            status="active",
            price_cents=price,
            currency=currency,
            period=1,
            current_period_start=at,
            current_period_end=end,
            cancel_at_period_end=False,
            counted=True,
            renew_due=store.DUE,
            renew_at=end,
            created_at=at,
        )
        _ops(tx, prev, new)
        written["row"] = new

    try:
        earnings.book(SOURCE, f"{sub_id}:1", creator_id, price, currency, at=at, payer_wallet=fan, extra=extra)
    except _Done:
        done = store.subscription_of(fan, creator_id)
        assert done is not None
        return done
    row = written["row"]
    _notify_subscribed(row)
    return row


def _card_for(fan: str, customer_id: str, payment_method_id: str | None) -> str:
    """The card the subscription is charged to, made the customer's default for invoices (how localstripe and
    Stripe both pick it): the one given (attached to the caller's customer if it is not yet; another customer's
    is 404), else the customer's default or first saved card (none: 409 ``payment_method_required``)."""
    if payment_method_id:
        method = stripe.retrieve_payment_method(payment_method_id)
        owner = method.get("customer")
        pm_id = str(method["id"])
        if owner and owner != customer_id:
            raise NotFoundError("No such payment method.")
        if not owner:
            stripe.attach_payment_method(pm_id, customer_id, idempotency_key=f"attach:{pm_id}:{customer_id}")
    else:
        customer = stripe.retrieve_customer(customer_id)
        pm_id = ((customer.get("invoice_settings") or {}).get("default_payment_method")) or ""
        if isinstance(pm_id, dict):
            pm_id = pm_id.get("id") or ""
        if not pm_id:
            saved = stripe.list_payment_methods(customer_id, limit=1)
            if not saved:
                raise ConflictError(
                    "Save a card first (POST /payment-methods/setup) or send payment_method_id.",
                    code="payment_method_required",
                )
            pm_id = str(saved[0]["id"])
    stripe.set_default_payment_method(customer_id, pm_id, idempotency_key=f"default-pm:{customer_id}:{pm_id}")
    return pm_id


def _subscribe_card(
    fan: str,
    creator_id: str,
    profile: CreatorProfile,
    prev: Subscription | None,
    payment_method_id: str | None,
    sub_id: str,
) -> tuple[Subscription, dict[str, Any] | None]:
    from chalicelib.services import checkout

    customer_id = checkout.ensure_customer(fan)
    _card_for(fan, customer_id, payment_method_id)
    sub: dict[str, Any] | None = None
    if prev is not None and prev.subscription_id == sub_id:  # a retry: the same row, the same Stripe subscription
        fresh = prev
        if prev.stripe_subscription_id:
            sub = stripe.retrieve_subscription(prev.stripe_subscription_id)
        else:  # created in Stripe before the failure? (Stripe's idempotency keys last 24 hours; localstripe has none)
            sub = _find_in_stripe(customer_id, sub_id)
    else:
        if prev is not None and prev.method == "card" and prev.status == "incomplete":
            # an earlier attempt left waiting for 3-D Secure: it must not become payable next to the new one
            _end_attempt(fan, prev, customer_id)
        fresh = Subscription(
            subscriber_id=fan,
            creator_id=creator_id,
            subscription_id=sub_id,
            method="card",
            status="incomplete",
            price_cents=int(profile.plan_price_cents),
            currency=str(profile.plan_currency),
            stripe_plan_id=profile.stripe_plan_id,
            counted=False,
            created_at=_now(),
        )
        try:
            _commit(prev, fresh)
        except _Stale:
            raise ConflictError(
                "Your subscription changed at the same time; retry.", code="subscription_changed"
            ) from None
    if sub is None:
        sub = stripe.create_subscription(
            customer_id,
            str(fresh.stripe_plan_id or profile.stripe_plan_id),  # a retry keeps its plan: the same Stripe request
            idempotency_key=f"subscription:{sub_id}",
            metadata={"subscriber_id": fan, "creator_id": creator_id, "subscription_id": sub_id},
        )
    row = sync(sub) or fresh
    pi = _first_payment(sub)
    if pi is not None and pi.get("status") == "requires_payment_method":  # declined: no subscription, no access
        _end_in_stripe(str(sub["id"]), f"subscription:{sub_id}:declined")
        sync(stripe.retrieve_subscription(str(sub["id"])))
        error = (pi.get("last_payment_error") or {}) if isinstance(pi.get("last_payment_error"), dict) else {}
        raise stripe.CardDeclinedError(
            error.get("message") or "The card was declined.",
            details={"decline_code": error.get("code") or "card_declined"},
        )
    payment = None
    if pi is not None and pi.get("status") != "succeeded":
        payment = {
            "payment_intent_id": pi.get("id"),
            "client_secret": pi.get("client_secret"),
            "status": pi.get("status"),
            "publishable_key": stripe.publishable_key(),
        }
    return row, payment


def _end_in_stripe(stripe_subscription_id: str, key: str) -> None:
    try:
        stripe.cancel_subscription(stripe_subscription_id, idempotency_key=key)
    except (NotFoundError, stripe.PaymentProviderError):
        log.warning("could not cancel a Stripe subscription", extra={"stripe_subscription_id": stripe_subscription_id})


def _find_in_stripe(customer_id: str, sub_id: str) -> dict[str, Any] | None:
    """The Stripe subscription made for our ``sub_id`` (its metadata), if any: one list of the customer's."""
    for found in stripe.list_subscriptions(customer_id):
        if (found.get("metadata") or {}).get("subscription_id") == sub_id:
            return stripe.retrieve_subscription(str(found["id"]))
    return None


def _end_attempt(fan: str, prev: Subscription, customer_id: str | None = None) -> None:
    """End an earlier card attempt being replaced (left ``incomplete``): its Stripe subscription, or the one made
    for it when the attempt failed before our row learned its id, is ended (and refunded if it was paid)."""
    if prev.stripe_subscription_id:
        _end_in_stripe(prev.stripe_subscription_id, f"subscription:{prev.subscription_id}:replaced")
        return
    if customer_id is None:
        from chalicelib.models.users import user_by_id

        user = user_by_id(fan)
        customer_id = getattr(user, "stripe_customer_id", None) if user is not None else None
        if not customer_id:
            return
    try:
        found = _find_in_stripe(customer_id, prev.subscription_id)
    except (NotFoundError, stripe.PaymentProviderError):
        log.warning("could not look up a replaced attempt", extra={"subscription_id": prev.subscription_id})
        return
    if found is not None:
        _abandon(found, prev.subscription_id)


def _abandon(sub: dict[str, Any], sub_id: str) -> None:
    """A Stripe subscription of ours that is not (or no longer) the pair's current one: if still live it is
    cancelled (it must never bill), and a paid invoice of it that was never booked is refunded, not booked."""
    if str(sub.get("status") or "") in ("canceled", "incomplete_expired"):
        return
    _end_in_stripe(str(sub["id"]), f"subscription:{sub_id}:abandoned")
    invoice = sub.get("latest_invoice")
    if not isinstance(invoice, dict) or invoice.get("status") != "paid" or not int(invoice.get("amount_paid") or 0):
        return
    from chalicelib.models import ledger as ledger_store

    if ledger_store.transaction(earnings.tx_id(SOURCE, str(invoice["id"]))) is not None:
        return  # booked while it was the current one: it was delivered
    pi = stripe.invoice_payment_intent(invoice)
    if pi is not None and pi.get("id") and pi.get("status") == "succeeded":
        stripe.refund_payment_intent(
            str(pi["id"]),
            idempotency_key=f"subscription:{sub_id}:refund:{invoice['id']}",
            metadata={"subscription_id": sub_id, "invoice_id": str(invoice["id"])},
        )


def _first_payment(sub: dict[str, Any]) -> dict[str, Any] | None:
    """The PaymentIntent of the subscription's first invoice (either API shape: ``stripe.invoice_payment_intent``)."""
    invoice = sub.get("latest_invoice")
    if isinstance(invoice, str):
        invoice = stripe.retrieve_invoice(invoice)
    if not isinstance(invoice, dict):
        return None
    return stripe.invoice_payment_intent(invoice)


# ---- Stripe: set our row from the subscription as Stripe has it --------------------------------------------


def _ts(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and value > 0:
        return datetime.fromtimestamp(int(value), tz=UTC)
    return None


def _period(sub: dict[str, Any], name: str) -> datetime | None:
    found = _ts(sub.get(name))
    if found is None:  # Stripe API 2025-03 and later keep the period on the item
        items = (sub.get("items") or {}).get("data") or []
        found = _ts(items[0].get(name)) if items else None
    return found


def sync(sub: dict[str, Any]) -> Subscription | None:
    """Book the Stripe subscription's latest invoice if paid (once), then set our row from the subscription (as
    just read from Stripe).
    Idempotent and order-free: it writes Stripe's current state, and only when something changed."""
    meta = sub.get("metadata") or {}
    fan, creator_id, sub_id = meta.get("subscriber_id"), meta.get("creator_id"), meta.get("subscription_id")
    if not (isinstance(fan, str) and isinstance(creator_id, str) and isinstance(sub_id, str)):
        return None
    current = store.subscription_of(fan, creator_id)
    if current is None or current.subscription_id != sub_id:
        _abandon(sub, sub_id)  # an abandoned or replaced attempt: never left billing, nothing booked for it
        return current
    latest = sub.get("latest_invoice")
    if isinstance(latest, dict):  # money received for the creator is booked whatever becomes of our row
        book_invoice(latest, creator_id)
    status = str(sub.get("status") or "incomplete")
    if status not in states.STATUSES:
        status = "incomplete"
    row = None
    for _ in range(MAX_ATTEMPTS):
        row = store.subscription_of(fan, creator_id)
        if row is None or row.subscription_id != sub_id:
            return row  # an older subscription of the pair, replaced since: nothing of ours to set
        period_end = _period(sub, "current_period_end")
        at_period_end = bool(sub.get("cancel_at_period_end"))
        fields: dict[str, Any] = {
            "status": status,
            "stripe_subscription_id": str(sub["id"]),
            "current_period_start": _period(sub, "current_period_start"),
            "current_period_end": period_end,
            "cancel_at_period_end": at_period_end,
            "canceled_at": _ts(sub.get("canceled_at")) or _ts(sub.get("ended_at")),
        }
        invoice = sub.get("latest_invoice")
        invoice_id = invoice.get("id") if isinstance(invoice, dict) else invoice
        if isinstance(invoice_id, str):
            fields["latest_invoice_id"] = invoice_id
        fields["counted"] = states.has_access(status, period_end, at_period_end, _now())
        if all(getattr(row, k) == v for k, v in fields.items()):
            break
        was_counted = bool(row.counted)
        try:
            row = _commit(row, _copy(row, **fields))
        except _Stale:
            continue
        if row.counted and not was_counted:
            _notify_subscribed(row)
        break
    return row


def book_invoice(invoice: dict[str, Any], creator_id: str) -> bool:
    """A paid invoice of a creator's subscription books the creator's earnings once (ref: the invoice id)."""
    amount = int(invoice.get("amount_paid") or 0)
    if invoice.get("status") != "paid" or amount <= 0 or not isinstance(invoice.get("id"), str):
        return False
    currency = str(invoice.get("currency") or "").lower()
    at = _ts((invoice.get("status_transitions") or {}).get("paid_at")) or _now()
    return earnings.book(SOURCE, str(invoice["id"]), creator_id, amount, currency, at=at)


def _invoice_subscription(invoice: dict[str, Any]) -> str | None:
    sub = invoice.get("subscription")
    if isinstance(sub, dict):
        sub = sub.get("id")
    if not sub:  # Stripe API 2025-03 and later
        sub = ((invoice.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    return sub if isinstance(sub, str) else None


def on_stripe_subscription(event: dict[str, Any]) -> None:
    """customer.subscription.created|updated|deleted: re-read the subscription from Stripe and set our row."""
    obj = (event.get("data") or {}).get("object") or {}
    sub_id = obj.get("id")
    if not isinstance(sub_id, str) or not sub_id.startswith("sub_"):
        return
    try:
        sub = stripe.retrieve_subscription(sub_id)
    except NotFoundError:
        log.info("webhook for an unknown subscription", extra={"stripe_subscription_id": sub_id})
        return
    sync(sub)


def on_stripe_invoice(event: dict[str, Any]) -> None:
    """invoice.paid|payment_succeeded|payment_failed: re-read the invoice and its subscription, set our row, and
    book the invoice if it is paid (once)."""
    obj = (event.get("data") or {}).get("object") or {}
    invoice_id = obj.get("id")
    if not isinstance(invoice_id, str) or not invoice_id.startswith("in_"):
        return
    try:
        invoice = stripe.retrieve_invoice(invoice_id)
        sub_id = _invoice_subscription(invoice)
        sub = stripe.retrieve_subscription(sub_id) if sub_id else None
    except NotFoundError:
        log.info("webhook for an unknown invoice", extra={"invoice_id": invoice_id})
        return
    if sub is None or sub.get("customer") != invoice.get("customer"):
        return
    row = sync(sub)
    meta = sub.get("metadata") or {}
    creator_id = meta.get("creator_id")
    if isinstance(creator_id, str) and row is not None and row.subscription_id == meta.get("subscription_id"):
        book_invoice(invoice, creator_id)  # an abandoned attempt's invoice is refunded by sync, never booked


# ---- cancelling --------------------------------------------------------------------------------------------


def cancel(principal: Any, creator_id: str) -> Subscription:
    """DELETE /creators/{id}/subscription: at the period's end (access stays until then), or now if unpaid."""
    row = store.subscription_of(principal.user_id, creator_id)
    if row is None or row.status in states.ENDED or (row.status == "incomplete" and not row.stripe_subscription_id):
        raise NotFoundError("You are not subscribed to this creator.", code="not_subscribed")
    step = states.cancel_step(row.status, bool(row.cancel_at_period_end))
    if step == "nothing":
        return row
    if row.method == "card" and row.stripe_subscription_id:
        sid = row.stripe_subscription_id
        if step == "at_period_end":
            sub = stripe.update_subscription(
                sid,
                idempotency_key=f"subscription:{row.subscription_id}:cancel-at-period-end",
                cancel_at_period_end=True,
            )
        else:
            sub = stripe.cancel_subscription(sid, idempotency_key=f"subscription:{row.subscription_id}:cancel")
        return sync(sub) or row
    for _ in range(MAX_ATTEMPTS):
        if step == "at_period_end":
            new = _copy(row, cancel_at_period_end=True)
        else:
            new = _copy(row, status="canceled", counted=False, renew_due=None, renew_at=None, canceled_at=_now())
        try:
            return _commit(row, new)
        except _Stale:
            again = store.subscription_of(principal.user_id, creator_id)
            if again is None:
                break
            row = again
            step = states.cancel_step(row.status, bool(row.cancel_at_period_end))
            if step == "nothing":
                return row
    raise ConflictError("Your subscription changed at the same time; retry.", code="subscription_changed")


# ---- wallet renewals (the subscriptions.renew sweep) --------------------------------------------------------


def _wallet_state(row: Subscription) -> states.WalletState:
    assert row.current_period_start is not None and row.current_period_end is not None
    return states.WalletState(
        status=row.status,
        period=int(row.period or 0),
        current_period_start=row.current_period_start,
        current_period_end=row.current_period_end,
        cancel_at_period_end=bool(row.cancel_at_period_end),
        past_due_since=row.past_due_since,
    )


def _with_state(row: Subscription, state: states.WalletState, at: datetime, grace: int) -> Subscription:
    nxt = states.next_check(state, grace, at)
    access = states.has_access(state.status, state.current_period_end, state.cancel_at_period_end, at)
    return _copy(
        row,
        status=state.status,
        period=state.period,
        current_period_start=state.current_period_start,
        current_period_end=state.current_period_end,
        past_due_since=state.past_due_since,
        counted=access,
        renew_due=store.DUE if nxt is not None else None,
        renew_at=nxt,
        canceled_at=at if state.status == "canceled" else row.canceled_at,
    )


def renew(subscriber_id: str, creator_id: str) -> str:
    """One wallet subscription's due step: charge the next period once, fall to past_due, or cancel. Returns
    what it did (for logs and tests)."""
    settings = get_settings()
    grace, days = settings.subscription_grace_days, settings.subscription_period_days
    for _ in range(MAX_ATTEMPTS):
        row = store.subscription_of(subscriber_id, creator_id)
        at = _now()
        if row is None or row.method != "wallet" or row.renew_due is None:
            return "none"
        if row.renew_at is not None and row.renew_at > at:
            return "none"
        state = _wallet_state(row)
        action = states.renewal_action(state, at, grace)
        try:
            if action == "cancel":
                _commit(row, _with_state(row, states.after_cancel(state), at, grace))
                return "canceled"
            if action == "none":
                _commit(row, _with_state(row, state, at, grace))  # reschedule (or leave the index)
                return "none"
            paid = states.after_charge(state, True, at, days)
            new = _with_state(row, paid, at, grace)

            def extra(tx: TransactWrite, row: Subscription = row, new: Subscription = new) -> None:
                # read again on every attempt of the posting: a concurrent write (a cancel) since our read is
                # re-evaluated from the start (the loop below), never retried as is with a stale condition
                again = store.subscription_of(subscriber_id, creator_id)
                if again is None or int(again.rev or 0) != int(row.rev or 0):
                    raise _Stale()
                _ops(tx, row, new)

            try:
                earnings.book(
                    SOURCE,
                    f"{row.subscription_id}:{paid.period}",
                    creator_id,
                    int(row.price_cents),
                    row.currency,
                    at=at,
                    payer_wallet=subscriber_id,
                    extra=extra,
                )
                return "renewed"
            except PaymentRequiredError:
                _commit(row, _with_state(row, states.after_charge(state, False, at, days), at, grace))
                return "past_due"
        except _Stale:
            continue
    return "contended"


def on_renewals(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``subscriptions.renew`` sweep consumer: the wallet subscriptions whose next step is due (the sparse
    by_renewal index, soonest first), up to ``limit``; the cursor is the index's last key."""
    keys = store.renewals_due(_now(), limit, (cursor or {}).get("key"))
    count = 0
    for key in keys:
        count += 1
        try:
            renew(key.subscriber_id, key.creator_id)
        except Exception:
            log.warning(
                "renewal failed; the next sweep retries", extra={"subscriber_id": key.subscriber_id}, exc_info=True
            )
    last = keys.last_evaluated_key
    return {"key": last} if count >= limit and last else None


# ---- reads -------------------------------------------------------------------------------------------------


def view(row: Subscription) -> dict[str, Any]:
    return {
        "id": row.subscription_id,
        "subscriber_id": row.subscriber_id,
        "creator_id": row.creator_id,
        "method": row.method,
        "status": row.status,
        "access": _access(row),
        "price_cents": int(row.price_cents),
        "currency": row.currency,
        "current_period_end": _base.iso(row.current_period_end),
        "cancel_at_period_end": bool(row.cancel_at_period_end),
        "created_at": _base.iso(row.created_at),
    }


def mine(user_id: str, limit: int, cursor: str | None) -> tuple[list[Subscription], str | None]:
    from chalicelib import pagination

    scope = f"subscriptions:{user_id}"
    rows = store.subscriptions_of(user_id, limit, pagination.decode(scope, cursor))
    return pagination.page(scope, rows, limit)


def subscribers(user_id: str, limit: int, cursor: str | None) -> tuple[list[Subscription], str | None]:
    from chalicelib import pagination

    scope = f"subscribers:{user_id}"
    rows = store.subscribers_of(user_id, limit, pagination.decode(scope, cursor))
    return pagination.page(scope, rows, limit)


def grants(caller: Caller, photos: list[Any]) -> Mapping[str, Grants]:
    """The subscription grant source: ONE BatchGetItem of the caller's rows for the distinct owners of the page
    -> ``Grants(subscribed=True)`` for the items of creators the caller has access to. It reads for every page,
    locked items or not, so a locked page costs the same calls as an unlocked one."""
    if caller.user_id is None:
        return {}
    owners = [p.owner_id for p in photos if p.owner_id != caller.user_id]
    if not owners:
        return {}
    rows = store.subscriptions_to(caller.user_id, owners)
    at = _now()
    allowed = {creator for creator, row in rows.items() if _access(row, at)}
    return {p.photo_id: Grants(subscribed=True) for p in photos if p.owner_id in allowed}
