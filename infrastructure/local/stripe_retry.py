"""Retrying a declined PaymentIntent in localstripe, as Stripe allows (checkout).

In Stripe a PaymentIntent whose payment failed goes back to ``requires_payment_method``; setting another
payment method makes it ``requires_confirmation`` again and it can be confirmed. localstripe keeps the failed
charge as ``latest_charge``, so its status stays ``requires_payment_method`` forever and every later confirm is
a 400. Here an update that sets a new ``payment_method`` on such a PaymentIntent drops the failed attempt
(its charge object stays in the store, as a failed charge does in Stripe).
"""

from __future__ import annotations

from typing import Any


def install(app: Any) -> None:
    """Patch localstripe's PaymentIntent (no routes: the update call exists, its effect is fixed)."""
    from localstripe import resources

    original = resources.PaymentIntent._update
    if getattr(original, "_lightbox_retry", False):
        return

    def _update(self: Any, **data: Any) -> None:
        original(self, **data)
        if data.get("payment_method"):
            charge = getattr(self, "latest_charge", None)
            if charge is not None and getattr(charge, "status", None) == "failed":
                self.latest_charge = None
            self._authentication_failed = False

    _update._lightbox_retry = True  # type: ignore[attr-defined]
    resources.PaymentIntent._update = _update
