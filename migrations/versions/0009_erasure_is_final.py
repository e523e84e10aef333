"""An erasure is final: ``users.erased_at`` is written once, and an erased row stays erased.

The scrub function (0007) blanks the audit addresses of an account whose
``erased_at`` is set. The runtime role may update ``users``, so it could set
``erased_at`` on anyone, call the function and clear it again: any user's
audit addresses blanked, the account untouched. Now:

- ``ck_users_erased_state``: a row whose ``erased_at`` is set is in the erased
  state (``erased-<id>@erased.invalid``, names empty, contact fields, password
  hash and second factor gone, inactive). Marking an account erased is
  erasing it, in the same statement;
- ``users_erased_at_write_once``: once set, ``erased_at`` never changes again,
  nor becomes NULL (``insufficient_privilege``), and the constraint keeps the
  rest of the row erased.

So the scrub function, which refuses an account whose ``erased_at`` is not
set, acts only on an account in the erased state for good: blanking someone's
audit trail now costs erasing their account, irreversibly, which is what the
function is for. The owner owns the trigger: the runtime role cannot disable
it (it owns nothing).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What an erased row holds (shared.services.erasure writes it; shared.models.user declares it).
_ERASED_STATE = (
    "erased_at IS NULL OR (NOT is_active AND NOT mfa_enabled AND password_hash IS NULL"
    " AND email = 'erased-' || id::text || '@erased.invalid' AND first_name = '' AND last_name = ''"
    " AND phone IS NULL AND organization_name IS NULL AND address_line1 IS NULL AND address_line2 IS NULL"
    " AND city IS NULL AND state IS NULL AND postal_code IS NULL AND country IS NULL)"
)

_WRITE_ONCE = """
CREATE FUNCTION users_refuse_unerasing() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'users.erased_at is written once: an erased account stays erased'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""

_TRIGGER = """
CREATE TRIGGER users_erased_at_write_once BEFORE UPDATE OF erased_at ON users
FOR EACH ROW WHEN (OLD.erased_at IS NOT NULL AND NEW.erased_at IS DISTINCT FROM OLD.erased_at)
EXECUTE FUNCTION users_refuse_unerasing()
"""


def upgrade() -> None:
    op.create_check_constraint(op.f("ck_users_erased_state"), "users", _ERASED_STATE)
    op.execute(_WRITE_ONCE)
    op.execute(_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER users_erased_at_write_once ON users")
    op.execute("DROP FUNCTION users_refuse_unerasing()")
    op.drop_constraint(op.f("ck_users_erased_state"), "users", type_="check")
