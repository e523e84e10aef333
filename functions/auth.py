"""/api/v1/auth/...: register, verify, sign in, refresh, sign out, passwords."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import azure.functions as func

from functions.rendering import AUTH_ROUTES, refresh_cookie, signed_in_reply, token_response, tokens_by_cookie, user_out
from shared.context import ClientInfo
from shared.errors import AuthenticationError, ErrorCode
from shared.http.endpoint import Reply, endpoint
from shared.http.refresh_cookie import CookieRequest
from shared.http.request import PresentedBearer
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
from shared.services import accounts, password_changes, reauthentication, session_tokens, sign_in
from shared.services.principal import Principal
from shared.services.sign_in_state import REAUTHENTICATION_ROUTE, PendingStep

bp = func.Blueprint()  # type: ignore[no-untyped-call]

PREFIX = AUTH_ROUTES
TAGS = ("auth",)

RESEND_MESSAGE = "If the address belongs to an account awaiting verification, a new link is on its way."
RESET_MESSAGE = "If the address belongs to an account, a reset link is on its way."


@contextmanager
def _cookie_cleared_on_refusal(cookie: CookieRequest) -> Iterator[None]:
    """A 401 of a request that carried the cookie also makes the browser forget it."""
    try:
        yield
    except AuthenticationError as refused:
        if cookie.present:
            refused.headers["Set-Cookie"] = refresh_cookie().cleared()
        raise


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/register",
    name="auth_register",
    summary="Register a donor account",
    tags=TAGS,
    response_model=RegisterResponse,
    status=201,
    errors=(ErrorCode.DUPLICATE_EMAIL, ErrorCode.RATE_LIMITED),
)
def register(body: RegisterRequest, client: ClientInfo) -> RegisterResponse:
    """Creates an unverified, inactive donor and queues the verification email. Once legal documents are
    published, `accepted_documents` names the current version of each (422, type consent_required)."""
    profile = body.model_dump(exclude={"password", "accepted_documents"})
    user = accounts.register(profile, body.password, body.accepted_documents, client)
    return RegisterResponse(user=user_out(user), message="Account created. Check your email to verify your address.")


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/verify-email",
    name="auth_verify_email",
    summary="Verify an email address",
    tags=TAGS,
    response_model=UserMessageResponse,
    errors=((400, ErrorCode.INVALID_TOKEN), ErrorCode.RATE_LIMITED),
)
def verify_email(body: TokenRequest, client: ClientInfo) -> UserMessageResponse:
    """Spends the single-use token from the verification email (400 INVALID_TOKEN otherwise)."""
    user = accounts.verify_email(body.token, client)
    return UserMessageResponse(message="Email verified. You can sign in now.", user=user_out(user))


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/verify-email/resend",
    name="auth_resend_verification",
    summary="Send the verification email again",
    tags=TAGS,
    response_model=MessageResponse,
    status=202,
    errors=(ErrorCode.RATE_LIMITED,),
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
    errors=(
        ErrorCode.INVALID_CREDENTIALS,
        ErrorCode.EMAIL_NOT_VERIFIED,
        ErrorCode.ACCOUNT_DEACTIVATED,
        ErrorCode.RATE_LIMITED,
    ),
)
def login(body: LoginRequest, client: ClientInfo) -> LoginResponse | Reply:
    """Opens a session (one per device) and answers `status: "authenticated"` with an access and a refresh
    token (with `refresh_token_transport: "cookie"`, the refresh token is set as an HttpOnly cookie
    instead); when the account has a second factor, answers `status: "mfa_required"` (and
    `mfa_required: true`) with an `mfa_token` for /auth/mfa/verify instead. `password_change_required`,
    `mfa_enrollment_required` and `consent_required` say what the user must do before the rest of the
    API is theirs."""
    outcome = sign_in.login(body.email, body.password, client)
    if isinstance(outcome, sign_in.MfaChallenge):
        challenge = MfaChallengeResponse(
            mfa_token=outcome.mfa_token, expires_in=outcome.expires_in, methods=list(outcome.methods)
        )
        return LoginResponse(challenge)
    return signed_in_reply(outcome, body.refresh_token_transport)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/mfa/verify",
    name="auth_mfa_verify",
    summary="Second step of a sign-in: the code",
    tags=TAGS,
    response_model=TokenResponse,
    errors=(
        ErrorCode.INVALID_MFA_TOKEN,
        (401, ErrorCode.INVALID_MFA_CODE),
        (401, ErrorCode.MFA_CODE_ALREADY_USED),
        ErrorCode.INVALID_CREDENTIALS,  # the password changed since the first step
        ErrorCode.ACCOUNT_DEACTIVATED,
        ErrorCode.RATE_LIMITED,
    ),
)
def verify_second_factor(body: MfaVerifyRequest, client: ClientInfo) -> Reply:
    """Exchanges the `mfa_token` of /login and a code (or a recovery code) for the usual tokens
    (`refresh_token_transport` as at /login). The token dies after 5 wrong or already used codes;
    they count against the account's sign-in limit."""
    signed_in = sign_in.verify_second_factor(body.mfa_token, body.code, body.recovery_code, client)
    return signed_in_reply(signed_in, body.refresh_token_transport)


@endpoint(
    bp,
    "POST",
    REAUTHENTICATION_ROUTE,
    name="auth_reauthenticate",
    summary="Confirm the password (and code) again",
    tags=TAGS,
    response_model=AccessTokenResponse,
    auth=True,
    errors=(
        ErrorCode.INVALID_CREDENTIALS,
        (401, ErrorCode.INVALID_MFA_CODE),
        (401, ErrorCode.MFA_CODE_ALREADY_USED),
        ErrorCode.RATE_LIMITED,
    ),
    allowed_despite=(PendingStep.MFA_ENROLLMENT, PendingStep.MFA_STEP_UP, PendingStep.CONSENT),
)
def reauthenticate(body: ReauthenticateRequest, caller: Principal, client: ClientInfo) -> AccessTokenResponse:
    """Sensitive actions need a proof of identity from this session within REAUTH_MAX_AGE_MINUTES:
    this renews it for every token of the session at once, and answers a new access token. With a
    code, it is also the step-up a session that signed in without the second factor owes."""
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
    body_optional=True,
    errors=(
        ErrorCode.AUTHENTICATION_REQUIRED,  # no token, in the body or the cookie
        ErrorCode.INVALID_REFRESH_TOKEN,
        ErrorCode.SESSION_ENDED,
        ErrorCode.REFRESH_TOKEN_REUSED,
        ErrorCode.RATE_LIMITED,
    ),
)
def refresh(body: RefreshRequest, cookie: CookieRequest, client: ClientInfo) -> TokenResponse | Reply:
    """Returns a new access token and a new refresh token; the old refresh token is spent. Without
    `refresh_token` in the body, rotates the refresh cookie (needs `X-Requested-With: fetch`, and an
    allowed `Origin`: else 403 `CSRF_CHECK_FAILED`) and sets the new one."""
    if body.refresh_token is not None:
        return token_response(session_tokens.refresh(body.refresh_token, client))
    token = cookie.token()  # the CSRF rule: 403 before anything is spent
    with _cookie_cleared_on_refusal(cookie):
        return tokens_by_cookie(session_tokens.refresh(token, client))


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/logout",
    name="auth_logout",
    summary="Sign out this device",
    tags=TAGS,
    status=204,
    body_optional=True,
    errors=(
        ErrorCode.AUTHENTICATION_REQUIRED,  # nothing names a session
        (401, ErrorCode.INVALID_TOKEN),
        ErrorCode.INVALID_REFRESH_TOKEN,
    ),
    allowed_despite=tuple(PendingStep),
)
def logout(body: LogoutRequest, bearer: PresentedBearer, cookie: CookieRequest, client: ClientInfo) -> Reply:
    """Ends the session named by the bearer token (even an expired one), a `refresh_token` in the body,
    or the refresh cookie (under the same CSRF rule as refresh); 204 also when it had already ended.
    Its tokens stop working at once; other devices stay signed in. The answer clears a cookie it
    read (not when a body token came)."""
    if body.refresh_token is not None:  # the body names the session: the cookie is not read
        session_tokens.logout(bearer.token, body.refresh_token, client)
        return Reply(status=204)
    token = cookie.token()  # the CSRF rule: 403 before anything ends
    with _cookie_cleared_on_refusal(cookie):
        session_tokens.logout(bearer.token, token, client)
    return Reply(status=204, headers={"Set-Cookie": refresh_cookie().cleared()} if cookie.present else {})


# The reset routes' first names (/password-reset/...), kept for the clients that call them.
@endpoint(
    bp,
    "POST",
    f"{PREFIX}/password/reset/request",
    name="auth_password_reset_request",
    summary="Email a password-reset link",
    tags=TAGS,
    response_model=MessageResponse,
    status=202,
    errors=(ErrorCode.RATE_LIMITED,),
    deprecated_routes=(f"{PREFIX}/password-reset/request",),
)
def password_reset_request(body: EmailRequest, client: ClientInfo) -> MessageResponse:
    """Answers the same for every address, known or not."""
    password_changes.request_reset(body.email, client)
    return MessageResponse(message=RESET_MESSAGE)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/password/reset/confirm",
    name="auth_password_reset_confirm",
    summary="Set a new password with a reset token",
    tags=TAGS,
    response_model=MessageResponse,
    errors=((400, ErrorCode.INVALID_TOKEN), ErrorCode.RATE_LIMITED),
    deprecated_routes=(f"{PREFIX}/password-reset/confirm",),
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
    errors=(ErrorCode.INVALID_CREDENTIALS, ErrorCode.RATE_LIMITED),
    allowed_despite=(PendingStep.PASSWORD_CHANGE, PendingStep.MFA_ENROLLMENT, PendingStep.CONSENT),
    recent_auth=True,
)
def password_change(body: PasswordChangeRequest, caller: Principal, client: ClientInfo) -> MessageResponse:
    """Needs the current password; every other session ends, this one stays."""
    password_changes.change_password(caller, body.current_password, body.new_password, client)
    return MessageResponse(message="Password changed. Your other sessions were signed out.")
