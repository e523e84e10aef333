"""The five roles, with what each may do, rendered from the policy tables (``GET /api/v1/roles``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select

from shared.database import without_transaction
from shared.models import Role, RoleName
from shared.services.policy import ASSIGNABLE, GRANTS, PERMISSIONS, PLATFORM_ACTIONS, RANK, OwnAccountAction


@dataclass(frozen=True)
class RoleDescription:
    name: RoleName
    scope: str
    description: str
    reach: str
    permissions: list[str]
    user_admin: list[str]


@lru_cache(maxsize=1)
def _seeded_roles() -> tuple[tuple[str, str, str], ...]:
    """The roles table (name, scope, description), read once per process: migrations seed it
    and nothing changes it at run time, so this route costs the caller's session check only."""
    with without_transaction() as db:
        return tuple((role.name, role.scope, role.description) for role in db.scalars(select(Role)))


def list_roles() -> list[RoleDescription]:
    """Highest rank first."""
    roles = [Role(name=name, scope=scope, description=description) for name, scope, description in _seeded_roles()]
    roles.sort(key=lambda role: -RANK[RoleName(role.name)])
    described = []
    for role in roles:
        name = RoleName(role.name)
        reach, permissions = _reach(name)
        described.append(RoleDescription(name, role.scope, role.description, reach, permissions, _user_admin(name)))
    return described


def _reach(role: RoleName) -> tuple[str, list[str]]:
    """How far the role's platform permissions reach, and which they are."""
    scope, granted = PERMISSIONS[role]
    return scope.value, sorted(permission.value for permission in granted)


def _user_admin(role: RoleName) -> list[str]:
    """What the role may do through this service, e.g. "users:list on users of their own NPO"."""
    lines = [f"{grant.action.value} on {grant.reach.value}" for grant in GRANTS[role]]
    assignable = sorted(r.value for r in ASSIGNABLE.get(role, frozenset()))
    if assignable:
        lines.append("may assign roles: " + ", ".join(assignable))
    lines.extend(sorted(action.value for action in PLATFORM_ACTIONS.get(role, frozenset())))
    lines.append(", ".join(action.value for action in OwnAccountAction))
    return lines
