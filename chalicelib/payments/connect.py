"""Stripe Connect for payouts: connected accounts and transfers to them (the earner's share of the platform's
balance). Locally localstripe has no Connect; infrastructure/local/stripe_connect.py serves exactly these calls.

Every call passes an idempotency key derived from our ids (``account:<user_id>``, ``payout:<payout_id>``), so a
retried job never creates a second account or pays twice. ``stripe`` is imported on first use only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from chalicelib import aws
from chalicelib.config import get_settings

_lock = threading.Lock()
_clients: dict[tuple[str, str | None], Any] = {}


class TransferRefused(Exception):
    """Stripe refused the transfer for good (e.g. the destination cannot receive transfers)."""

    def __init__(self, code: str | None, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Transfer:
    id: str
    amount: int
    currency: str
    destination: str


def client() -> Any:
    """One StripeClient per container and configuration (the secret from the environment locally, SSM in AWS)."""
    settings = get_settings()
    key = aws.secret(settings.stripe_secret_key, settings.stripe_secret_param)
    with _lock:
        found = _clients.get((key, settings.stripe_api_base))
        if found is None:
            import stripe

            base = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
            found = stripe.StripeClient(key, base_addresses=base, max_network_retries=2)  # type: ignore[arg-type]
            _clients[(key, settings.stripe_api_base)] = found
        return found


def create_account(user_id: str, email: str | None, country: str | None = None) -> str:
    """An Express connected account for the earner; its id."""
    params: dict[str, Any] = {
        "type": "express",
        "metadata": {"user_id": user_id},
        "capabilities": {"transfers": {"requested": True}},
    }
    if email:
        params["email"] = email
    if country:
        params["country"] = country
    account = client().v1.accounts.create(params=params, options={"idempotency_key": f"account:{user_id}"})
    return str(account.id)


def transfer(destination_account: str, amount: int, currency: str, idempotency_key: str) -> Transfer:
    """Move ``amount`` of the platform's balance to the connected account. Raises TransferRefused when Stripe
    refuses it (a 4xx); network and 5xx errors propagate (the job retries with the same key)."""
    import stripe

    try:
        result = client().v1.transfers.create(
            params={
                "amount": amount,
                "currency": currency,
                "destination": destination_account,
                "metadata": {"payout": idempotency_key},
            },
            options={"idempotency_key": idempotency_key},
        )
    except (stripe.InvalidRequestError, stripe.PermissionError) as exc:
        raise TransferRefused(getattr(exc, "code", None), str(exc.user_message or exc)) from exc
    return Transfer(str(result.id), int(result.amount), str(result.currency), str(result.destination))
