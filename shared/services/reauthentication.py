"""A signed-in user proves who they are again: their password, and a code where a second factor is on.

Re-authentication renews the session's proof for the sensitive routes (those
declared ``recent_auth``). Password change and self-erasure ask for the
password too, through the same check (:func:`own_password_checked`): wrong
passwords of a signed-in user count against one per-user limit, whichever
route they come through.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select

from shared import clock
from shared.config import Settings, get_settings
from shared.context import ClientInfo
from shared.database import unit_of_work, without_transaction
from shared.errors import AuthenticationError, ErrorCode, SessionEndedError
from shared.models import User
from shared.security.passwords import verify_password
from shared.services import audit, rate_limits
from shared.services.audit import AuditEvent
from shared.services.principal import Principal
from shared.services.rate_limits import Limit, Rule
from shared.services.sessions import issue_access_token, record_authentication
from shared.services.sign_in import VerifiedPassword, check_second_factor
from shared.services.sign_in_state import WITH_CODE, AuthenticationMethod


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
    with own_password_checked(settings, principal.user_id, password, "The password is not correct."):
        amr: tuple[str, ...] = (AuthenticationMethod.PASSWORD,)
        if principal.state.mfa_enabled:
            check_second_factor(settings, principal.user_id, code, recovery_code, client)
            amr = WITH_CODE
    now = int(clock.now())
    if not record_authentication(principal.user_id, principal.session_id, now, amr):
        raise SessionEndedError()
    with unit_of_work() as db:
        audit.record_by_caller(db, AuditEvent.REAUTHENTICATED, client, principal, amr=list(amr))
    access, _ = issue_access_token(settings, principal.state, principal.session_id, now, amr)
    return Reauthenticated(access, settings.access_token_expire_minutes * 60)


@contextmanager
def own_password_checked(
    settings: Settings, user_id: uuid.UUID, password: str, wrong: str
) -> Iterator[VerifiedPassword]:
    """A signed-in user's own password, checked under the per-user limit of wrong ones.

    A wrong password is a 401 (``wrong``) that keeps its slot, as does
    whatever else the block refuses (a wrong second-factor code); the slot
    is given back when the block finishes, and on a dependency failure (503).
    """
    limit = _signed_in_password_limit(settings, user_id)
    with rate_limits.reserved([limit]) as reservation:
        with without_transaction() as db:
            row = db.execute(select(User.password_hash, User.password_changed_at).where(User.id == user_id)).first()
        if row is None or not verify_password(password, row.password_hash):
            raise AuthenticationError(wrong, code=ErrorCode.INVALID_CREDENTIALS)
        yield VerifiedPassword(user_id, row.password_hash, row.password_changed_at)
        reservation.give_back()


def check_own_password(settings: Settings, user_id: uuid.UUID, password: str, wrong: str) -> VerifiedPassword:
    """:func:`own_password_checked` with nothing more to prove."""
    with own_password_checked(settings, user_id, password, wrong) as verified:
        return verified


def _signed_in_password_limit(settings: Settings, user_id: uuid.UUID) -> Limit:
    """Wrong proofs given by a signed-in user (passwords at password change, re-authentication and
    erasure; codes at re-authentication and at turning the second factor off), per user."""
    return rate_limits.limit(settings, Rule.SIGNED_IN_PROOF_PER_USER, user_id=user_id)
