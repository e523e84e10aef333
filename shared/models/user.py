"""Users: one row per person, one role each, soft-deactivated, never deleted (erased: see ``erased_at``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, String, false, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, TimestampMixin, uuid_pk
from shared.models.role import NPO_SCOPED_ROLES

_NPO_ROLES_SQL = ", ".join(f"'{role.value}'" for role in sorted(NPO_SCOPED_ROLES))

# An erased account keeps the address erased-<id>@ERASED_DOMAIN: unique, lower case, and
# undeliverable (the .invalid top-level domain never resolves).
ERASED_DOMAIN = "erased.invalid"
# The profile fields that hold nothing but personal data: NULL once erased.
CONTACT_FIELDS = (
    "phone",
    "organization_name",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "country",
)
# What a row whose erased_at is set holds (migration 0009): marking an account erased is
# erasing it, and erased_at is written once (a trigger), so the erasure is final.
_ERASED_STATE_SQL = " AND ".join(
    (
        "NOT is_active",
        "NOT mfa_enabled",
        "password_hash IS NULL",
        f"email = 'erased-' || id::text || '@{ERASED_DOMAIN}'",
        "first_name = ''",
        "last_name = ''",
        *(f"{field} IS NULL" for field in CONTACT_FIELDS),
    )
)


class User(TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        CheckConstraint(f"(role IN ({_NPO_ROLES_SQL})) = (npo_id IS NOT NULL)", name="npo_id_matches_role"),
        CheckConstraint(f"erased_at IS NULL OR ({_ERASED_STATE_SQL})", name="erased_state"),
        Index("ix_users_role", "role"),
        Index("ix_users_npo_id", "npo_id"),
        Index("ix_users_created_at", "created_at"),
        # Case-insensitive prefix search (LIKE 'term%') on email and names.
        Index("ix_users_email_pattern", "email", postgresql_ops={"email": "text_pattern_ops"}),
        Index(
            "ix_users_first_name_pattern",
            func.lower(text("first_name")).label("lf"),
            postgresql_ops={"lf": "text_pattern_ops"},
        ),
        Index(
            "ix_users_last_name_pattern",
            func.lower(text("last_name")).label("ll"),
            postgresql_ops={"ll": "text_pattern_ops"},
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    organization_name: Mapped[str | None] = mapped_column(String(255))
    address_line1: Mapped[str | None] = mapped_column(String(255))
    address_line2: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(50), ForeignKey("roles.name", onupdate="CASCADE"))
    npo_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    email_verified: Mapped[bool] = mapped_column(Boolean, server_default=false())
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=false())
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The role of whoever deactivated the account: a super admin's deactivation
    # is undone only by a super admin.
    deactivated_by_role: Mapped[str | None] = mapped_column(String(50))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # An administrator chose the password: it must be changed before anything else.
    password_change_required: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # A confirmed second factor (shared.models.mfa): sign-in takes a code too.
    mfa_enabled: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # The person's data was erased (shared.services.erasure): the row keeps its id,
    # which the audit log names, and nothing that identifies anyone; it never signs in.
    # Written once: a trigger refuses any later change (migration 0009).
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UserSortField(StrEnum):
    """The fields a user list can be sorted by (``-field`` sorts descending)."""

    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    EMAIL = "email"
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    LAST_LOGIN_AT = "last_login_at"
    ROLE = "role"
