"""Password reset (by email) and password change (signed in)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from shared.config import get_settings
from shared.context import ClientInfo
from shared.database import unit_of_work
from shared.errors import AuthenticationError, ErrorCode, SessionEndedError, ValidationFailedError
from shared.models import TokenPurpose, User
from shared.security.password_policy import PERSONAL_INFO, is_personal
from shared.security.passwords import hash_password, verify_password
from shared.services import audit, rate_limits, user_state, user_tokens
from shared.services.accounts import RESET_LIMITS, mark_verified, reserve_email_limits, token_attempts
from shared.services.audit import AuditEvent
from shared.services.email import templates
from shared.services.email.outbox import enqueue, enqueue_with_link
from shared.services.principal import Principal
from shared.services.reauthentication import check_own_password
from shared.services.sessions import SessionEndReason, revoke_user_sessions, session_open
from shared.services.sign_in import password_still_current


def request_reset(email: str, client: ClientInfo) -> None:
    """Queue a reset link for an existing, not deactivated account; silent otherwise."""
    settings = get_settings()
    taken = reserve_email_limits(settings, RESET_LIMITS, email, client)
    if taken is None:
        return
    with rate_limits.held(taken), unit_of_work() as db:
        user = db.scalars(select(User).where(User.email == email).with_for_update()).one_or_none()
        if user is None or user.deactivated_at is not None:
            return
        # An unverified address may not be the registrant's: no text they chose goes to it.
        greeting_name = user.first_name if user.email_verified else None
        enqueue_with_link(db, settings, user, templates.password_reset(greeting_name))
        audit.record(db, AuditEvent.PASSWORD_RESET_REQUESTED, client, target_id=user.id, npo_id=user.npo_id)


def confirm_reset(token: str, new_password: str, client: ClientInfo) -> None:
    """Spend the token, set the password, end every session of the user.

    The token is looked at before any bcrypt work, and attempts are limited
    per client address: a stream of made-up tokens costs a lookup each, not
    a password hash. The link proved control of the mailbox, so an
    unverified address becomes verified (and the account active unless an
    admin deactivated it).
    """
    settings = get_settings()
    invalid = user_tokens.invalid_link()
    with rate_limits.reserved([token_attempts(settings, client)]) as attempt:
        if user_tokens.holder(token, TokenPurpose.PASSWORD_RESET) is None:
            raise invalid
        password_hash = hash_password(new_password, settings.bcrypt_rounds)
        with unit_of_work() as db:
            user_id = user_tokens.consume(db, token, TokenPurpose.PASSWORD_RESET)
            user = db.get(User, user_id, with_for_update=True) if user_id else None
            if user is None or user.deactivated_at is not None:
                raise invalid
            if is_personal(new_password, user.email, user.first_name, user.last_name):
                attempt.give_back()  # the token was good: it stays unspent (the transaction rolls back)
                raise personal_password_refusal(NEW_PASSWORD)
            mark_verified(user)
            _set_password(db, user, password_hash, AuditEvent.PASSWORD_RESET_COMPLETED, client, keep=None)
            attempt.give_back()


def change_password(principal: Principal, current: str, new: str, client: ClientInfo) -> None:
    """Check the current password (rate-limited like sign-in), set the new one,
    end every other session; this one stays.

    The password checked, and this session, must still be current once the
    user row is locked: a reset that committed in between (which set another
    password and ended every session) wins, as at sign-in and erasure.
    """
    settings = get_settings()
    wrong = "The current password is not correct."
    checked = check_own_password(settings, principal.user_id, current, wrong)
    if verify_password(new, checked.password_hash):
        raise ValidationFailedError.of_field(
            NEW_PASSWORD, "password must differ from the current password", "password_unchanged"
        )
    password_hash = hash_password(new, settings.bcrypt_rounds)
    with unit_of_work() as db:
        user = db.get(User, principal.user_id, with_for_update=True)
        if user is None or not session_open(db, principal.user_id, principal.session_id):
            raise SessionEndedError()
        if not password_still_current(user, checked):
            raise AuthenticationError(wrong, code=ErrorCode.INVALID_CREDENTIALS)
        if is_personal(new, user.email, user.first_name, user.last_name):
            raise personal_password_refusal(NEW_PASSWORD)
        _set_password(db, user, password_hash, AuditEvent.PASSWORD_CHANGED, client, keep=principal.session_id)


# The request field a new password arrives in (reset confirmation and change alike).
NEW_PASSWORD = "new_password"


def personal_password_refusal(field: str) -> ValidationFailedError:
    """The 422 of a new password built on its person (:func:`is_personal`), decided where the person is
    known only once a token is looked up or the user row read: naming ``field``, the rule's type."""
    return ValidationFailedError.of_field(field, "password " + PERSONAL_INFO.message, PERSONAL_INFO.rule)


def _set_password(
    db: DbSession, user: User, password_hash: str, event: AuditEvent, client: ClientInfo, *, keep: uuid.UUID | None
) -> None:
    """Store the new hash, end every session but ``keep``, tell the owner by email, audit."""
    user.password_hash = password_hash
    user.password_changed_at = datetime.now(UTC)
    user.password_change_required = False
    user_state.invalidate(db, [user.id])
    reason = SessionEndReason.PASSWORD_CHANGED if keep else SessionEndReason.PASSWORD_RESET
    ended = revoke_user_sessions(db, user.id, reason, keep=keep)
    enqueue(db, user.email, templates.password_changed(user.first_name))
    audit.record_own(db, event, client, user, sessions_ended=len(ended))
