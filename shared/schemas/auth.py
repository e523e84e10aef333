"""Request and response bodies of /api/v1/auth/..."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, RootModel, model_validator

from shared.schemas.common import RequestModel, ResponseModel, is_none
from shared.schemas.fields import (
    Email,
    GivenPassword,
    Name,
    NewPassword,
    OpaqueToken,
    RefreshTokenTransport,
)
from shared.schemas.legal import AcceptsDocuments
from shared.schemas.mfa import MfaChallengeResponse
from shared.schemas.users import ContactFields, UserOut, refuse_personal_password

# refresh_token_transport's value that puts the refresh token in the cookie.
COOKIE_TRANSPORT = "cookie"


class RegisterRequest(ContactFields, AcceptsDocuments):
    email: Email
    password: NewPassword = Field(
        description="8 to 128 characters with a letter and a digit; not a common "
        "password, and not built on the service's name, the person's names or their email address."
    )
    first_name: Name
    last_name: Name

    @model_validator(mode="after")
    def _nothing_personal(self) -> RegisterRequest:
        refuse_personal_password(self.password, "password", self.email, self.first_name, self.last_name)
        return self


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


ACCESS_TOKEN_EXAMPLE = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImtwMVZaS0dZIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiIwYjhmIn0.c2ln"


class TokenResponse(ResponseModel):
    """A session's tokens (sign-in, its second step, a refresh, an accepted invitation), and what the
    user must do first."""

    status: Literal["authenticated"] = "authenticated"
    access_token: str = Field(examples=[ACCESS_TOKEN_EXAMPLE])
    refresh_token: str | None = Field(
        default=None,
        exclude_if=is_none,
        description="Left out with the cookie transport: the refresh token is in the cookie, out of scripts' reach.",
        examples=["p3H9vQ2xLk7TnR4sW8yZbC1dF6gJ0mA5eU_-oI2qXtY"],
    )
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(examples=[900], description="Seconds until the access token expires.")
    password_change_required: bool = Field(
        default=False,
        description="An administrator set this password: until it is changed, only password change, "
        "logout and GET /api/v1/users/me are allowed (others answer 403 PASSWORD_CHANGE_REQUIRED).",
    )
    mfa_enrollment_required: bool = Field(
        default=False,
        description="The role requires a second factor (MFA_REQUIRED_ROLES) and none is on yet: until one is, "
        "only GET /api/v1/users/me, the /api/v1/auth/mfa routes, logout and the own-session routes are "
        "allowed (others answer 403 MFA_ENROLLMENT_REQUIRED).",
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


class LoginResponse(RootModel[Annotated[TokenResponse | MfaChallengeResponse, Field(discriminator="status")]]):
    """The tokens (``status: "authenticated"``), or, when the account has a second factor, a
    challenge for the code (``status: "mfa_required"``)."""

    model_config = ConfigDict(defer_build=True)
