"""The right of access: everything this service holds about the signed-in user, in one document.

Every category is read in one transaction, which also writes the audit event
(``user.data_exported``): profile, sessions (times, IP addresses, user
agents), event assignments, whether a second factor is on, the consents
given and withdrawn (with the address and browser of each), the audit
events about the user, the emails sent to them and the invitations sent to
them. The rows come back as they are;
the export's response models (``shared.schemas.privacy``) render them and
have no field for a password hash, a token or its hash, a second-factor
secret, a recovery code or an email body.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session as DbSession

from shared.config import Settings, get_settings
from shared.context import ClientInfo
from shared.database import unit_of_work
from shared.errors import SessionEndedError
from shared.models import (
    AuditLog,
    Consent,
    EmailOutbox,
    EventAssignment,
    Invitation,
    RecoveryCode,
    Session,
    TotpFactor,
    User,
)
from shared.services import audit
from shared.services.audit import AuditEvent
from shared.services.consents import history_of
from shared.services.email.outbox import addressed_to
from shared.services.erasure import invitations_to
from shared.services.principal import Principal


@dataclass(frozen=True)
class SecondFactorStatus:
    """Whether a second factor is on, never its secret or codes."""

    enabled: bool
    enrolled_at: datetime | None
    recovery_codes_left: int


@dataclass(frozen=True)
class AuditEntry:
    """An audit event about the user; the address and browser only of the user's own requests."""

    id: uuid.UUID
    event_type: str
    actor_user_id: uuid.UUID | None
    target_user_id: uuid.UUID | None
    npo_id: uuid.UUID | None
    ip_address: str | None
    user_agent: str | None
    details: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class RetentionDays:
    """How long each kind of record is kept after it ends, in days."""

    sessions: int
    email_tokens: int
    emails: int
    audit_events: int


@dataclass(frozen=True)
class PersonalData:
    """Everything held about one user, as of ``generated_at``."""

    generated_at: datetime
    profile: User
    sessions: list[Session]
    event_assignments: list[EventAssignment]
    second_factor: SecondFactorStatus
    consents: list[Consent]
    audit_events: list[AuditEntry]
    emails: list[EmailOutbox]
    invitations: list[Invitation]
    retention_days: RetentionDays


def export(principal: Principal, client: ClientInfo) -> PersonalData:
    """Everything held about the caller; the export itself is audited."""
    settings = get_settings()
    with unit_of_work() as db:
        user = db.get(User, principal.user_id)
        if user is None:
            raise SessionEndedError()
        document = PersonalData(
            generated_at=datetime.now(UTC),
            profile=user,
            sessions=_sessions(db, user.id),
            event_assignments=_assignments(db, user.id),
            second_factor=_second_factor(db, user),
            consents=history_of(db, user.id),
            audit_events=_audit_events(db, user.id),
            emails=_emails(db, user),
            invitations=_invitations(db, user),
            retention_days=_retention_days(settings),
        )
        audit.record_by_caller(db, AuditEvent.USER_DATA_EXPORTED, client, principal)
    return document


def _sessions(db: DbSession, user_id: uuid.UUID) -> list[Session]:
    return list(db.scalars(select(Session).where(Session.user_id == user_id).order_by(Session.created_at, Session.id)))


def _assignments(db: DbSession, user_id: uuid.UUID) -> list[EventAssignment]:
    return list(
        db.scalars(
            select(EventAssignment)
            .where(EventAssignment.user_id == user_id)
            .order_by(EventAssignment.assigned_at, EventAssignment.event_id)
        )
    )


def _second_factor(db: DbSession, user: User) -> SecondFactorStatus:
    enrolled_at = db.scalar(select(TotpFactor.confirmed_at).where(TotpFactor.user_id == user.id))
    codes_left = db.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    return SecondFactorStatus(enabled=user.mfa_enabled, enrolled_at=enrolled_at, recovery_codes_left=codes_left or 0)


def _audit_events(db: DbSession, user_id: uuid.UUID) -> list[AuditEntry]:
    rows = db.scalars(
        select(AuditLog)
        .where(or_(AuditLog.actor_user_id == user_id, AuditLog.target_user_id == user_id))
        .order_by(AuditLog.created_at, AuditLog.id)
    )
    return [_audit_entry(row, own=row.actor_user_id == user_id) for row in rows]


def _audit_entry(row: AuditLog, *, own: bool) -> AuditEntry:
    """The address and browser of a request are its maker's: given for the user's own only."""
    return AuditEntry(
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


def _emails(db: DbSession, user: User) -> list[EmailOutbox]:
    return list(
        db.scalars(select(EmailOutbox).where(addressed_to(user)).order_by(EmailOutbox.created_at, EmailOutbox.id))
    )


def _invitations(db: DbSession, user: User) -> list[Invitation]:
    return list(
        db.scalars(select(Invitation).where(invitations_to(user)).order_by(Invitation.created_at, Invitation.id))
    )


def _retention_days(settings: Settings) -> RetentionDays:
    return RetentionDays(
        sessions=settings.session_retention_days,
        email_tokens=settings.email_token_retention_days,
        emails=settings.email_outbox_retention_days,
        audit_events=settings.audit_log_retention_days,
    )
