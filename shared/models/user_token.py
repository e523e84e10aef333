"""Single-use email tokens (verification, password reset), stored as hashes."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, TimestampMixin, uuid_pk


class TokenPurpose(StrEnum):
    EMAIL_VERIFICATION = "email_verification"
    PASSWORD_RESET = "password_reset"


_PURPOSES_SQL = ", ".join(f"'{purpose.value}'" for purpose in TokenPurpose)


class UserToken(TimestampMixin, Base):
    __tablename__ = "user_tokens"
    __table_args__ = (
        CheckConstraint(f"purpose IN ({_PURPOSES_SQL})", name="purpose_known"),
        Index("ix_user_tokens_user_id_purpose_unused", "user_id", "purpose", postgresql_where=text("used_at IS NULL")),
        # The retention job asks for tokens spent or expired long ago.
        Index("ix_user_tokens_ended_at", func.least(text("used_at"), text("expires_at"))),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(30))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
