"""Registered events: each event's NPO is recorded once, and assignments need it.

- ``events``: the events service's id, the NPO it belongs to, an optional
  name, who registered it and when.
- The events of existing assignments are registered from what the
  assignments recorded: the NPO of their assignees (until now an event
  belonged to its team's NPO, and the service kept every team of one NPO),
  registered by whoever made the earliest assignment, at that time. Each is
  audited as ``event.registered`` with ``"source": "migration"``.
- An event whose assignees are of several NPOs (or of none) cannot be
  registered to one without guessing, so the upgrade refuses and names such
  events: remove the wrong assignments through the API (which drops the
  users' cached state), then upgrade again. The service has refused mixed
  teams since assignments began, so only a hand-written row can cause it.
- ``event_assignments.event_id`` references ``events``: an assignment to an
  unregistered event cannot exist.

The downgrade drops the table and the reference; the assignments stay, and so
do the audit rows (the audit log is append-only).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Names (the first 20 of) the events whose team spans several NPOs, or has none.
_REFUSE_MIXED_TEAMS = """
DO $refuse$
DECLARE
    mixed text;
BEGIN
    SELECT string_agg(event_id::text, ', ' ORDER BY event_id) INTO mixed
      FROM (SELECT a.event_id
              FROM event_assignments a JOIN users u ON u.id = a.user_id
             GROUP BY a.event_id
            HAVING count(DISTINCT u.npo_id) > 1 OR bool_or(u.npo_id IS NULL)
             ORDER BY a.event_id
             LIMIT 20) AS mixed_teams;
    IF mixed IS NOT NULL THEN
        RAISE EXCEPTION 'these events have assignees of several NPOs: %', mixed
            USING HINT = 'an event belongs to one NPO: remove the assignments of the users of the wrong NPO '
                         '(DELETE /api/v1/users/{user_id}/events/{event_id}), then upgrade again';
    END IF;
END
$refuse$
"""

# One row per assigned event: its team's NPO, and the earliest assignment's author and time.
_REGISTER_ASSIGNED_EVENTS = """
INSERT INTO events (id, npo_id, registered_by, registered_at)
SELECT DISTINCT ON (a.event_id) a.event_id, u.npo_id, a.assigned_by, a.assigned_at
  FROM event_assignments a JOIN users u ON u.id = a.user_id
 ORDER BY a.event_id, a.assigned_at, a.id
"""

_AUDIT_REGISTRATIONS = """
INSERT INTO audit_logs (event_type, actor_user_id, npo_id, details)
SELECT 'event.registered', registered_by, npo_id,
       jsonb_build_object('event_id', id::text, 'source', 'migration')
  FROM events
"""


def upgrade() -> None:
    op.execute(_REFUSE_MIXED_TEAMS)
    op.create_table(
        "events",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("npo_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("registered_by", sa.UUID(), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["registered_by"], ["users.id"], name=op.f("fk_events_registered_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    # updated_at is kept by the trigger function the first migration installed.
    op.execute(
        "CREATE TRIGGER events_set_updated_at BEFORE UPDATE ON events FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
    )
    op.execute(_REGISTER_ASSIGNED_EVENTS)
    op.execute(_AUDIT_REGISTRATIONS)
    op.create_foreign_key(
        op.f("fk_event_assignments_event_id_events"), "event_assignments", "events", ["event_id"], ["id"]
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_event_assignments_event_id_events"), "event_assignments", type_="foreignkey")
    op.drop_table("events")
