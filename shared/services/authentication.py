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
from shared.security.jwt_tokens import InvalidTokenError, decode_access_token
from shared.security.passwords import burn_equal_time, hash_password, needs_rehash, verify_password
from shared.services import audit, rate_limits
from shared.services.audit import AuditEvent
from shared.services.email import templates
from shared.services.email.outbox import enqueue
from shared.services.principal import Principal
from shared.services.rate_limits import Limit
from shared.services.sessions import IssuedTokens, SessionEndReason, open_session, revoke_session, rotate, touch_session

logger = logging.getLogger(__name__)

# A sign-in is from a "new device" when no session of the user in this many
# days had the same IP address and the same user agent.
NEW_DEVICE_LOOKBACK_DAYS = 90


@dataclass(frozen=True)
class SignedIn:
    tokens: IssuedTokens
    user: User


def authenticate(token: str | None, client: ClientInfo) -> Principal:
    """Resolve a bearer token: signature and claims, live session, unrevoked jti, active user."""
    if not token:
        raise AuthenticationError("A bearer token is required.")
    try:
        claims = decode_access_token(get_settings(), token)
    except InvalidTokenError:
        raise AuthenticationError("The access token is invalid or expired.", code=ErrorCode.INVALID_TOKEN) from None
    if not touch_session(claims.session_id, claims.user_id, claims.jti):
        raise AuthenticationError("The session has ended.", code=ErrorCode.INVALID_TOKEN)
    with read_only() as db:
        user = db.get(User, uuid.UUID(claims.user_id))
    if user is None or not user.is_active:
        raise AuthenticationError("The session has ended.", code=ErrorCode.INVALID_TOKEN)
    return Principal(user=user, claims=claims)


def _login_limits(settings: Settings, email: str, client: ClientInfo) -> list[Limit]:
    ip = client.ip_address or "unknown"
    return [
        Limit(
            "login:ip",
            ip,
            settings.rate_limit_login_per_ip,
            settings.rate_limit_login_per_ip_window_seconds,
        ),
        Limit(
            "login:account",
            rate_limits.subject_digest(email),
            settings.rate_limit_login_per_account,
            settings.rate_limit_login_per_account_window_seconds,
        ),
    ]


def _known_ip_key(email: str, ip: str) -> str:
    return f"known:{rate_limits.subject_digest(email)}:{rate_limits.subject_digest(ip)}"


def _reserve_login_slots(settings: Settings, email: str, client: ClientInfo) -> list[Limit]:
    """Before any bcrypt work: the per-IP limit, and the per-account limit unless
    this IP has signed in to this account before (so guessing from fresh IPs
    cannot lock the owner out of a device they use)."""
    ip_limit, account_limit = _login_limits(settings, email, client)
    limits = [ip_limit]
    if not rate_limits.is_marked(_known_ip_key(email, client.ip_address or "unknown")):
        limits.append(account_limit)
    try:
        rate_limits.reserve_all(limits)
    except RateLimitedError:
        _record_rate_limited("login", email, client)
        raise
    return limits


def _record_rate_limited(action: str, email: str, client: ClientInfo) -> None:
    """One audit event per subject and window, not one per refused request."""
    if rate_limits.first_refusal(f"{action}:{rate_limits.subject_digest(email)}:{client.ip_address}"):
        with unit_of_work() as db:
            audit.record(db, AuditEvent.RATE_LIMITED, client, details={"action": action})


def login(email: str, password: str, client: ClientInfo) -> SignedIn:
    """Check the password (same cost for unknown emails), then open a session."""
    settings = get_settings()
    limits = _reserve_login_slots(settings, email, client)
    with read_only() as db:
        user = db.scalars(select(User).where(User.email == email)).one_or_none()
    if user is None or user.password_hash is None:
        burn_equal_time(password, settings.bcrypt_rounds)
        _login_failed(user, "unknown_email" if user is None else "no_password", client)
        raise AuthenticationError("Invalid email or password.", code=ErrorCode.INVALID_CREDENTIALS)
    if not verify_password(password, user.password_hash):
        _login_failed(user, "wrong_password", client)
        raise AuthenticationError("Invalid email or password.", code=ErrorCode.INVALID_CREDENTIALS)
    rate_limits.refund(limits)
    if user.deactivated_at is not None or (user.email_verified and not user.is_active):
        _login_failed(user, "deactivated", client)
        raise AuthorizationError("This account has been deactivated.", code=ErrorCode.ACCOUNT_DEACTIVATED)
    if not user.email_verified:
        _login_failed(user, "email_not_verified", client)
        raise AuthorizationError("Verify your email address before signing in.", code=ErrorCode.EMAIL_NOT_VERIFIED)
    return _open_signed_in_session(settings, user.id, password, client)


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


def _open_signed_in_session(settings: Settings, user_id: uuid.UUID, password: str, client: ClientInfo) -> SignedIn:
    with unit_of_work() as db:
        user = db.get(User, user_id, with_for_update=True)
        assert user is not None
        new_device = _is_new_device(db, user, client)
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


def refresh(presented: str, client: ClientInfo) -> SignedIn:
    """Rotate a refresh token; a rotated token shown after the grace period ends the session."""
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
        revoke_session(db, principal.session_id, SessionEndReason.LOGOUT, access=principal.claims)
        audit.record_own(db, AuditEvent.LOGOUT, client, principal.user, session_id=str(principal.session_id))
