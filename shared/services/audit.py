"""The audit trail: one append-only row per security-relevant event.

An event an action causes is added to the action's own transaction
(:func:`record` and its shorthands), so it lands exactly when the action does.
A refusal (a 403 to a signed-in caller, a 429, a permission check answered
no) goes through one path, :func:`record_refusal`: its own statement, written
once per window however often the refused request is repeated.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, String, Uuid, exists, func, insert, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm import Session as DbSession

from shared.context import ClientInfo
from shared.database import without_transaction
from shared.errors import AuthorizationError, ErrorCode, RateLimitedError
from shared.failures import is_dependency_failure
from shared.models import AuditLog
from shared.services.principal import Principal

logger = logging.getLogger(__name__)

# A refusal repeated within this window (same event, caller, target and details; for a
# caller not signed in, the same client address) writes no second row: a client retrying
# in a loop does not fill the log.
REFUSAL_WINDOW = timedelta(minutes=15)


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
    EVENT_REGISTERED = "event.registered"
    EVENT_MOVED = "event.moved"
    INVITATION_CREATED = "invitation.created"
    INVITATION_RESENT = "invitation.resent"
    INVITATION_REVOKED = "invitation.revoked"
    INVITATION_ACCEPTED = "invitation.accepted"
    DOCUMENT_PUBLISHED = "document.published"
    CONSENT_ACCEPTED = "consent.accepted"
    CONSENT_WITHDRAWN = "consent.withdrawn"


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


def record_refusal(
    event: AuditEvent,
    client: ClientInfo,
    *,
    actor_id: uuid.UUID | None = None,
    target_id: uuid.UUID | None = None,
    npo_id: uuid.UUID | None = None,
    details: dict[str, Any],
    same_if: dict[str, Any] | None = None,
) -> None:
    """A refused request, once per window: one statement, committed on its own.

    The row is inserted only when its twin (the same event, caller, target
    and details, or only the details named in ``same_if`` when given; without
    a caller, from the same client address) was not written within
    REFUSAL_WINDOW; the check and the insert are one statement, no other
    round trip. Its own statement, because the refused request's work (if it
    had any) was rolled back. ``details`` must hold no personal data: they
    are part of the twin's key. ``same_if`` keeps a caller who varies the
    rest (a new event id each time) from writing a row per request.
    """
    same_details = (
        AuditLog.details == literal(details, JSONB)
        if same_if is None
        else AuditLog.details.contains(literal(same_if, JSONB))
    )
    twin = exists().where(
        AuditLog.event_type == event.value,
        _same(AuditLog.actor_user_id, actor_id),
        _same(AuditLog.target_user_id, target_id),
        same_details,
        AuditLog.created_at > func.now() - REFUSAL_WINDOW,
    )
    if actor_id is None:  # nobody signed in: the address is who is refused
        twin = twin.where(_same(AuditLog.ip_address, client.ip_address))
    row = select(
        literal(event.value, String()),
        literal(actor_id, Uuid()),
        literal(target_id, Uuid()),
        literal(npo_id, Uuid()),
        literal(client.ip_address, String()),
        literal(client.user_agent, String()),
        literal(client.request_id, String()),
        literal(details, JSONB),
    ).where(~twin)
    columns = [
        "event_type",
        "actor_user_id",
        "target_user_id",
        "npo_id",
        "ip_address",
        "user_agent",
        "request_id",
        "details",
    ]
    with without_transaction() as db:
        db.execute(insert(AuditLog).from_select(columns, row))


def _same(column: InstrumentedAttribute[Any], value: object) -> ColumnElement[bool]:
    """``column`` holds ``value``, NULL included (written so an index on the column still serves)."""
    return column.is_(None) if value is None else column == value


@contextmanager
def rate_limited_recorded(
    client: ClientInfo, action: str | None, *, actor_id: uuid.UUID | None = None, target_id: uuid.UUID | None = None
) -> Iterator[None]:
    """A 429 raised in the block is recorded (RATE_LIMITED, ``action``) when it is the first
    refusal of its limit's window, then raised on: a flood of refusals costs no statement."""
    try:
        yield
    except RateLimitedError as refused:
        if refused.first_in_window:
            record_refusal(
                AuditEvent.RATE_LIMITED, client, actor_id=actor_id, target_id=target_id, details={"action": action}
            )
        raise


@contextmanager
def refusals_recorded(
    principal: Principal, client: ClientInfo, *, target_id: uuid.UUID | None = None
) -> Iterator[None]:
    """A plain 403 (FORBIDDEN) raised in the block is recorded as the caller's refused act, then raised on.

    Put it outside the block's transaction: the refusal is written once that
    work has rolled back. A step the caller still owes or a proof to renew is
    not a refusal of the act (those 403s have codes of their own). The caller
    gets the 403 whatever the audit's dependencies do: a refusal left
    unrecorded is logged.
    """
    try:
        yield
    except AuthorizationError as error:
        if error.code is ErrorCode.FORBIDDEN:
            _record_refused_act(principal, client, target_id)
        raise


def _record_refused_act(principal: Principal, client: ClientInfo, target_id: uuid.UUID | None) -> None:
    try:
        record_refusal(
            AuditEvent.ACCESS_REFUSED,
            client,
            actor_id=principal.user_id,
            target_id=target_id,
            npo_id=principal.npo_id,
            details={"action": client.operation, "role": principal.role},
        )
    except Exception as error:
        if not is_dependency_failure(error):
            raise
        logger.warning("refusal not audited: %s", type(error).__name__)
