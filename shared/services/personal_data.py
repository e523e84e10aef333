"""The right of access: everything this service holds about the signed-in user, in one document.

Every category is read in one transaction, which also writes the audit event
(``user.data_exported``): profile, sessions (times, IP addresses, user
agents), event assignments, whether a second factor is on, the audit events
about the user and the emails sent to them. Never a password hash, a token or
its hash, a second-factor secret, a recovery code or an email body: the
response models have no field for any of them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session as DbSession

from shared.config import get_settings
from shared.context import ClientInfo
from shared.database import unit_of_work
from shared.errors import SessionEndedError
from shared.models import AuditLog, EmailOutbox, EventAssignment, RecoveryCode, Session, TotpFactor, User
from shared.schemas.privacy import (
    ExportedAssignment,
    ExportedAuditEvent,
    ExportedEmail,
    ExportedProfile,
    ExportedSecondFactor,
    ExportedSession,
    PersonalDataExport,
    RetentionDays,
)
from shared.services import audit
from shared.services.audit import AuditEvent
from shared.services.email.outbox import addressed_to
from shared.services.principal import Principal


def export(principal: Principal, client: ClientInfo) -> PersonalDataExport:
    """Everything held about the caller; the export itself is audited."""
    with unit_of_work() as db:
        user = db.get(User, principal.user_id)
        if user is None:
            raise SessionEndedError()
        document = PersonalDataExport(
            generated_at=datetime.now(UTC),
            profile=ExportedProfile.model_validate(user),
            sessions=_sessions(db, user.id),
            event_assignments=_assignments(db, user.id),
            second_factor=_second_factor(db, user),
            audit_events=_audit_events(db, user.id),
            emails=_emails(db, user),
            retention_days=_retention_days(),
        )
        audit.record_by_caller(db, AuditEvent.USER_DATA_EXPORTED, client, principal)
    return document


def _sessions(db: DbSession, user_id: uuid.UUID) -> list[ExportedSession]:
    rows = db.scalars(select(Session).where(Session.user_id == user_id).order_by(Session.created_at, Session.id))
    return [ExportedSession.model_validate(row) for row in rows]


def _assignments(db: DbSession, user_id: uuid.UUID) -> list[ExportedAssignment]:
    rows = db.scalars(
        select(EventAssignment)
        .where(EventAssignment.user_id == user_id)
        .order_by(EventAssignment.assigned_at, EventAssignment.event_id)
    )
    return [ExportedAssignment.model_validate(row) for row in rows]


def _second_factor(db: DbSession, user: User) -> ExportedSecondFactor:
    enrolled_at = db.scalar(select(TotpFactor.confirmed_at).where(TotpFactor.user_id == user.id))
    codes_left = db.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    return ExportedSecondFactor(enabled=user.mfa_enabled, enrolled_at=enrolled_at, recovery_codes_left=codes_left or 0)


def _audit_events(db: DbSession, user_id: uuid.UUID) -> list[ExportedAuditEvent]:
    rows = db.scalars(
        select(AuditLog)
        .where(or_(AuditLog.actor_user_id == user_id, AuditLog.target_user_id == user_id))
        .order_by(AuditLog.created_at, AuditLog.id)
    )
    return [_audit_event(row, own=row.actor_user_id == user_id) for row in rows]


def _audit_event(row: AuditLog, *, own: bool) -> ExportedAuditEvent:
    """The address and browser of a request are its maker's: given for the user's own only."""
    return ExportedAuditEvent(
        id=row.id,
        event_type=row.event_type,
        actor_user_id=row.actor_user_id,
        target_user_id=row.target_user_id,
        npo_id=row.npo_id,
        ip_address=row.ip_address if own else None,
        user_agent=row.user_agent if own else None,
        details=row.details,
        created_at=row.created_at,
    )


def _emails(db: DbSession, user: User) -> list[ExportedEmail]:
    rows = db.scalars(select(EmailOutbox).where(addressed_to(user)).order_by(EmailOutbox.created_at, EmailOutbox.id))
    return [ExportedEmail.model_validate(row) for row in rows]


def _retention_days() -> RetentionDays:
    settings = get_settings()
    return RetentionDays(
        sessions=settings.session_retention_days,
        email_tokens=settings.email_token_retention_days,
        emails=settings.email_outbox_retention_days,
        audit_events=settings.audit_log_retention_days,
    )
