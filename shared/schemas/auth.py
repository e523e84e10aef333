"""Request and response bodies of /api/v1/auth/..."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, RootModel

from shared.schemas.common import RequestModel, ResponseModel
from shared.schemas.fields import (
    Email,
    GivenPassword,
    Name,
    NewPassword,
    OpaqueToken,
)
from shared.schemas.legal import AcceptsDocuments
from shared.schemas.mfa import MfaChallengeResponse
from shared.schemas.users import ContactFields, UserOut


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


class RefreshRequest(RequestModel):
    refresh_token: OpaqueToken


class LogoutRequest(RequestModel):
    refresh_token: OpaqueToken | None = None


class PasswordResetConfirmRequest(RequestModel):
    token: OpaqueToken
    new_password: NewPassword


class PasswordChangeRequest(RequestModel):
    current_password: GivenPassword
    new_password: NewPassword


class TokenResponse(ResponseModel):
    access_token: str
    refresh_token: str
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
