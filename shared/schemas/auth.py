"""Request and response bodies of /api/v1/auth/..."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.schemas.common import RequestModel, ResponseModel
from shared.schemas.fields import (
    Email,
    GivenPassword,
    Name,
    NewPassword,
    OpaqueToken,
    Phone,
    PostalCode,
    Text100,
    Text255,
)
from shared.schemas.users import UserOut


class RegisterRequest(RequestModel):
    email: Email
    password: NewPassword
    first_name: Name
    last_name: Name
    phone: Phone | None = None
    organization_name: Text255 | None = None
    address_line1: Text255 | None = None
    address_line2: Text255 | None = None
    city: Text100 | None = None
    state: Text100 | None = None
    postal_code: PostalCode | None = None
    country: Text100 | None = None


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
    user: UserOut


class UserMessageResponse(ResponseModel):
    message: str
    user: UserOut
