"""Signing in: the password, then, when the account has one, the second factor; then a session.

The password check costs the same for an unknown email. Every check takes a
slot of the per-address and per-account limits (the latter not from an
address that signed in to the account before: ``known_devices``; inside a
trusted network, also of the address's ceiling across accounts) before any
bcrypt work, and only a session actually opening gives the slots back: a
wrong password, or a right one to an account that cannot sign in, keeps them.
Successful sign-ins count against a per-account limit, since each opens a
session. A 429 here is audited by the first refusal of a limit's window (the
limiter says which, in the call that refuses): a flood costs no statement.

With a second factor on, the right password answers a challenge
(:class:`MfaChallenge`): a short-lived token that remembers who, when their
password was last set, from where, and which slots its password check holds
(never the password or its hash); the code comes to
:func:`verify_second_factor`, which gives those slots back once the session
opens. Wrong codes count per (address, account), and per account from an
address not known to it, as wrong passwords do. Either way the session opens
only if the password checked is still the account's once its row is locked
(:func:`password_still_current`): a reset that committed in between wins.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from shared.config import Settings, get_settings
from shared.context import ClientInfo
from shared.database import unit_of_work, without_transaction
from shared.errors import AuthenticationError, AuthorizationError, ErrorCode
from shared.models import User
from shared.redis_client import Keys, get_redis, script
from shared.security.passwords import burn_equal_time, hash_password, needs_rehash, verify_password
from shared.security.tokens import hash_token, new_token
from shared.services import audit, known_devices, mfa, rate_limits
from shared.services.audit import AuditEvent
from shared.services.email import templates
from shared.services.email.outbox import enqueue
from shared.services.mfa import CodeRefused, SecondFactor
from shared.services.rate_limits import Limit, Rule
from shared.services.sessions import IssuedTokens, make_room, open_session
from shared.services.sign_in_state import WITH_CODE, AuthenticationMethod


@dataclass(frozen=True)
class SignedIn:
    """A session's tokens and its user (a sign-in, or a refresh)."""

    tokens: IssuedTokens
    user: User


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
return redis.call('HMGET', KEYS[1], 'user_id', 'email', 'changed_at', 'address', 'address_known', 'held')
"""


@dataclass(frozen=True)
class PasswordCheckLimits:
    """The limits a password check takes a slot of, and whether its address signed in to the account before."""

    limits: list[Limit]
    known_address: bool


@dataclass(frozen=True)
class _ChallengeFacts:
    """What a challenge remembers (nothing secret): who, when their password was set, from
    where (and whether that address was known to the account), the password check's slots."""

    user_id: uuid.UUID
    email: str
    password_changed_at: datetime | None
    address: str
    address_known: bool
    held: list[str]

    @classmethod
    def from_redis(cls, facts: list[str]) -> _ChallengeFacts:
        user_id, email, changed_at, address, known, held = facts
        return cls(
            user_id=uuid.UUID(user_id),
            email=email,
            password_changed_at=datetime.fromisoformat(changed_at) if changed_at else None,
            address=address or "",
            address_known=known == "1",
            held=held.split(",") if held else [],
        )


def login(email: str, password: str, client: ClientInfo) -> SignedIn | MfaChallenge:
    """Check the password (same cost for unknown emails), then open a session,
    or, when the account has a second factor, ask for a code first.

    The password check's slots are given back only when a session opens (here,
    or by the code that answers the challenge): not for a wrong password, nor
    for a right one to an account that is unverified or deactivated.
    """
    settings = get_settings()
    success = _success_limit(settings, email)
    with audit.rate_limited_recorded(client, "login-success"):
        rate_limits.refuse_if_exhausted(success)  # before any bcrypt work
    checks = _password_check_limits(settings, email, client)
    with _reserved("login", client, checks.limits) as reservation:
        user = _check_password(settings, email, password, client)
        _refuse_if_cannot_sign_in(user, client)
        verified = VerifiedPassword(user.id, user.password_hash or "", user.password_changed_at)
        if user.mfa_enabled:
            challenge = _challenge(verified, email, client, checks.known_address, reservation.keys)
            reservation.hand_over()  # the challenge holds the slots until a code opens a session
            return challenge
        with _reserved("login-success", client, [success]):
            amr = (AuthenticationMethod.PASSWORD,)
            signed_in = _open_signed_in_session(settings, verified, client, amr, password=password)
        reservation.give_back()  # a session opened
        return signed_in


def verify_second_factor(mfa_token: str, code: str | None, recovery_code: str | None, client: ClientInfo) -> SignedIn:
    """The second step of a sign-in: a code (or a recovery code) for the challenge; the usual tokens.

    The challenge is spent by its success and dies after MFA_MAX_ATTEMPTS
    codes. A wrong code counts per (address, account), and against the
    account's failed-sign-in limit unless it comes from the address the
    password came from and that address had signed in to the account before:
    whoever has the password cannot lock the owner out of the second step.
    Once the session opens, the code's slots and the password check's are
    given back, in one round trip; a right code that opened nothing keeps them.
    """
    settings = get_settings()
    key = Keys.mfa_challenge(hash_token(mfa_token))
    facts = script(_CHALLENGE_ATTEMPT)(keys=[key], args=[MFA_MAX_ATTEMPTS])
    if not facts or facts[0] is None:
        raise AuthenticationError("The sign-in has expired; start again.", code=ErrorCode.INVALID_MFA_TOKEN)
    challenge = _ChallengeFacts.from_redis(facts)
    code_limits = _code_limits(settings, challenge, client)
    with _reserved("login", client, code_limits) as reservation:
        used = check_second_factor(settings, challenge.user_id, code, recovery_code, client)
        get_redis().delete(key)  # spent: the same challenge never signs in twice
        reservation.adopt(challenge.held)  # ... and its password check's slots are this request's now
        verified = VerifiedPassword(challenge.user_id, None, challenge.password_changed_at)
        success = _success_limit(settings, challenge.email)
        with _reserved("login-success", client, [success]):
            signed_in = _open_signed_in_session(settings, verified, client, WITH_CODE, second_factor=used)
        reservation.give_back()  # a session opened: the code's slots and the password check's
    return signed_in


def check_second_factor(
    settings: Settings, user_id: uuid.UUID, code: str | None, recovery_code: str | None, client: ClientInfo
) -> SecondFactor:
    """Spend a code of the user's; a wrong one is audited and answered 401 (re-authentication uses it too)."""
    with unit_of_work() as db:
        used = mfa.check(db, settings, user_id, code, recovery_code)
        user = db.get(User, user_id)
        if user is not None and isinstance(used, CodeRefused):
            audit.record_own(db, AuditEvent.MFA_WRONG_CODE, client, user, **mfa.wrong_code_details(used, "sign_in"))
        elif user is not None and used is SecondFactor.RECOVERY_CODE:
            audit.record_own(db, AuditEvent.MFA_RECOVERY_CODE_USED, client, user, during="sign_in")
    if isinstance(used, CodeRefused):
        raise AuthenticationError(used.message, code=used.error_code)
    return used


def password_still_current(user: User, verified: VerifiedPassword) -> bool:
    """The password checked is the one the account has now.

    A reset or change that committed between the bcrypt check and this
    locked read sets a new hash and a new ``password_changed_at``; a rehash
    at a new cost (by a concurrent sign-in) changes only the hash.
    """
    same_hash = verified.password_hash is not None and user.password_hash == verified.password_hash
    return same_hash or user.password_changed_at == verified.password_changed_at


# -- the limits -------------------------------------------------------------------------


def _success_limit(settings: Settings, email: str) -> Limit:
    """Successful sign-ins per account (each opens a session); never per address."""
    return rate_limits.limit(settings, Rule.LOGIN_SUCCESS_PER_ACCOUNT, account=email)


def _password_check_limits(settings: Settings, email: str, client: ClientInfo) -> PasswordCheckLimits:
    """The per-address limit; the per-account limit unless this address has signed in
    to this account before (so guessing from fresh addresses cannot lock the owner out
    of a device they use); inside a trusted network, where the per-address limit counts
    per (address, account), the address's ceiling across accounts too (spraying)."""
    failed_sign_ins = (Rule.LOGIN_PER_ADDRESS, Rule.LOGIN_PER_ACCOUNT)
    per_address, per_account = rate_limits.limits(
        settings, failed_sign_ins, ip_address=client.ip_address, account=email
    )
    known = known_devices.is_known_address(email, client.ip_address)
    limits = [per_address] if known else [per_address, per_account]
    if rate_limits.in_networks(client.ip_address, settings.rate_limit_trusted_networks):
        limits.append(rate_limits.limit(settings, Rule.LOGIN_PER_TRUSTED_ADDRESS, ip_address=client.ip_address))
    return PasswordCheckLimits(limits, known)


def _code_limits(settings: Settings, challenge: _ChallengeFacts, client: ClientInfo) -> list[Limit]:
    """Wrong codes per (address, account); per account too, unless the code comes from the
    address the password came from and that one was known to the account (no round trip:
    the challenge remembers it; from another address, the code counts as from an unknown one)."""
    rules = [Rule.MFA_CODE_PER_ADDRESS_AND_ACCOUNT]
    if not (challenge.address_known and client.ip_address == challenge.address):
        rules.append(Rule.LOGIN_PER_ACCOUNT)
    return rate_limits.limits(settings, rules, ip_address=client.ip_address, account=challenge.email)


@contextmanager
def _reserved(action: str, client: ClientInfo, limits: list[Limit]) -> Iterator[rate_limits.Reservation]:
    """A slot of each limit, held for the block (:func:`rate_limits.held`), or 429: audited by
    the first refusal of its window, never naming the account."""
    with audit.rate_limited_recorded(client, action):
        rate_limits.reserve_all(limits)
    with rate_limits.held(limits) as reservation:
        yield reservation


# -- the steps ---------------------------------------------------------------------------


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


def _challenge(
    verified: VerifiedPassword, email: str, client: ClientInfo, address_known: bool, held: list[str]
) -> MfaChallenge:
    """Remember, for a few minutes, that this password was right: who, and when the password was
    last set (never the password or its hash), to check it is still the current one at the end;
    from which address, and whether it was known to the account (how wrong codes count); and
    the counters whose slots the password check holds, given back when a session opens."""
    token = new_token()
    key = Keys.mfa_challenge(hash_token(token))
    changed_at = verified.password_changed_at.isoformat() if verified.password_changed_at else ""
    facts: dict[str, str | int] = {
        "user_id": str(verified.user_id),
        "email": email,
        "changed_at": changed_at,
        "attempts": 0,
        "address": client.ip_address or "",
        "address_known": 1 if address_known else 0,
        "held": ",".join(held),
    }
    pipe = get_redis().pipeline(transaction=True)
    pipe.hset(key, mapping=facts)  # type: ignore[arg-type]  # redis-py's mapping type is invariant
    pipe.expire(key, MFA_TOKEN_TTL_SECONDS)
    pipe.execute()
    return MfaChallenge(mfa_token=token, expires_in=MFA_TOKEN_TTL_SECONDS)


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
        tokens = start_session(db, settings, user, client, amr, second_factor=second_factor)
        if password and user.password_hash and needs_rehash(user.password_hash, settings.bcrypt_rounds):
            user.password_hash = hash_password(password, settings.bcrypt_rounds)
    signed_in(user, client)
    return SignedIn(tokens, user)


def start_session(
    db: DbSession,
    settings: Settings,
    user: User,
    client: ClientInfo,
    amr: tuple[str, ...],
    *,
    second_factor: SecondFactor | None = None,
) -> IssuedTokens:
    """Open a session for ``user`` (whose row the caller holds locked, or just created) in ``db``'s
    transaction: room made, the new-device email, the last sign-in time, the audit event.
    Once the transaction commits, the caller calls :func:`signed_in`."""
    new_device = known_devices.is_new_device(db, user, client)
    for evicted in make_room(db, user.id, settings.max_sessions_per_user):
        audit.record_own(db, AuditEvent.SESSION_EVICTED, client, user, session_id=str(evicted))
    tokens = open_session(db, settings, user, client, amr)
    now = datetime.now(UTC)
    user.last_login_at = now
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
    return tokens


def signed_in(user: User, client: ClientInfo) -> None:
    """After the session's commit: this address has signed in to the account (``known_devices``)."""
    known_devices.remember_address(user.email, client.ip_address)
