"""/api/v1/roles: the five roles and what each may do."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from shared.http.endpoint import endpoint
from shared.lazy import lazy_module
from shared.schemas.users import RoleList, RoleOut

if TYPE_CHECKING:
    from shared.services import roles
else:  # loaded on the first request, not at indexing time
    roles = lazy_module("shared.services.roles")

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
def list_roles() -> RoleList:
    """Rendered from the policy module that makes every authorisation decision."""
    items = [
        RoleOut(name=role.name, scope=role.scope, description=role.description, permissions=permissions)
        for role, permissions in roles.list_roles()
    ]
    return RoleList(items=items)
