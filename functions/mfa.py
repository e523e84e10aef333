"""/api/v1/auth/mfa/...: the caller's second factor (an authenticator app and recovery codes)."""

from __future__ import annotations

import azure.functions as func

from shared.context import ClientInfo
from shared.errors import ErrorCode
from shared.http.endpoint import endpoint
from shared.schemas.mfa import CodeOrRecoveryCode, RecoveryCodesResponse, TotpCodeRequest, TotpEnrolmentResponse
from shared.services import mfa
from shared.services.principal import Principal
from shared.services.sign_in_state import PendingStep

bp = func.Blueprint()  # type: ignore[no-untyped-call]

PREFIX = "api/v1/auth/mfa"
TAGS = ("mfa",)
# A user whose role requires a second factor may always set one up (a consent owed comes after it).
ENROLLING = (PendingStep.MFA_ENROLLMENT, PendingStep.CONSENT)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/totp",
    name="mfa_totp_start",
    summary="Start setting up an authenticator app",
    tags=TAGS,
    response_model=TotpEnrolmentResponse,
    auth=True,
    errors=(ErrorCode.MFA_ALREADY_ENABLED,),
    allowed_despite=ENROLLING,
    recent_auth=True,
)
def start_enrolment(caller: Principal, client: ClientInfo) -> TotpEnrolmentResponse:
    """A new secret, its otpauth URI and a QR code; nothing is on until /totp/confirm."""
    enrolment = mfa.start_enrolment(caller, client)
    return TotpEnrolmentResponse(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri, qr_svg=enrolment.qr_svg)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/totp/confirm",
    name="mfa_totp_confirm",
    summary="Turn the second factor on with a first code",
    tags=TAGS,
    response_model=RecoveryCodesResponse,
    auth=True,
    errors=(ErrorCode.MFA_ALREADY_ENABLED, ErrorCode.MFA_NOT_ENROLLING, (400, ErrorCode.INVALID_MFA_CODE)),
    allowed_despite=ENROLLING,
    recent_auth=True,
)
def confirm_enrolment(body: TotpCodeRequest, caller: Principal, client: ClientInfo) -> RecoveryCodesResponse:
    """Answers ten single-use recovery codes, shown this once."""
    return RecoveryCodesResponse(recovery_codes=mfa.confirm_enrolment(caller, body.code, client))


@endpoint(
    bp,
    "DELETE",
    f"{PREFIX}/totp",
    name="mfa_totp_remove",
    summary="Turn the second factor off",
    tags=TAGS,
    status=204,
    auth=True,
    errors=(
        ErrorCode.MFA_NOT_ENABLED,
        (400, ErrorCode.INVALID_MFA_CODE),
        (400, ErrorCode.MFA_CODE_ALREADY_USED),
        ErrorCode.RATE_LIMITED,
    ),
    recent_auth=True,
)
def remove(body: CodeOrRecoveryCode, caller: Principal, client: ClientInfo) -> None:
    """Proven with a current code or a recovery code; the recovery codes die with it. Wrong codes
    count against the per-user limit of wrong passwords (password change, re-authentication)."""
    mfa.remove(caller, body.code, body.recovery_code, client)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/recovery-codes",
    name="mfa_recovery_codes_regenerate",
    summary="Replace the recovery codes",
    tags=TAGS,
    response_model=RecoveryCodesResponse,
    auth=True,
    errors=(ErrorCode.MFA_NOT_ENABLED,),
    recent_auth=True,
)
def regenerate_recovery_codes(caller: Principal, client: ClientInfo) -> RecoveryCodesResponse:
    """A new set of ten; every code of the old set stops working."""
    return RecoveryCodesResponse(recovery_codes=mfa.regenerate_recovery_codes(caller, client))
