"""/api/v1/auth/...: register, verify, sign in, refresh, sign out, passwords."""

from __future__ import annotations

import azure.functions as func

from shared.context import ClientInfo
from shared.http.endpoint import endpoint
from shared.schemas.auth import (
    EmailRequest,
    LoginRequest,
    LoginResponse,
    LogoutRequest,
    PasswordChangeRequest,
    PasswordResetConfirmRequest,
    RefreshRequest,
    RegisterRequest,
    RegisterResponse,
    TokenRequest,
    TokenResponse,
    UserMessageResponse,
)
from shared.schemas.common import MessageResponse
from shared.schemas.mfa import AccessTokenResponse, MfaChallengeResponse, MfaVerifyRequest, ReauthenticateRequest
from shared.schemas.users import UserOut
from shared.services import accounts, password_changes, reauthentication, session_tokens, sign_in
from shared.services.principal import Principal
from shared.services.sign_in import SignedIn
from shared.services.sign_in_state import PendingStep

bp = func.Blueprint()  # type: ignore[no-untyped-call]

PREFIX = "api/v1/auth"
TAGS = ("auth",)

RESEND_MESSAGE = "If the address belongs to an account awaiting verification, a new link is on its way."
RESET_MESSAGE = "If the address belongs to an account, a reset link is on its way."


def _token_response(signed_in: SignedIn) -> TokenResponse:
    return TokenResponse(
        access_token=signed_in.tokens.access_token,
        refresh_token=signed_in.tokens.refresh_token,
        expires_in=signed_in.tokens.expires_in,
        password_change_required=signed_in.user.password_change_required,
        consent_required=bool(signed_in.tokens.state.owed_consents),
        user=UserOut.model_validate(signed_in.user),
    )


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/register",
    name="auth_register",
    summary="Register a donor account",
    tags=TAGS,
    response_model=RegisterResponse,
    status=201,
    errors=(409, 429, 503),
)
def register(body: RegisterRequest, client: ClientInfo) -> RegisterResponse:
    """Creates an unverified, inactive donor and queues the verification email. Once legal documents are
    published, `accepted_documents` names the current version of each (422, type consent_required)."""
    profile = body.model_dump(exclude={"password", "accepted_documents"})
    user = accounts.register(profile, body.password, body.accepted_documents, client)
    return RegisterResponse(
        user=UserOut.model_validate(user), message="Account created. Check your email to verify your address."
    )


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/verify-email",
    name="auth_verify_email",
    summary="Verify an email address",
    tags=TAGS,
    response_model=UserMessageResponse,
    errors=(503,),
)
def verify_email(body: TokenRequest, client: ClientInfo) -> UserMessageResponse:
    """Spends the single-use token from the verification email (400 INVALID_TOKEN otherwise)."""
    user = accounts.verify_email(body.token, client)
    return UserMessageResponse(message="Email verified. You can sign in now.", user=UserOut.model_validate(user))


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/verify-email/resend",
    name="auth_resend_verification",
    summary="Send the verification email again",
    tags=TAGS,
    response_model=MessageResponse,
    status=202,
    errors=(429, 503),
)
def resend_verification(body: EmailRequest, client: ClientInfo) -> MessageResponse:
    """Answers the same for every address, known or not."""
    accounts.resend_verification(body.email, client)
    return MessageResponse(message=RESEND_MESSAGE)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/login",
    name="auth_login",
    summary="Sign in with email and password",
    tags=TAGS,
    response_model=LoginResponse,
    errors=(401, 403, 429, 503),
)
def login(body: LoginRequest, client: ClientInfo) -> LoginResponse:
    """Opens a session (one per device) and returns an access and a refresh token; when the
    account has a second factor, answers `mfa_required` with an `mfa_token` for /auth/mfa/verify instead."""
    outcome = sign_in.login(body.email, body.password, client)
    if isinstance(outcome, sign_in.MfaChallenge):
        challenge = MfaChallengeResponse(
            mfa_token=outcome.mfa_token, expires_in=outcome.expires_in, methods=list(outcome.methods)
        )
        return LoginResponse(challenge)
    return LoginResponse(_token_response(outcome))


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/mfa/verify",
    name="auth_mfa_verify",
    summary="Second step of a sign-in: the code",
    tags=TAGS,
    response_model=TokenResponse,
    errors=(401, 403, 429, 503),
)
def verify_second_factor(body: MfaVerifyRequest, client: ClientInfo) -> TokenResponse:
    """Exchanges the `mfa_token` of /login and a code (or a recovery code) for the usual tokens.
    The token dies after 5 wrong codes; wrong codes count against the account's sign-in limit."""
    signed_in = sign_in.verify_second_factor(body.mfa_token, body.code, body.recovery_code, client)
    return _token_response(signed_in)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/reauthenticate",
    name="auth_reauthenticate",
    summary="Confirm the password (and code) again",
    tags=TAGS,
    response_model=AccessTokenResponse,
    auth=True,
    errors=(400, 429),
    allowed_despite=(PendingStep.MFA_ENROLLMENT, PendingStep.CONSENT),
)
def reauthenticate(body: ReauthenticateRequest, caller: Principal, client: ClientInfo) -> AccessTokenResponse:
    """Sensitive actions need a proof of identity from this session within REAUTH_MAX_AGE_MINUTES:
    this renews it for every token of the session at once, and answers a new access token."""
    done = reauthentication.reauthenticate(caller, body.password, body.code, body.recovery_code, client)
    return AccessTokenResponse(access_token=done.access_token, expires_in=done.expires_in)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/refresh",
    name="auth_refresh",
    summary="Rotate the refresh token",
    tags=TAGS,
    response_model=TokenResponse,
    errors=(401, 503),
)
def refresh(body: RefreshRequest, client: ClientInfo) -> TokenResponse:
    """Returns a new access token and a new refresh token; the old refresh token is spent."""
    return _token_response(session_tokens.refresh(body.refresh_token, client))


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/logout",
    name="auth_logout",
    summary="Sign out this device",
    tags=TAGS,
    status=204,
    auth=True,
    body_optional=True,
    allowed_despite=tuple(PendingStep),
)
def logout(body: LogoutRequest, caller: Principal, client: ClientInfo) -> None:
    """Ends the caller's session; its tokens stop working at once. Other devices stay signed in."""
    session_tokens.logout(caller, client)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/password-reset/request",
    name="auth_password_reset_request",
    summary="Email a password-reset link",
    tags=TAGS,
    response_model=MessageResponse,
    status=202,
    errors=(429, 503),
)
def password_reset_request(body: EmailRequest, client: ClientInfo) -> MessageResponse:
    """Answers the same for every address, known or not."""
    password_changes.request_reset(body.email, client)
    return MessageResponse(message=RESET_MESSAGE)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/password-reset/confirm",
    name="auth_password_reset_confirm",
    summary="Set a new password with a reset token",
    tags=TAGS,
    response_model=MessageResponse,
    errors=(503,),
)
def password_reset_confirm(body: PasswordResetConfirmRequest, client: ClientInfo) -> MessageResponse:
    """Every session of the user ends."""
    password_changes.confirm_reset(body.token, body.new_password, client)
    return MessageResponse(message="Password changed. Sign in with your new password.")


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/password/change",
    name="auth_password_change",
    summary="Change the password",
    tags=TAGS,
    response_model=MessageResponse,
    auth=True,
    errors=(429,),
    allowed_despite=(PendingStep.PASSWORD_CHANGE, PendingStep.MFA_ENROLLMENT, PendingStep.CONSENT),
    recent_auth=True,
)
def password_change(body: PasswordChangeRequest, caller: Principal, client: ClientInfo) -> MessageResponse:
    """Needs the current password; every other session ends, this one stays."""
    password_changes.change_password(caller, body.current_password, body.new_password, client)
    return MessageResponse(message="Password changed. Your other sessions were signed out.")
