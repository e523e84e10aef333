"""Who is calling: every authenticated request's bearer token resolved to the caller.

The hot path of the service: a verified signature, the session script (one
Redis round trip: the session is alive, the token not revoked, and the user's
cached authorization state if current) and no SQL when the state is cached.
The caller's state is read from the database, and cached for the next
request, only when the cache has none current (``user_state``).
"""

from __future__ import annotations

import uuid

from shared.config import Settings, get_settings
from shared.context import ClientInfo
from shared.errors import (
    AuthenticationError,
    DeclaredError,
    ErrorCode,
    SessionEndedError,
    TokenRejectedError,
)
from shared.security.jwt_tokens import AccessClaims, ExpiredTokenError, InvalidTokenError, decode_access_token
from shared.services import audit, rate_limits, user_state
from shared.services.principal import LiveSession, Principal
from shared.services.rate_limits import Rule
from shared.services.sessions import check_session
from shared.services.sign_in_state import pending_steps
from shared.services.user_state import UserState

# What a bearer token that came is refused with (401), on whichever route: an invalid one; an
# expired one (refresh); one whose session (or its user's account) has ended (sign in again).
TOKEN_REFUSALS: tuple[DeclaredError, ...] = (
    (401, ErrorCode.INVALID_TOKEN),
    ErrorCode.TOKEN_EXPIRED,
    ErrorCode.SESSION_ENDED,
)
# ... and on a route that needs one, also none given.
BEARER_REFUSALS: tuple[DeclaredError, ...] = (ErrorCode.AUTHENTICATION_REQUIRED, *TOKEN_REFUSALS)


def verify_bearer(
    token: str | None, client: ClientInfo, per_user_limit: Rule | None = None
) -> tuple[AccessClaims, LiveSession]:
    """Signature and claims, a live session, an unrevoked token: one Redis round trip, no SQL.

    The user's cached authorization state comes with it when it is current.
    ``per_user_limit`` is counted in that same round trip; a 429 it answers
    is audited (once per user and window).
    """
    return _verified(get_settings(), token, client, per_user_limit)


def authenticate(token: str | None, client: ClientInfo) -> Principal:
    """Resolve a bearer token to the caller and their state as of this request.

    The state comes from the cache the session script reads; when it is not
    current it is read from the database and cached for the next request.
    """
    settings = get_settings()
    claims, live = _verified(settings, token, client)
    state = live.state or _current_state(live)
    return Principal(
        state=state,
        claims=claims,
        auth_time=live.auth_time,
        amr=live.amr,
        pending_steps=pending_steps(state, settings.mfa_required_roles, live.amr),
    )


def _verified(
    settings: Settings, token: str | None, client: ClientInfo, per_user_limit: Rule | None = None
) -> tuple[AccessClaims, LiveSession]:
    if not token:
        raise AuthenticationError()
    try:
        claims = decode_access_token(settings, token)
    except ExpiredTokenError:
        raise TokenRejectedError("Your sign-in has expired.", code=ErrorCode.TOKEN_EXPIRED) from None
    except InvalidTokenError:
        raise TokenRejectedError("Your sign-in is not valid. Sign in again.") from None
    user_id = uuid.UUID(claims.user_id)
    limit = rate_limits.limit(settings, per_user_limit, user_id=user_id) if per_user_limit else None
    with audit.rate_limited_recorded(client, client.operation, actor_id=user_id, target_id=user_id):
        live = check_session(settings, user_id, uuid.UUID(claims.session_id), claims.jti, limit)
    if live is None or (live.state is not None and not live.state.is_active):
        raise SessionEndedError()
    return claims, live


def _current_state(live: LiveSession) -> UserState:
    """The state from the database, cached under the version the session script read."""
    state = user_state.read(live.user_id)
    if state is None or not state.is_active:
        raise SessionEndedError()
    user_state.store(state, live.version)
    return state
