"""What a client does with its session's tokens: rotate them (refresh), or give them up (logout)."""

from __future__ import annotations

from shared.config import Settings, get_settings
from shared.context import ClientInfo
from shared.database import unit_of_work
from shared.errors import AuthenticationError, ErrorCode
from shared.models import User
from shared.services import audit, rate_limits
from shared.services.audit import AuditEvent
from shared.services.principal import Principal
from shared.services.rate_limits import Limit, Rule
from shared.services.sessions import SessionEndReason, revoke_session, rotate
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


def _rotate(settings: Settings, presented: str, client: ClientInfo) -> SignedIn:
    with unit_of_work() as db:
        rotation = rotate(db, settings, presented)
        if rotation is not None and rotation.reuse_detected_session is not None:
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
    if rotation is None or rotation.tokens is None or rotation.user is None:
        raise AuthenticationError("Your session has ended. Sign in again.", code=ErrorCode.INVALID_REFRESH_TOKEN)
    return SignedIn(rotation.tokens, rotation.user)
