"""The five roles, with what each may do, rendered from the policy grants."""

from __future__ import annotations

from sqlalchemy import select

from shared.database import read_only
from shared.models import Role, RoleName
from shared.services.policy import RANK, describe_grants


def list_roles() -> list[tuple[Role, list[str]]]:
    with read_only() as db:
        roles = list(db.scalars(select(Role)))
    roles.sort(key=lambda role: -RANK[RoleName(role.name)])
    return [(role, describe_grants(RoleName(role.name))) for role in roles]
