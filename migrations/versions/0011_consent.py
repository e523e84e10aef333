"""Consent to legal documents: the kinds, their published versions, and each user's history.

- ``legal_document_kinds``: one row per kind (``terms_of_service``,
  ``privacy_policy``), seeded here: what is current, updated under its lock
  when a version is published.
- ``legal_documents``: every published version (kind, version, URL, whether
  everyone must accept it again), append-only for the runtime role.
- ``consents``: every acceptance and withdrawal, append-only. The runtime
  role may INSERT and SELECT, and UPDATE only the IP address and user agent
  (``shared/database_roles.py``); the trigger here lets an UPDATE through
  only when it blanks both on an erased account's row and changes nothing
  else, and refuses every DELETE.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("terms_of_service", "privacy_policy")

_REFUSE_CHANGE = """
CREATE FUNCTION consents_refuse_change() RETURNS trigger AS $$
BEGIN
    -- Proof of consent outlives the account: an erasure blanks the address and
    -- browser of an erased user's rows, and nothing else ever changes.
    IF TG_OP = 'UPDATE' AND NEW.ip_address IS NULL AND NEW.user_agent IS NULL
       AND (NEW.id, NEW.user_id, NEW.kind, NEW.version, NEW.action, NEW.at)
           IS NOT DISTINCT FROM (OLD.id, OLD.user_id, OLD.kind, OLD.version, OLD.action, OLD.at)
       AND EXISTS (SELECT FROM public.users WHERE id = NEW.user_id AND erased_at IS NOT NULL) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'consents is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "legal_document_kinds",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("current_version", sa.String(length=64), nullable=True),
        sa.Column("reconsent_revision", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_legal_document_kinds")),
    )
    op.create_table(
        "legal_documents",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("requires_reconsent", sa.Boolean(), nullable=False),
        sa.Column("published_by", sa.UUID(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["kind"], ["legal_document_kinds.kind"], name=op.f("fk_legal_documents_kind_legal_document_kinds")
        ),
        sa.ForeignKeyConstraint(["published_by"], ["users.id"], name=op.f("fk_legal_documents_published_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_documents")),
        sa.UniqueConstraint("kind", "revision", name=op.f("uq_legal_documents_kind_revision")),
        sa.UniqueConstraint("kind", "version", name=op.f("uq_legal_documents_kind_version")),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("clock_timestamp()"), nullable=False),
        sa.Column("ip_address", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.CheckConstraint("action IN ('accepted', 'withdrawn')", name=op.f("ck_consents_action_known")),
        sa.ForeignKeyConstraint(
            ["kind", "version"],
            ["legal_documents.kind", "legal_documents.version"],
            name=op.f("fk_consents_kind_legal_documents"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_consents_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index("ix_consents_user_id_kind_at", "consents", ["user_id", "kind", "at"], unique=False)
    op.execute(
        "CREATE TRIGGER legal_document_kinds_set_updated_at BEFORE UPDATE ON legal_document_kinds "
        "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
    )
    op.execute(_REFUSE_CHANGE)
    op.execute(
        "CREATE TRIGGER consents_append_only BEFORE UPDATE OR DELETE ON consents "
        "FOR EACH ROW EXECUTE FUNCTION consents_refuse_change()"
    )
    kinds = sa.table("legal_document_kinds", sa.column("kind", sa.String()))
    op.bulk_insert(kinds, [{"kind": kind} for kind in KINDS])


def downgrade() -> None:
    op.drop_index("ix_consents_user_id_kind_at", table_name="consents")
    op.drop_table("consents")
    op.execute("DROP FUNCTION IF EXISTS consents_refuse_change()")
    op.drop_table("legal_documents")
    op.drop_table("legal_document_kinds")
