"""Two-factor authentication (TOTP, RFC 6238): a user's enrolment and the sign-in challenges it causes.

Access patterns (see docs/data-model.md):
- a user's second factor ................ TwoFactor GetItem(user_id), consistent
- spend a TOTP step / a recovery code ... TwoFactor UpdateItem conditioned on ``last_step`` < step / on the
                                          code's stored hash (in one transaction with the challenge)
- a sign-in challenge by token .......... TwoFactorChallenges GetItem(sha256(token)), single use by condition
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from chalicelib.models.base import register, table_meta


@register
class TwoFactor(Model):
    """One row per user who started a setup. ``pending_secret`` is the setup not enabled yet (a new setup
    replaces it); ``secret`` the enabled one, never returned by any route. ``last_step`` is the newest TOTP
    time step accepted: a code is taken only for a strictly newer step, so no code works twice.
    ``recovery_codes``: ``"r<n>" -> "<salt hex>$<hmac-sha256 hex>"``, an entry removed when its code is used.

    The secrets are stored as they are (the table is encrypted at rest by DynamoDB, and only the API
    function's role may read it); there is no KMS envelope yet (docs/data-model.md)."""

    Meta = table_meta("two_factor")

    user_id = UnicodeAttribute(hash_key=True)
    pending_secret = UnicodeAttribute(null=True)
    pending_since = UTCDateTimeAttribute(null=True)
    secret = UnicodeAttribute(null=True)
    enabled_at = UTCDateTimeAttribute(null=True)
    last_step = NumberAttribute(null=True)
    recovery_codes: MapAttribute[str, Any] = MapAttribute(default=dict)


@register
class TwoFactorChallenge(Model):
    """The second step of a sign-in of an account with two-factor auth: an opaque token (only its SHA-256 is
    stored), short-lived and spent once, that remembers how the sign-in asked for its session (``body`` or
    ``cookie``)."""

    Meta = table_meta("two_factor_challenges")

    token_hash = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    session_mode = UnicodeAttribute(default="body")
    valid_until = NumberAttribute()
    used = BooleanAttribute(default=False)
    expires_at = TTLAttribute()


def two_factor_of(user_id: str) -> TwoFactor | None:
    try:
        return TwoFactor.get(user_id, consistent_read=True)
    except TwoFactor.DoesNotExist:
        return None


def challenge_by_hash(token_hash: str) -> TwoFactorChallenge | None:
    try:
        return TwoFactorChallenge.get(token_hash, consistent_read=True)
    except TwoFactorChallenge.DoesNotExist:
        return None
