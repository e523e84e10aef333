"""Indexes for the user list's case-insensitive prefix search.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_users_email_pattern ON users (email text_pattern_ops)")
    op.execute("CREATE INDEX ix_users_first_name_pattern ON users (lower(first_name) text_pattern_ops)")
    op.execute("CREATE INDEX ix_users_last_name_pattern ON users (lower(last_name) text_pattern_ops)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_users_last_name_pattern")
    op.execute("DROP INDEX IF EXISTS ix_users_first_name_pattern")
    op.execute("DROP INDEX IF EXISTS ix_users_email_pattern")
