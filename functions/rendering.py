"""How the trigger modules render a user and a new session's tokens: the one place the user body's
derived fields are filled in, and the one place the refresh token is put in the body or the cookie."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from shared.config import get_settings
from shared.http.endpoint import Reply
from shared.http.refresh_cookie import RefreshCookie
from shared.schemas.auth import COOKIE_TRANSPORT, TokenResponse
from shared.schemas.users import CurrentUserOut, UserOut
from shared.services.sign_in_state import PendingStep, owes_second_factor

if TYPE_CHECKING:
    from shared.models import User
    from shared.services.sign_in import SignedIn

RenderedUser = TypeVar("RenderedUser", bound=UserOut)

# The routes the refresh cookie is sent to (refresh and logout are the ones that read it).
AUTH_ROUTES = "api/v1/auth"


def user_out(user: User) -> UserOut:
    """The user body; ``mfa_enrollment_required`` follows MFA_REQUIRED_ROLES as of this request."""
    return _derived(UserOut.model_validate(user), user)


def current_user_out(user: User, pending: frozenset[PendingStep]) -> CurrentUserOut:
    """The signed-in user's body: the user body, and whether a legal document is owed (``pending``)."""
    rendered = _derived(CurrentUserOut.model_validate(user), user)
    rendered.consent_required = PendingStep.CONSENT in pending
    return rendered


def _derived(rendered: RenderedUser, user: User) -> RenderedUser:
    rendered.mfa_enrollment_required = owes_second_factor(
        user.role, user.mfa_enabled, get_settings().mfa_required_roles
    )
    return rendered


def token_response(signed_in: SignedIn, *, with_refresh_token: bool = True) -> TokenResponse:
    """The tokens of a new session and its user, as every sign-in answers them, with what the user
    must do first."""
    user = user_out(signed_in.user)
    return TokenResponse(
        access_token=signed_in.tokens.access_token,
        refresh_token=signed_in.tokens.refresh_token if with_refresh_token else None,
        expires_in=signed_in.tokens.expires_in,
        password_change_required=signed_in.user.password_change_required,
        mfa_enrollment_required=user.mfa_enrollment_required,
        consent_required=bool(signed_in.tokens.state.owed_consents),
        user=user,
    )


def refresh_cookie() -> RefreshCookie:
    """REFRESH_COOKIE_NAME, scoped to the auth routes: only refresh and logout read it."""
    return RefreshCookie(get_settings().refresh_cookie_name, f"/{AUTH_ROUTES}")


def tokens_by_cookie(signed_in: SignedIn, status: int = 200) -> Reply:
    """The tokens with the refresh token in the cookie, alive until the session's absolute end."""
    tokens = signed_in.tokens
    max_age = int((tokens.session_expires_at - datetime.now(UTC)).total_seconds())
    cookie = refresh_cookie().issued(tokens.refresh_token, max_age)
    return Reply(token_response(signed_in, with_refresh_token=False), status=status, headers={"Set-Cookie": cookie})


def signed_in_reply(signed_in: SignedIn, transport: str, status: int = 200) -> Reply:
    """A new session's tokens (sign-in, second step, accepted invitation), the refresh token
    where ``refresh_token_transport`` asked for it."""
    if transport == COOKIE_TRANSPORT:
        return tokens_by_cookie(signed_in, status)
    return Reply(token_response(signed_in), status=status)
