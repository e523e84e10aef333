"""What a client does with its session's tokens: rotate them (refresh), or give them up (logout)."""

from __future__ import annotations

from shared.config import Settings, get_settings
from shared.context import ClientInfo
from shared.database import unit_of_work
from shared.errors import AuthenticationError, ErrorCode, TokenRejectedError
from shared.models import User
from shared.services import audit, rate_limits
from shared.services.audit import AuditEvent
from shared.services.principal import Principal
from shared.services.rate_limits import Limit, Rule
from shared.services.sessions import RefreshRefusal, SessionEndReason, revoke_session, rotate
from shared.services.sign_in import SignedIn


def refresh(presented: str, client: ClientInfo) -> SignedIn:
    """Rotate a refresh token; a rotated token shown after the grace period ends the session.

    Only failed refreshes count against the per-address limit: a venue full of
    donors refreshing every few minutes from one address never meets it.
    """
    settings = get_settings()
    try:
        return _rotate(settings, presented, client)
    except AuthenticationError:
        rate_limits.record_failure(_refresh_failures(settings, client))  # 429 once used up
        raise


def logout(principal: Principal, client: ClientInfo) -> None:
    """End the caller's session: its access token fails on the very next request."""
    with unit_of_work() as db:
        revoke_session(db, principal.user_id, principal.session_id, SessionEndReason.LOGOUT, access=principal.claims)
        audit.record_by_caller(db, AuditEvent.LOGOUT, client, principal, session_id=str(principal.session_id))


def _refresh_failures(settings: Settings, client: ClientInfo) -> Limit:
    return rate_limits.limit(settings, Rule.REFRESH_FAILURE_PER_ADDRESS, ip_address=client.ip_address)


# Each refusal of a refresh, as the client sees it: refresh is over for this session either way,
# but an app tells "signed out" (sign in again) from "someone reused your token" (say so).
_REFUSED = {
    RefreshRefusal.UNKNOWN: (ErrorCode.INVALID_REFRESH_TOKEN, "The refresh token is not valid."),
    RefreshRefusal.SESSION_ENDED: (ErrorCode.SESSION_ENDED, "The session has ended; sign in again."),
    RefreshRefusal.REUSED: (
        ErrorCode.REFRESH_TOKEN_REUSED,
        "This refresh token was already used, so the session was ended; sign in again.",
    ),
}


def _refused(why: RefreshRefusal) -> TokenRejectedError:
    code, message = _REFUSED[why]
    return TokenRejectedError(message, code=code)


def _rotate(settings: Settings, presented: str, client: ClientInfo) -> SignedIn:
    with unit_of_work() as db:
        rotation = rotate(db, settings, presented)
        if rotation.refused is not None and rotation.reuse_detected_session is None:
            raise _refused(rotation.refused)  # inside: a token of an ended session stays unspent
        if rotation.reuse_detected_session is not None:
            session = rotation.reuse_detected_session
            owner = db.get(User, session.user_id)
            audit.record(
                db,
                AuditEvent.REFRESH_REUSE_DETECTED,
                client,
                target_id=session.user_id,
                npo_id=owner.npo_id if owner else None,
                details={"session_id": str(session.id)},
            )
    if rotation.refused is not None or rotation.tokens is None or rotation.user is None:
        raise _refused(rotation.refused or RefreshRefusal.UNKNOWN)  # after the commit: the reuse ended the session
    return SignedIn(rotation.tokens, rotation.user)
