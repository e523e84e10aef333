"""/api/v1/auth/...: register, verify, sign in, refresh, sign out, passwords."""

from __future__ import annotations

import azure.functions as func

from shared.http.endpoint import ApiRequest, endpoint
from shared.schemas.auth import (
    EmailRequest,
    LoginRequest,
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
from shared.schemas.users import UserOut
from shared.services import accounts, authentication, passwords
from shared.services.authentication import SignedIn

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
        user=UserOut.model_validate(signed_in.user),
    )


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/register",
    name="auth_register",
    summary="Register a donor account",
    tags=TAGS,
    request=RegisterRequest,
    response=RegisterResponse,
    status=201,
    errors=(409, 429, 503),
)
def register(request: ApiRequest) -> RegisterResponse:
    """Creates an unverified, inactive donor and queues the verification email."""
    body: RegisterRequest = request.body
    user = accounts.register(body.model_dump(exclude={"password"}), body.password, request.client)
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
    request=TokenRequest,
    response=UserMessageResponse,
    errors=(503,),
)
def verify_email(request: ApiRequest) -> UserMessageResponse:
    """Spends the single-use token from the verification email (400 INVALID_TOKEN otherwise)."""
    user = accounts.verify_email(request.body.token, request.client)
    return UserMessageResponse(message="Email verified. You can sign in now.", user=UserOut.model_validate(user))


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/verify-email/resend",
    name="auth_resend_verification",
    summary="Send the verification email again",
    tags=TAGS,
    request=EmailRequest,
    response=MessageResponse,
    status=202,
    errors=(429, 503),
)
def resend_verification(request: ApiRequest) -> MessageResponse:
    """Answers the same for every address, known or not."""
    accounts.resend_verification(request.body.email, request.client)
    return MessageResponse(message=RESEND_MESSAGE)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/login",
    name="auth_login",
    summary="Sign in with email and password",
    tags=TAGS,
    request=LoginRequest,
    response=TokenResponse,
    errors=(401, 403, 429, 503),
)
def login(request: ApiRequest) -> TokenResponse:
    """Opens a session (one per device) and returns an access and a refresh token."""
    body: LoginRequest = request.body
    return _token_response(authentication.login(body.email, body.password, request.client))


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/refresh",
    name="auth_refresh",
    summary="Rotate the refresh token",
    tags=TAGS,
    request=RefreshRequest,
    response=TokenResponse,
    errors=(401, 503),
)
def refresh(request: ApiRequest) -> TokenResponse:
    """Returns a new access token and a new refresh token; the old refresh token is spent."""
    return _token_response(authentication.refresh(request.body.refresh_token, request.client))


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/logout",
    name="auth_logout",
    summary="Sign out this device",
    tags=TAGS,
    request=LogoutRequest,
    status=204,
    auth=True,
    body_optional=True,
)
def logout(request: ApiRequest) -> None:
    """Ends the caller's session; its tokens stop working at once. Other devices stay signed in."""
    authentication.logout(request.principal, request.client)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/password-reset/request",
    name="auth_password_reset_request",
    summary="Email a password-reset link",
    tags=TAGS,
    request=EmailRequest,
    response=MessageResponse,
    status=202,
    errors=(429, 503),
)
def password_reset_request(request: ApiRequest) -> MessageResponse:
    """Answers the same for every address, known or not."""
    passwords.request_reset(request.body.email, request.client)
    return MessageResponse(message=RESET_MESSAGE)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/password-reset/confirm",
    name="auth_password_reset_confirm",
    summary="Set a new password with a reset token",
    tags=TAGS,
    request=PasswordResetConfirmRequest,
    response=MessageResponse,
    errors=(503,),
)
def password_reset_confirm(request: ApiRequest) -> MessageResponse:
    """Every session of the user ends."""
    body: PasswordResetConfirmRequest = request.body
    passwords.confirm_reset(body.token, body.new_password, request.client)
    return MessageResponse(message="Password changed. Sign in with your new password.")


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/password/change",
    name="auth_password_change",
    summary="Change the password",
    tags=TAGS,
    request=PasswordChangeRequest,
    response=MessageResponse,
    auth=True,
    errors=(429,),
)
def password_change(request: ApiRequest) -> MessageResponse:
    """Needs the current password; every other session ends, this one stays."""
    body: PasswordChangeRequest = request.body
    passwords.change_password(request.principal, body.current_password, body.new_password, request.client)
    return MessageResponse(message="Password changed. Your other sessions were signed out.")
