"""The second factor: TOTP enrolment and removal, recovery codes, checking a code.

Enrolment is two steps: ``start_enrolment`` stores a new secret (encrypted)
that signs nobody in, ``confirm_enrolment`` turns it on with a first code
and hands out the recovery codes, once. Turning it on ends every other
session of the user (whoever holds one proved only the password) and records
on this one that it proved a code; a session that signed in without the
factor while it is on owes a step-up (``sign_in_state.PendingStep.MFA_STEP_UP``). Every code is accepted once: a TOTP
code by the time step it matched (stored, and required to grow), a recovery
code by being marked used in the same statement that accepts it. Every
change drops the user's cached state before it commits (``mfa_enabled`` is
part of it) and is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session as DbSession

from shared import clock
from shared.config import Settings, get_settings
from shared.context import ClientInfo
from shared.database import unit_of_work
from shared.errors import BadRequestError, ConflictError, ErrorCode, SessionEndedError
from shared.models import RecoveryCode, TotpFactor, User
from shared.security import totp
from shared.security.encryption import decrypt, encrypt
from shared.services import audit, rate_limits, user_state
from shared.services.audit import AuditEvent
from shared.services.principal import Principal
from shared.services.rate_limits import Rule
from shared.services.sessions import SessionEndReason, record_authentication, revoke_user_sessions
from shared.services.sign_in_state import WITH_CODE, refuse_unless_recent


class SecondFactor(StrEnum):
    """What a user proved possession of, besides the password."""

    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"


class CodeRefused(StrEnum):
    """Why a code was refused. Both count as a wrong code toward every limit."""

    WRONG = "wrong"
    # A TOTP code of a step at or before the last one accepted: a replay, or a
    # second try with the code just used. Only the holder of the secret (or
    # someone who saw that code) can send one, so saying so tells a guesser nothing.
    ALREADY_USED = "already_used"

    @property
    def error_code(self) -> ErrorCode:
        return ErrorCode.MFA_CODE_ALREADY_USED if self is CodeRefused.ALREADY_USED else ErrorCode.INVALID_MFA_CODE

    @property
    def message(self) -> str:
        if self is CodeRefused.ALREADY_USED:
            return "This code was already used; wait for the next one."
        return "The code is not valid."


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str
    qr_svg: str


def start_enrolment(principal: Principal, client: ClientInfo) -> Enrolment:
    """A new secret for the caller's authenticator; nothing is on until it is confirmed.

    Starting again replaces an unconfirmed secret; with a factor already on,
    it is a 409 (remove it first).
    """
    settings = get_settings()
    secret = totp.new_secret()
    with unit_of_work() as db:
        user = db.get(User, principal.user_id, with_for_update=True)
        assert user is not None  # an authenticated caller's row
        if user.mfa_enabled:
            raise ConflictError("A second factor is already on; remove it first.", code=ErrorCode.MFA_ALREADY_ENABLED)
        values = {"user_id": user.id, "secret_encrypted": encrypt(settings, secret), "confirmed_at": None}
        db.execute(
            insert(TotpFactor)
            .values(**values, last_used_step=None)
            .on_conflict_do_update(index_elements=["user_id"], set_={**values, "last_used_step": None})
        )
        audit.record_by_caller(db, AuditEvent.MFA_ENROLMENT_STARTED, client, principal)
        email = user.email
    uri = totp.provisioning_uri(secret, email, settings.mfa_issuer)
    return Enrolment(secret=secret, otpauth_uri=uri, qr_svg=totp.qr_svg(uri))


def confirm_enrolment(principal: Principal, code: str, client: ClientInfo) -> list[str]:
    """Turn the second factor on with a first code from the authenticator; the recovery codes, shown once.

    Every other session of the user ends (Redis first, before the commit, as
    every revocation): it proved only the password, maybe someone else's
    knowledge of it. This session proved the code just now, which is recorded
    on it (``amr`` pwd+otp, its ``auth_time`` unchanged), so it owes no step-up.
    """
    settings = get_settings()
    with unit_of_work() as db:
        user = db.get(User, principal.user_id, with_for_update=True)
        factor = db.get(TotpFactor, principal.user_id, with_for_update=True)
        assert user is not None
        if user.mfa_enabled:
            raise ConflictError("A second factor is already on.", code=ErrorCode.MFA_ALREADY_ENABLED)
        if factor is None:
            raise ConflictError("Start setting up the second factor first.", code=ErrorCode.MFA_NOT_ENROLLING)
        step = totp.matching_step(_secret(settings, factor), code, clock.now(), factor.last_used_step)
        if step is None:
            audit.record_by_caller(db, AuditEvent.MFA_WRONG_CODE, client, principal, during="enrolment")
            db.commit()  # the audit row stays; the enrolment does not change
            raise _wrong_code(CodeRefused.WRONG)  # nothing is spent before the enrolment is confirmed
        factor.confirmed_at = func.now()
        factor.last_used_step = step
        user.mfa_enabled = True
        codes = _new_recovery_codes(db, user.id)
        user_state.invalidate(db, [user.id])
        ended = revoke_user_sessions(db, user.id, SessionEndReason.MFA_ENROLLED, keep=principal.session_id)
        if not record_authentication(user.id, principal.session_id, principal.auth_time, WITH_CODE):
            raise SessionEndedError()
        audit.record_by_caller(db, AuditEvent.MFA_ENROLLED, client, principal, sessions_ended=len(ended))
    return codes


def remove(principal: Principal, code: str | None, recovery_code: str | None, client: ClientInfo) -> None:
    """Turn the second factor off, proven with a current code or a recovery code.

    A wrong code keeps a slot of the per-user limit that wrong passwords of a
    signed-in user count against (re-authentication's): codes cannot be tried
    here without bound. Anything else gives the slot back.
    """
    settings = get_settings()
    proofs = rate_limits.limit(settings, Rule.SIGNED_IN_PROOF_PER_USER, user_id=principal.user_id)
    with rate_limits.reserved([proofs]) as reservation:
        try:
            _remove_proven(settings, principal, code, recovery_code, client)
        except ConflictError:
            reservation.give_back()
            raise
        reservation.give_back()


def _remove_proven(
    settings: Settings, principal: Principal, code: str | None, recovery_code: str | None, client: ClientInfo
) -> None:
    with unit_of_work() as db:
        user = db.get(User, principal.user_id, with_for_update=True)
        assert user is not None
        if not user.mfa_enabled:
            raise ConflictError("No second factor is on.", code=ErrorCode.MFA_NOT_ENABLED)
        used = check(db, settings, user.id, code, recovery_code)
        if isinstance(used, CodeRefused):
            audit.record_by_caller(
                db, AuditEvent.MFA_WRONG_CODE, client, principal, **wrong_code_details(used, "removal")
            )
            db.commit()
            raise _wrong_code(used)
        _turn_off(db, user)
        audit.record_by_caller(db, AuditEvent.MFA_REMOVED, client, principal, proven_with=used.value)


def regenerate_recovery_codes(principal: Principal, client: ClientInfo) -> list[str]:
    """A new set of recovery codes; every code of the old set stops working.

    It needs a current code, met as a recent proof of this session that
    included one (re-authentication with a code, or the sign-in's second
    step, within REAUTH_MAX_AGE_MINUTES): the route takes no body. Checked
    here against the locked row too, since a request that passed the bearer
    check just before the factor came on carries a proof without a code.
    """
    settings = get_settings()
    with unit_of_work() as db:
        user = db.get(User, principal.user_id, with_for_update=True)
        assert user is not None
        if not user.mfa_enabled:
            raise ConflictError("No second factor is on.", code=ErrorCode.MFA_NOT_ENABLED)
        max_age = settings.reauth_max_age_minutes * 60
        refuse_unless_recent(principal.auth_time, clock.now(), max_age, code_required=True, amr=principal.amr)
        codes = _new_recovery_codes(db, user.id)
        audit.record_by_caller(db, AuditEvent.MFA_RECOVERY_CODES_REGENERATED, client, principal)
    return codes


def clear_by_operator(email: str) -> bool:
    """Break glass: an operator with database access turns a user's second factor off.

    Every session of the user ends (whoever holds them proved a factor that
    no longer exists). Audited with no actor: it did not come through the API.
    """
    with unit_of_work() as db:
        user = db.scalars(select(User).where(User.email == email.lower()).with_for_update()).one_or_none()
        if user is None:
            return False
        _turn_off(db, user)
        ended = revoke_user_sessions(db, user.id, SessionEndReason.MFA_CLEARED)
        audit.record(
            db,
            AuditEvent.MFA_CLEARED_BY_OPERATOR,
            None,
            target_id=user.id,
            npo_id=user.npo_id,
            details={"sessions_ended": len(ended)},
        )
    return True


def check(
    db: DbSession, settings: Settings, user_id: uuid.UUID, code: str | None, recovery_code: str | None
) -> SecondFactor | CodeRefused:
    """Accept a TOTP code or a recovery code, once; which one it was, or why not.

    Both are spent by a conditional UPDATE: two requests racing with the same
    code cannot both pass (the loser is told the code was already used).
    """
    if code:
        return _check_totp(db, settings, user_id, code)
    if recovery_code:
        spent = db.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == totp.recovery_code_hash(user_id, recovery_code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=func.now())
            .returning(RecoveryCode.id)
        ).first()
        return SecondFactor.RECOVERY_CODE if spent else CodeRefused.WRONG
    return CodeRefused.WRONG


def _check_totp(db: DbSession, settings: Settings, user_id: uuid.UUID, code: str) -> SecondFactor | CodeRefused:
    factor = db.get(TotpFactor, user_id)
    if factor is None or factor.confirmed_at is None:
        return CodeRefused.WRONG
    secret, now = _secret(settings, factor), clock.now()
    step = totp.matching_step(secret, code, now, factor.last_used_step)
    if step is None:
        replayed = factor.last_used_step is not None and totp.matching_step(secret, code, now, None) is not None
        return CodeRefused.ALREADY_USED if replayed else CodeRefused.WRONG
    spent = db.execute(
        update(TotpFactor)
        .where(
            TotpFactor.user_id == user_id,
            or_(TotpFactor.last_used_step.is_(None), TotpFactor.last_used_step < step),
        )
        .values(last_used_step=step)
        .returning(TotpFactor.user_id)
    ).first()
    return SecondFactor.TOTP if spent else CodeRefused.ALREADY_USED


def wrong_code_details(refused: CodeRefused, during: str) -> dict[str, str | bool]:
    """The details of an ``auth.mfa_wrong_code`` row: where, and whether the code was a replay."""
    details: dict[str, str | bool] = {"during": during}
    if refused is CodeRefused.ALREADY_USED:
        details["already_used"] = True
    return details


def _secret(settings: Settings, factor: TotpFactor) -> str:
    return decrypt(settings, factor.secret_encrypted)


def _new_recovery_codes(db: DbSession, user_id: uuid.UUID) -> list[str]:
    codes = totp.new_recovery_codes()
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    db.add_all(RecoveryCode(user_id=user_id, code_hash=totp.recovery_code_hash(user_id, code)) for code in codes)
    return codes


def delete_factors(db: DbSession, user_id: uuid.UUID) -> None:
    """Delete the user's authenticator secret and recovery codes (the caller turns ``mfa_enabled`` off)."""
    db.execute(delete(TotpFactor).where(TotpFactor.user_id == user_id))
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))


def _turn_off(db: DbSession, user: User) -> None:
    delete_factors(db, user.id)
    user.mfa_enabled = False
    user_state.invalidate(db, [user.id])


def _wrong_code(refused: CodeRefused) -> BadRequestError:
    return BadRequestError(refused.message, code=refused.error_code)
