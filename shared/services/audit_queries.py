"""Reading the audit log: super admins see everything, NPO admins their NPO's users."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from shared.database import read_only
from shared.errors import AuthorizationError
from shared.models import AuditLog, RoleName
from shared.services.policy import Action, list_scope, may_act_at_all
from shared.services.principal import Principal
from shared.services.users import party


def list_events(principal: Principal, query: Any) -> tuple[list[AuditLog], int]:
    """A page of events, newest first, and how many match in all."""
    if not may_act_at_all(RoleName(principal.role), Action.VIEW_AUDIT):
        raise AuthorizationError()
    statement = select(AuditLog)
    scope = list_scope(party(principal.user))
    if scope is not None:
        statement = statement.where(AuditLog.npo_id == scope)
    if query.user_id is not None:
        statement = statement.where(
            or_(AuditLog.target_user_id == query.user_id, AuditLog.actor_user_id == query.user_id)
        )
    if query.event_type is not None:
        statement = statement.where(AuditLog.event_type == query.event_type)
    if query.since is not None:
        statement = statement.where(AuditLog.created_at >= query.since)
    if query.until is not None:
        statement = statement.where(AuditLog.created_at <= query.until)
    with read_only() as db:
        total = db.scalar(select(func.count()).select_from(statement.subquery())) or 0
        items = list(
            db.scalars(
                statement.order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
                .offset((query.page - 1) * query.per_page)
                .limit(query.per_page)
            )
        )
    return items, total
