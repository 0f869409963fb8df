"""Request and response schemas of users and auth, shared across blueprints. The same classes generate
/openapi.json."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import EmailStr, Field

# CleanText, Username and Page live in schema_base (a route that needs no user or auth schema imports only that);
# they can still be imported from here.
from chalicelib.api.schema_base import Body, CleanText, Out, PageQuery, Username
from chalicelib.api.schema_base import Page as Page
from chalicelib.models.base import iso

Password = Annotated[str, Field(min_length=1, max_length=1024)]
Email = Annotated[EmailStr, Field(max_length=254)]
Code = Annotated[str, Field(min_length=1, max_length=16, description="The 6-digit code from the email")]
Token = Annotated[str, Field(min_length=1, max_length=4096)]


# ---- users -------------------------------------------------------------------------------------------------


class PublicUserOut(Out):
    id: str
    username: str
    display_name: str | None
    bio: str | None = None
    role: str
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
            avatar_url=avatar_url,
            created_at=iso(user.created_at),
        )


class UserOut(PublicUserOut):
    email: str
    email_verified: bool
    avatar_photo_id: str | None = None

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
            avatar_url=avatar_url,
            avatar_photo_id=user.avatar_photo_id,
            created_at=iso(user.created_at),
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


class TokenOut(Out):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    user: UserOut


class RefreshIn(Body):
    refresh_token: Token


class RefreshOut(Out):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class VerifyTokenIn(Body):
    token: Token


class TokenInfoOut(Out):
    valid: bool
    sub: str
    role: str
    exp: int


class UpdateMeIn(Body):
    display_name: Annotated[CleanText, Field(max_length=64)] | None = None
    bio: Annotated[str, Field(max_length=500)] | None = None
    avatar_photo_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None


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
