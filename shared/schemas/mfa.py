"""Bodies of the second-factor routes and of the second step of a sign-in."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from shared.schemas.common import RequestModel, ResponseModel
from shared.schemas.fields import GivenPassword, OpaqueToken, RefreshTokenTransport

TotpCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$"), Field(examples=["492039"])]
RecoveryCodeText = Annotated[
    str,
    StringConstraints(min_length=16, max_length=24, pattern=r"^[A-Za-z0-9 -]+$"),
    Field(examples=["7KQM-2XVA-RT9P-HC4W"]),
]
Method = Literal["totp", "recovery_code"]


class CodeOrRecoveryCode(RequestModel):
    """A six-digit code from the authenticator app, or one of the recovery codes.

    Both are optional in the schema; the code is checked when given, else the
    recovery code. Giving neither is a wrong code, answered like one.
    """

    code: TotpCode | None = None
    recovery_code: RecoveryCodeText | None = None


class TotpEnrolmentResponse(ResponseModel):
    secret: str = Field(description="The base32 secret, for typing into an authenticator app.")
    otpauth_uri: str = Field(description="The otpauth:// URI the QR code holds.")
    qr_svg: str = Field(description="The URI as an SVG QR code to show inline.")


class TotpCodeRequest(RequestModel):
    code: TotpCode


class RecoveryCodesResponse(ResponseModel):
    recovery_codes: list[str] = Field(description="Each works once; they are shown this one time.")


class MfaChallengeResponse(ResponseModel):
    """The password was right; the account has a second factor: send a code to /api/v1/auth/mfa/verify."""

    status: Literal["mfa_required"] = "mfa_required"
    mfa_required: Literal[True] = Field(default=True, description="Always true; `status` says the same.")
    mfa_token: str = Field(examples=["Zq4mT8vN1xR6sK3wH9bY2cL7dF0gJ5pA-uE_iO3tWvQ"])
    expires_in: int = Field(examples=[300], description="Seconds the mfa_token stays valid.")
    methods: list[Method] = Field(examples=[["totp", "recovery_code"]])


class MfaVerifyRequest(CodeOrRecoveryCode):
    mfa_token: OpaqueToken
    refresh_token_transport: RefreshTokenTransport = "body"


class ReauthenticateRequest(RequestModel):
    password: GivenPassword
    code: TotpCode | None = Field(default=None, description="Needed when a second factor is on (or recovery_code).")
    recovery_code: RecoveryCodeText | None = None


class AccessTokenResponse(ResponseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(examples=[900], description="Seconds until the access token expires.")
