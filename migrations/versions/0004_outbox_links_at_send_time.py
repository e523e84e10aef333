"""Outbox links minted at send time, a claim lease, expired and cancelled messages.

New columns say what the drain needs to mint a message's link when it sends
(``user_id``, ``token_purpose``, ``link_url``) and until when the message is
worth sending (``expires_at``). Statuses gain ``sending`` (claimed by a drain
until ``next_attempt_at``), ``expired`` and ``cancelled``.

Rows written before this revision hold their token in the body. Sent ones are
blanked here; failed ones that carry a link are blanked and cancelled (they
cannot be re-driven: nothing says whose link it was); pending ones are sent
as they are by the next drain, which blanks them.

Downgrade: the old drain cannot mint links, so unsent messages with a link
become ``failed``; ``sending`` becomes ``pending``; ``expired`` and
``cancelled`` become ``failed``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATUSES = "status IN ('pending', 'sent', 'failed')"
_NEW_STATUSES = "status IN ('pending', 'sending', 'sent', 'failed', 'expired', 'cancelled')"
_LINK_COMPLETE = (
    "token_purpose IS NULL OR (token_purpose IN ('email_verification', 'password_reset')"
    " AND user_id IS NOT NULL AND link_url IS NOT NULL AND expires_at IS NOT NULL)"
)


def upgrade() -> None:
    op.add_column("email_outbox", sa.Column("user_id", sa.UUID(), nullable=True))
    op.add_column("email_outbox", sa.Column("token_purpose", sa.String(length=30), nullable=True))
    op.add_column("email_outbox", sa.Column("link_url", sa.Text(), nullable=True))
    op.add_column("email_outbox", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_foreign_key(
        op.f("fk_email_outbox_user_id_users"), "email_outbox", "users", ["user_id"], ["id"], ondelete="CASCADE"
    )
    op.drop_constraint(op.f("ck_email_outbox_status_known"), "email_outbox", type_="check")
    op.create_check_constraint(op.f("ck_email_outbox_status_known"), "email_outbox", _NEW_STATUSES)
    op.create_check_constraint(op.f("ck_email_outbox_link_complete"), "email_outbox", _LINK_COMPLETE)
    op.drop_index("ix_email_outbox_due", table_name="email_outbox", postgresql_where=sa.text("status = 'pending'"))
    op.create_index(
        "ix_email_outbox_due",
        "email_outbox",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending' OR status = 'sending'"),
    )
    op.create_index(
        "ix_email_outbox_user_id_token_purpose_created_at",
        "email_outbox",
        ["user_id", "token_purpose", "created_at"],
        unique=False,
    )
    op.execute("UPDATE email_outbox SET text_body = '', html_body = '' WHERE status = 'sent'")
    op.execute(
        "UPDATE email_outbox SET status = 'cancelled', text_body = '', html_body = '',"
        " last_error = 'blanked by revision 0004: it held a token in plain text'"
        " WHERE status = 'failed' AND template IN ('verify_email', 'invitation', 'password_reset')"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE email_outbox SET status = 'failed',"
        " last_error = 'its link is minted at send time, which this revision cannot do'"
        " WHERE token_purpose IS NOT NULL AND status <> 'sent'"
    )
    op.execute("UPDATE email_outbox SET status = 'pending' WHERE status = 'sending'")
    op.execute("UPDATE email_outbox SET status = 'failed' WHERE status IN ('expired', 'cancelled')")
    op.drop_index("ix_email_outbox_user_id_token_purpose_created_at", table_name="email_outbox")
    op.drop_index(
        "ix_email_outbox_due",
        table_name="email_outbox",
        postgresql_where=sa.text("status = 'pending' OR status = 'sending'"),
    )
    op.create_index(
        "ix_email_outbox_due",
        "email_outbox",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_constraint(op.f("ck_email_outbox_link_complete"), "email_outbox", type_="check")
    op.drop_constraint(op.f("ck_email_outbox_status_known"), "email_outbox", type_="check")
    op.create_check_constraint(op.f("ck_email_outbox_status_known"), "email_outbox", _OLD_STATUSES)
    op.drop_constraint(op.f("fk_email_outbox_user_id_users"), "email_outbox", type_="foreignkey")
    op.drop_column("email_outbox", "expires_at")
    op.drop_column("email_outbox", "link_url")
    op.drop_column("email_outbox", "token_purpose")
    op.drop_column("email_outbox", "user_id")
