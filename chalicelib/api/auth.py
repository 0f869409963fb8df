"""/auth/*: signup, verification, login, token refresh/verify, logout, profile and credential changes."""

from __future__ import annotations

from chalice import Response

from chalicelib.api import session_cookie
from chalicelib.api.routing import AnyCtx, Ctx, PublicCtx, route
from chalicelib.api.schemas import (
    Accepted,
    ChangeEmailIn,
    ChangePasswordIn,
    ChangeUsernameIn,
    CodeIn,
    EmailIn,
    LoginIn,
    LoginOut,
    MeOut,
    Ok,
    Page,
    PublicUserOut,
    RefreshIn,
    RefreshOut,
    ResetPasswordIn,
    SearchQuery,
    SignupIn,
    TokenInfoOut,
    TokenOut,
    TwoFactorChallengeOut,
    TwoFactorCodeIn,
    TwoFactorDisableIn,
    TwoFactorEnableOut,
    TwoFactorSetupOut,
    TwoFactorVerifyIn,
    UpdateMeIn,
    UserEnvelope,
    UserOut,
    VerifyEmailIn,
    VerifyTokenIn,
)
from chalicelib.pagination import decode, encode
from chalicelib.services import accounts, tokens, twofactor
from chalicelib.services.users_view import avatar_url, avatar_urls, check_avatar

TAGS = ("auth",)


def _me(user) -> UserOut:
    return UserOut.of(user, avatar_url(user))


@route(
    "/auth/signup",
    "POST",
    body=SignupIn,
    response=UserEnvelope,
    status=201,
    auth=False,
    tags=TAGS,
    responses=(400, 409),
)
def signup(ctx: PublicCtx[SignupIn]) -> UserEnvelope:
    """Create an account and email a 6-digit verification code."""
    b = ctx.body
    user = accounts.signup(str(b.email), b.username, b.password, b.display_name, b.role)
    return UserEnvelope(user=_me(user))


@route("/auth/verify-email", "POST", body=VerifyEmailIn, response=Ok, auth=False, tags=TAGS, responses=(400,))
def verify_email(ctx: PublicCtx[VerifyEmailIn]) -> Ok:
    """Confirm the email address with the emailed code."""
    accounts.verify_email(str(ctx.body.email), ctx.body.code)
    return Ok()


@route("/auth/resend-email-otp", "POST", body=EmailIn, response=Accepted, status=202, auth=False, tags=TAGS)
def resend_email_otp(ctx: PublicCtx[EmailIn]) -> Accepted:
    """Send a new verification code (same answer whether or not the email exists)."""
    accounts.resend_email_otp(str(ctx.body.email))
    return Accepted()


def signed_in(
    ctx: AnyCtx, result: accounts.TokenPair | accounts.Challenge, session_mode: str
) -> TokenOut | TwoFactorChallengeOut | Response:
    """The answer of every sign-in (login, 2FA verify, OIDC): the two-factor challenge, or the tokens, whose
    refresh token goes into the session cookie instead of the body when ``session_mode`` is "cookie"."""
    if isinstance(result, accounts.Challenge):
        return TwoFactorChallengeOut(challenge_token=result.challenge_token, expires_in=result.expires_in)
    out = TokenOut(
        access_token=result.access_token,
        refresh_token=result.refresh_token,
        expires_in=result.expires_in,
        user=_me(result.user),
    )
    if session_mode == "cookie":
        return session_cookie.respond(ctx.request, out, refresh_token=result.refresh_token)
    return out


@route("/auth/login", "POST", body=LoginIn, response=LoginOut, auth=False, tags=TAGS, responses=(401, 403, 429))
def login(ctx: PublicCtx[LoginIn]) -> TokenOut | TwoFactorChallengeOut | Response:
    """Log in with email or username; returns an access and a refresh token (``session: "cookie"``: the
    refresh token is set as an HttpOnly cookie instead of returned), or, with two-factor auth on, a challenge
    for ``POST /auth/2fa/verify``."""
    b = ctx.body
    result = accounts.login(
        b.login, b.password, source_ip=ctx.source_ip, user_agent=ctx.user_agent, session_mode=b.session
    )
    return signed_in(ctx, result, b.session)


@route(
    "/auth/2fa/verify",
    "POST",
    body=TwoFactorVerifyIn,
    response=LoginOut,
    auth=False,
    tags=TAGS,
    responses=(400, 401, 429),
)
def verify_two_factor(ctx: PublicCtx[TwoFactorVerifyIn]) -> TokenOut | TwoFactorChallengeOut | Response:
    """Complete a login of an account with two-factor auth: the challenge token and a TOTP or recovery code.
    Answers like the login (the session mode it asked for included)."""
    pair, session_mode = accounts.complete_two_factor(
        ctx.body.challenge_token, ctx.body.code, source_ip=ctx.source_ip, user_agent=ctx.user_agent
    )
    return signed_in(ctx, pair, session_mode)


@route("/auth/2fa/setup", "POST", response=TwoFactorSetupOut, tags=TAGS, responses=(409,))
def setup_two_factor(ctx: Ctx) -> TwoFactorSetupOut:
    """Start (or restart) a two-factor setup: the TOTP secret and its otpauth:// URI, pending until enabled."""
    secret, uri = twofactor.setup(ctx.principal.user)
    return TwoFactorSetupOut(secret=secret, otpauth_uri=uri)


@route(
    "/auth/2fa/enable",
    "POST",
    body=TwoFactorCodeIn,
    response=TwoFactorEnableOut,
    tags=TAGS,
    responses=(400, 409, 429),
)
def enable_two_factor(ctx: Ctx[TwoFactorCodeIn]) -> TwoFactorEnableOut:
    """Turn two-factor auth on with a code of the pending setup; returns ten one-time recovery codes."""
    codes = twofactor.enable(ctx.principal.user, ctx.body.code, source_ip=ctx.source_ip)
    return TwoFactorEnableOut(recovery_codes=codes)


@route("/auth/2fa", "DELETE", body=TwoFactorDisableIn, status=204, tags=TAGS, responses=(400, 403, 409, 429))
def disable_two_factor(ctx: Ctx[TwoFactorDisableIn]) -> None:
    """Turn two-factor auth off: the password and a TOTP or recovery code. An account without a password
    (created by a Google or Apple sign-in) gives only the code."""
    twofactor.disable(ctx.principal.user, ctx.body.password, ctx.body.code, source_ip=ctx.source_ip)


@route(
    "/auth/token/refresh",
    "POST",
    body=RefreshIn,
    response=RefreshOut,
    auth=False,
    tags=TAGS,
    responses=(400, 401, 403),
)
def refresh_token(ctx: PublicCtx[RefreshIn]) -> RefreshOut | Response:
    """Spend a refresh token (the body's, or the session cookie's) for a new pair. Replaying a spent one ends
    the whole login family."""
    token, from_cookie = session_cookie.refresh_token_of(ctx.request, ctx.body.refresh_token)
    with session_cookie.cleared_when_refused(ctx.request, from_cookie):
        pair = accounts.refresh(token)
    out = RefreshOut(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)
    return session_cookie.respond(ctx.request, out, refresh_token=pair.refresh_token) if from_cookie else out


@route("/auth/token/verify", "POST", body=VerifyTokenIn, response=TokenInfoOut, auth=False, tags=TAGS, responses=(401,))
def verify_token(ctx: PublicCtx[VerifyTokenIn]) -> TokenInfoOut:
    """Check an access token: signature, claims, and that its session is still live."""
    claims = tokens.decode(ctx.body.token, "access")
    principal = tokens.principal_for(claims)
    return TokenInfoOut(valid=True, sub=principal.user_id, role=principal.role, exp=claims["exp"])


@route("/auth/logout", "POST", body=RefreshIn, status=204, auth=False, tags=TAGS, responses=(400, 401, 403))
def logout(ctx: PublicCtx[RefreshIn]) -> Response | None:
    """End this login family (its refresh and access tokens, its WebSocket connections); the session cookie,
    when that is what named it, is cleared."""
    token, from_cookie = session_cookie.refresh_token_of(ctx.request, ctx.body.refresh_token)
    with session_cookie.cleared_when_refused(ctx.request, from_cookie):
        accounts.logout(token)
    return session_cookie.respond(ctx.request, None, refresh_token=None, status=204) if from_cookie else None


@route("/auth/logout-all", "POST", status=204, tags=TAGS)
def logout_all(ctx: Ctx) -> None:
    """End every session of the caller."""
    accounts.revoke_all(ctx.principal.user)


@route("/auth/me", "GET", response=MeOut, tags=TAGS)
def get_me(ctx: Ctx) -> MeOut:
    """The caller's own account, with the number of unread notifications (capped at 100)."""
    from chalicelib.services.notifications import unread_count

    return MeOut(**_me(ctx.principal.user).model_dump(), unread_notifications=unread_count(ctx.user_id))


@route("/auth/me", "PATCH", body=UpdateMeIn, response=UserOut, tags=TAGS)
def patch_me(ctx: Ctx[UpdateMeIn]) -> UserOut:
    """Change display name, bio or avatar (one of your own processed photos; null removes it)."""
    if ctx.body.avatar_photo_id:
        check_avatar(ctx.principal, ctx.body.avatar_photo_id)
    auto_fields = {"interests", "home", "radius_km", "auto_invite"} & ctx.body.model_fields_set
    user = accounts.update_profile(  # one update: a refused field changes nothing
        ctx.principal.user,
        display_name=ctx.body.display_name,
        bio=ctx.body.bio,
        avatar_photo_id=ctx.body.avatar_photo_id,
        fields=ctx.body.model_fields_set,
        settings={f: getattr(ctx.body, f) for f in auto_fields},
    )
    return _me(user)


@route("/auth/search", "GET", query=SearchQuery, response=Page[PublicUserOut], tags=TAGS)
def search_users(ctx: Ctx[None, SearchQuery]) -> Page[PublicUserOut]:
    """Users whose username or display name starts with ``q``."""
    q = ctx.query
    scope = f"users-search:{q.q.casefold()}"
    results = accounts.search_users(q.q, q.limit, decode(scope, q.cursor))
    entries = list(results)
    cursor = encode(scope, results.last_evaluated_key) if len(entries) >= q.limit else None
    users = accounts.users_by_ids([e.entity_id for e in entries])
    seen: list[str] = list(dict.fromkeys(e.entity_id for e in entries if e.entity_id in users))
    avatars = avatar_urls(users.values())  # one batch read for the page
    return Page[PublicUserOut](items=[PublicUserOut.of(users[i], avatars.get(i)) for i in seen], next_cursor=cursor)


@route("/auth/password/change", "POST", body=ChangePasswordIn, status=204, tags=TAGS, responses=(400, 403))
def change_password(ctx: Ctx[ChangePasswordIn]) -> None:
    """Change password; every other session ends."""
    accounts.change_password(ctx.principal, ctx.body.old_password, ctx.body.new_password)


@route("/auth/password/forgot", "POST", body=EmailIn, response=Accepted, status=202, auth=False, tags=TAGS)
def forgot_password(ctx: PublicCtx[EmailIn]) -> Accepted:
    """Email a reset code (same answer whether or not the email exists)."""
    accounts.forgot_password(str(ctx.body.email))
    return Accepted()


@route("/auth/password/reset", "POST", body=ResetPasswordIn, status=204, auth=False, tags=TAGS, responses=(400,))
def reset_password(ctx: PublicCtx[ResetPasswordIn]) -> None:
    """Set a new password with the emailed code; every session ends."""
    accounts.reset_password(str(ctx.body.email), ctx.body.code, ctx.body.new_password)


@route("/auth/username/change", "POST", body=ChangeUsernameIn, response=UserOut, tags=TAGS, responses=(403, 409, 429))
def change_username(ctx: Ctx[ChangeUsernameIn]) -> UserOut:
    """Change username (once per 30 days, case-insensitively unique)."""
    return _me(accounts.change_username(ctx.principal, ctx.body.password, ctx.body.new_username))


@route("/auth/email/change", "POST", body=ChangeEmailIn, response=Accepted, status=202, tags=TAGS, responses=(403, 409))
def change_email(ctx: Ctx[ChangeEmailIn]) -> Accepted:
    """Start an email change: a code goes to the new address."""
    accounts.request_email_change(ctx.principal, ctx.body.password, str(ctx.body.new_email))
    return Accepted()


@route("/auth/email/verify", "POST", body=CodeIn, response=UserOut, tags=TAGS, responses=(400, 409))
def confirm_email(ctx: Ctx[CodeIn]) -> UserOut:
    """Finish an email change with the code sent to the new address."""
    return _me(accounts.confirm_email_change(ctx.principal, ctx.body.code))
