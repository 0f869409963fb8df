"""/auth/oidc/{provider} and /auth/identities: sign in with Google or Apple, and the caller's linked sign-ins."""

from __future__ import annotations

from typing import Annotated, Literal

from chalice import Response
from pydantic import Field

from chalicelib.api.auth import signed_in
from chalicelib.api.routing import Ctx, PublicCtx, route
from chalicelib.api.schema_base import Body, Out
from chalicelib.api.schemas import LoginOut, TokenOut, TwoFactorChallengeOut
from chalicelib.services import oidc

TAGS = ("auth",)


class OidcSignInIn(Body):
    id_token: Annotated[str, Field(min_length=1, max_length=8192, description="The provider's ID token (a JWT)")]
    nonce: Annotated[str, Field(min_length=1, max_length=512)] | None = Field(
        None,
        description="The nonce the client gave the provider's SDK; required when the token carries one",
    )
    session: Literal["body", "cookie"] = Field(
        "body", description='As on POST /auth/login: "cookie" sets the refresh token as the session cookie'
    )


class IdentityOut(Out):
    provider: Literal["google", "apple"]
    email: str = Field(description="The address the provider gave when the sign-in was linked")
    linked_at: str


class IdentitiesOut(Out):
    items: list[IdentityOut]


@route(
    "/auth/oidc/{provider}",
    "POST",
    body=OidcSignInIn,
    response=LoginOut,
    auth=False,
    tags=TAGS,
    responses=(400, 401, 403, 404, 409, 503),
)
def oidc_sign_in(ctx: PublicCtx[OidcSignInIn], provider: str) -> TokenOut | TwoFactorChallengeOut | Response:
    """Sign in with a Google or Apple ID token (``provider``: google|apple); the first time, it links to the
    account with that verified email or creates one. Answers as POST /auth/login does."""
    b = ctx.body
    result = oidc.sign_in(
        provider, b.id_token, b.nonce, source_ip=ctx.source_ip, user_agent=ctx.user_agent, session_mode=b.session
    )
    return signed_in(ctx, result, b.session)


@route("/auth/identities", "GET", response=IdentitiesOut, tags=TAGS)
def list_identities(ctx: Ctx) -> IdentitiesOut:
    """The Google and Apple sign-ins linked to the caller's account."""
    return IdentitiesOut(items=[IdentityOut(**item) for item in oidc.linked(ctx.principal.user)])


@route("/auth/identities/{provider}", "DELETE", status=204, tags=TAGS, responses=(404, 409))
def unlink_identity(ctx: Ctx, provider: str) -> None:
    """Unlink a sign-in; 409 ``last_login_method`` when the account has no password and no other sign-in."""
    oidc.unlink(ctx.principal.user, provider)
