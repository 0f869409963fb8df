"""Users, uniqueness claims, login sessions (refresh-token families), one-time codes, rate counters.

Access patterns (see docs/data-model.md):
- user by id ............................ Users GetItem(user_id)
- user by email / by username ........... Claims GetItem("email#<lower>") / ("username#<lower>") -> user_id
- unique email / username ............... Claims put with attribute_not_exists, inside the signup transaction
- sessions of a user .................... Sessions GSI by_user (user_id, created_at)
- a session by family id ................ Sessions GetItem(family_id)
- pending code for (purpose, user) ...... Otps GetItem("<purpose>#<user_id>"), TTL-expired
- login failures in the current window .. RateCounters BatchGet(keys), TTL-expired
- a user's follower / following counts .. Users GetItem(user_id): counters kept by the follow transactions
- the account of a sign-in identity ..... Claims GetItem("oidc#<provider>#<sub>") -> user_id (models/identities)
- users of a role, newest first .......... Users GSI by_role (role, created_at), keys only, then BatchGet
- a user's reputation ................... Users GetItem(user_id): rating_count / rating_sum (the rating's
                                          transaction), events_hosted / events_attended (event and RSVP ones)
- who the admins are (last-admin guard) . Claims GetItem("roster#admin"), versioned; every change to or
                                          from the admin role writes it in the user's transaction
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.errors import ConflictError
from chalicelib.models.base import (
    DeleteError,
    cancellation_codes,
    condition_failed,
    connection,
    keys_only_index,
    now,
    register,
    table_meta,
)

ROLES = ("member", "photographer", "creator", "staff", "admin")
STAFF_ROLES = ("staff", "admin")
CREATOR_VERIFICATION = ("none", "pending", "approved", "rejected")


@register
class User(Model):
    Meta = table_meta("users")

    user_id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    username = UnicodeAttribute()
    display_name = UnicodeAttribute(null=True)
    bio = UnicodeAttribute(null=True)
    role = UnicodeAttribute(default="member")
    email_verified = BooleanAttribute(default=False)
    password_hash = UnicodeAttribute()
    created_at = UTCDateTimeAttribute(default=now)
    username_changed_at = UTCDateTimeAttribute(null=True)
    avatar_photo_id = UnicodeAttribute(null=True)
    # family_id -> epoch seconds of revocation; entries older than the access-token lifetime are pruned,
    # because by then every access token of that family has expired anyway.
    revoked_families: MapAttribute[str, Any] = MapAttribute(default=dict)
    # Ending every login at once (logout-all, password change/reset, deletion) is one bounded write: bump the
    # session generation. Tokens, sessions and sockets carry the generation they were issued under, and one
    # older than this is refused, except that of ``session_gen_kept`` (the login that changed the password).
    session_gen = NumberAttribute(default=0)
    session_gen_kept = UnicodeAttribute(null=True)
    # {"email": {type: bool}, "push": {type: bool}}; missing entries take the defaults in services/notifications
    notification_prefs: MapAttribute[str, Any] = MapAttribute(default=dict)
    deleted = BooleanAttribute(default=False)
    # Identity verification of a creator (CREATOR_VERIFICATION). Choosing the creator role at signup earns
    # nothing (premium media, plans, tips, payouts) until staff approve it: gate on ``creator_verified``.
    creator_verification = UnicodeAttribute(default="none")
    # checkout: the user's Stripe customer (saved cards, PaymentIntents), created once with a conditional update
    stripe_customer_id = UnicodeAttribute(null=True)
    # How many follow this user / whom they follow: ADDed in the transaction that writes or deletes the follow
    # (models/social.py), so the profile reads them with its GetItem. Missing (users from before the counters,
    # and new users until their first follow) reads as 0.
    follower_count = NumberAttribute(null=True)
    following_count = NumberAttribute(null=True)
    # Two-factor auth is on (models/twofactor.py holds the secret): set in the transaction that enables it,
    # so the login's GetItem of the user knows whether a challenge is due.
    two_factor_enabled = BooleanAttribute(null=True)
    # Sign-in identities linked to the account (models/identities.py): {"google"|"apple": {"sub", "email",
    # "linked_at"}}; each (provider, sub) is also a claim, so it belongs to one account. An account created by
    # such a sign-in has no password: ``password_hash`` is NO_PASSWORD, which no password verifies.
    identities: MapAttribute[str, Any] = MapAttribute(default=dict)
    # Suspension (services/moderation.py): set with a session-generation cut in one transaction; login and
    # refresh answer 403 account_suspended while it is set. Missing: active.
    suspended_at = UTCDateTimeAttribute(null=True)
    suspended_by = UnicodeAttribute(null=True)
    suspension_reason = UnicodeAttribute(null=True)
    # Staff stats (GET /staff/users). last_activity_at: written at a session start or refresh at most once per
    # ACTIVITY_GRANULARITY (a conditional update), never per request. photo_count: ready photos, ADDed with the
    # photo's ``owner_counted`` mark; orders_count: paid orders as buyer, ADDed with the order's mark. Missing
    # (accounts and content from before the counters, until a backfill) reads as 0.
    last_activity_at = UTCDateTimeAttribute(null=True)
    photo_count = NumberAttribute(null=True)
    orders_count = NumberAttribute(null=True)
    by_role = keys_only_index("users", "by_role", "role", "created_at")

    @property
    def suspended(self) -> bool:
        return self.suspended_at is not None

    # Reputation (services/ratings.py): ratings received (count and sum, ADDed in the rating's own transaction),
    # events created (ADDed with the event) and events gone to (+1 / -1 with each RSVP to or from ``going``).
    # Missing reads as 0.
    rating_count = NumberAttribute(null=True)
    rating_sum = NumberAttribute(null=True)
    events_hosted = NumberAttribute(null=True)
    events_attended = NumberAttribute(null=True)
    # auto-invite (services/autoinvite.py): interest terms, home, radius and the opt-in; indexed in interest_cells
    interests = UnicodeSetAttribute(null=True)
    home_lat = NumberAttribute(null=True)
    home_lon = NumberAttribute(null=True)
    radius_km = NumberAttribute(null=True)
    auto_invite = BooleanAttribute(null=True)

    @property
    def creator_verified(self) -> bool:
        return self.role == "creator" and self.creator_verification == "approved"

    @property
    def has_password(self) -> bool:
        return not self.password_hash.startswith("!")  # "!none" (never set), "!deleted" (a deleted account)


NO_PASSWORD = "!none"


def claim_key(kind: str, value: str) -> str:
    return f"{kind}#{value.lower()}"


@register
class Claim(Model):
    """A unique value (email, username) owned by one user. Written conditionally, so races cannot dup."""

    Meta = table_meta("claims")

    claim = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()


class AdminRoster(Model):
    """The one ``roster#admin`` item of the claims table: the ids of the users with the admin role, and a
    version that every write bumps, so a demotion conditioned on the version it read cannot race another
    (two admins demoting each other at once cannot leave none). Not registered: it lives in ``claims``."""

    Meta = table_meta("claims")

    claim = UnicodeAttribute(hash_key=True)
    admins = UnicodeSetAttribute(null=True)
    version = NumberAttribute(default=0)


ADMIN_ROSTER = "roster#admin"


class SessionsByUser(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


@register
class Session(Model):
    """One login = one refresh-token family. Only ``current_jti`` may be refreshed; any other is a replay."""

    Meta = table_meta("sessions")

    family_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    current_jti = UnicodeAttribute()
    revoked = BooleanAttribute(default=False)
    session_gen = NumberAttribute(default=0)  # the user's generation when the login began (see User)
    created_at = UTCDateTimeAttribute(default=now)
    last_used_at = UTCDateTimeAttribute(default=now)
    user_agent = UnicodeAttribute(null=True)
    source_ip = UnicodeAttribute(null=True)
    expires_at = TTLAttribute()
    by_user = SessionsByUser()


@register
class Otp(Model):
    """A pending one-time code, stored as an HMAC, never in clear."""

    Meta = table_meta("otps")

    key = UnicodeAttribute(hash_key=True)  # "<purpose>#<user_id>"
    code_hash = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    sent_at = NumberAttribute()
    valid_until = NumberAttribute()
    payload = UnicodeAttribute(null=True)  # e.g. the new email address for an email change
    issue_day = NumberAttribute(default=0)  # days since the epoch of ``issued_today``
    issued_today = NumberAttribute(default=0)  # codes sent that day: caps guesses per day, not just per code
    expires_at = TTLAttribute()


@register
class RateCounter(Model):
    """Fixed-window counter (``<scope>#<window start>``), expired by TTL."""

    Meta = table_meta("rate_counters")

    key = UnicodeAttribute(hash_key=True)
    # The stored name the ratelimit service uses; it shadows Model.count(), which is never called on counters.
    count = NumberAttribute(default=0)  # type: ignore[assignment]
    expires_at = TTLAttribute()


# ---- access patterns -------------------------------------------------------------------------------------


def user_by_id(user_id: str, *, consistent: bool = False) -> User | None:
    try:
        user = User.get(user_id, consistent_read=consistent)
    except User.DoesNotExist:
        return None
    return None if user.deleted else user


def user_id_by_claim(kind: str, value: str) -> str | None:
    try:
        return Claim.get(claim_key(kind, value)).user_id
    except Claim.DoesNotExist:
        return None


def user_by_login(login: str, *, consistent: bool = False) -> User | None:
    """Login is an email (contains '@') or a username: one claim read, then one user read."""
    kind = "email" if "@" in login else "username"
    user_id = user_id_by_claim(kind, login)
    return user_by_id(user_id, consistent=consistent) if user_id else None


def create_user(user: User) -> None:
    """Write the user and both uniqueness claims in one transaction; 409 names what is taken."""
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(user, condition=User.user_id.does_not_exist())
            tx.save(
                Claim(claim=claim_key("email", user.email), user_id=user.user_id),
                condition=Claim.claim.does_not_exist(),
            )
            tx.save(
                Claim(claim=claim_key("username", user.username), user_id=user.user_id),
                condition=Claim.claim.does_not_exist(),
            )
    except TransactWriteError as exc:
        codes = cancellation_codes(exc)
        if len(codes) >= 3 and codes[1] == "ConditionalCheckFailed":
            raise ConflictError(
                "That email address is already registered.", code="email_taken", details={"email": "already registered"}
            ) from exc
        if len(codes) >= 3 and codes[2] == "ConditionalCheckFailed":
            raise ConflictError(
                "That username is taken.", code="username_taken", details={"username": "taken"}
            ) from exc
        raise ConflictError("The account could not be created; retry.") from exc


def move_claim(user: User, kind: str, old: str, new: str, user_actions: list) -> None:
    """Claim ``new`` and release ``old`` while updating the user, atomically."""
    same_key = claim_key(kind, old) == claim_key(kind, new)
    try:
        with TransactWrite(connection=connection()) as tx:
            if not same_key:
                tx.save(Claim(claim=claim_key(kind, new), user_id=user.user_id), condition=Claim.claim.does_not_exist())
                tx.delete(Claim(claim=claim_key(kind, old)), condition=Claim.user_id == user.user_id)
            tx.update(user, actions=user_actions, condition=getattr(User, kind) == old)
    except TransactWriteError as exc:
        codes = cancellation_codes(exc)
        if not same_key and codes and codes[0] == "ConditionalCheckFailed":
            label = "email address is already registered" if kind == "email" else "username is taken"
            raise ConflictError(f"That {label}.", code=f"{kind}_taken", details={kind: "taken"}) from exc
        raise ConflictError("Your account changed concurrently; retry.") from exc
    user.refresh(consistent_read=True)


def release_claims(user: User, *, email: str, username: str) -> None:
    for kind, value in (("email", email), ("username", username)):
        try:
            Claim(claim=claim_key(kind, value)).delete(condition=Claim.user_id == user.user_id)
        except DeleteError as exc:  # a claim already released or re-owned is fine
            if not condition_failed(exc):
                raise


def sessions_of_user(user_id: str) -> list[Session]:
    return list(Session.by_user.query(user_id))


def admin_roster() -> tuple[set[str], int]:
    """(the admins' ids as last written, the roster's version; 0 when never written)."""
    try:
        roster = AdminRoster.get(ADMIN_ROSTER, consistent_read=True)
    except AdminRoster.DoesNotExist:
        return set(), 0
    return set(roster.admins or ()), int(roster.version or 0)


def admins_among(user_ids: set[str]) -> set[str]:
    """Which of these users hold the admin role now (one consistent BatchGet)."""
    if not user_ids:
        return set()
    users = User.batch_get(list(user_ids), consistent_read=True)
    return {u.user_id for u in users if u.role == "admin" and not u.deleted}


def change_role(
    user: User,
    role: str,
    *,
    admins_after: set[str] | None = None,
    roster_version: int = 0,
    extra: Callable[[TransactWrite], None] | None = None,
) -> None:
    """Set the user's role, conditioned on the role that was read, in one transaction with the admin
    roster: a new admin is added to it; a demoted admin's roster becomes ``admins_after`` (never empty),
    conditioned on ``roster_version``. ``extra`` adds to the transaction (the audit entry). 409 when anything
    changed in between."""
    old = user.role
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(user, actions=[User.role.set(role)], condition=User.role == old)
            if extra is not None:
                extra(tx)
            if old == "admin" and role != "admin":
                if not admins_after:
                    raise ValueError("admins_after must name the remaining admins")
                tx.update(
                    AdminRoster(claim=ADMIN_ROSTER),
                    actions=[AdminRoster.admins.set(admins_after), AdminRoster.version.set(roster_version + 1)],
                    condition=(AdminRoster.version == roster_version)
                    if roster_version
                    else AdminRoster.claim.does_not_exist(),
                )
            elif role == "admin":
                tx.update(
                    AdminRoster(claim=ADMIN_ROSTER),
                    actions=[AdminRoster.admins.add({user.user_id}), AdminRoster.version.add(1)],
                )
    except TransactWriteError as exc:
        raise ConflictError("The roles changed concurrently; retry.") from exc
    user.role = role


def add_to_admin_roster(user_id: str) -> None:
    """For a user created as an admin (command-line tool)."""
    AdminRoster(claim=ADMIN_ROSTER).update(actions=[AdminRoster.admins.add({user_id}), AdminRoster.version.add(1)])
