"""Retention: delete what is past its age, signed in as the retention job's own role.

Nothing here runs as the app. The job connects with RETENTION_DATABASE_URL as
DB_RETENTION_ROLE, which may read and delete sessions, email tokens and outbox
rows, and may purge the audit log only through ``purge_audit_logs`` (a
SECURITY DEFINER function that keeps at least 90 days). The app's runtime role
can do none of this to the audit log: it holds no DELETE on it, may not
execute the purge, and is not a member of the retention role
(``shared/database_roles.py``, migration 0007).

Each age counts from when the thing ended, each a setting:

- a session ended when it was revoked or expired, whichever came first;
  its refresh tokens go with it (the foreign key cascades);
- an email token ended when it was spent (or killed by a newer link) or
  expired; an invitation when it was accepted, revoked or expired, and goes
  at the email tokens' age, with its emails (the foreign key cascades);
- an outbox row by its age, once it is no longer due (``pending`` and
  ``sending`` rows are never deleted: they may still be sent);
- an audit row by its age.

Deletes go in batches, each its own short transaction, so no statement runs
into the role's statement timeout and no lock is held long; a run stops after
``MAX_BATCHES`` batches of a kind and the next run carries on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Delete, Engine, delete, func, select
from sqlalchemy.sql.elements import ColumnElement

from shared.config import Settings
from shared.database import build_retention_engine
from shared.models import DUE_STATUSES, EmailOutbox, Invitation, Session, UserToken

BATCH_SIZE = 1000
MAX_BATCHES = 500


class RetentionNotConfiguredError(RuntimeError):
    """RETENTION_DATABASE_URL is not set: the job has no role to run as, and never borrows the app's."""


@dataclass(frozen=True)
class RetentionReport:
    """How many rows of each kind one run deleted."""

    sessions: int = 0
    email_tokens: int = 0
    email_outbox: int = 0
    invitations: int = 0
    audit_logs: int = 0

    def describe(self) -> str:
        return (
            f"{self.sessions} ended session(s) with their refresh tokens, {self.email_tokens} email token(s), "
            f"{self.email_outbox} outbox row(s), {self.invitations} ended invitation(s), "
            f"{self.audit_logs} audit row(s) deleted"
        )


def _older_than(days: int) -> ColumnElement[datetime]:
    """The cutoff, computed by the database: its clock is the one every timestamp came from."""
    return func.now() - func.make_interval(0, 0, 0, days)


def _ended_sessions(days: int, batch: int) -> Delete:
    ended = func.least(Session.revoked_at, Session.expires_at)
    due = select(Session.id).where(ended < _older_than(days)).limit(batch)
    return delete(Session).where(Session.id.in_(due))


def _ended_email_tokens(days: int, batch: int) -> Delete:
    ended = func.least(UserToken.used_at, UserToken.expires_at)
    due = select(UserToken.id).where(ended < _older_than(days)).limit(batch)
    return delete(UserToken).where(UserToken.id.in_(due))


def _ended_invitations(days: int, batch: int) -> Delete:
    """Accepted, revoked or expired (a pending one is "ended" at its expiry): LEAST skips NULLs."""
    ended = func.least(Invitation.accepted_at, Invitation.revoked_at, Invitation.expires_at)
    due = select(Invitation.id).where(ended < _older_than(days)).limit(batch)
    return delete(Invitation).where(Invitation.id.in_(due))


def _old_outbox_rows(days: int, batch: int) -> Delete:
    still_due = [status.value for status in DUE_STATUSES]
    due = (
        select(EmailOutbox.id)
        .where(EmailOutbox.created_at < _older_than(days), EmailOutbox.status.not_in(still_due))
        .limit(batch)
    )
    return delete(EmailOutbox).where(EmailOutbox.id.in_(due))


Step = Callable[[Connection], int]


def _deleting(statement: Callable[[int, int], Delete], days: int, batch: int) -> Step:
    def step(connection: Connection) -> int:
        return connection.execute(statement(days, batch)).rowcount

    return step


def _purging_audit_logs(days: int, batch: int) -> Step:
    def step(connection: Connection) -> int:
        return int(connection.scalar(select(func.purge_audit_logs(func.make_interval(0, 0, 0, days), batch))) or 0)

    return step


def _in_batches(engine: Engine, step: Step, batch: int) -> int:
    """Run ``step`` in its own transaction until a batch comes back short; the rows deleted."""
    total = 0
    for _ in range(MAX_BATCHES):
        with engine.begin() as connection:
            deleted = step(connection)
        total += deleted
        if deleted < batch:
            break
    return total


def run_retention(settings: Settings, *, batch_size: int = BATCH_SIZE) -> RetentionReport:
    """Delete everything past its age (see the module docstring); what was deleted.

    Its callers (the timer, ``python -m shared.cli run-retention``, ``make run``) pass the settings.
    """
    if not settings.retention_database_url:
        raise RetentionNotConfiguredError(
            "RETENTION_DATABASE_URL is not set: the retention job signs in as its own role (DB_RETENTION_ROLE)"
        )
    engine = build_retention_engine(settings, settings.retention_database_url)
    try:
        return RetentionReport(
            sessions=_in_batches(
                engine, _deleting(_ended_sessions, settings.session_retention_days, batch_size), batch_size
            ),
            email_tokens=_in_batches(
                engine, _deleting(_ended_email_tokens, settings.email_token_retention_days, batch_size), batch_size
            ),
            email_outbox=_in_batches(
                engine, _deleting(_old_outbox_rows, settings.email_outbox_retention_days, batch_size), batch_size
            ),
            invitations=_in_batches(
                engine, _deleting(_ended_invitations, settings.email_token_retention_days, batch_size), batch_size
            ),
            audit_logs=_in_batches(
                engine, _purging_audit_logs(settings.audit_log_retention_days, batch_size), batch_size
            ),
        )
    finally:
        engine.dispose()
