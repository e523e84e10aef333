"""Reading the audit log: super admins see everything, NPO admins their NPO's users."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from shared.context import ClientInfo
from shared.database import without_transaction
from shared.models import AuditLog, RoleName
from shared.services import audit
from shared.services.paging import Page, read_page
from shared.services.policy import Action, list_scope, require_action
from shared.services.principal import Principal


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which events a page shows (each None: no condition); the window is inclusive."""

    user_id: uuid.UUID | None = None
    event_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_events(
    principal: Principal, filters: AuditFilter, page: Page, client: ClientInfo
) -> tuple[list[AuditLog], int]:
    """A page of events, newest first, and how many match in all."""
    with audit.refusals_recorded(principal, client):
        require_action(RoleName(principal.role), Action.VIEW_AUDIT)
    statement = select(AuditLog)
    scope = list_scope(principal.party)
    if scope is not None:
        statement = statement.where(AuditLog.npo_id == scope)
    if filters.user_id is not None:
        statement = statement.where(
            or_(AuditLog.target_user_id == filters.user_id, AuditLog.actor_user_id == filters.user_id)
        )
    if filters.event_type is not None:
        statement = statement.where(AuditLog.event_type == filters.event_type)
    if filters.since is not None:
        statement = statement.where(AuditLog.created_at >= filters.since)
    if filters.until is not None:
        statement = statement.where(AuditLog.created_at <= filters.until)
    with without_transaction() as db:
        return read_page(db, statement, (AuditLog.created_at.desc(), AuditLog.id.desc()), page)
