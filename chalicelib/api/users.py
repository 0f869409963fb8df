"""/users/*: public profiles, account deletion, role management."""

from __future__ import annotations

from chalicelib.api.routing import Ctx, PublicCtx, route
from chalicelib.api.schemas import PasswordIn, PublicUserOut, RoleIn, UserOut
from chalicelib.services import accounts
from chalicelib.services.users_view import avatar_url

TAGS = ("users",)


@route("/users/{user_id}", "GET", response=PublicUserOut, auth=False, tags=TAGS, responses=(404,))
def get_user(ctx: PublicCtx, user_id: str) -> PublicUserOut:
    """A public profile, by user id or username."""
    user = accounts.public_profile(user_id)
    return PublicUserOut.of(user, avatar_url(user))


@route("/users/me", "GET", response=PublicUserOut, tags=TAGS)
def get_my_profile(ctx: Ctx) -> PublicUserOut:
    """The caller's public profile, as others see it (the private account is GET /auth/me)."""
    return PublicUserOut.of(ctx.principal.user, avatar_url(ctx.principal.user))


@route("/users/me", "DELETE", body=PasswordIn, status=204, tags=TAGS, responses=(403, 409))
def delete_me(ctx: Ctx[PasswordIn]) -> None:
    """Delete the caller's account: sessions end, the profile is anonymised, content is removed."""
    accounts.delete_account(ctx.principal, ctx.body.password)


@route(
    "/users/{user_id}/role",
    "PUT",
    body=RoleIn,
    response=UserOut,
    roles=("staff", "admin"),
    tags=TAGS,
    responses=(403, 404, 409),
)
def set_role(ctx: Ctx[RoleIn], user_id: str) -> UserOut:
    """Change a user's role: admins grant any role, staff grant member/photographer/creator."""
    user = accounts.set_role(ctx.principal, user_id, ctx.body.role)
    return UserOut.of(user, avatar_url(user))
