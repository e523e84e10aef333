"""The five roles, with what each may do, rendered from the policy tables."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from shared.database import read_only
from shared.models import Role, RoleName
from shared.services.policy import RANK, describe_grants, describe_reach


@dataclass(frozen=True)
class RoleDescription:
    name: RoleName
    scope: str
    description: str
    reach: str
    permissions: list[str]
    user_admin: list[str]


def list_roles() -> list[RoleDescription]:
    """Highest rank first."""
    with read_only() as db:
        roles = list(db.scalars(select(Role)))
    roles.sort(key=lambda role: -RANK[RoleName(role.name)])
    described = []
    for role in roles:
        name = RoleName(role.name)
        reach, permissions = describe_reach(name)
        described.append(RoleDescription(name, role.scope, role.description, reach, permissions, describe_grants(name)))
    return described
