"""Invitations: the table, and outbox messages whose link is an invitation's.

- ``invitations``: who was asked to take which role in which NPO, by whom, and
  how it ended (accepted, revoked; expired is read from ``expires_at``). The
  link's token is kept only as its hash, set when the email is sent. At most
  one pending invitation per (address, NPO), "no NPO" counting as one.
- ``email_outbox.invitation_id``: an invitation email's link is minted by the
  drain like every link, but its token belongs to the invitation (the person
  may have no account): ``link_complete`` now says a link names a user
  (verification, reset) or an invitation (``token_purpose = 'invitation'``).

The runtime role may delete invitations (an erasure deletes those addressed
to the person) and the retention role those that ended long ago: both are
granted by ``shared/database_roles.py`` at the end of this run.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NO_NPO = "'00000000-0000-0000-0000-000000000000'::uuid"
_LINK_COMPLETE_BEFORE = (
    "token_purpose IS NULL OR (token_purpose IN ('email_verification', 'password_reset')"
    " AND user_id IS NOT NULL AND link_url IS NOT NULL AND expires_at IS NOT NULL)"
)
_LINK_COMPLETE = (
    "token_purpose IS NULL OR (link_url IS NOT NULL AND expires_at IS NOT NULL AND ("
    "(token_purpose IN ('email_verification', 'password_reset') AND user_id IS NOT NULL AND invitation_id IS NULL)"
    " OR (token_purpose = 'invitation' AND invitation_id IS NOT NULL)))"
)


def _user_reference(column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_invitations_{column}_users"), ondelete="SET NULL"
    )


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=50), nullable=False),
        sa.Column("npo_id", sa.UUID(), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("invited_by", sa.UUID(), nullable=True),
        sa.Column("state", sa.String(length=10), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_by", sa.UUID(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_invitations_email_lower_case")),
        sa.CheckConstraint("state IN ('pending', 'accepted', 'revoked')", name=op.f("ck_invitations_state_known")),
        sa.CheckConstraint(
            "(role IN ('event_coordinator', 'npo_admin', 'staff')) = (npo_id IS NOT NULL)",
            name=op.f("ck_invitations_npo_id_matches_role"),
        ),
        sa.ForeignKeyConstraint(["role"], ["roles.name"], name=op.f("fk_invitations_role_roles"), onupdate="CASCADE"),
        _user_reference("invited_by"),
        _user_reference("accepted_by"),
        _user_reference("revoked_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    op.create_index(
        "uq_invitations_pending_email_npo",
        "invitations",
        ["email", sa.text(f"COALESCE(npo_id, {_NO_NPO})")],
        unique=True,
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index("ix_invitations_email", "invitations", ["email"], unique=False)
    op.create_index("ix_invitations_npo_id_created_at", "invitations", ["npo_id", "created_at"], unique=False)
    op.create_index("ix_invitations_created_at", "invitations", ["created_at"], unique=False)
    op.create_index(
        "ix_invitations_ended_at",
        "invitations",
        [sa.text("LEAST(accepted_at, revoked_at, expires_at)")],
        unique=False,
    )
    # updated_at is kept by the trigger function the first migration installed.
    op.execute(
        "CREATE TRIGGER invitations_set_updated_at BEFORE UPDATE ON invitations "
        "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
    )

    op.add_column("email_outbox", sa.Column("invitation_id", sa.UUID(), nullable=True))
    op.create_foreign_key(
        op.f("fk_email_outbox_invitation_id_invitations"),
        "email_outbox",
        "invitations",
        ["invitation_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_index(
        "ix_email_outbox_invitation_id_created_at", "email_outbox", ["invitation_id", "created_at"], unique=False
    )
    op.drop_constraint(op.f("ck_email_outbox_link_complete"), "email_outbox", type_="check")
    op.create_check_constraint(op.f("ck_email_outbox_link_complete"), "email_outbox", _LINK_COMPLETE)


def downgrade() -> None:
    # Invitation emails cannot be told without their invitation: they go with it.
    op.execute("DELETE FROM email_outbox WHERE invitation_id IS NOT NULL")
    op.drop_constraint(op.f("ck_email_outbox_link_complete"), "email_outbox", type_="check")
    op.create_check_constraint(op.f("ck_email_outbox_link_complete"), "email_outbox", _LINK_COMPLETE_BEFORE)
    op.drop_index("ix_email_outbox_invitation_id_created_at", table_name="email_outbox")
    op.drop_constraint(op.f("fk_email_outbox_invitation_id_invitations"), "email_outbox", type_="foreignkey")
    op.drop_column("email_outbox", "invitation_id")
    op.drop_index("ix_invitations_ended_at", table_name="invitations")
    op.drop_index("ix_invitations_created_at", table_name="invitations")
    op.drop_index("ix_invitations_npo_id_created_at", table_name="invitations")
    op.drop_index("ix_invitations_email", table_name="invitations")
    op.drop_index("uq_invitations_pending_email_npo", table_name="invitations")
    op.drop_table("invitations")
