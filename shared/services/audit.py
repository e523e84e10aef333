"""The audit trail: one append-only row per security-relevant event."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session as DbSession

from shared.context import ClientInfo
from shared.database import unit_of_work
from shared.models import AuditLog
from shared.services import rate_limits
from shared.services.principal import Principal


class AuditEvent(StrEnum):
    USER_REGISTERED = "user.registered"
    EMAIL_VERIFIED = "user.email_verified"
    LOGIN_SUCCEEDED = "auth.login_succeeded"
    LOGIN_FAILED = "auth.login_failed"
    LOGOUT = "auth.logout"
    SESSION_REVOKED = "auth.session_revoked"
    SESSION_EVICTED = "auth.session_evicted"
    REFRESH_REUSE_DETECTED = "auth.refresh_reuse_detected"
    PASSWORD_RESET_REQUESTED = "auth.password_reset_requested"
    PASSWORD_RESET_COMPLETED = "auth.password_reset_completed"
    PASSWORD_CHANGED = "auth.password_changed"
    RATE_LIMITED = "auth.rate_limited"
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DEACTIVATED = "user.deactivated"
    USER_ACTIVATED = "user.activated"
    USER_ROLE_CHANGED = "user.role_changed"
    USER_EMAIL_VERIFIED_BY_ADMIN = "user.email_verified_by_admin"
    USER_ERASED = "user.erased"
    USER_DATA_EXPORTED = "user.data_exported"
    ACCESS_REFUSED = "authz.refused"
    MFA_ENROLMENT_STARTED = "mfa.enrolment_started"
    MFA_ENROLLED = "mfa.enrolled"
    MFA_REMOVED = "mfa.removed"
    MFA_WRONG_CODE = "mfa.wrong_code"
    MFA_RECOVERY_CODE_USED = "mfa.recovery_code_used"
    MFA_RECOVERY_CODES_REGENERATED = "mfa.recovery_codes_regenerated"
    MFA_CLEARED_BY_OPERATOR = "mfa.cleared_by_operator"
    REAUTHENTICATED = "auth.reauthenticated"
    CHECK_REFUSED = "authz.check_refused"
    EVENT_ASSIGNED = "event.assigned"
    EVENT_UNASSIGNED = "event.unassigned"


def record_own(db: DbSession, event: AuditEvent, client: ClientInfo | None, user: Any, **details: Any) -> None:
    """An event a user caused about their own account (actor = target = ``user``)."""
    record(db, event, client, actor_id=user.id, target_id=user.id, npo_id=user.npo_id, details=details)


def record_by_caller(
    db: DbSession, event: AuditEvent, client: ClientInfo, principal: Principal, **details: Any
) -> None:
    """An event the signed-in caller caused about their own account."""
    record(
        db,
        event,
        client,
        actor_id=principal.user_id,
        target_id=principal.user_id,
        npo_id=principal.npo_id,
        details=details,
    )


def record_on(
    db: DbSession, event: AuditEvent, client: ClientInfo, principal: Principal, target: Any, **details: Any
) -> None:
    """An event the signed-in caller caused to another user's account (``target``, a user row)."""
    record(db, event, client, actor_id=principal.user_id, target_id=target.id, npo_id=target.npo_id, details=details)


def record(
    db: DbSession,
    event: AuditEvent,
    client: ClientInfo | None,
    *,
    actor_id: uuid.UUID | None = None,
    target_id: uuid.UUID | None = None,
    npo_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an event to ``db``'s transaction: it lands exactly when the action does."""
    db.add(
        AuditLog(
            event_type=event.value,
            actor_user_id=actor_id,
            target_user_id=target_id,
            npo_id=npo_id,
            ip_address=client.ip_address if client else None,
            user_agent=client.user_agent if client else None,
            request_id=client.request_id if client else None,
            details=details or {},
        )
    )


def record_refusal(principal: Principal, action: str, target_id: str | None, client: ClientInfo) -> None:
    """Audit a refused (403) action, once per caller, action and target per window.

    Its own transaction: the refused request's work was rolled back. The
    window keeps a client that retries in a loop from filling the log.
    """
    if not rate_limits.first_refusal(f"forbidden:{principal.user_id}:{action}:{target_id}"):
        return
    target = _uuid_or_none(target_id)
    with unit_of_work() as db:
        record(
            db,
            AuditEvent.ACCESS_REFUSED,
            client,
            actor_id=principal.user_id,
            target_id=target,
            npo_id=principal.npo_id,
            details={"action": action, "role": principal.role},
        )


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None
