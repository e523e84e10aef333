"""The five roles, with what each may do, rendered from the policy grants."""

from __future__ import annotations

from sqlalchemy import select

from shared.database import unit_of_work
from shared.models import Role, RoleName
from shared.services.policy import RANK, describe_grants


def list_roles() -> list[tuple[Role, list[str]]]:
    with unit_of_work() as db:
        roles = list(db.scalars(select(Role)))
    roles.sort(key=lambda role: -RANK[RoleName(role.name)])
    return [(role, describe_grants(RoleName(role.name))) for role in roles]
