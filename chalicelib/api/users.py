"""/users/*: public profiles, account deletion, role management."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.api.ratings import ReputationOut
from chalicelib.api.routing import Ctx, PublicCtx, route
from chalicelib.api.schema_base import Out
from chalicelib.api.schemas import PasswordIn, PublicUserOut, RoleIn, UserOut
from chalicelib.services import accounts, ratings, social
from chalicelib.services.users_view import avatar_url

TAGS = ("users",)


class RelationshipOut(Out):
    """How the logged-in caller stands with this user (what a profile page's buttons need)."""

    is_me: bool
    following: bool
    followed_by: bool
    friendship: Literal["none", "friends", "request_sent", "request_received"]
    friend_request_id: str | None = Field(None, description="The pending request, to accept, decline or withdraw")
    blocked: bool = Field(description="The caller blocked this user")


class ProfileOut(PublicUserOut):
    follower_count: int
    following_count: int
    reputation: ReputationOut = Field(description="Ratings received, trust level, events hosted and attended")
    viewer: RelationshipOut | None = Field(None, description="Only for a logged-in caller")


@route("/users/{user_id}", "GET", response=ProfileOut, auth="optional", tags=TAGS, responses=(404,))
def get_user(ctx: PublicCtx, user_id: str) -> ProfileOut:
    """A public profile, by user id or username, with follower counts and (logged in) the caller's relationship."""
    user = accounts.public_profile(user_id)
    followers, following = social.follow_counts(user)
    viewer = RelationshipOut(**social.relationship(ctx.principal.user_id, user.user_id)) if ctx.principal else None
    return ProfileOut(
        **PublicUserOut.of(user, avatar_url(user)).model_dump(),
        follower_count=followers,
        following_count=following,
        reputation=ReputationOut(**ratings.reputation(user)),
        viewer=viewer,
    )


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
