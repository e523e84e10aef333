"""The five roles, seeded by the first migration."""

from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, TimestampMixin, uuid_pk
from shared.roles_and_permissions import NPO_SCOPED_ROLES, RoleName, RoleScope

__all__ = ["NPO_SCOPED_ROLES", "Role", "RoleName", "RoleScope"]


ROLE_NAMES_SQL = ", ".join(f"'{name.value}'" for name in RoleName)
ROLE_SCOPES_SQL = ", ".join(f"'{scope.value}'" for scope in RoleScope)


class Role(TimestampMixin, Base):
    __tablename__ = "roles"
    __table_args__ = (
        CheckConstraint(f"name IN ({ROLE_NAMES_SQL})", name="name_known"),
        CheckConstraint(f"scope IN ({ROLE_SCOPES_SQL})", name="scope_known"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(20))
