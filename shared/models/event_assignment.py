"""Event assignments: which events an event coordinator or staff user works.

Event ids belong to the events service; an assignment needs the event
registered here (``shared.models.event``), and its assignee must be of the
event's NPO (the service keeps it so; moving the event ends the others).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, TimestampMixin, uuid_pk


class EventAssignment(TimestampMixin, Base):
    __tablename__ = "event_assignments"
    __table_args__ = (
        UniqueConstraint("user_id", "event_id"),
        Index("ix_event_assignments_event_id", "event_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("events.id"))
    assigned_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
