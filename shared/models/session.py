"""Sessions (one per sign-in) and their refresh-token lineage.

Redis holds the live session for the per-request check; these rows are the
durable history (created, last seen, IP, user agent, revoked_at, reason) and
the source of truth for refresh rotation.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, LargeBinary, String, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, TimestampMixin, uuid_pk


class Session(TimestampMixin, Base):
    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_user_id_created_at", "user_id", "created_at"),
        Index("ix_sessions_user_id_active", "user_id", postgresql_where=text("revoked_at IS NULL")),
        # The retention job asks for sessions that ended (revoked or expired) long ago.
        Index("ix_sessions_ended_at", func.least(text("revoked_at"), text("expires_at"))),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(50))


class RefreshToken(TimestampMixin, Base):
    """One refresh token of a session; ``rotated_at`` is set when it is spent.

    ``child_sealed`` holds the token that replaced it, encrypted with a key
    derived from this (parent) token, so only a holder of the parent can read
    it back during the reuse grace period; the database never holds a usable
    token.
    """

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_session_id", "session_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("sessions.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("refresh_tokens.id", ondelete="CASCADE")
    )
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    child_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
