"""/api/v1/audit-logs: what happened, for those allowed to read it."""

from __future__ import annotations

import azure.functions as func

from shared.context import ClientInfo
from shared.errors import ErrorCode
from shared.http.endpoint import endpoint
from shared.schemas.audit import AuditLogOut, AuditLogPage, AuditLogQuery
from shared.services import audit_queries
from shared.services.paging import Page
from shared.services.principal import Principal

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@endpoint(
    bp,
    "GET",
    "api/v1/audit-logs",
    name="audit_logs_list",
    summary="Read the audit log",
    tags=("audit",),
    response_model=AuditLogPage,
    auth=True,
    errors=(ErrorCode.FORBIDDEN,),
)
def list_audit_logs(query: AuditLogQuery, caller: Principal, client: ClientInfo) -> AuditLogPage:
    """super_admin: every event; npo_admin: events about users of their NPO; others 403."""
    filters = audit_queries.AuditFilter(
        user_id=query.user_id, event_type=query.event_type, since=query.since, until=query.until
    )
    items, total = audit_queries.list_events(caller, filters, Page(query.page, query.per_page), client)
    return AuditLogPage(
        items=[AuditLogOut.model_validate(item) for item in items],
        **AuditLogPage.fields(total, query.page, query.per_page),
    )
