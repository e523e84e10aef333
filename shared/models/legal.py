"""Legal documents and consent to them: the kinds, their published versions, each user's history.

- ``legal_document_kinds``: one row per kind (seeded by the migration, never
  deleted), holding what is current: the latest revision, its version label,
  and the revision from which everyone must have accepted again. Publishing
  updates this row under its lock, so a reader that locks it (``FOR SHARE``)
  waits for a publication in flight and then sees it (``owed_consents``).
- ``legal_documents``: every published version (the service keeps versions
  and URLs, never the text), append-only.
- ``consents``: every acceptance and withdrawal, append-only, in order
  (``at`` is the clock at the insert: a user's changes are serialised by
  their row lock). An erased user's rows stay as proof, their IP address and
  user agent blanked: the one change the database lets through.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, uuid_pk

MAX_VERSION_LENGTH = 64
MAX_URL_LENGTH = 2048


class DocumentKind(StrEnum):
    """The documents every user accepts (the kinds table is seeded with exactly these)."""

    TERMS_OF_SERVICE = "terms_of_service"
    PRIVACY_POLICY = "privacy_policy"


class ConsentAction(StrEnum):
    ACCEPTED = "accepted"
    WITHDRAWN = "withdrawn"


_ACTIONS_SQL = ", ".join(f"'{action.value}'" for action in ConsentAction)


class LegalDocumentKind(Base):
    __tablename__ = "legal_document_kinds"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The latest revision published (0: none yet), its version label, and the
    # revision from which an earlier acceptance no longer counts (None: every one counts).
    revision: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    current_version: Mapped[str | None] = mapped_column(String(MAX_VERSION_LENGTH))
    reconsent_revision: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LegalDocument(Base):
    __tablename__ = "legal_documents"
    __table_args__ = (
        UniqueConstraint("kind", "version"),
        UniqueConstraint("kind", "revision"),
    )
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[str] = mapped_column(String(32), ForeignKey("legal_document_kinds.kind"))
    revision: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(MAX_VERSION_LENGTH))
    url: Mapped[str] = mapped_column(String(MAX_URL_LENGTH))
    requires_reconsent: Mapped[bool] = mapped_column(Boolean)
    published_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (
        CheckConstraint(f"action IN ({_ACTIONS_SQL})", name="action_known"),
        ForeignKeyConstraint(["kind", "version"], ["legal_documents.kind", "legal_documents.version"]),
        Index("ix_consents_user_id_kind_at", "user_id", "kind", "at"),
    )
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(MAX_VERSION_LENGTH))
    action: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.clock_timestamp())
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
