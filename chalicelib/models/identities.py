"""Sign-in identities (Google, Apple): which account a provider's subject belongs to, and each account's links.

No table of their own: an identity is a claim in ``claims`` (as emails and usernames are) plus an entry in the
user's ``identities`` map, written together in one transaction.

Access patterns (see docs/data-model.md):
- the account of (provider, sub) ........ Claims GetItem("oidc#<provider>#<sub>") -> user_id (consistent)
- an account's identities ............... Users GetItem(user_id): the ``identities`` map (one entry per provider)
- link an identity ...................... TransactWrite: the claim (attribute_not_exists) and the user's map,
                                          conditioned on the map as it was read (optimistic)
- create an account with an identity .... TransactWrite: the user, its email, username and identity claims
- unlink ................................ TransactWrite: remove the map entry, conditioned on another way to log
                                          in remaining (a password or another identity); delete the claim
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.models.base import DeleteError, cancellation_codes, condition_failed, connection, iso, now
from chalicelib.models.users import Claim, User, claim_key

PROVIDERS = ("google", "apple")


class Raced(ConflictError):
    """Another request changed the identity or the account at the same moment; read again and retry."""


def identity_key(provider: str, sub: str) -> str:
    """The claim of (provider, sub). ``sub`` is case-sensitive (OpenID Connect), so it is not lowered."""
    return f"oidc#{provider}#{sub}"


def owner_of(provider: str, sub: str) -> str | None:
    try:
        return Claim.get(identity_key(provider, sub), consistent_read=True).user_id
    except Claim.DoesNotExist:
        return None


def identities_of(user: User) -> dict[str, dict[str, Any]]:
    """``{provider: {"sub", "email", "linked_at"}}`` as stored on the user (empty for accounts from before)."""
    return dict(user.identities.as_dict()) if user.identities else {}


def _entry(sub: str, email: str) -> dict[str, str]:
    return {"sub": sub, "email": email, "linked_at": iso(now()) or ""}


def link(user: User, provider: str, sub: str, email: str) -> None:
    """Link (provider, sub) to ``user`` as read (consistently). ``identity_conflict`` (409) when the account
    already has another identity of this provider; :class:`Raced` when either side changed meanwhile."""
    current = identities_of(user)
    if provider in current and current[provider].get("sub") == sub:
        return  # a concurrent first sign-in of this identity linked it (or created the account) a moment ago
    if provider in current:
        raise ConflictError(
            f"This account is already linked to another {provider.title()} account.", code="identity_conflict"
        )
    updated = {**current, provider: _entry(sub, email)}
    unchanged = User.identities.does_not_exist() | (User.identities == current)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(
                Claim(claim=identity_key(provider, sub), user_id=user.user_id), condition=Claim.claim.does_not_exist()
            )
            tx.update(
                User(user_id=user.user_id),
                actions=[User.identities.set(updated)],
                condition=User.user_id.exists() & (User.deleted == False) & unchanged,  # noqa: E712 - a condition
            )
    except TransactWriteError as exc:
        raise Raced() from exc
    user.identities = updated


def create_with_identity(user: User, provider: str, sub: str, email: str) -> None:
    """Write a new user (no password) with its email, username and identity claims in one transaction. 409
    ``username_taken`` names a username to try again with; :class:`Raced` when the email or the identity was
    claimed meanwhile (the caller reads again: it now links to, or signs in to, that account)."""
    user.identities = {provider: _entry(sub, email)}
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(user, condition=User.user_id.does_not_exist())
            for key in (claim_key("email", user.email), claim_key("username", user.username)):
                tx.save(Claim(claim=key, user_id=user.user_id), condition=Claim.claim.does_not_exist())
            tx.save(
                Claim(claim=identity_key(provider, sub), user_id=user.user_id), condition=Claim.claim.does_not_exist()
            )
    except TransactWriteError as exc:
        codes = cancellation_codes(exc)  # all puts, in the order above: user, email, username, identity
        if len(codes) >= 4 and codes[2] == "ConditionalCheckFailed" and codes[1] != "ConditionalCheckFailed":
            raise ConflictError("That username is taken.", code="username_taken") from exc
        raise Raced() from exc


def unlink(user: User, provider: str) -> None:
    """Remove the account's ``provider`` identity. 404 when there is none; 409 ``last_login_method`` when it is
    the account's last way to log in (no password and no other identity), checked in the write itself, so two
    unlinks at once cannot leave an account nobody can enter."""
    entry = identities_of(user).get(provider)
    if entry is None:
        raise NotFoundError(f"No {provider.title()} sign-in is linked to this account.")
    others = [p for p in PROVIDERS if p != provider]
    another_way = User.password_hash.startswith("$")  # an argon2 hash; NO_PASSWORD starts with "!"
    for other in others:
        another_way = another_way | User.identities[other].exists()
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(
                User(user_id=user.user_id),
                actions=[User.identities[provider].remove()],
                condition=(User.identities[provider]["sub"] == entry["sub"]) & another_way,
            )
            tx.delete(Claim(claim=identity_key(provider, entry["sub"])), condition=Claim.user_id == user.user_id)
    except TransactWriteError as exc:
        codes = cancellation_codes(exc)  # PynamoDB sends deletes before updates: the user's update is last
        if codes and codes[-1] == "ConditionalCheckFailed":
            user.refresh(consistent_read=True)
            if provider in identities_of(user):
                raise ConflictError(
                    "This is your account's last way to log in: set a password (POST /auth/password/forgot) "
                    "or link another sign-in first.",
                    code="last_login_method",
                ) from exc
            raise NotFoundError(f"No {provider.title()} sign-in is linked to this account.") from exc
        raise Raced() from exc


def release(user_id: str, keys: list[str]) -> None:
    """Free a deleted account's identity claims (``user.deleted`` finished), so that sign-in starts afresh."""
    for key in keys:
        try:
            Claim(claim=key).delete(condition=Claim.user_id == user_id)
        except DeleteError as exc:  # already released, or re-owned
            if not condition_failed(exc):
                raise


def claim_keys(user: User) -> list[str]:
    return [identity_key(provider, entry["sub"]) for provider, entry in identities_of(user).items()]
