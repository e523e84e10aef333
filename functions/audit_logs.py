"""/api/v1/audit-logs: what happened, for those allowed to read it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from shared.http.endpoint import endpoint
from shared.lazy import lazy_module
from shared.schemas.audit import AuditLogOut, AuditLogPage, AuditLogQuery
from shared.services.paging import Page
from shared.services.principal import Principal

if TYPE_CHECKING:
    from shared.services import audit_queries
else:  # loaded on the first request, not at indexing time
    audit_queries = lazy_module("shared.services.audit_queries")

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@endpoint(
    bp,
    "GET",
    "api/v1/audit-logs",
    name="audit_logs_list",
    summary="Read the audit log",
    tags=("audit",),
    response=AuditLogPage,
    auth=True,
    errors=(403,),
)
def list_audit_logs(query: AuditLogQuery, caller: Principal) -> AuditLogPage:
    """super_admin: every event; npo_admin: events about users of their NPO; others 403."""
    filters = audit_queries.AuditFilter(
        user_id=query.user_id, event_type=query.event_type, since=query.since, until=query.until
    )
    items, total = audit_queries.list_events(caller, filters, Page(query.page, query.per_page))
    return AuditLogPage(
        items=[AuditLogOut.model_validate(item) for item in items],
        **AuditLogPage.fields(total, query.page, query.per_page),
    )
