"""Request and response bodies of /api/v1/auth/..."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, RootModel
from pydantic.json_schema import SkipJsonSchema

from shared.schemas.common import RequestModel, ResponseModel
from shared.schemas.fields import (
    Email,
    GivenPassword,
    Name,
    NewPassword,
    OpaqueToken,
    RefreshTokenTransport,
    without_default,
)
from shared.schemas.legal import AcceptsDocuments
from shared.schemas.mfa import MfaChallengeResponse
from shared.schemas.users import ContactFields, UserOut

# refresh_token_transport's value that puts the refresh token in the cookie.
COOKIE_TRANSPORT = "cookie"


class RegisterRequest(ContactFields, AcceptsDocuments):
    email: Email
    password: NewPassword
    first_name: Name
    last_name: Name


class RegisterResponse(ResponseModel):
    user: UserOut
    message: str


class TokenRequest(RequestModel):
    token: OpaqueToken


class EmailRequest(RequestModel):
    email: Email


class LoginRequest(RequestModel):
    email: Email
    password: GivenPassword
    refresh_token_transport: RefreshTokenTransport = "body"


class RefreshRequest(RequestModel):
    """The refresh token in the body; without one, the refresh cookie (with `X-Requested-With: fetch`)."""

    refresh_token: OpaqueToken | None = Field(
        default=None, description="Leave it out to refresh with the cookie; when both come, this one counts."
    )


class LogoutRequest(RequestModel):
    """Any one of: this refresh token, the bearer token (even expired), the refresh cookie."""

    refresh_token: OpaqueToken | None = Field(
        default=None, description="Ends its session, whatever its state; when it comes, the cookie is not read."
    )


class PasswordResetConfirmRequest(RequestModel):
    token: OpaqueToken
    new_password: NewPassword


class PasswordChangeRequest(RequestModel):
    current_password: GivenPassword
    new_password: NewPassword


def _is_none(value: object) -> bool:
    return value is None


class TokenResponse(ResponseModel):
    access_token: str
    refresh_token: str | SkipJsonSchema[None] = Field(
        default=None,
        exclude_if=_is_none,
        json_schema_extra=without_default,
        description="Left out with the cookie transport: the refresh token is in the cookie, out of scripts' reach.",
    )
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(examples=[900], description="Seconds until the access token expires.")
    password_change_required: bool = Field(
        default=False,
        description="An administrator set this password: until it is changed, only password change, "
        "logout and GET /api/v1/users/me are allowed (others answer 403 PASSWORD_CHANGE_REQUIRED).",
    )
    consent_required: bool = Field(
        default=False,
        description="A legal document must be accepted (again): until it is, only GET /api/v1/users/me, the consent "
        "routes, logout and the own-session routes are allowed (others answer 403 CONSENT_REQUIRED).",
    )
    user: UserOut


class UserMessageResponse(ResponseModel):
    message: str
    user: UserOut


class LoginResponse(RootModel[TokenResponse | MfaChallengeResponse]):
    """The tokens, or (when the account has a second factor) a challenge for the code."""

    model_config = ConfigDict(defer_build=True)
