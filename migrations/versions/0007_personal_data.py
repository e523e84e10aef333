"""Personal data: erased accounts, the retention job's indexes, and the two ways past the audit trigger.

- ``users.erased_at`` marks an account whose personal data was erased: the
  row keeps its id (the audit log names it) and nothing else about the person.
- Indexes for the retention job's questions: sessions by when they ended
  (revoked or expired), email tokens by when they were spent or expired,
  outbox rows by age.
- ``purge_audit_logs(older_than, batch_size)`` deletes audit rows older than
  ``older_than`` (never less than 90 days), and
  ``scrub_erased_user_audit_logs(user_id)`` blanks the IP address and user
  agent of the rows an erased user caused. Both are SECURITY DEFINER, owned
  by the owner, with a fixed search_path; EXECUTE is revoked from PUBLIC here
  and granted by every migration run (``shared/database_roles.py``): the purge
  to the retention role only, the scrub to the runtime role only.
- The append-only trigger lets exactly those two through: a statement that
  runs as the table's owner (only inside those functions, for any role but
  the owner) in a transaction the function marked, and for the scrub only a
  change that blanks the IP address and user agent and touches nothing else.
  Setting the mark by hand gains a role nothing: it is not the owner, and it
  holds no UPDATE or DELETE on the table anyway.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The shortest age the purge accepts: whoever holds the retention role can never
# erase the recent history (Settings.audit_log_retention_days has the same floor).
MINIMUM_AUDIT_AGE = "90 days"
MAXIMUM_BATCH = 10000

_GUARDED_TRIGGER = """
CREATE OR REPLACE FUNCTION audit_logs_refuse_change() RETURNS trigger AS $$
BEGIN
    -- Only purge_audit_logs() and scrub_erased_user_audit_logs() get past: they
    -- run as the table's owner (SECURITY DEFINER) and mark their transaction.
    IF current_user = (SELECT pg_catalog.pg_get_userbyid(relowner) FROM pg_catalog.pg_class WHERE oid = TG_RELID) THEN
        IF TG_OP = 'DELETE' AND current_setting('augeo.audit_logs_purge', true) = 'on' THEN
            RETURN OLD;
        END IF;
        IF TG_OP = 'UPDATE' AND current_setting('augeo.audit_logs_scrub', true) = 'on'
           AND NEW.ip_address IS NULL AND NEW.user_agent IS NULL
           AND (NEW.id, NEW.event_type, NEW.actor_user_id, NEW.target_user_id, NEW.npo_id, NEW.request_id,
                NEW.details, NEW.created_at)
               IS NOT DISTINCT FROM
               (OLD.id, OLD.event_type, OLD.actor_user_id, OLD.target_user_id, OLD.npo_id, OLD.request_id,
                OLD.details, OLD.created_at) THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_logs is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""

_ORIGINAL_TRIGGER = """
CREATE OR REPLACE FUNCTION audit_logs_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_logs is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""

_PURGE = f"""
CREATE FUNCTION purge_audit_logs(older_than interval, batch_size integer DEFAULT 1000) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    deleted integer;
BEGIN
    IF older_than IS NULL OR older_than < interval '{MINIMUM_AUDIT_AGE}' THEN
        RAISE EXCEPTION 'purge_audit_logs keeps at least {MINIMUM_AUDIT_AGE} of audit log (asked: %)', older_than
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF batch_size IS NULL OR batch_size < 1 OR batch_size > {MAXIMUM_BATCH} THEN
        RAISE EXCEPTION 'purge_audit_logs deletes 1 to {MAXIMUM_BATCH} rows per call (asked: %)', batch_size
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('augeo.audit_logs_purge', 'on', true);
    DELETE FROM public.audit_logs
     WHERE id IN (SELECT id FROM public.audit_logs
                   WHERE created_at < now() - older_than
                   ORDER BY created_at
                   LIMIT batch_size);
    GET DIAGNOSTICS deleted = ROW_COUNT;
    PERFORM set_config('augeo.audit_logs_purge', '', true);
    RETURN deleted;
END;
$$
"""  # noqa: S608 (built from this module's constants only)

_SCRUB = """
CREATE FUNCTION scrub_erased_user_audit_logs(erased_user uuid) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    scrubbed integer;
BEGIN
    IF NOT EXISTS (SELECT FROM public.users WHERE id = erased_user AND erased_at IS NOT NULL) THEN
        RAISE EXCEPTION 'only the audit rows of an erased account are scrubbed (%)', erased_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM set_config('augeo.audit_logs_scrub', 'on', true);
    -- The address and browser of whoever made the request: the erased user's
    -- own requests, and those nobody signed in made about their account.
    UPDATE public.audit_logs
       SET ip_address = NULL, user_agent = NULL, updated_at = now()
     WHERE (actor_user_id = erased_user OR (actor_user_id IS NULL AND target_user_id = erased_user))
       AND (ip_address IS NOT NULL OR user_agent IS NOT NULL);
    GET DIAGNOSTICS scrubbed = ROW_COUNT;
    PERFORM set_config('augeo.audit_logs_scrub', '', true);
    RETURN scrubbed;
END;
$$
"""

_FUNCTIONS = ("purge_audit_logs(interval, integer)", "scrub_erased_user_audit_logs(uuid)")


def upgrade() -> None:
    op.add_column("users", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_sessions_ended_at", "sessions", [sa.text("LEAST(revoked_at, expires_at)")], unique=False)
    op.create_index("ix_user_tokens_ended_at", "user_tokens", [sa.text("LEAST(used_at, expires_at)")], unique=False)
    op.create_index("ix_email_outbox_created_at", "email_outbox", ["created_at"], unique=False)
    op.execute(_GUARDED_TRIGGER)
    op.execute(_PURGE)
    op.execute(_SCRUB)
    for function in _FUNCTIONS:
        # PostgreSQL grants EXECUTE on a new function to PUBLIC: taken back at once.
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")


def downgrade() -> None:
    for function in _FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.execute(_ORIGINAL_TRIGGER)
    op.drop_index("ix_email_outbox_created_at", table_name="email_outbox")
    op.drop_index("ix_user_tokens_ended_at", table_name="user_tokens")
    op.drop_index("ix_sessions_ended_at", table_name="sessions")
    op.drop_column("users", "erased_at")
