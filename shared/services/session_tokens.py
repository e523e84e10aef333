"""What a client does with its session's tokens: rotate them (refresh), or give them up (logout).

Both take the refresh token as a string, whichever way it came (the JSON body,
or the browser's cookie: ``shared.http.refresh_cookie`` decides which, and
applies the CSRF rule); neither knows about HTTP.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from shared.config import Settings, get_settings
from shared.context import ClientInfo
from shared.database import unit_of_work
from shared.errors import AuthenticationError, ErrorCode, TokenRejectedError
from shared.models import RefreshToken, Session, User
from shared.security import refresh_tokens
from shared.security.jwt_tokens import AccessClaims, ExpiredTokenError, InvalidTokenError, decode_access_token
from shared.security.tokens import hash_token
from shared.services import audit, rate_limits
from shared.services.audit import AuditEvent
from shared.services.rate_limits import Limit, Rule
from shared.services.sessions import RefreshRefusal, SessionEndReason, revoke_session, rotate
from shared.services.sign_in import SignedIn


def refresh(presented: str | None, client: ClientInfo) -> SignedIn:
    """Rotate a refresh token; a rotated token shown after the grace period ends the session.

    Only failed refreshes count against the per-address limit: a venue full of
    donors refreshing every few minutes from one address never meets it. No
    token at all (a web app's first page load, signed out) is not a failure.
    """
    if presented is None:
        raise AuthenticationError("Send the refresh token, in the body or in the refresh cookie.")
    settings = get_settings()
    try:
        return _rotate(settings, presented, client)
    except AuthenticationError:
        rate_limits.record_failure(_refresh_failures(settings, client))  # 429 once used up
        raise


@dataclass(frozen=True)
class _NamedSession:
    user_id: uuid.UUID
    session_id: uuid.UUID
    access: AccessClaims | None = None  # the bearer token's claims: its jti is revoked too


def logout(bearer: str | None, refresh_token: str | None, client: ClientInfo) -> None:
    """End the session each credential names; the access tokens of each fail on the very next request.

    A bearer token names its session even once it has expired (everything
    else about it verified: only this service could have signed it); a
    refresh token names its session whether it is current, rotated within
    the grace or long spent. Ending a session that had already ended, or the
    session of a well-formed refresh token this service does not know, is
    no error: sign-out answers alike for every token that could be one, so
    it tells nobody which tokens exist. 401 only when nothing could name a
    session: no credential, a bearer token that is not this service's, a
    refresh token of the wrong shape.
    """
    settings = get_settings()
    access = _genuine_claims(settings, bearer)
    well_formed = refresh_token is not None and refresh_tokens.well_formed(refresh_token)
    if access is None and not well_formed:
        raise _nothing_named(bearer, refresh_token)
    with unit_of_work() as db:
        named: dict[uuid.UUID, _NamedSession] = {}
        if refresh_token is not None and well_formed:
            row = db.execute(
                select(Session.user_id, Session.id)
                .join(RefreshToken, RefreshToken.session_id == Session.id)
                .where(RefreshToken.token_hash == hash_token(refresh_token))
            ).first()
            if row is not None:
                named[row.id] = _NamedSession(row.user_id, row.id)
        if access is not None:
            session_id = uuid.UUID(access.session_id)
            named[session_id] = _NamedSession(uuid.UUID(access.user_id), session_id, access)
        for session in named.values():
            if revoke_session(db, session.user_id, session.session_id, SessionEndReason.LOGOUT, access=session.access):
                owner = db.get(User, session.user_id)
                audit.record_own(db, AuditEvent.LOGOUT, client, owner, session_id=str(session.session_id))


def _genuine_claims(settings: Settings, bearer: str | None) -> AccessClaims | None:
    """The claims of a bearer token this service signed, expired or not; None for anything else."""
    if not bearer:
        return None
    try:
        return decode_access_token(settings, bearer)
    except ExpiredTokenError as expired:
        return expired.claims
    except InvalidTokenError:
        return None


def _nothing_named(bearer: str | None, refresh_token: str | None) -> AuthenticationError:
    """Why a sign-out named no session: the refresh token's shape, else the bearer token, else nothing came."""
    if refresh_token is not None:
        return TokenRejectedError("The refresh token is not valid.", code=ErrorCode.INVALID_REFRESH_TOKEN)
    if bearer:
        return TokenRejectedError("The access token is not valid.")
    return AuthenticationError("Send the access token, the refresh token, or the refresh cookie.")


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
