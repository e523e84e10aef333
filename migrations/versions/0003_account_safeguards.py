"""Account safeguards: temporary (admin-set) passwords, and who deactivated an account.

``password_change_required`` marks a password an administrator chose: its
holder may only change it (and read their profile, sign out) until they do.
``deactivated_by_role`` records the role of whoever deactivated the account,
so that only a super admin can undo a super admin's deactivation.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("password_change_required", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("users", sa.Column("deactivated_by_role", sa.String(length=50), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "deactivated_by_role")
    op.drop_column("users", "password_change_required")
