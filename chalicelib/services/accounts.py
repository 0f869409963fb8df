"""Accounts: signup and email verification, login and sessions, profile, username/email/password changes,
search and deletion.

Every answer that could tell a stranger whether an account exists (login, resend, forgot-password) is the
same for known and unknown accounts, and costs the same password-hashing time.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.config import get_settings
from chalicelib.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
    ValidationError,
)
from chalicelib.logs import get_logger
from chalicelib.models import identities
from chalicelib.models import search as search_index
from chalicelib.models.base import UpdateError, at_epoch, condition_failed, epoch, new_id, now
from chalicelib.models.users import (
    STAFF_ROLES,
    Session,
    User,
    add_to_admin_roster,
    admin_roster,
    admins_among,
    change_role,
    claim_key,
    create_user,
    move_claim,
    release_claims,
    user_by_id,
    user_by_login,
    user_id_by_claim,
)
from chalicelib.services import mailer, otp, passwords, ratelimit, tokens, twofactor

if TYPE_CHECKING:
    from collections.abc import Callable

    from pynamodb.expressions.update import Action
    from pynamodb.transactions import TransactWrite

log = get_logger(__name__)

SIGNUP_ROLES = ("member", "photographer", "creator")


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


@dataclass(frozen=True)
class Challenge:
    """A second factor is due: ``POST /auth/2fa/verify`` with this token and a code completes the sign-in."""

    challenge_token: str
    expires_in: int


def normalize_email(email: str) -> str:
    local, _, domain = email.strip().rpartition("@")
    return f"{local}@{domain.lower()}"


# ---- signup and verification ------------------------------------------------------------------------------


def signup(email: str, username: str, password: str, display_name: str | None, role: str = "member") -> User:
    if role not in SIGNUP_ROLES:
        raise ValidationError("That role cannot be chosen at signup.", details={"role": "not allowed"})
    email = normalize_email(email)
    passwords.check_policy(password, username=username, email=email)
    user = User(
        user_id=new_id("u_"),
        email=email,
        username=username,
        display_name=display_name or username,
        role=role,
        email_verified=False,
        password_hash=passwords.hash_password(password),
    )
    create_user(user)
    search_index.index_user(user.user_id, set(), search_index.user_terms(user.username, user.display_name))
    mailer.send_code(email, otp.SIGNUP, otp.issue(otp.SIGNUP, user.user_id))
    return user


def verify_email(email: str, code: str) -> User:
    user_id = user_id_by_claim("email", normalize_email(email))
    otp.check(otp.SIGNUP, user_id, code)
    user = User(user_id=user_id)
    user.update(actions=[User.email_verified.set(True)])
    _email_verified(user.user_id, email)
    return user


def resend_email_otp(email: str) -> None:
    user_id = user_id_by_claim("email", normalize_email(email))
    user = user_by_id(user_id) if user_id else None
    if user is None or user.email_verified:
        return
    try:
        mailer.send_code(user.email, otp.SIGNUP, otp.issue(otp.SIGNUP, user.user_id, enforce_cooldown=True))
    except RateLimitedError:
        return  # same answer either way: the caller learns nothing about the account


# ---- login and sessions ------------------------------------------------------------------------------------


def _start_session(user: User, source_ip: str, user_agent: str) -> TokenPair:
    """The login belongs to the session generation of ``user`` as read (consistently) before anything is
    written: a logout-all or password reset that commits after that read ends it too, however they interleave.
    Every sign-in path starts its session here, so a suspended account (``403 account_suspended``) gets none;
    a suspension committing after the read cuts the generation, which ends this login too."""
    _refuse_suspended(user)
    s = get_settings()
    generation = int(user.session_gen or 0)
    family_id = new_id("f_")
    refresh, jti, _ = tokens.issue(user, family_id, "refresh", generation=generation)
    session = Session(
        family_id=family_id,
        user_id=user.user_id,
        current_jti=jti,
        session_gen=generation,
        source_ip=source_ip,
        user_agent=user_agent or None,
    )
    session.expires_at = at_epoch(epoch() + s.refresh_token_ttl)
    session.save(condition=Session.family_id.does_not_exist())
    access, _, ttl = tokens.issue(user, family_id, "access", generation=generation)
    touch_activity(user)
    return TokenPair(access, refresh, ttl, user)


ACTIVITY_GRANULARITY = timedelta(minutes=15)


def _refuse_suspended(user: User) -> None:
    if user.suspended:
        raise ForbiddenError("This account is suspended.", code="account_suspended")


def touch_activity(user: User) -> None:
    """``last_activity_at`` at a session start or refresh, at most once per ``ACTIVITY_GRANULARITY``: skipped
    when the user as read is recent enough, else one update conditioned on the stored value being older (so
    racing refreshes write it once). Never a write per request. Best effort: a failed write (contention with a
    transaction on the user's row, throttling) is logged and the sign-in goes on."""
    t = now()
    horizon = t - ACTIVITY_GRANULARITY
    if user.last_activity_at is not None and user.last_activity_at > horizon:
        return
    try:
        User(user_id=user.user_id).update(
            actions=[User.last_activity_at.set(t)],
            condition=User.user_id.exists()
            & (User.last_activity_at.does_not_exist() | (User.last_activity_at < horizon)),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            log.warning("last activity not recorded", exc_info=True)
            return
    user.last_activity_at = t


def sign_in(user: User, *, source_ip: str, user_agent: str = "", session_mode: str = "body") -> TokenPair | Challenge:
    """Every way of signing in (password login, OIDC) ends here, once the user is known and allowed: a new
    session, or, for an account with two-factor auth, a challenge that remembers ``session_mode``."""
    _refuse_suspended(user)  # before a challenge: a suspended account learns nothing more from its code
    if twofactor.is_enabled(user):
        token, ttl = twofactor.issue_challenge(user, session_mode)
        return Challenge(challenge_token=token, expires_in=ttl)
    return _start_session(user, source_ip, user_agent)


def complete_two_factor(
    challenge_token: str, code: str, *, source_ip: str, user_agent: str = ""
) -> tuple[TokenPair, str]:
    """The second step of :func:`sign_in`: (the new session, the session mode the sign-in asked for)."""
    user, session_mode = twofactor.redeem_challenge(challenge_token, code, source_ip=source_ip)
    return _start_session(user, source_ip, user_agent), session_mode


def login(
    login_id: str, password: str, *, source_ip: str, user_agent: str = "", session_mode: str = "body"
) -> TokenPair | Challenge:
    # Failures count per account and, with a much higher limit, per address (see services/ratelimit). The
    # account's counter is keyed by the login as typed, not the user id: a shared counter for an email and
    # a username would tell a stranger that the two belong to one account.
    keys = ratelimit.login_keys(login_id.strip(), source_ip)
    ratelimit.reserve(keys, ratelimit.login_limits())  # counted as a failure unless released below
    user = user_by_login(login_id.strip(), consistent=True)  # consistent: its session generation is current
    if user is None:
        passwords.burn_time(password)
        raise UnauthorizedError("Wrong login or password.", code="invalid_credentials")
    if not user.has_password:  # a Google/Apple account: refused as slowly as a wrong password
        passwords.burn_time(password)
        raise UnauthorizedError("Wrong login or password.", code="invalid_credentials")
    if not passwords.verify(user.password_hash, password):
        raise UnauthorizedError("Wrong login or password.", code="invalid_credentials")
    ratelimit.release(keys, reset_first=True)
    if not user.email_verified:
        raise ForbiddenError("Verify your email address first.", code="email_not_verified")
    if passwords.needs_rehash(user.password_hash):
        user.update(actions=[User.password_hash.set(passwords.hash_password(password))])
    return sign_in(user, source_ip=source_ip, user_agent=user_agent, session_mode=session_mode)


def refresh(refresh_token: str) -> TokenPair:
    claims = tokens.decode(refresh_token, "refresh")
    family_id, old_jti = claims["fam"], claims["jti"]
    user = user_by_id(claims["sub"], consistent=True)
    if user is None:
        raise UnauthorizedError("The session has ended.", code="session_revoked")
    _refuse_suspended(user)
    generation = tokens.generation_of(claims)
    if not tokens.state_of(user).alive(family_id, generation):
        _mark_session_revoked(family_id)  # lazily: the generation cut ended it already
        raise UnauthorizedError("The session has ended.", code="session_revoked")
    s = get_settings()
    new_jti = secrets.token_urlsafe(16)
    session = Session(family_id=family_id)
    try:
        session.update(
            actions=[
                Session.current_jti.set(new_jti),
                Session.last_used_at.set(now()),
                Session.expires_at.set(at_epoch(epoch() + s.refresh_token_ttl)),
            ],
            condition=(Session.current_jti == old_jti)
            & (Session.revoked == False)  # noqa: E712 - a PynamoDB condition, not a comparison
            & (Session.user_id == user.user_id),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        _handle_refresh_failure(user, family_id)
    # Issued under the generation the check above read: a cut that committed since ends these tokens too.
    refresh_token_new, _, _ = tokens.issue(user, family_id, "refresh", jti=new_jti)
    access, _, ttl = tokens.issue(user, family_id, "access")
    touch_activity(user)
    return TokenPair(access, refresh_token_new, ttl, user)


def _handle_refresh_failure(user: User, family_id: str) -> None:
    try:
        session = Session.get(family_id, consistent_read=True)
    except Session.DoesNotExist:
        raise UnauthorizedError("The session has ended.", code="session_revoked") from None
    if session.user_id == user.user_id and not session.revoked:
        # A spent refresh token came back: someone holds a copy. End the whole login family.
        log.warning("refresh token replay; revoking family", extra={"fields": {"family_id": family_id}})
        revoke_families(user, [family_id])
        raise UnauthorizedError(
            "This refresh token was already used; the session has been ended.", code="refresh_token_reused"
        )
    raise UnauthorizedError("The session has ended.", code="session_revoked")


def _mark_session_revoked(family_id: str) -> None:
    try:
        Session(family_id=family_id).update(actions=[Session.revoked.set(True)], condition=Session.family_id.exists())
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


def _mark_revoked(user: User, family_ids: list[str]) -> None:
    """Single logouts (a bounded handful of families): mark the sessions and list them on the user."""
    if not family_ids:
        return
    t = epoch()
    for family_id in family_ids:
        _mark_session_revoked(family_id)
    horizon = t - tokens.revocation_retention()
    current = user.revoked_families.as_dict() if user.revoked_families else {}
    actions = [User.revoked_families[f].set(t) for f in family_ids]
    actions += [
        User.revoked_families[f].remove() for f, at in current.items() if f not in family_ids and int(at) < horizon
    ]
    User(user_id=user.user_id).update(actions=actions)


def revoke_families(user: User, family_ids: list[str]) -> None:
    """End these logins at once: mark the sessions revoked, list them on the user (so their access tokens
    stop working on the next request, and live delivery skips their sockets) and close the WebSocket
    connections they opened."""
    from chalicelib.realtime import push

    if not family_ids:
        return
    _mark_revoked(user, family_ids)
    push.close_logins(user.user_id, set(family_ids))


def logout(refresh_token: str) -> None:
    claims = tokens.decode(refresh_token, "refresh")
    user = user_by_id(claims["sub"])
    if user is not None:
        revoke_families(user, [claims["fam"]])


def revoke_all(user: User, *, keep_family: str | None = None) -> None:
    """End every login of the user but ``keep_family`` (logout-all, password change and reset, account
    deletion), and close every WebSocket connection not opened by ``keep_family``.

    One bounded write, however many logins there are: the user's session generation goes up by one, and every
    token, session and socket of an older generation is refused from then on (``tokens.LoginState``), except
    those of ``keep_family``. A login whose generation was read before this write (one racing it) is refused
    too. The session rows are not touched here; a refresh marks its own row revoked when it is refused."""
    from chalicelib.realtime import push

    user.update(
        actions=[
            User.session_gen.add(1),
            User.session_gen_kept.set(keep_family) if keep_family else User.session_gen_kept.remove(),
        ]
    )
    push.close_logins(user.user_id, None, keep_family=keep_family)


# ---- profile -----------------------------------------------------------------------------------------------


def update_profile(
    user: User,
    *,
    display_name: str | None = None,
    bio: str | None = None,
    avatar_photo_id: str | None = None,
    fields: set[str],
    settings: dict[str, Any] | None = None,
) -> User:
    """The profile fields named in ``fields`` and the auto-invite ``settings`` (services/autoinvite), validated
    first and written in one update: a refused field changes nothing."""
    from chalicelib.services import autoinvite

    settings_actions = autoinvite.settings_actions(user, settings) if settings else []
    actions: list[Action] = []
    if "display_name" in fields:
        actions.append(User.display_name.set(display_name or user.username))
    if "bio" in fields:
        actions.append(User.bio.set(bio) if bio else User.bio.remove())
    if "avatar_photo_id" in fields:
        actions.append(User.avatar_photo_id.set(avatar_photo_id) if avatar_photo_id else User.avatar_photo_id.remove())
    if not actions and not settings_actions:
        return user
    old_terms = search_index.user_terms(user.username, user.display_name)
    user.update(actions=actions + settings_actions)
    if actions:
        search_index.index_user(user.user_id, old_terms, search_index.user_terms(user.username, user.display_name))
    if settings_actions:
        autoinvite.settings_changed(user)
    return user


def public_profile(id_or_username: str) -> User:
    user = user_by_id(id_or_username) if id_or_username.startswith("u_") else None
    if user is None:
        user_id = user_id_by_claim("username", id_or_username)
        user = user_by_id(user_id) if user_id else None
    if user is None:
        raise NotFoundError("No such user.")
    return user


def search_users(q: str, limit: int, last_key: dict | None):
    import unicodedata

    prefix = " ".join(unicodedata.normalize("NFKC", q).casefold().split())[:64]
    if not prefix:
        raise ValidationError("Give a search term.", details={"q": "empty"})
    return search_index.users_by_prefix(prefix, limit, last_key)


def users_by_ids(ids: list[str]) -> dict[str, User]:
    if not ids:
        return {}
    return {u.user_id: u for u in User.batch_get(list(dict.fromkeys(ids))) if not u.deleted}


# ---- credentials -------------------------------------------------------------------------------------------


def _require_password(user: User, password: str) -> None:
    if not user.has_password:  # created by a Google or Apple sign-in (services/oidc.py)
        raise ForbiddenError(
            "This account has no password yet: set one with POST /auth/password/forgot and /auth/password/reset.",
            code="password_not_set",
        )
    if not passwords.verify(user.password_hash, password):
        raise ForbiddenError("The password is wrong.", code="invalid_password")


def change_password(principal: tokens.Principal, old_password: str, new_password: str) -> None:
    user = principal.user
    _require_password(user, old_password)
    passwords.check_policy(new_password, field="new_password", username=user.username, email=user.email)
    user.update(actions=[User.password_hash.set(passwords.hash_password(new_password))])
    revoke_all(user, keep_family=principal.family_id)


def forgot_password(email: str) -> None:
    user_id = user_id_by_claim("email", normalize_email(email))
    user = user_by_id(user_id) if user_id else None
    if user is None:
        return
    try:
        code = otp.issue(otp.PASSWORD_RESET, user.user_id, enforce_cooldown=True)
    except RateLimitedError:
        return
    mailer.send_code(user.email, otp.PASSWORD_RESET, code)


def reset_password(email: str, code: str, new_password: str) -> None:
    """The code is checked first (spending an attempt), and an unknown email fails exactly like a wrong code,
    even past the attempt limit; only then the new password's policy, so its answer reaches nobody but the
    holder of the code. A weak password keeps the code for another try."""
    user_id = user_id_by_claim("email", normalize_email(email))
    user = user_by_id(user_id) if user_id else None
    if user is None:
        raise otp.invalid_code()  # the very answer a wrong code gets
    pending = otp.check(otp.PASSWORD_RESET, user.user_id, code, spend=False, uniform=True)
    passwords.check_policy(new_password, field="new_password", username=user.username, email=user.email)
    otp.spend_code(pending)
    # The code went to the address, so it is verified now too.
    user.update(actions=[User.password_hash.set(passwords.hash_password(new_password)), User.email_verified.set(True)])
    _email_verified(user.user_id, user.email)
    revoke_all(user)


def change_username(principal: tokens.Principal, password: str, new_username: str) -> User:
    user = principal.user
    _require_password(user, password)
    s = get_settings()
    if user.username_changed_at is not None:
        next_allowed = user.username_changed_at + timedelta(days=s.username_change_cooldown_days)
        if next_allowed > now():
            raise RateLimitedError(
                "You changed your username recently.",
                code="username_change_cooldown",
                retry_after=int((next_allowed - now()).total_seconds()),
            )
    if new_username == user.username:
        return user
    old_terms = search_index.user_terms(user.username, user.display_name)
    move_claim(
        user,
        "username",
        user.username,
        new_username,
        [User.username.set(new_username), User.username_changed_at.set(now())],
    )
    search_index.index_user(user.user_id, old_terms, search_index.user_terms(user.username, user.display_name))
    return user


def request_email_change(principal: tokens.Principal, password: str, new_email: str) -> None:
    user = principal.user
    _require_password(user, password)
    new_email = normalize_email(new_email)
    if claim_key("email", new_email) == claim_key("email", user.email):
        raise ConflictError("That is already your email address.", code="email_unchanged")
    if user_id_by_claim("email", new_email):
        raise ConflictError(
            "That email address is already registered.", code="email_taken", details={"new_email": "already registered"}
        )
    code = otp.issue(otp.EMAIL_CHANGE, user.user_id, payload=new_email)
    mailer.send_code(new_email, otp.EMAIL_CHANGE, code)


def confirm_email_change(principal: tokens.Principal, code: str) -> User:
    user = principal.user
    pending = otp.check(otp.EMAIL_CHANGE, user.user_id, code)
    move_claim(
        user, "email", user.email, pending.payload, [User.email.set(pending.payload), User.email_verified.set(True)]
    )
    _email_verified(user.user_id, pending.payload)
    return user


def _email_verified(user_id: str, email: str) -> None:
    """Client invitations of this address become active (services/clients.py: one Query, usually empty)."""
    from chalicelib.services import clients

    try:
        clients.on_email_verified(user_id, email)
    except Exception:  # the address is verified either way; a later verification or invitation activates them
        log.warning("client invitations not activated", exc_info=True)


def delete_account(principal: tokens.Principal, password: str) -> None:
    """Bounded: tombstone and anonymise the user (so ids in old content resolve to "deleted user" and every read
    forgets the account at once), end sessions, close sockets, then publish ``user.deleted``. Its consumers
    remove the content in background jobs (chalicelib/jobs/registry.py); the email and username are released
    by :func:`finish_deletion` only once all of them are done, so nobody can take them over a half-deleted
    account."""
    from chalicelib import jobs

    user = principal.user
    _require_password(user, password)
    if user.role == "admin":  # the last admin cannot leave (409 last_admin); others leave the roster first
        _demote_admin(principal, user, "member")
    payload: dict[str, Any] = {"user_id": user.user_id, "email": user.email, "username": user.username}
    payload["display_name"] = user.display_name
    payload["identity_claims"] = identities.claim_keys(user)  # Google/Apple sign-ins, released with the rest
    with jobs.transaction() as tx:  # the tombstone and its event commit together (the relay sends it if we die)
        tx.update(User(user_id=user.user_id), actions=[User.deleted.set(True)], condition=User.user_id.exists())
        row = jobs.publish_in(tx, "user.deleted", f"user.deleted:{user.user_id}", payload)
    try:  # at once on the happy path; the job's "account" step does it again if this fails part-way
        forget_user(payload)
    except Exception:
        log.warning("account deletion: the job will finish forgetting the user", exc_info=True)
    jobs.dispatch(row)


def forget_user(payload: dict) -> None:
    """Idempotent: end the deleted user's sessions, close their sockets, drop them from search, anonymise the row.
    Also the ``user.deleted`` job's ``account`` consumer, so a crash after the tombstone still completes."""
    from chalicelib.realtime import push

    try:
        user = User.get(payload["user_id"], consistent_read=True)
    except User.DoesNotExist:
        return
    revoke_all(user)
    push.disconnect_user(user.user_id)
    twofactor.forget(user.user_id)
    old_terms = search_index.user_terms(payload["username"], payload.get("display_name") or "")
    search_index.index_user(user.user_id, old_terms, set())
    user.update(
        actions=[
            User.email.set(f"deleted+{user.user_id}@invalid"),
            User.username.set(f"deleted-{user.user_id}"),
            User.display_name.set("Deleted user"),
            User.bio.remove(),
            User.avatar_photo_id.remove(),
            User.notification_prefs.set({}),
            User.password_hash.set("!deleted"),
            User.two_factor_enabled.remove(),
            User.identities.set({}),
            # auto-invite settings (the home is a location) and the staff stats/moderation notes about them
            User.interests.remove(),
            User.home_lat.remove(),
            User.home_lon.remove(),
            User.radius_km.remove(),
            User.auto_invite.remove(),
            User.suspension_reason.remove(),
            User.suspended_by.remove(),
            User.last_activity_at.remove(),
        ]
    )


def on_user_deleted(payload: dict, cursor: object, limit: int) -> None:
    """``user.deleted`` consumer: :func:`forget_user` (again; a no-op after the request did it)."""
    forget_user(payload)


def finish_deletion(payload: dict) -> None:
    """``user.deleted`` completed: every consumer removed (or anonymised) its part; free the claims."""
    user = User(user_id=payload["user_id"])
    release_claims(user, email=payload["email"], username=payload["username"])
    identities.release(user.user_id, payload.get("identity_claims") or [])


def set_role(actor: tokens.Principal, user_id: str, role: str) -> User:
    """Staff grant member/photographer/creator to users who hold one of those; only admins change who is
    staff or admin, and the last admin cannot be demoted. Choosing ``creator`` gives the role only: its
    earnings wait for the identity verification (``User.creator_verified``)."""
    if actor.role not in STAFF_ROLES:
        raise ForbiddenError("Only staff change roles.")
    user = user_by_id(user_id, consistent=True)
    if user is None:
        raise NotFoundError("No such user.")
    if actor.role != "admin" and (role in STAFF_ROLES or user.role in STAFF_ROLES):
        raise ForbiddenError("Only admins grant, change or remove the staff and admin roles.")
    if role == user.role:
        return user
    from chalicelib.services import audit

    row = audit.entry(actor.user_id, "user.role_change", "user", user.user_id, {"from": user.role, "to": role})

    def extra(tx: TransactWrite) -> None:
        audit.add_to(tx, row)

    if user.role == "admin":
        _demote_admin(actor, user, role, extra=extra)
    else:
        change_role(user, role, extra=extra)
    return user


def _demote_admin(
    actor: tokens.Principal, user: User, role: str, *, extra: Callable[[TransactWrite], None] | None = None
) -> None:
    """The remaining admins are read from the roster, checked against the users themselves (so an entry
    the roster lacks, e.g. an admin from before it existed, or one it wrongly keeps, is corrected), and the
    demotion commits only if the roster has not changed since: two concurrent demotions of the last two
    admins cannot both succeed (the second gets 409 and, retried, ``last_admin``)."""
    listed, version = admin_roster()
    known = listed | {user.user_id} | ({actor.user_id} if actor.role == "admin" else set())
    remaining = admins_among(known) - {user.user_id}
    if not remaining:
        raise ConflictError(
            "The last admin cannot be demoted; make another admin first.",
            code="last_admin",
            details={"role": "last admin"},
        )
    change_role(user, role, admins_after=remaining, roster_version=version, extra=extra)


def require_verified_creator(principal: tokens.Principal) -> None:
    """For what a creator earns with (premium media, plans, tips, payouts): 403 until verified."""
    if not principal.user.creator_verified:
        raise ForbiddenError("Your creator identity is not verified yet.", code="creator_not_verified")


def create_admin(email: str, username: str, password: str) -> User:
    """For the command-line tool: a verified admin account."""
    return create_verified_user(email, username, password, role="admin")


def create_verified_user(email: str, username: str, password: str, *, role: str) -> User:
    """For the command-line tool: a verified account with any role (the first admin, demo users)."""
    email = normalize_email(email)
    passwords.check_policy(password, username=username, email=email)
    user = User(
        user_id=new_id("u_"),
        email=email,
        username=username,
        display_name=username,
        role=role,
        email_verified=True,
        password_hash=passwords.hash_password(password),
    )
    create_user(user)
    if role == "admin":
        add_to_admin_roster(user.user_id)
    search_index.index_user(user.user_id, set(), search_index.user_terms(user.username, user.display_name))
    return user
