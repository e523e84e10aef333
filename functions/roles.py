"""/api/v1/roles: the five roles and what each may do."""

from __future__ import annotations

import azure.functions as func

from shared.http.endpoint import endpoint
from shared.schemas.users import RoleList, RoleOut
from shared.services import role_descriptions

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@endpoint(
    bp,
    "GET",
    "api/v1/roles",
    name="roles_list",
    summary="The five roles and what each may do",
    tags=("roles",),
    response_model=RoleList,
    auth=True,
)
def list_roles() -> RoleList:
    """Rendered from the policy module that makes every authorisation decision."""
    roles = role_descriptions.list_roles()
    return RoleList(items=[RoleOut.model_validate(role, from_attributes=True) for role in roles])
