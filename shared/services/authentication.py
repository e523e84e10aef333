"""Signing in and out, refreshing, and resolving the caller of every request."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from shared.config import Settings, get_settings
from shared.context import ClientInfo
from shared.database import read_only, unit_of_work
from shared.errors import AuthenticationError, AuthorizationError, ErrorCode, RateLimitedError
from shared.models import Session, User
from shared.security.jwt_tokens import AccessClaims, InvalidTokenError, decode_access_token
from shared.security.passwords import burn_equal_time, hash_password, needs_rehash, verify_password
from shared.services import audit, rate_limits, user_state
from shared.services.audit import AuditEvent
from shared.services.email import templates
from shared.services.email.outbox import enqueue
from shared.services.principal import LiveSession, Principal
from shared.services.rate_limits import Limit
from shared.services.sessions import (
    IssuedTokens,
    SessionEndReason,
    check_session,
    make_room,
    open_session,
    revoke_session,
    rotate,
)
from shared.services.user_state import UserState

logger = logging.getLogger(__name__)

# A sign-in is from a "new device" when no session of the user in this many
# days had the same IP address and the same user agent.
NEW_DEVICE_LOOKBACK_DAYS = 90


@dataclass(frozen=True)
class SignedIn:
    tokens: IssuedTokens
    user: User


_SESSION_ENDED = "The session has ended."


def verify_bearer(token: str | None) -> tuple[AccessClaims, LiveSession]:
    """Signature and claims, a live session, an unrevoked token: one Redis round trip, no SQL.

    The user's cached authorization state comes with it when it is current.
    """
    if not token:
        raise AuthenticationError("A bearer token is required.")
    try:
        claims = decode_access_token(get_settings(), token)
    except InvalidTokenError:
        raise AuthenticationError("The access token is invalid or expired.", code=ErrorCode.INVALID_TOKEN) from None
    live = check_session(uuid.UUID(claims.user_id), uuid.UUID(claims.session_id), claims.jti)
    if live is None or (live.state is not None and not live.state.is_active):
        raise AuthenticationError(_SESSION_ENDED, code=ErrorCode.INVALID_TOKEN)
    return claims, live


def authenticate(token: str | None, client: ClientInfo) -> Principal:
    """Resolve a bearer token to the caller and their state as of this request.

    The state comes from the cache the session script reads; when it is not
    current it is read from the database and cached for the next request.
    """
    claims, live = verify_bearer(token)
    return Principal(state=live.state or current_state(live), claims=claims)


def current_state(live: LiveSession) -> UserState:
    """The state from the database, cached under the version the session script read."""
    state = user_state.read(live.user_id)
    if state is None or not state.is_active:
        raise AuthenticationError(_SESSION_ENDED, code=ErrorCode.INVALID_TOKEN)
    user_state.store(state, live.version)
    return state


def _login_limits(settings: Settings, email: str, client: ClientInfo) -> tuple[Limit, Limit]:
    """Failed sign-ins per client address and per account.

    Inside a trusted network (a venue, an office) many people share one
    address, so there the address limit counts per (address, account):
    one donor's typos never lock out the rest of the room.
    """
    account = rate_limits.subject_digest(email)
    address = rate_limits.client_key(client.ip_address, account, settings.rate_limit_trusted_networks)
    return (
        Limit(
            "login:ip",
            address,
            settings.rate_limit_login_per_ip,
            settings.rate_limit_login_per_ip_window_seconds,
        ),
        Limit(
            "login:account",
            account,
            settings.rate_limit_login_per_account,
            settings.rate_limit_login_per_account_window_seconds,
        ),
    )


def _success_limit(settings: Settings, email: str) -> Limit:
    """Successful sign-ins per account (each opens a session); never per address."""
    return Limit(
        "login-success:account",
        rate_limits.subject_digest(email),
        settings.rate_limit_login_success_per_account,
        settings.rate_limit_login_success_per_account_window_seconds,
    )


def _known_ip_key(email: str, ip: str) -> str:
    return f"known:{rate_limits.subject_digest(email)}:{rate_limits.subject_digest(ip)}"


def _failure_limits(settings: Settings, email: str, client: ClientInfo) -> list[Limit]:
    """The per-address limit, and the per-account limit unless this address has
    signed in to this account before (so guessing from fresh addresses cannot
    lock the owner out of a device they use)."""
    ip_limit, account_limit = _login_limits(settings, email, client)
    if rate_limits.is_marked(_known_ip_key(email, client.ip_address or "unknown")):
        return [ip_limit]
    return [ip_limit, account_limit]


def _record_rate_limited(action: str, email: str, client: ClientInfo) -> None:
    """One audit event per subject and window, not one per refused request."""
    if rate_limits.first_refusal(f"{action}:{rate_limits.subject_digest(email)}:{client.ip_address}"):
        with unit_of_work() as db:
            audit.record(db, AuditEvent.RATE_LIMITED, client, details={"action": action})


def _reserve(action: str, email: str, client: ClientInfo, limits: list[Limit]) -> None:
    """Take a slot of each limit, or 429 (audited once per subject and window)."""
    try:
        rate_limits.reserve_all(limits)
    except RateLimitedError:
        _record_rate_limited(action, email, client)
        raise


@dataclass(frozen=True)
class _VerifiedPassword:
    """What the password check saw, to be compared once the user row is locked."""

    user_id: uuid.UUID
    password_hash: str
    password_changed_at: datetime | None


def login(email: str, password: str, client: ClientInfo) -> SignedIn:
    """Check the password (same cost for unknown emails), then open a session."""
    settings = get_settings()
    success = _success_limit(settings, email)
    retry_after = rate_limits.exhausted(success)
    if retry_after is not None:  # before any bcrypt work
        _record_rate_limited("login-success", email, client)
        raise RateLimitedError(retry_after)
    failures = _failure_limits(settings, email, client)
    _reserve("login", email, client, failures)
    with rate_limits.held(failures) as reservation:
        user = _check_password(settings, email, password, client)
        reservation.give_back()  # the right password is not a failure
    _refuse_if_cannot_sign_in(user, client)
    verified = _VerifiedPassword(user.id, user.password_hash or "", user.password_changed_at)
    _reserve("login-success", email, client, [success])
    with rate_limits.held([success]):
        return _open_signed_in_session(settings, verified, password, client)


def _check_password(settings: Settings, email: str, password: str, client: ClientInfo) -> User:
    """The user whose password this is; else 401, at the same cost for unknown emails."""
    with read_only() as db:
        user = db.scalars(select(User).where(User.email == email)).one_or_none()
    if user is None or user.password_hash is None:
        burn_equal_time(password, settings.bcrypt_rounds)
        _login_failed(user, "unknown_email" if user is None else "no_password", client)
        raise AuthenticationError("Invalid email or password.", code=ErrorCode.INVALID_CREDENTIALS)
    if not verify_password(password, user.password_hash):
        _login_failed(user, "wrong_password", client)
        raise AuthenticationError("Invalid email or password.", code=ErrorCode.INVALID_CREDENTIALS)
    return user


def _refuse_if_cannot_sign_in(user: User, client: ClientInfo) -> None:
    """403 for a deactivated or unverified account (said only once the password matched)."""
    if user.deactivated_at is not None or (user.email_verified and not user.is_active):
        _login_failed(user, "deactivated", client)
        raise AuthorizationError("This account has been deactivated.", code=ErrorCode.ACCOUNT_DEACTIVATED)
    if not user.email_verified:
        _login_failed(user, "email_not_verified", client)
        raise AuthorizationError("Verify your email address before signing in.", code=ErrorCode.EMAIL_NOT_VERIFIED)


def _login_failed(user: User | None, reason: str, client: ClientInfo) -> None:
    with unit_of_work() as db:
        audit.record(
            db,
            AuditEvent.LOGIN_FAILED,
            client,
            actor_id=user.id if user else None,
            target_id=user.id if user else None,
            npo_id=user.npo_id if user else None,
            details={"reason": reason},
        )


def _password_still_current(user: User, verified: _VerifiedPassword) -> bool:
    """The password checked is the one the account has now.

    A reset or change that committed between the bcrypt check and this
    locked read sets a new hash and a new ``password_changed_at``; a rehash
    at a new cost (by a concurrent sign-in) changes only the hash.
    """
    return user.password_hash == verified.password_hash or user.password_changed_at == verified.password_changed_at


def _open_signed_in_session(
    settings: Settings, verified: _VerifiedPassword, password: str, client: ClientInfo
) -> SignedIn:
    with unit_of_work() as db:
        user = db.get(User, verified.user_id, with_for_update=True)
        if user is None or not _password_still_current(user, verified):
            raise AuthenticationError("Invalid email or password.", code=ErrorCode.INVALID_CREDENTIALS)
        if user.deactivated_at is not None or not user.is_active or not user.email_verified:
            raise AuthorizationError("This account has been deactivated.", code=ErrorCode.ACCOUNT_DEACTIVATED)
        new_device = _is_new_device(db, user, client)
        for evicted in make_room(db, user.id, settings.max_sessions_per_user):
            audit.record_own(db, AuditEvent.SESSION_EVICTED, client, user, session_id=str(evicted))
        tokens = open_session(db, user, client)
        now = datetime.now(UTC)
        user.last_login_at = now
        if user.password_hash and needs_rehash(user.password_hash, settings.bcrypt_rounds):
            user.password_hash = hash_password(password, settings.bcrypt_rounds)
        if new_device:
            when = now.strftime("%Y-%m-%d %H:%M UTC")
            enqueue(db, user.email, templates.new_device(user.first_name, client.ip_address, client.user_agent, when))
        audit.record_own(
            db, AuditEvent.LOGIN_SUCCEEDED, client, user, session_id=tokens.claims.session_id, new_device=new_device
        )
    rate_limits.mark(_known_ip_key(user.email, client.ip_address or "unknown"), days=NEW_DEVICE_LOOKBACK_DAYS)
    return SignedIn(tokens, user)


def _is_new_device(db: DbSession, user: User, client: ClientInfo) -> bool:
    """New when earlier sessions exist but none recent had this IP and user agent.

    The very first sign-in of an account is not reported: the person just
    verified the address and there is nothing to compare with.
    """
    since = datetime.now(UTC) - timedelta(days=NEW_DEVICE_LOOKBACK_DAYS)
    recent = select(Session.ip_address, Session.user_agent).where(
        Session.user_id == user.id, Session.created_at >= since
    )
    seen = db.execute(recent.limit(500)).all()
    if not seen:
        return False
    return all((ip, agent) != (client.ip_address, client.user_agent) for ip, agent in seen)


def _refresh_failures(settings: Settings, client: ClientInfo) -> Limit:
    return Limit(
        "refresh:ip",
        rate_limits.client_subject(client.ip_address),
        settings.rate_limit_refresh_per_ip,
        settings.rate_limit_refresh_per_ip_window_seconds,
    )


def refresh(presented: str, client: ClientInfo) -> SignedIn:
    """Rotate a refresh token; a rotated token shown after the grace period ends the session.

    Only failed refreshes count against the per-address limit: a venue full of
    donors refreshing every few minutes from one address never meets it.
    """
    try:
        return _rotate(presented, client)
    except AuthenticationError:
        rate_limits.record_failure(_refresh_failures(get_settings(), client))  # 429 once used up
        raise


def _rotate(presented: str, client: ClientInfo) -> SignedIn:
    with unit_of_work() as db:
        rotation = rotate(db, presented)
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
        raise AuthenticationError("The refresh token is invalid or expired.", code=ErrorCode.INVALID_REFRESH_TOKEN)
    return SignedIn(rotation.tokens, rotation.user)


def logout(principal: Principal, client: ClientInfo) -> None:
    """End the caller's session: its access token fails on the very next request."""
    with unit_of_work() as db:
        revoke_session(db, principal.user_id, principal.session_id, SessionEndReason.LOGOUT, access=principal.claims)
        audit.record_by_caller(db, AuditEvent.LOGOUT, client, principal, session_id=str(principal.session_id))
