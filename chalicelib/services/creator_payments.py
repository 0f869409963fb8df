"""Wallet top-ups, staff deposits, tips and pay-per-view purchases (docs/wallet.md).

Every movement is one ledger transaction booked through :mod:`chalicelib.services.earnings`, with the rows that
change with the money (the payment's status, the buyer's purchase entry, ``Photo.purchase_count``, the audit
row) in the same TransactWrite (``extra``):

- a top-up: ``top_up:<id>`` (clearing -> the payer's wallet), card only;
- a staff deposit: ``deposit:<id>`` (platform:deposits -> the wallet) with its ``WalletAudit`` row;
- a tip / a purchase: ``tips:<id>`` / ``purchases:<id>`` (the card payment in clearing, or the payer's wallet,
  -> fee + the creator's pending earning, released after the hold period);
- a refund of a tip or purchase: ``refund:rf_<id>`` (``earnings.reverse``: back to the wallet, or to the card
  through a Stripe refund with the key ``refund:rf_<id>``);
- Stripe's view (``on_charge_refunded``, ``on_dispute``): each refund at Stripe (partial ones included) and each
  lost dispute of a card tip, purchase, top-up or creator subscription invoice goes through ``reverse_charge``,
  booked once by the refund's (or dispute's) id; a top-up reversal takes what the wallet holds and leaves the
  rest owed (``earnings.reverse_top_up``).

Ids are derived from the payer and the request's ``Idempotency-Key``, so a retry finds its row; the ledger
transaction id is derived from the row's, so a payment is booked exactly once whichever of the wallet path, the
confirm route, the ``payment_intent.*`` webhook or a replay gets there first (the loser's TransactWrite fails on
the transaction row and posts nothing).

Card payments follow checkout's pattern: a PaymentIntent (Stripe key ``<kind>:<id>:pi``, metadata ``kind`` and
``<kind>_id``), confirmed by the client (Stripe.js) or by the confirm route with a saved card, fulfilled by
:func:`fulfil`, which re-reads the PaymentIntent and books only if it succeeded for the row's amount and
currency. Wallet payments are booked at once; a short wallet is ``402 insufficient_funds`` and writes nothing.

Pay-per-view exclusivity: the buyer's ``Purchase`` row names the one purchase holding the item (``ppv_id``,
claimed with a condition before the booking, removed by its refund), so two concurrent purchases of the same
item never both stand: a wallet one answers ``409 already_purchased``, a card one that succeeded anyway is
refunded at once (status ``failed``).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.config import get_settings
from chalicelib.errors import ConflictError, ForbiddenError, NotFoundError, PaymentRequiredError, ValidationError
from chalicelib.logs import get_logger
from chalicelib.models.base import PutError, UpdateError, condition_failed, iso, new_id, now
from chalicelib.models.creator_payments import CreatorPayment, WalletAudit, audit_of, get_payment
from chalicelib.models.orders import Purchase
from chalicelib.models.photos import Photo
from chalicelib.models.users import user_by_id
from chalicelib.payments import stripe_gateway as stripe
from chalicelib.services import earnings, purchases

log = get_logger(__name__)

PREFIX = {"top_up": "tu_", "tip": "tip_", "purchase": "ppv_", "deposit": "dep_"}
META_ID = {"top_up": "top_up_id", "tip": "tip_id", "purchase": "purchase_id"}  # PaymentIntent metadata
SOURCE = {"tip": "tips", "purchase": "purchases"}  # earnings sources
REFUNDABLE = ("tip", "purchase")
MAX_MESSAGE = 500
CLAIM_STALE = timedelta(seconds=60)  # longer than the API function's timeout: an older unbooked claim is dead


# ---- pure rules ----------------------------------------------------------------------------------------------


def payment_id_for(kind: str, user_id: str, request_key: str | None, scope: str = "") -> str:
    """The row's id: derived from the caller's ``Idempotency-Key`` (a retry resumes the same payment), else new."""
    if not request_key:
        return new_id(PREFIX[kind])
    digest = hashlib.sha256(f"{kind}\n{user_id}\n{scope}\n{request_key}".encode()).hexdigest()[:24]
    return f"{PREFIX[kind]}{digest}"


def refund_id_for(payment_id: str) -> str:
    """A tip or purchase is refunded in full, once: its refund's id (and Stripe key ``refund:<it>``)."""
    return f"rf_{payment_id}"


def check_currency(currency: str) -> None:
    if currency not in stripe.STRIPE_CURRENCIES:
        raise ValidationError(
            f"Payments in {currency.upper() or 'this currency'} are not supported.",
            code="currency_unsupported",
            details={"currency": "not a supported currency"},
        )


def check_amount(amount: int, low: int, high: int, field: str = "amount_cents") -> None:
    if not low <= amount <= high:
        raise ValidationError(
            f"The amount must be between {low} and {high}.",
            code="amount_out_of_range",
            details={field: f"must be between {low} and {high}"},
        )


# ---- views ---------------------------------------------------------------------------------------------------


def view(row: CreatorPayment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.payment_id,
        "status": row.status,
        "amount_cents": int(row.amount_cents),
        "currency": row.currency,
        "payment_method": row.payment_method,
        "created_at": iso(row.created_at),
        "paid_at": iso(row.paid_at),
    }
    if row.kind == "tip":
        out.update(creator_id=row.earner_id, message=row.message)
    if row.kind == "purchase":
        out.update(creator_id=row.earner_id, photo_id=row.photo_id)
    return out


def payment_out(row: CreatorPayment, pi: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "payment_intent_id": row.payment_intent_id,
        "client_secret": pi.get("client_secret") if pi else None,
        "publishable_key": stripe.publishable_key(),
        "status": pi.get("status") if pi else ("succeeded" if row.status in ("paid", "refunded") else row.status),
    }


def _own(principal: Any, kind: str, payment_id: str) -> CreatorPayment:
    row = get_payment(payment_id)
    if row is None or row.kind != kind or row.payer_id != principal.user_id:
        raise NotFoundError("No such payment.")
    return row


def _same_request(existing: CreatorPayment, row: CreatorPayment) -> CreatorPayment:
    fields = ("kind", "payer_id", "earner_id", "photo_id", "amount_cents", "currency", "payment_method")
    if any(getattr(existing, f) != getattr(row, f) for f in fields):
        raise ConflictError("This Idempotency-Key was used for a different payment.", code="idempotency_key_reused")
    return existing


# ---- card payments -------------------------------------------------------------------------------------------


def _start_card(row: CreatorPayment) -> tuple[CreatorPayment, dict[str, Any] | None]:
    """Write the row (once) and give it its PaymentIntent (Stripe key ``<kind>:<id>:pi``)."""
    existing = get_payment(row.payment_id)
    if existing is None:
        try:
            row.save(condition=CreatorPayment.payment_id.does_not_exist())
        except PutError as exc:
            if not condition_failed(exc):
                raise
            existing = get_payment(row.payment_id)
    if existing is not None:
        row = _same_request(existing, row)
    return ensure_payment_intent(row)


def ensure_payment_intent(row: CreatorPayment) -> tuple[CreatorPayment, dict[str, Any] | None]:
    from chalicelib.services.checkout import ensure_customer

    if row.status != "awaiting_payment":
        return row, None
    if row.payment_intent_id:
        return row, stripe.retrieve_payment_intent(row.payment_intent_id)
    pi = stripe.create_payment_intent(
        int(row.amount_cents),
        row.currency,
        idempotency_key=f"{row.kind}:{row.payment_id}:pi",
        metadata={"kind": row.kind, META_ID[row.kind]: row.payment_id},
        customer_id=ensure_customer(row.payer_id),
    )
    try:
        row.update(
            actions=[CreatorPayment.payment_intent_id.set(pi["id"]), CreatorPayment.payment_status.set(pi["status"])],
            condition=CreatorPayment.payment_intent_id.does_not_exist(),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        again = get_payment(row.payment_id)
        assert again is not None
        return ensure_payment_intent(again)  # the same PaymentIntent (same Stripe key), stored by the other
    return row, pi


def _record_status(payment_id: str, status: str | None) -> None:
    if not status:
        return
    try:
        CreatorPayment(payment_id=payment_id).update(
            actions=[CreatorPayment.payment_status.set(status)],
            condition=CreatorPayment.status == "awaiting_payment",
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


def _next_attempt(row: CreatorPayment) -> int:
    try:
        row.update(
            actions=[CreatorPayment.payment_attempts.add(1)], condition=CreatorPayment.status == "awaiting_payment"
        )
    except UpdateError as exc:
        if condition_failed(exc):
            raise ConflictError("This payment can no longer be paid.", code="not_payable") from None
        raise
    return int(row.payment_attempts)


def confirm(
    principal: Any, kind: str, payment_id: str, payment_method_id: str | None
) -> tuple[CreatorPayment, dict[str, Any]]:
    """The confirm routes: with a saved card the server sets it on the PaymentIntent and confirms; without, it
    reads the PaymentIntent (Stripe.js confirmed it). Either way it fulfils as the webhook does."""
    row = _own(principal, kind, payment_id)
    if row.status != "awaiting_payment":
        return row, {"status": "succeeded" if row.status in ("paid", "refunded") else row.status}
    row, pi = ensure_payment_intent(row)
    assert pi is not None and row.payment_intent_id
    if payment_method_id and pi.get("status") in ("requires_payment_method", "requires_confirmation"):
        from chalicelib.services.checkout import ensure_customer

        method = stripe.retrieve_payment_method(payment_method_id)
        owner = method.get("customer")
        if owner and owner != ensure_customer(principal.user_id):
            raise NotFoundError("No such payment method.")
        attempt = _next_attempt(row)
        stripe.update_payment_intent(
            row.payment_intent_id, idempotency_key=f"{kind}:{payment_id}:pm:{attempt}", payment_method=payment_method_id
        )
        try:
            pi = stripe.confirm_payment_intent(
                row.payment_intent_id, idempotency_key=f"{kind}:{payment_id}:confirm:{attempt}"
            )
        except stripe.CardDeclinedError:
            _record_status(payment_id, "requires_payment_method")
            raise
    row = fulfil(payment_id, pi)
    status = "succeeded" if row.status == "paid" else str(pi.get("status"))
    if row.status == "failed":
        status = row.payment_status or "failed"
    payment: dict[str, Any] = {"status": status}
    if status == "requires_action":
        payment["client_secret"] = pi.get("client_secret")
    return row, payment


def _charge_id(pi: dict[str, Any]) -> str | None:
    from chalicelib.services.checkout import _charge_id as charge_of

    return charge_of(pi)


def fulfil(payment_id: str, pi: dict[str, Any] | None = None) -> CreatorPayment:
    """Book a card payment whose PaymentIntent succeeded (re-read from Stripe unless just returned by it) for the
    row's amount and currency. Exactly once (the ledger transaction id); idempotent; any order of events."""
    row = get_payment(payment_id)
    if row is None:
        raise NotFoundError("No such payment.")
    if row.status != "awaiting_payment" or not row.payment_intent_id:
        return row
    if pi is None or pi.get("id") != row.payment_intent_id:
        pi = stripe.retrieve_payment_intent(row.payment_intent_id)
    if pi.get("status") != "succeeded":
        _record_status(payment_id, pi.get("status"))
        return get_payment(payment_id) or row
    if int(pi.get("amount") or 0) != int(row.amount_cents) or str(pi.get("currency")).lower() != row.currency:
        log.error("payment does not match its row", extra={"payment_id": payment_id, "pi": pi.get("id")})
        _record_status(payment_id, "amount_mismatch")
        return row
    at = now()
    actions: list[Action] = [
        CreatorPayment.status.set("paid"),
        CreatorPayment.paid_at.set(at),
        CreatorPayment.payment_status.set("succeeded"),
    ]
    charge = _charge_id(pi)
    if charge:
        actions.append(CreatorPayment.charge_id.set(charge))

    def mark(tx: TransactWrite) -> None:
        tx.update(CreatorPayment(payment_id=payment_id), actions=actions)

    if row.kind == "top_up":
        booked = earnings.top_up(payment_id, row.payer_id, int(row.amount_cents), row.currency, at=at, extra=mark)
    elif row.kind == "tip":
        booked = _book(row, at, mark)
    else:
        if not _claim(row):
            _refund_duplicate(row, pi)
            return get_payment(payment_id) or row
        booked = _book(row, at, earnings.both(mark, _ppv_extra(row, at)))
    fresh = get_payment(payment_id) or row
    if booked:
        _after_paid(fresh)
    return fresh


def on_payment_intent(pi: dict[str, Any]) -> None:
    """``payment_intent.*`` webhooks of our creator payments (metadata ``kind``): fulfil (or record a status)."""
    kind = (pi.get("metadata") or {}).get("kind")
    payment_id = (pi.get("metadata") or {}).get(META_ID.get(str(kind), ""), "")
    row = get_payment(payment_id) if payment_id else None
    if row is None or row.kind != kind or row.payment_intent_id != pi.get("id"):
        log.info("payment intent of no payment of ours", extra={"payment_intent_id": pi.get("id")})
        return
    fulfil(payment_id, pi)


def _refund_duplicate(row: CreatorPayment, pi: dict[str, Any]) -> None:
    """A card purchase of an item the buyer got meanwhile through another purchase: give the money back."""
    refund_id = refund_id_for(row.payment_id)
    stripe.refund_payment_intent(
        str(pi["id"]),
        idempotency_key=f"refund:{refund_id}",
        metadata={"kind": row.kind, META_ID[row.kind]: row.payment_id, "refund_id": refund_id},
    )
    try:
        CreatorPayment(payment_id=row.payment_id).update(
            actions=[
                CreatorPayment.status.set("failed"),
                CreatorPayment.payment_status.set("refunded_duplicate"),
                CreatorPayment.refund_id.set(refund_id),
            ],
            condition=CreatorPayment.status == "awaiting_payment",
        )
    except UpdateError as exc:  # the concurrent confirm or webhook marked it first
        if not condition_failed(exc):
            raise


# ---- booking -------------------------------------------------------------------------------------------------


def _book(row: CreatorPayment, at: Any, extra: earnings.Extra) -> bool:
    assert row.earner_id
    wallet = row.payer_id if row.payment_method == "wallet" else None
    return earnings.book(
        SOURCE[row.kind], row.payment_id, row.earner_id, int(row.amount_cents), row.currency,
        at=at, payer_wallet=wallet, extra=extra,
    )  # fmt: skip


def _claim(row: CreatorPayment) -> bool:
    """Name this purchase the one holding the item for the buyer (False: another purchase holds it). A claim
    left by a wallet purchase that was never booked (its row does not exist: a crash between claim and booking)
    is taken over once it is older than ``CLAIM_STALE``, conditioned on it still being that one."""
    holder: str | None = None
    for _ in range(3):
        condition = Purchase.ppv_id.does_not_exist() | (Purchase.ppv_id == row.payment_id)
        if holder is not None:
            condition = condition | (Purchase.ppv_id == holder)
        try:
            Purchase(buyer_id=row.payer_id, photo_id=row.photo_id).update(
                actions=[
                    Purchase.ppv_id.set(row.payment_id),
                    Purchase.items.set(Purchase.items | {}),
                    Purchase.updated_at.set(now()),
                ],
                condition=condition,
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
            try:
                found: Purchase | None = Purchase.get(row.payer_id, row.photo_id, consistent_read=True)
            except Purchase.DoesNotExist:
                found = None
            current = found.ppv_id if found is not None else None
            if found is not None and current and (get_payment(current) or found.updated_at > now() - CLAIM_STALE):
                return False  # paid, a card payment that succeeded and is being booked, or a booking under way
            holder = current
            continue
        return True
    return False


def _unclaim(row: CreatorPayment) -> None:
    try:
        Purchase(buyer_id=row.payer_id, photo_id=row.photo_id).update(
            actions=[Purchase.ppv_id.remove()], condition=Purchase.ppv_id == row.payment_id
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


def _ppv_extra(row: CreatorPayment, at: Any) -> earnings.Extra:
    key = purchases.ppv_key(row.payment_id)
    entry = {"kind": purchases.PPV, "state": purchases.ACTIVE, "purchase_id": row.payment_id}

    def extra(tx: TransactWrite) -> None:
        tx.update(
            Purchase(buyer_id=row.payer_id, photo_id=row.photo_id),
            actions=[Purchase.items[key].set(entry), Purchase.updated_at.set(at)],
            condition=Purchase.ppv_id == row.payment_id,
        )
        tx.update(
            Photo(photo_id=row.photo_id),
            actions=[Photo.purchase_count.add(1)],
            condition=Photo.photo_id.exists(),
        )

    return extra


def _wallet_pay(row: CreatorPayment) -> CreatorPayment:
    """Charge the payer's wallet at once: the row is written paid in the booking's transaction."""
    existing = get_payment(row.payment_id)
    if existing is not None:
        return _same_request(existing, row)  # booked before (a retry whose stored response is gone)
    at = now()
    row.status, row.paid_at, row.created_at = "paid", at, at

    def save(tx: TransactWrite) -> None:
        tx.save(row)

    if row.kind == "purchase":
        if not _claim(row):
            raise ConflictError("You already hold this item.", code="already_purchased")
        try:
            booked = _book(row, at, earnings.both(save, _ppv_extra(row, at)))
        except PaymentRequiredError:
            _unclaim(row)
            raise
    else:
        booked = _book(row, at, save)
    fresh = get_payment(row.payment_id) or row
    if booked:
        _after_paid(fresh)
    return fresh


def _after_paid(row: CreatorPayment) -> None:
    """The creator's notification (stored once, keyed by the payment, and pushed live). Best effort: the money
    is booked already, so a failure here is logged and never fails the payment."""
    try:
        _notify(row)
    except Exception:
        log.warning("payment notification failed", extra={"payment_id": row.payment_id}, exc_info=True)


def _notify(row: CreatorPayment) -> None:
    from chalicelib.services import notifications

    if row.kind == "tip" and row.earner_id:
        target = {"kind": "tip", "id": row.payment_id, "amount_cents": int(row.amount_cents), "currency": row.currency}
        if row.message:
            target["message"] = row.message
        notifications.notify(row.earner_id, "tip", actor_id=row.payer_id, target=target, dedupe=row.payment_id)
    elif row.kind == "purchase" and row.earner_id:
        target = {
            "kind": "photo",
            "id": row.photo_id,
            "purchase_id": row.payment_id,
            "amount_cents": int(row.amount_cents),
            "currency": row.currency,
        }
        notifications.notify(row.earner_id, "purchase", actor_id=row.payer_id, target=target, dedupe=row.payment_id)


# ---- the routes' services ------------------------------------------------------------------------------------


def create_top_up(
    principal: Any, amount: int, currency: str, request_key: str | None
) -> tuple[CreatorPayment, dict[str, Any]]:
    check_currency(currency)
    check_amount(amount, stripe.min_charge(currency), get_settings().wallet_top_up_max_cents)
    row = CreatorPayment(
        payment_id=payment_id_for("top_up", principal.user_id, request_key),
        kind="top_up",
        payer_id=principal.user_id,
        amount_cents=amount,
        currency=currency,
        payment_method="card",
        status="awaiting_payment",
    )
    row, pi = _start_card(row)
    return row, payment_out(row, pi)


def _creator(user_id: str, payer_id: str) -> Any:
    user = user_by_id(user_id)
    if user is None or user.role != "creator":
        raise NotFoundError("No such creator.")
    if user_id == payer_id:
        raise ValidationError("You cannot pay yourself.", code="own_account")
    if not user.creator_verified:
        raise ForbiddenError("This creator cannot receive payments yet.", code="creator_not_verified")
    return user


def _pay(row: CreatorPayment) -> tuple[CreatorPayment, dict[str, Any] | None]:
    if row.payment_method == "wallet":
        return _wallet_pay(row), None
    check_amount(int(row.amount_cents), stripe.min_charge(row.currency), stripe.MAX_CHARGE)
    row, pi = _start_card(row)
    return row, payment_out(row, pi)


def create_tip(
    principal: Any,
    creator_id: str,
    amount: int,
    currency: str,
    message: str | None,
    payment_method: str,
    request_key: str | None,
) -> tuple[CreatorPayment, dict[str, Any] | None]:
    check_currency(currency)
    check_amount(amount, 1, get_settings().tip_max_cents)
    _creator(creator_id, principal.user_id)
    row = CreatorPayment(
        payment_id=payment_id_for("tip", principal.user_id, request_key, creator_id),
        kind="tip",
        payer_id=principal.user_id,
        earner_id=creator_id,
        amount_cents=amount,
        currency=currency,
        message=message or None,
        payment_method=payment_method,
        status="awaiting_payment",
    )
    return _pay(row)


def create_purchase(
    principal: Any, photo_id: str, payment_method: str, request_key: str | None
) -> tuple[CreatorPayment, dict[str, Any] | None]:
    from chalicelib.services import photos as photos_service

    photo, _, _ = photos_service.readable(principal, photo_id)
    if photo.owner_id == principal.user_id:
        raise ValidationError("You cannot buy your own item.", code="own_item")
    if (photo.access or "free") != "paid" or not photo.price_cents or not photo.currency:
        raise ConflictError("This item is not sold pay-per-view.", code="not_for_sale")
    _creator(photo.owner_id, principal.user_id)
    row = CreatorPayment(
        payment_id=payment_id_for("purchase", principal.user_id, request_key, photo_id),
        kind="purchase",
        payer_id=principal.user_id,
        earner_id=photo.owner_id,
        photo_id=photo_id,
        amount_cents=int(photo.price_cents),
        currency=photo.currency,
        payment_method=payment_method,
        status="awaiting_payment",
    )
    existing = get_payment(row.payment_id)
    if existing is None:
        try:
            held = Purchase.get(principal.user_id, photo_id, consistent_read=True)
        except Purchase.DoesNotExist:
            held = None
        if purchases.holds_ppv(held):
            raise ConflictError("You already hold this item.", code="already_purchased")
    return _pay(row)


# ---- staff deposits ------------------------------------------------------------------------------------------


def deposit(
    principal: Any, user_id: str, amount: int, currency: str, reason: str, request_key: str | None
) -> dict[str, Any]:
    """A staff deposit into a user's wallet (``deposit:<id>``), audited in the same transaction."""
    check_currency(currency)
    check_amount(amount, 1, get_settings().wallet_top_up_max_cents)
    user = user_by_id(user_id)
    if user is None:
        raise NotFoundError("No such user.")
    deposit_id = payment_id_for("deposit", principal.user_id, request_key, user_id)
    at = now()
    audit = WalletAudit(
        user_id=user_id,
        audit_key=f"{at.isoformat()}#{deposit_id}",
        deposit_id=deposit_id,
        actor_id=principal.user_id,
        amount_cents=amount,
        currency=currency,
        reason=reason,
        at=at,
    )

    from chalicelib.services import audit as audit_log

    details = {"deposit_id": deposit_id, "amount_cents": amount, "currency": currency, "reason": reason}
    entry = audit_log.entry(principal.user_id, "wallet.deposit", "user", user_id, details)

    def save(tx: TransactWrite) -> None:
        tx.save(audit)
        audit_log.add_to(tx, entry)

    earnings.deposit(deposit_id, user_id, amount, currency, at=at, extra=save)
    return audit_view(audit) | {"balance_cents": earnings.wallet_balance(user_id, currency)}


def audit_view(row: WalletAudit) -> dict[str, Any]:
    return {
        "id": row.deposit_id,
        "user_id": row.user_id,
        "actor_id": row.actor_id,
        "action": row.action,
        "amount_cents": int(row.amount_cents),
        "currency": row.currency,
        "reason": row.reason,
        "created_at": iso(row.at),
    }


def audit_page(user_id: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    from chalicelib import pagination

    scope = f"wallet_audit:{user_id}"
    rows, next_cursor = pagination.page(scope, audit_of(user_id, limit, pagination.decode(scope, cursor)), limit)
    return [audit_view(r) for r in rows], next_cursor


# ---- the wallet ----------------------------------------------------------------------------------------------


def wallet(user_id: str, currency: str, limit: int, cursor: str | None) -> dict[str, Any]:
    check_currency(currency)
    rows, next_cursor = earnings.wallet_entries(user_id, currency, limit, cursor)
    items = [
        {"id": e.tx_id, "amount_cents": int(e.amount), "kind": e.kind, "ref": e.ref, "created_at": iso(e.at)}
        for e in rows
    ]
    return {
        "balance_cents": earnings.wallet_balance(user_id, currency),
        "currency": currency,
        "owed_cents": earnings.wallet_owed(user_id, currency),
        "entries": {"items": items, "next_cursor": next_cursor},
    }


# ---- refunds -------------------------------------------------------------------------------------------------


def refund(principal: Any, kind: str, payment_id: str) -> CreatorPayment:
    """Staff: refund a paid tip or purchase in full, once (to the wallet, or to the card by Stripe)."""
    row = get_payment(payment_id)
    if row is None or row.kind != kind:
        raise NotFoundError("No such payment.")
    if kind not in REFUNDABLE:
        raise ConflictError("A top-up is refunded by spending it; it cannot be refunded here.", code="not_refundable")
    if row.status == "refunded":
        return row
    if row.status != "paid":
        raise ConflictError(f"A payment that is {row.status} cannot be refunded.", code="not_refundable")
    refund_id = refund_id_for(payment_id)
    if row.payment_method == "card":
        stripe.refund_payment_intent(
            row.payment_intent_id or "",
            idempotency_key=f"refund:{refund_id}",
            metadata={"kind": kind, META_ID[kind]: payment_id, "refund_id": refund_id},
        )
    _reverse(row, refund_id)
    _audit_refund(principal, row, refund_id)
    return get_payment(payment_id) or row


def _audit_refund(principal: Any, row: CreatorPayment, refund_id: str) -> None:
    """Recorded after the refund (Stripe's and the ledger's steps are not one transaction), once per refund id."""
    from chalicelib.services import audit

    details = {"kind": row.kind, "amount_cents": int(row.amount_cents), "currency": row.currency}
    details |= {"refund_id": refund_id, "payment_method": row.payment_method}
    audit.record(
        audit.entry(
            principal.user_id, "payment.refund", row.kind, row.payment_id, details, audit_id=f"refund:{refund_id}"
        )
    )


def _reverse(row: CreatorPayment, refund_id: str) -> None:
    at = now()
    actions: list[Action] = [
        CreatorPayment.status.set("refunded"),
        CreatorPayment.refunded_at.set(at),
        CreatorPayment.refund_id.set(refund_id),
    ]

    def extra(tx: TransactWrite) -> None:
        tx.update(CreatorPayment(payment_id=row.payment_id), actions=actions)
        if row.kind == "purchase":
            key = purchases.ppv_key(row.payment_id)
            tx.update(
                Purchase(buyer_id=row.payer_id, photo_id=row.photo_id),
                actions=[
                    Purchase.items[key]["state"].set("refunded"),
                    Purchase.ppv_id.remove(),
                    Purchase.updated_at.set(at),
                ],
                condition=Purchase.ppv_id == row.payment_id,
            )

    assert row.earner_id
    earnings.reverse(
        SOURCE[row.kind], row.payment_id, refund_id, row.earner_id, int(row.amount_cents), row.currency,
        at=at, payer_wallet=row.payer_id if row.payment_method == "wallet" else None, extra=extra,
    )  # fmt: skip


# ---- Stripe's view: charge.refunded and lost disputes of our creator charges ---------------------------------


class _Charge:
    """What a Stripe charge pays of ours: a tip, purchase or top-up (``row``) or a subscription invoice."""

    def __init__(
        self,
        row: CreatorPayment | None = None,
        invoice_id: str | None = None,
        creator_id: str | None = None,
        currency: str = "",
    ):
        self.row, self.invoice_id, self.creator_id, self.currency = row, invoice_id, creator_id, currency

    def describe(self) -> dict[str, Any]:
        return {"payment_id": self.row.payment_id} if self.row else {"invoice_id": self.invoice_id}


def _charge_target(pi: dict[str, Any]) -> _Charge | None:
    """Ours by the PaymentIntent's metadata ``kind`` (top_up, tip, purchase), or a creator subscription's invoice
    (the PaymentIntent's ``invoice``, the invoice's subscription with our metadata). None: not ours (an order's)."""
    kind = pi["metadata"].get("kind")
    if kind in META_ID:
        row = get_payment(pi["metadata"].get(META_ID[kind], "") or "-")
        if row is None or row.kind != kind or row.payment_intent_id != pi["id"]:
            return _Charge()  # our metadata, no row of ours: nothing to book (never an order's)
        return _Charge(row=row)
    invoice_id = pi.get("invoice")
    if not invoice_id:
        return None
    from chalicelib.services import subscriptions

    invoice = stripe.retrieve_invoice(str(invoice_id))
    sub_id = subscriptions._invoice_subscription(invoice)
    sub = stripe.retrieve_subscription(sub_id) if sub_id else None
    creator_id = ((sub or {}).get("metadata") or {}).get("creator_id")
    if sub is None or sub.get("customer") != invoice.get("customer") or not isinstance(creator_id, str):
        return None
    subscriptions.book_invoice(invoice, creator_id)  # booked once: a reversal may arrive before invoice.paid
    currency = str(invoice.get("currency") or "").lower()
    return _Charge(invoice_id=str(invoice["id"]), creator_id=creator_id, currency=currency)


def reverse_charge(target: _Charge, reversal_id: str, amount: int) -> None:
    """The one reversal path of a refund (``reversal_id``: ours from the metadata, else Stripe's refund id) or a
    lost dispute (the dispute id) of one of our creator charges, booked once by that id. Tips and purchases:
    ``earnings.reverse`` capped at what is left, the row ``refunded`` (a purchase re-locked) once nothing is
    left; top-ups: ``earnings.reverse_top_up``; subscription invoices: their ``subscriptions:<invoice>`` earning."""
    if amount <= 0:
        return
    if target.invoice_id and target.creator_id:
        left = earnings.refundable("subscriptions", target.invoice_id, target.creator_id)
        if left:
            amt = min(amount, left)
            earnings.reverse("subscriptions", target.invoice_id, reversal_id, target.creator_id, amt, target.currency)
        return
    row = target.row
    if row is not None and row.status == "awaiting_payment":
        row = fulfil(row.payment_id)  # paid, its payment_intent.succeeded not seen yet: book it first
    if row is None or row.status not in ("paid", "refunded") or row.payment_method != "card":
        log.info("creator charge reversal: nothing to book", extra={"fields": target.describe()})
        return
    if row.kind == "top_up":
        earnings.reverse_top_up(reversal_id, row.payment_id, row.payer_id, amount, row.currency)
        return
    assert row.earner_id
    left = earnings.refundable(SOURCE[row.kind], row.payment_id, row.earner_id)
    if left is None:
        raise ledger_not_booked(row)
    if left > 0:
        earnings.reverse(
            SOURCE[row.kind], row.payment_id, reversal_id, row.earner_id, min(amount, left), row.currency,
        )  # fmt: skip
    if earnings.refundable(SOURCE[row.kind], row.payment_id, row.earner_id) == 0:
        _close(row, reversal_id)


def ledger_not_booked(row: CreatorPayment) -> Exception:
    from chalicelib.services.ledger import NotBookedYet

    return NotBookedYet(f"{row.kind} {row.payment_id} is paid but not booked")


def _close(row: CreatorPayment, reversal_id: str) -> None:
    """Nothing is left of the earning: the row ``refunded``, a purchase re-locked (each step conditioned and
    idempotent, so a replay repairs a crash between them)."""
    at = now()
    try:
        CreatorPayment(payment_id=row.payment_id).update(
            actions=[
                CreatorPayment.status.set("refunded"),
                CreatorPayment.refunded_at.set(at),
                CreatorPayment.refund_id.set(reversal_id),
            ],
            condition=CreatorPayment.status == "paid",
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
    if row.kind == "purchase":
        try:
            Purchase(buyer_id=row.payer_id, photo_id=row.photo_id).update(
                actions=[
                    Purchase.items[purchases.ppv_key(row.payment_id)]["state"].set("refunded"),
                    Purchase.ppv_id.remove(),
                    Purchase.updated_at.set(at),
                ],
                condition=Purchase.ppv_id == row.payment_id,
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                raise


def on_charge_refunded(event: dict[str, Any]) -> bool:
    """``charge.refunded``: if the charge pays one of our creator payments or subscription invoices, book each of
    its refunds once (by our refund id from the metadata, so the staff route's refund reported again reverses
    nothing more; else by Stripe's refund id: dashboard refunds, partial ones included) and return True; else
    False (an order's)."""
    from chalicelib.payments import stripe_refunds
    from chalicelib.services.refunds import STRIPE_APPLIED

    charge_id = str(((event.get("data") or {}).get("object") or {}).get("id") or "")
    if not charge_id.startswith("ch_"):
        return False
    ch = stripe_refunds.charge(charge_id)
    if not ch["payment_intent"]:
        return False
    target = _charge_target(stripe_refunds.payment_intent(ch["payment_intent"]))
    if target is None:
        return False
    for refund in stripe_refunds.charge_refunds(charge_id):
        if refund["status"] in STRIPE_APPLIED:
            reverse_charge(target, str(refund["metadata"].get("refund_id") or refund["id"]), int(refund["amount"]))
    return True


def on_dispute(payment_intent_id: str | None, dispute: dict[str, Any], phase: str) -> bool:
    """A dispute of one of our creator charges (False: not ours). Lost: booked as a refund of the disputed
    amount (by the dispute's id: once). Open: logged only, the earning stays where it is (on hold, or available);
    won: nothing."""
    from chalicelib.payments import stripe_refunds

    if not payment_intent_id:
        return False
    target = _charge_target(stripe_refunds.payment_intent(payment_intent_id))
    if target is None:
        return False
    log.warning(
        f"dispute {phase} of a creator charge", extra={"fields": {"dispute_id": dispute["id"], **target.describe()}}
    )
    if phase == "lost":
        reverse_charge(target, str(dispute["id"]), int(dispute["amount"]))
    return True
