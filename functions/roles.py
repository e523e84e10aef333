"""/api/v1/roles and /api/v1/audit-logs: what roles may do, and what happened."""

from __future__ import annotations

import azure.functions as func

from shared.http.endpoint import ApiRequest, endpoint
from shared.schemas.audit import AuditLogOut, AuditLogPage, AuditLogQuery
from shared.schemas.users import RoleList, RoleOut
from shared.services import audit_queries, roles

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@endpoint(
    bp,
    "GET",
    "api/v1/roles",
    name="roles_list",
    summary="The five roles and what each may do",
    tags=("roles",),
    response=RoleList,
    auth=True,
)
def list_roles(request: ApiRequest) -> RoleList:
    """Rendered from the policy module that makes every authorisation decision."""
    items = [
        RoleOut(name=role.name, scope=role.scope, description=role.description, permissions=permissions)
        for role, permissions in roles.list_roles()
    ]
    return RoleList(items=items)


@endpoint(
    bp,
    "GET",
    "api/v1/audit-logs",
    name="audit_logs_list",
    summary="Read the audit log",
    tags=("audit",),
    query=AuditLogQuery,
    response=AuditLogPage,
    auth=True,
    errors=(403,),
)
def list_audit_logs(request: ApiRequest) -> AuditLogPage:
    """super_admin: every event; npo_admin: events about users of their NPO; others 403."""
    query: AuditLogQuery = request.query
    items, total = audit_queries.list_events(request.principal, query)
    return AuditLogPage(items=[AuditLogOut.model_validate(item) for item in items], **AuditLogPage.fields(total, query))
