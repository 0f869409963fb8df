"""Request and response schemas of users and auth, shared across blueprints. The same classes generate
/openapi.json."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, RootModel

# CleanText, Username and Page live in schema_base (a route that needs no user or auth schema imports only that);
# they can still be imported from here.
from chalicelib.api.schema_base import Body, CleanText, Out, PageQuery, Username
from chalicelib.api.schema_base import Page as Page
from chalicelib.models.base import iso

Password = Annotated[str, Field(min_length=1, max_length=1024)]


def _valid_email(value: str) -> str:
    """email_validator's syntax check (no DNS). Special-use domains (``.local``, ``.test``) are refused, except
    the ``email_test_domains`` of the settings: the local stage seeds ``mia@lightbox.local``."""
    import email_validator

    from chalicelib.config import get_settings

    try:
        return email_validator.validate_email(value, check_deliverability=False).normalized
    except email_validator.EmailNotValidError as exc:
        allowed = get_settings().email_test_domains
        head, dot, tld = value.strip().rpartition(".")
        if dot and "@" in head and "." not in tld and "@" not in tld and tld.lower() in allowed:
            # Check the address as if its special-use TLD were an ordinary one, then put it back.
            try:
                checked = email_validator.validate_email(f"{head}.example", check_deliverability=False).normalized
            except email_validator.EmailNotValidError:
                pass
            else:
                return f"{checked.removesuffix('.example')}.{tld.lower()}"
        raise ValueError(f"value is not a valid email address: {exc}") from None


Email = Annotated[
    str,
    Field(max_length=254, json_schema_extra={"format": "email"}),
    AfterValidator(_valid_email),
]
Code = Annotated[str, Field(min_length=1, max_length=16, description="The 6-digit code from the email")]
Token = Annotated[str, Field(min_length=1, max_length=4096)]


# ---- users -------------------------------------------------------------------------------------------------


class PublicUserOut(Out):
    id: str
    username: str
    display_name: str | None
    bio: str | None = None
    role: str
    creator_verified: bool = Field(
        False, description="A creator whose identity staff approved; only they earn (premium media, tips, plans)"
    )
    avatar_url: str | None = None
    created_at: str | None

    @classmethod
    def of(cls, user, avatar_url: str | None = None) -> PublicUserOut:
        return cls(
            id=user.user_id,
            username=user.username,
            display_name=user.display_name,
            bio=user.bio,
            role=user.role,
            creator_verified=user.creator_verified,
            avatar_url=avatar_url,
            created_at=iso(user.created_at),
        )


class UserOut(PublicUserOut):
    email: str
    email_verified: bool
    creator_verification: Literal["none", "pending", "approved", "rejected"] = Field(
        "none", description="The identity verification a creator needs before earning anything"
    )
    avatar_photo_id: str | None = None
    two_factor_enabled: bool = Field(False, description="Logins need a TOTP or recovery code (POST /auth/2fa/verify)")
    interests: list[str] = []
    home: dict[str, float] | None = None
    radius_km: int | None = None
    auto_invite: bool = False

    @classmethod
    def of(cls, user, avatar_url: str | None = None) -> UserOut:
        return cls(
            id=user.user_id,
            username=user.username,
            email=user.email,
            email_verified=user.email_verified,
            display_name=user.display_name,
            bio=user.bio,
            role=user.role,
            creator_verified=user.creator_verified,
            creator_verification=user.creator_verification or "none",
            avatar_url=avatar_url,
            avatar_photo_id=user.avatar_photo_id,
            two_factor_enabled=bool(user.two_factor_enabled),
            created_at=iso(user.created_at),
            interests=sorted(user.interests or ()),
            home={"lat": float(user.home_lat), "lon": float(user.home_lon)} if user.home_lat is not None else None,
            radius_km=int(user.radius_km) if user.radius_km is not None else None,
            auto_invite=bool(user.auto_invite),
        )


class MeOut(UserOut):
    unread_notifications: int


class UserEnvelope(Out):
    user: UserOut


# ---- auth bodies -------------------------------------------------------------------------------------------


class SignupIn(Body):
    email: Email
    username: Username
    password: Password
    display_name: Annotated[CleanText, Field(max_length=64)] | None = None
    role: Literal["member", "photographer", "creator"] = "member"


class VerifyEmailIn(Body):
    email: Email
    code: Code


class EmailIn(Body):
    email: Email


class LoginIn(Body):
    login: Annotated[str, Field(min_length=1, max_length=254, description="Email or username")]
    password: Password
    session: Literal["body", "cookie"] = Field(
        "body",
        description='"cookie" (browsers): the refresh token is set as an HttpOnly, SameSite=Strict cookie '
        "for /auth instead of returned; refresh and logout then read it and require X-Requested-With: lightbox",
    )


class TokenOut(Out):
    access_token: str
    refresh_token: str | None = Field(None, description='Absent with session: "cookie" (it is in the cookie)')
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    user: UserOut


class TwoFactorChallengeOut(Out):
    two_factor_required: Literal[True] = True
    challenge_token: str = Field(description="For POST /auth/2fa/verify, with a code; single use")
    expires_in: int = Field(description="Seconds the challenge stays valid")


class LoginOut(RootModel[TokenOut | TwoFactorChallengeOut]):
    """Tokens, or (two-factor auth on) a challenge that ``POST /auth/2fa/verify`` completes."""

    model_config = ConfigDict(defer_build=True)


TwoFactorCode = Annotated[
    str, Field(min_length=1, max_length=32, description="The 6-digit code of the authenticator app, or a recovery code")
]


class TwoFactorSetupOut(Out):
    secret: str = Field(description="Base32 TOTP secret (RFC 6238: SHA-1, 6 digits, 30 s)")
    otpauth_uri: str = Field(description="otpauth://totp/... for a QR code")


class TwoFactorCodeIn(Body):
    code: TwoFactorCode


class TwoFactorEnableOut(Out):
    recovery_codes: list[str] = Field(description="Ten one-time codes, shown only now")


class TwoFactorVerifyIn(Body):
    challenge_token: Token
    code: TwoFactorCode


class TwoFactorDisableIn(Body):
    password: Password | None = Field(
        None,
        description="Required when the account has a password; an account without one (created by a Google or "
        "Apple sign-in) omits it and the code alone turns two-factor auth off",
    )
    code: TwoFactorCode


class RefreshIn(Body):
    refresh_token: Token | None = Field(
        None, description="Required unless the session cookie is sent (with X-Requested-With: lightbox)"
    )


class RefreshOut(Out):
    access_token: str
    refresh_token: str | None = Field(None, description="Absent when the session cookie was used: it is rotated")
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class VerifyTokenIn(Body):
    token: Token


class TokenInfoOut(Out):
    valid: bool
    sub: str
    role: str
    exp: int


class HomeIn(Body):
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


def _interest_terms(values: list[str]) -> list[str]:
    from chalicelib.services.autoinvite import normalise_terms

    return normalise_terms(values)


class UpdateMeIn(Body):
    display_name: Annotated[CleanText, Field(max_length=64)] | None = None
    bio: Annotated[str, Field(max_length=500)] | None = None
    avatar_photo_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    interests: (
        Annotated[
            list[Annotated[CleanText, Field(min_length=1, max_length=32)]],
            Field(max_length=10, description="Up to 10 terms, lower-cased (auto-invite)"),
            AfterValidator(_interest_terms),
        ]
        | None
    ) = None
    home: HomeIn | None = Field(None, description="Where you are, for auto-invite (null removes it)")
    radius_km: Annotated[int, Field(ge=1, le=500)] | None = Field(None, description="Auto-invite radius, 1-500 km")
    auto_invite: bool | None = Field(None, description="Be invited to public events matching your interests nearby")


class SearchQuery(PageQuery):
    q: Annotated[str, Field(min_length=1, max_length=64)]


class ChangePasswordIn(Body):
    old_password: Password
    new_password: Password


class ResetPasswordIn(Body):
    email: Email
    code: Code
    new_password: Password


class ChangeUsernameIn(Body):
    password: Password
    new_username: Username


class ChangeEmailIn(Body):
    password: Password
    new_email: Email


class CodeIn(Body):
    code: Code


class PasswordIn(Body):
    password: Password


class RoleIn(Body):
    role: Literal["member", "photographer", "creator", "staff", "admin"]


class Accepted(Out):
    status: Literal["accepted"] = "accepted"


class Ok(Out):
    status: Literal["ok"] = "ok"
