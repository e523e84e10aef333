"""Signing in and out, refreshing, and resolving the caller of every request."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from shared import clock
from shared.config import Settings, get_settings
from shared.context import ClientInfo
from shared.database import unit_of_work, without_transaction
from shared.errors import AuthenticationError, AuthorizationError, ErrorCode, RateLimitedError
from shared.models import Session, User
from shared.redis_client import Keys, get_redis, script
from shared.security.jwt_tokens import AccessClaims, InvalidTokenError, decode_access_token
from shared.security.passwords import burn_equal_time, hash_password, needs_rehash, verify_password
from shared.security.tokens import hash_token, new_token
from shared.services import audit, mfa, rate_limits, user_state
from shared.services.audit import AuditEvent
from shared.services.email import templates
from shared.services.email.outbox import enqueue
from shared.services.mfa import SecondFactor
from shared.services.principal import LiveSession, Principal
from shared.services.rate_limits import Limit, Rule
from shared.services.sessions import (
    AuthenticationMethod,
    IssuedTokens,
    SessionEndReason,
    check_session,
    issue_access_token,
    make_room,
    open_session,
    record_authentication,
    revoke_session,
    rotate,
)
from shared.services.sign_in_state import PendingStep, pending_steps
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
    state = live.state or current_state(live)
    return Principal(
        state=state,
        claims=claims,
        auth_time=live.auth_time,
        amr=live.amr,
        pending_steps=steps_owed(state),
    )


def steps_owed(state: UserState) -> frozenset[PendingStep]:
    """What this user must do before the rest of the API is theirs (a temporary password, a second factor)."""
    return pending_steps(state, get_settings().mfa_required_roles)


def current_state(live: LiveSession) -> UserState:
    """The state from the database, cached under the version the session script read."""
    state = user_state.read(live.user_id)
    if state is None or not state.is_active:
        raise AuthenticationError(_SESSION_ENDED, code=ErrorCode.INVALID_TOKEN)
    user_state.store(state, live.version)
    return state


def _login_limits(settings: Settings, email: str, client: ClientInfo) -> tuple[Limit, Limit]:
    """Failed sign-ins per client address and per account."""
    rules = (Rule.LOGIN_PER_ADDRESS, Rule.LOGIN_PER_ACCOUNT)
    per_address, per_account = rate_limits.limits(settings, rules, ip_address=client.ip_address, account=email)
    return per_address, per_account


def _success_limit(settings: Settings, email: str) -> Limit:
    """Successful sign-ins per account (each opens a session); never per address."""
    return rate_limits.limit(settings, Rule.LOGIN_SUCCESS_PER_ACCOUNT, account=email)


def _known_ip_key(email: str, ip: str) -> str:
    return f"known:{rate_limits.subject_digest(email)}:{rate_limits.subject_digest(ip)}"


def forget_known_addresses(email: str, ips: list[str | None]) -> None:
    """Forget that these addresses ever signed in to ``email`` (an erased account: the
    markers hold a digest of the address, and would favour whoever registers it next)."""
    rate_limits.forget([_known_ip_key(email, ip or "unknown") for ip in ips])


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
class VerifiedPassword:
    """What the password check saw, to be compared once the user row is locked."""

    user_id: uuid.UUID
    password_hash: str | None  # None after a second-factor step: only the change time travels
    password_changed_at: datetime | None


@dataclass(frozen=True)
class MfaChallenge:
    """The password was right and the account has a second factor: a code must follow."""

    mfa_token: str
    expires_in: int
    methods: tuple[str, ...] = (SecondFactor.TOTP.value, SecondFactor.RECOVERY_CODE.value)


# A sign-in waiting for its second factor lives this long, and allows this many codes.
MFA_TOKEN_TTL_SECONDS = 300
MFA_MAX_ATTEMPTS = 5

# KEYS[1] the challenge. ARGV[1] attempts allowed. Counts this attempt; nil when
# the challenge is unknown, expired or used up (then it is deleted); else its facts.
_CHALLENGE_ATTEMPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
if redis.call('HINCRBY', KEYS[1], 'attempts', 1) > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return nil
end
return redis.call('HMGET', KEYS[1], 'user_id', 'email', 'changed_at')
"""


def login(email: str, password: str, client: ClientInfo) -> SignedIn | MfaChallenge:
    """Check the password (same cost for unknown emails), then open a session,
    or, when the account has a second factor, ask for a code first."""
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
    verified = VerifiedPassword(user.id, user.password_hash or "", user.password_changed_at)
    if user.mfa_enabled:
        return _challenge(verified, email)
    _reserve("login-success", email, client, [success])
    with rate_limits.held([success]):
        return _open_signed_in_session(settings, verified, client, (AuthenticationMethod.PASSWORD,), password=password)


def _challenge(verified: VerifiedPassword, email: str) -> MfaChallenge:
    """Remember, for a few minutes, that this password was right: who, and when the password was
    last set (never the password or its hash), to check it is still the current one at the end."""
    token = new_token()
    key = Keys.mfa_challenge(hash_token(token))
    changed_at = verified.password_changed_at.isoformat() if verified.password_changed_at else ""
    facts: dict[str, str | int] = {
        "user_id": str(verified.user_id),
        "email": email,
        "changed_at": changed_at,
        "attempts": 0,
    }
    pipe = get_redis().pipeline(transaction=True)
    pipe.hset(key, mapping=facts)  # type: ignore[arg-type]  # redis-py's mapping type is invariant
    pipe.expire(key, MFA_TOKEN_TTL_SECONDS)
    pipe.execute()
    return MfaChallenge(mfa_token=token, expires_in=MFA_TOKEN_TTL_SECONDS)


def verify_second_factor(mfa_token: str, code: str | None, recovery_code: str | None, client: ClientInfo) -> SignedIn:
    """The second step of a sign-in: a code (or a recovery code) for the challenge; the usual tokens.

    The challenge is spent by its success and dies after MFA_MAX_ATTEMPTS
    codes; a wrong code also counts against the account's failed-sign-in
    limit, like a wrong password.
    """
    settings = get_settings()
    key = Keys.mfa_challenge(hash_token(mfa_token))
    facts = script(_CHALLENGE_ATTEMPT)(keys=[key], args=[MFA_MAX_ATTEMPTS])
    if not facts or facts[0] is None:
        raise AuthenticationError("The sign-in has expired; start again.", code=ErrorCode.INVALID_MFA_TOKEN)
    user_id, email, changed_at = uuid.UUID(facts[0]), facts[1], facts[2]
    account = _login_limits(settings, email, client)[1]
    _reserve("login", email, client, [account])
    with rate_limits.held([account]) as reservation:
        used = _check_second_factor(user_id, code, recovery_code, client)
        reservation.give_back()
    get_redis().delete(key)  # spent: the same challenge never signs in twice
    verified = VerifiedPassword(user_id, None, datetime.fromisoformat(changed_at) if changed_at else None)
    success = _success_limit(settings, email)
    _reserve("login-success", email, client, [success])
    with rate_limits.held([success]):
        amr = (AuthenticationMethod.PASSWORD, AuthenticationMethod.ONE_TIME_PASSWORD)
        return _open_signed_in_session(settings, verified, client, amr, second_factor=used)


def _check_second_factor(
    user_id: uuid.UUID, code: str | None, recovery_code: str | None, client: ClientInfo
) -> SecondFactor:
    """Spend a code of the user's; a wrong one is audited and answered 401."""
    with unit_of_work() as db:
        used = mfa.check(db, user_id, code, recovery_code)
        user = db.get(User, user_id)
        if user is not None and used is None:
            audit.record_own(db, AuditEvent.MFA_WRONG_CODE, client, user, during="sign_in")
        elif user is not None and used is SecondFactor.RECOVERY_CODE:
            audit.record_own(db, AuditEvent.MFA_RECOVERY_CODE_USED, client, user, during="sign_in")
    if used is None:
        raise AuthenticationError("The code is not valid, or was already used.", code=ErrorCode.INVALID_MFA_CODE)
    return used


def _check_password(settings: Settings, email: str, password: str, client: ClientInfo) -> User:
    """The user whose password this is; else 401, at the same cost for unknown emails."""
    with without_transaction() as db:
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


def password_still_current(user: User, verified: VerifiedPassword) -> bool:
    """The password checked is the one the account has now.

    A reset or change that committed between the bcrypt check and this
    locked read sets a new hash and a new ``password_changed_at``; a rehash
    at a new cost (by a concurrent sign-in) changes only the hash.
    """
    same_hash = verified.password_hash is not None and user.password_hash == verified.password_hash
    return same_hash or user.password_changed_at == verified.password_changed_at


def _open_signed_in_session(
    settings: Settings,
    verified: VerifiedPassword,
    client: ClientInfo,
    amr: tuple[str, ...],
    *,
    password: str | None = None,
    second_factor: SecondFactor | None = None,
) -> SignedIn:
    with unit_of_work() as db:
        user = db.get(User, verified.user_id, with_for_update=True)
        if user is None or not password_still_current(user, verified):
            raise AuthenticationError("Invalid email or password.", code=ErrorCode.INVALID_CREDENTIALS)
        if user.deactivated_at is not None or not user.is_active or not user.email_verified:
            raise AuthorizationError("This account has been deactivated.", code=ErrorCode.ACCOUNT_DEACTIVATED)
        new_device = _is_new_device(db, user, client)
        for evicted in make_room(db, user.id, settings.max_sessions_per_user):
            audit.record_own(db, AuditEvent.SESSION_EVICTED, client, user, session_id=str(evicted))
        tokens = open_session(db, user, client, amr)
        now = datetime.now(UTC)
        user.last_login_at = now
        if password and user.password_hash and needs_rehash(user.password_hash, settings.bcrypt_rounds):
            user.password_hash = hash_password(password, settings.bcrypt_rounds)
        if new_device:
            when = now.strftime("%Y-%m-%d %H:%M UTC")
            enqueue(db, user.email, templates.new_device(user.first_name, client.ip_address, client.user_agent, when))
        audit.record_own(
            db,
            AuditEvent.LOGIN_SUCCEEDED,
            client,
            user,
            session_id=tokens.claims.session_id,
            new_device=new_device,
            second_factor=second_factor.value if second_factor else None,
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
    return rate_limits.limit(settings, Rule.REFRESH_FAILURE_PER_ADDRESS, ip_address=client.ip_address)


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


@dataclass(frozen=True)
class Reauthenticated:
    access_token: str
    expires_in: int


def reauthenticate(
    principal: Principal, password: str, code: str | None, recovery_code: str | None, client: ClientInfo
) -> Reauthenticated:
    """The caller proves who they are again (password, and a code where a second factor is on).

    Recorded on the session, server-side, so the sensitive actions that need
    a recent proof accept every access token of this session at once; a new
    access token carries the new ``auth_time`` and ``amr``. Wrong passwords
    (and wrong codes) count against the same per-user limit as password changes.
    """
    settings = get_settings()
    with own_password_checked(principal.user_id, password, "The password is not correct."):
        amr: tuple[str, ...] = (AuthenticationMethod.PASSWORD,)
        if principal.state.mfa_enabled:
            _check_second_factor(principal.user_id, code, recovery_code, client)
            amr = (AuthenticationMethod.PASSWORD, AuthenticationMethod.ONE_TIME_PASSWORD)
    now = int(clock.now())
    if not record_authentication(principal.user_id, principal.session_id, now, amr):
        raise AuthenticationError(_SESSION_ENDED, code=ErrorCode.INVALID_TOKEN)
    with unit_of_work() as db:
        audit.record_by_caller(db, AuditEvent.REAUTHENTICATED, client, principal, amr=list(amr))
    access, _ = issue_access_token(settings, principal.state, principal.session_id, now, amr)
    return Reauthenticated(access, settings.access_token_expire_minutes * 60)


@contextmanager
def own_password_checked(user_id: uuid.UUID, password: str, wrong: str) -> Iterator[VerifiedPassword]:
    """A signed-in user's own password, checked under the per-user limit of wrong ones.

    A wrong password is a 401 (``wrong``) that keeps its slot, as does
    whatever else the block refuses (a wrong second-factor code); the slot
    is given back when the block finishes, and on a dependency failure (503).
    """
    limit = _signed_in_password_limit(get_settings(), user_id)
    rate_limits.reserve(limit)
    with rate_limits.held([limit]) as reservation:
        with without_transaction() as db:
            row = db.execute(select(User.password_hash, User.password_changed_at).where(User.id == user_id)).first()
        if row is None or not verify_password(password, row.password_hash):
            raise AuthenticationError(wrong, code=ErrorCode.INVALID_CREDENTIALS)
        yield VerifiedPassword(user_id, row.password_hash, row.password_changed_at)
        reservation.give_back()


def check_own_password(user_id: uuid.UUID, password: str, wrong: str) -> VerifiedPassword:
    """:func:`own_password_checked` with nothing more to prove."""
    with own_password_checked(user_id, password, wrong) as verified:
        return verified


def _signed_in_password_limit(settings: Settings, user_id: uuid.UUID) -> Limit:
    """Wrong passwords given by a signed-in user (password change, re-authentication), per user."""
    return rate_limits.limit(settings, Rule.SIGNED_IN_PASSWORD_PER_USER, user_id=user_id)
