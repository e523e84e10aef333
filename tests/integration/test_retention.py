"""Retention: what is past its age goes, nothing else does, and only the retention job can purge the audit log.

Ages are set through the database (the owner moves timestamps back, or writes
an audit row with an old ``created_at``), never by sleeping. The job runs as
its own role (RETENTION_DATABASE_URL, made by the suite as ``<database>_retention``);
the app's runtime role is shown to have no path to the same deletes.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import text

from shared.cli import main as cli
from shared.config import ConfigurationError, get_settings, load_settings
from shared.database import get_engine
from shared.database_roles import PURGE_FUNCTION, SCRUB_FUNCTION
from shared.failures import sqlstate
from shared.services.retention import RetentionNotConfiguredError, run_retention
from tests.support.database import alembic_config, owner_engine, table_privileges

INSUFFICIENT_PRIVILEGE = "42501"
INVALID_PARAMETER_VALUE = "22023"
CHECK_VIOLATION = "23514"
DAY = timedelta(days=1)


def _owner(statement: str, **params: object) -> None:
    with owner_engine().begin() as owner:
        owner.execute(text(statement), params)


def _owner_insert(statement: str, **params: object) -> uuid.UUID:
    """Run an INSERT ... RETURNING id as the owner; the new row's id."""
    with owner_engine().begin() as owner:
        return uuid.UUID(str(owner.execute(text(statement), params).scalar_one()))


def _owner_scalar(statement: str, **params: object) -> Any:
    with owner_engine().connect() as owner:
        return owner.execute(text(statement), params).scalar()


def retention_engine() -> sa.Engine:
    """The retention job's own connection, as the suite made it."""
    return sa.create_engine(os.environ["RETENTION_DATABASE_URL"], poolclass=sa.pool.NullPool)


# -- rows of every kind, on each side of its age -------------------------------------------


@dataclass
class Rows:
    """Rows this test wrote, by what retention should do with them."""

    gone: dict[str, set[uuid.UUID]] = field(default_factory=dict)
    kept: dict[str, set[uuid.UUID]] = field(default_factory=dict)

    def add(self, table: str, row: uuid.UUID, *, expect_gone: bool) -> None:
        (self.gone if expect_gone else self.kept).setdefault(table, set()).add(row)

    def present(self, table: str) -> set[uuid.UUID]:
        mine = self.gone.get(table, set()) | self.kept.get(table, set())
        with owner_engine().connect() as owner:
            found = owner.execute(
                text(f"SELECT id FROM {table} WHERE id = ANY(:ids)"),  # noqa: S608 (table names of this test)
                {"ids": list(mine)},
            )
            return {row.id for row in found}


def _user() -> uuid.UUID:
    email = f"retention-{secrets.token_hex(6)}@example.org"
    return _owner_insert(
        "INSERT INTO users (email, first_name, last_name, role) VALUES (:email, 'Re', 'Tention', 'donor') RETURNING id",
        email=email,
    )


def _session(user: uuid.UUID, *, revoked_days_ago: float | None, expires_days_from_now: float) -> uuid.UUID:
    """A session with two refresh tokens (a parent and its child), ended when the test says."""
    now = datetime.now(UTC)
    revoked = now - revoked_days_ago * DAY if revoked_days_ago is not None else None
    session = _owner_insert(
        "INSERT INTO sessions (user_id, expires_at, revoked_at, created_at, last_seen_at)"
        " VALUES (:user, :expires, :revoked, :created, :created) RETURNING id",
        user=user,
        expires=now + expires_days_from_now * DAY,
        revoked=revoked,
        created=now - 400 * DAY,
    )
    parent = _owner_insert(
        "INSERT INTO refresh_tokens (session_id, token_hash) VALUES (:session, :hash) RETURNING id",
        session=session,
        hash=secrets.token_hex(32),
    )
    _owner(
        "INSERT INTO refresh_tokens (session_id, token_hash, parent_id) VALUES (:session, :hash, :parent)",
        session=session,
        hash=secrets.token_hex(32),
        parent=parent,
    )
    return session


def _email_token(user: uuid.UUID, *, used_days_ago: float | None, expires_days_from_now: float) -> uuid.UUID:
    now = datetime.now(UTC)
    return _owner_insert(
        "INSERT INTO user_tokens (user_id, purpose, token_hash, expires_at, used_at)"
        " VALUES (:user, 'password_reset', :hash, :expires, :used) RETURNING id",
        user=user,
        hash=secrets.token_hex(32),
        expires=now + expires_days_from_now * DAY,
        used=now - used_days_ago * DAY if used_days_ago is not None else None,
    )


def _outbox_row(status: str, *, days_ago: float) -> uuid.UUID:
    return _owner_insert(
        "INSERT INTO email_outbox (to_address, subject, text_body, html_body, template, status, created_at)"
        " VALUES (:to, 'Subject', '', '', 'password_changed', :status, :created) RETURNING id",
        to=f"retention-{secrets.token_hex(4)}@example.org",
        status=status,
        created=datetime.now(UTC) - days_ago * DAY,
    )


def _invitation(*, ended: str | None, days_ago: float, expires_days_from_now: float) -> uuid.UUID:
    """An invitation, ``ended`` ("accepted", "revoked", or None: still pending) ``days_ago``,
    expiring when the test says; with an email about it (which goes with it)."""
    now = datetime.now(UTC)
    when = now - days_ago * DAY
    invitation = _owner_insert(
        "INSERT INTO invitations (email, role, state, expires_at, accepted_at, revoked_at)"
        " VALUES (:email, 'donor', :state, :expires, :accepted, :revoked) RETURNING id",
        email=f"retention-{secrets.token_hex(4)}@example.org",
        state=ended or "pending",
        expires=now + expires_days_from_now * DAY,
        accepted=when if ended == "accepted" else None,
        revoked=when if ended == "revoked" else None,
    )
    _owner(
        "INSERT INTO email_outbox (to_address, subject, text_body, html_body, template, status,"
        " invitation_id, token_purpose, link_url, expires_at)"
        " VALUES ('x@example.org', 'Invited', '', '', 'invitation', 'sent', :id, 'invitation', 'https://a/x', now())",
        id=invitation,
    )
    return invitation


def _audit_row(*, days_ago: float) -> uuid.UUID:
    """Written by the owner with an old time (INSERT is what the log allows: nobody may move a row back)."""
    return _owner_insert(
        "INSERT INTO audit_logs (event_type, created_at) VALUES ('test.retention', :created) RETURNING id",
        created=datetime.now(UTC) - days_ago * DAY,
    )


@pytest.fixture
def rows() -> Rows:
    """For each kind, rows a day past its age (gone) and a day short of it (kept), and live ones (kept)."""
    settings = get_settings()
    sessions, tokens = settings.session_retention_days, settings.email_token_retention_days
    outbox, audit = settings.email_outbox_retention_days, settings.audit_log_retention_days
    user = _user()
    made = Rows()
    for revoked, expires, gone in (
        (sessions + 1, -sessions + 5, True),  # revoked long ago
        (None, -(sessions + 1), True),  # never revoked, expired long ago
        (sessions - 1, 1, False),  # revoked, not yet long enough
        (None, -(sessions - 1), False),  # expired, not yet long enough
        (None, 3, False),  # open
        (sessions + 1, 2, True),  # revoked long ago, its expiry still ahead
    ):
        made.add("sessions", _session(user, revoked_days_ago=revoked, expires_days_from_now=expires), expect_gone=gone)
    for used, expires, gone in (
        (tokens + 1, 1, True),  # spent long ago
        (None, -(tokens + 1), True),  # never spent, expired long ago
        (tokens - 1, -(tokens + 1), True),  # spent recently, but expired long ago: ended then
        (tokens - 1, 1, False),  # spent recently
        (None, -(tokens - 1), False),  # expired recently
        (None, 1, False),  # live
    ):
        made.add("user_tokens", _email_token(user, used_days_ago=used, expires_days_from_now=expires), expect_gone=gone)
    for status in ("sent", "failed", "expired", "cancelled"):
        made.add("email_outbox", _outbox_row(status, days_ago=outbox + 1), expect_gone=True)
        made.add("email_outbox", _outbox_row(status, days_ago=outbox - 1), expect_gone=False)
    for status in ("pending", "sending"):  # may still be sent, however old
        made.add("email_outbox", _outbox_row(status, days_ago=outbox + 1), expect_gone=False)
    for ended, days_ago, expires, gone in (  # invitations go at the email tokens' age
        ("accepted", tokens + 1, 3, True),  # accepted long ago
        ("revoked", tokens + 1, 3, True),  # revoked long ago
        (None, 0, -(tokens + 1), True),  # never answered, expired long ago
        ("revoked", 0, -(tokens + 1), True),  # revoked just now, but expired long ago: ended then
        ("accepted", tokens - 1, 3, False),  # accepted, not yet long enough
        (None, 0, -(tokens - 1), False),  # expired, not yet long enough
        (None, 0, 3, False),  # pending
    ):
        invitation = _invitation(ended=ended, days_ago=days_ago, expires_days_from_now=expires)
        made.add("invitations", invitation, expect_gone=gone)
    made.add("audit_logs", _audit_row(days_ago=audit + 1), expect_gone=True)
    made.add("audit_logs", _audit_row(days_ago=audit + 30), expect_gone=True)
    made.add("audit_logs", _audit_row(days_ago=audit - 1), expect_gone=False)
    return made


def _emails_of(invitations: set[uuid.UUID]) -> int:
    count: int = _owner_scalar(
        "SELECT count(*) FROM email_outbox WHERE invitation_id = ANY(:ids)", ids=list(invitations)
    )
    return count


def _refresh_tokens_of(sessions: set[uuid.UUID]) -> int:
    count: int = _owner_scalar("SELECT count(*) FROM refresh_tokens WHERE session_id = ANY(:ids)", ids=list(sessions))
    return count


@pytest.mark.parametrize("batch_size", [2, 1000])
def test_retention_deletes_exactly_what_is_past_its_age(rows: Rows, batch_size: int) -> None:
    assert _refresh_tokens_of(rows.gone["sessions"]) == 2 * len(rows.gone["sessions"])
    report = run_retention(get_settings(), batch_size=batch_size)
    for table in ("sessions", "user_tokens", "email_outbox", "invitations", "audit_logs"):
        assert rows.present(table) == rows.kept[table], table
    assert _refresh_tokens_of(rows.gone["sessions"]) == 0, "refresh tokens go with their session"
    assert _emails_of(rows.gone["invitations"]) == 0, "an invitation's emails go with it"
    assert _emails_of(rows.kept["invitations"]) == len(rows.kept["invitations"])
    assert _refresh_tokens_of(rows.kept["sessions"]) == 2 * len(rows.kept["sessions"])
    assert report.sessions >= 3 and report.email_tokens >= 3
    assert report.email_outbox >= 4 and report.audit_logs >= 2 and report.invitations >= 4
    again = run_retention(get_settings(), batch_size=batch_size)
    assert rows.present("sessions") == rows.kept["sessions"]
    assert (again.sessions, again.email_tokens, again.email_outbox, again.invitations, again.audit_logs) == (
        0,
        0,
        0,
        0,
        0,
    )


def test_the_ages_are_settings() -> None:
    audit_row = _audit_row(days_ago=200)
    outbox_row = _outbox_row("sent", days_ago=10)
    settings = load_settings(audit_log_retention_days=199, email_outbox_retention_days=9)
    run_retention(settings)
    assert _owner_scalar("SELECT count(*) FROM audit_logs WHERE id = :id", id=audit_row) == 0
    assert _owner_scalar("SELECT count(*) FROM email_outbox WHERE id = :id", id=outbox_row) == 0


def test_the_command_runs_it_and_the_job_needs_its_own_role(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["run-retention"]) == 0
    assert "run-retention: " in capsys.readouterr().out
    with pytest.raises(RetentionNotConfiguredError, match="RETENTION_DATABASE_URL"):
        run_retention(load_settings(retention_database_url=None))


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"db_retention_role": "augeo_app", "db_app_role": "augeo_app"}, "DB_RETENTION_ROLE must differ"),
        ({"retention_database_url": "postgresql+pg8000://x@127.0.0.1:5432/"}, "RETENTION_DATABASE_URL"),
        ({"retention_database_url": "mysql://x@db/augeo"}, "RETENTION_DATABASE_URL"),
        (
            {
                "db_auth": "entra",
                "database_url": "postgresql+pg8000://app@127.0.0.1:5432/augeo",
                "retention_database_url": "postgresql+pg8000://keep:secret@127.0.0.1:5432/augeo",
            },
            "RETENTION_DATABASE_URL must carry no password",
        ),
        ({"audit_log_retention_days": 89}, "AUDIT_LOG_RETENTION_DAYS"),
        ({"session_retention_days": 0}, "SESSION_RETENTION_DAYS"),
    ],
)
def test_settings_refuse_a_retention_set_up_that_would_not_hold(changes: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        load_settings(**changes)


def test_the_local_server_runs_the_job(caplog: pytest.LogCaptureFixture) -> None:
    from devtools.run import RetentionJob

    with caplog.at_level(logging.INFO, logger="augeo.run"):
        job = RetentionJob(interval_seconds=3600).start()
        try:
            for _ in range(100):
                if any("retention: " in message for message in caplog.messages):
                    break
                time.sleep(0.1)
        finally:
            job.stop()
    assert any("deleted" in message for message in caplog.messages), caplog.messages


# -- the roles ------------------------------------------------------------------------------


def test_the_job_signs_in_as_a_role_the_app_cannot_act_as() -> None:
    app, retention = os.environ["DB_APP_ROLE"], os.environ["DB_RETENTION_ROLE"]
    with retention_engine().connect() as connection:
        assert connection.scalar(text("SELECT current_user")) == retention
    with owner_engine().connect() as owner:
        member = text("SELECT pg_has_role(:member, :role, 'MEMBER')")
        assert owner.scalar(member, {"member": app, "role": retention}) is False
        assert owner.scalar(member, {"member": retention, "role": app}) is False
        flags = owner.execute(
            text("SELECT rolsuper, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = :role"),
            {"role": retention},
        ).one()
        assert tuple(flags) == (False, False, False)


def _executors(function: str) -> set[str]:
    """Who holds EXECUTE on ``function``: role names, and 'PUBLIC' (no ACL at all means PUBLIC too)."""
    with owner_engine().connect() as owner:
        acl = owner.scalar(text("SELECT proacl IS NULL FROM pg_proc WHERE oid = to_regprocedure(:f)"), {"f": function})
        assert acl is False, "an ACL of NULL is the default: EXECUTE for PUBLIC"
        rows = owner.execute(
            text(
                "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END"
                " FROM pg_proc p, aclexplode(p.proacl) a"
                " WHERE p.oid = to_regprocedure(:f) AND a.privilege_type = 'EXECUTE'"
            ),
            {"f": function},
        )
        owner_name = owner.scalar(text("SELECT current_user"))
        return {row[0] for row in rows} - {owner_name}


def test_each_function_is_executable_by_one_role_only() -> None:
    assert _executors(PURGE_FUNCTION) == {os.environ["DB_RETENTION_ROLE"]}
    assert _executors(SCRUB_FUNCTION) == {os.environ["DB_APP_ROLE"]}


@pytest.fixture
def audit_row() -> Iterator[uuid.UUID]:
    """An audit row old enough for the purge, kept afterwards unless the test's attempt deleted it."""
    yield _audit_row(days_ago=get_settings().audit_log_retention_days + 10)


def _refused(engine: sa.Engine, statements: list[str], row: uuid.UUID) -> sa.exc.DBAPIError:
    """Run ``statements`` in one transaction that must fail, rolled back whatever happens."""
    with engine.connect() as connection, connection.begin() as transaction:
        with pytest.raises(sa.exc.DBAPIError) as refused:
            for statement in statements:
                connection.execute(text(statement), {"id": row})
        transaction.rollback()
    assert _owner_scalar("SELECT count(*) FROM audit_logs WHERE id = :id", id=row) == 1, "the row is still there"
    return refused.value


@pytest.mark.parametrize(
    ("statements", "refusal"),
    [
        (["DELETE FROM audit_logs WHERE id = :id"], "permission denied for table audit_logs"),
        (
            ["SET LOCAL augeo.audit_logs_purge = 'on'", "DELETE FROM audit_logs WHERE id = :id"],
            "permission denied for table audit_logs",
        ),
        (
            ["SELECT set_config('augeo.audit_logs_purge', 'on', true)", "DELETE FROM audit_logs WHERE id = :id"],
            "permission denied for table audit_logs",
        ),
        (
            ["SET LOCAL augeo.audit_logs_scrub = 'on'", "UPDATE audit_logs SET ip_address = NULL WHERE id = :id"],
            "permission denied for table audit_logs",
        ),
        (["SELECT purge_audit_logs(interval '90 days', 10)"], "permission denied for function purge_audit_logs"),
        (["SELECT purge_audit_logs(interval '3650 days')"], "permission denied for function purge_audit_logs"),
        (["SET ROLE {retention}"], "permission denied to set role"),
        (["ALTER FUNCTION purge_audit_logs(interval, integer) OWNER TO {app}"], "must be owner of function"),
        (["ALTER FUNCTION purge_audit_logs(interval, integer) SECURITY INVOKER"], "must be owner of function"),
        (
            [
                "CREATE OR REPLACE FUNCTION purge_audit_logs(interval, integer) RETURNS integer"
                " LANGUAGE sql AS 'SELECT 0'"
            ],
            "permission denied for schema public",
        ),
        (["ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_append_only"], "must be owner of table audit_logs"),
        (["SELECT scrub_erased_user_audit_logs(gen_random_uuid())"], "only the audit rows of an erased account"),
    ],
)
def test_the_runtime_role_has_no_path_to_deleting_audit_rows(
    audit_row: uuid.UUID, statements: list[str], refusal: str
) -> None:
    names = {"app": f'"{os.environ["DB_APP_ROLE"]}"', "retention": f'"{os.environ["DB_RETENTION_ROLE"]}"'}
    error = _refused(get_engine(), [statement.format(**names) for statement in statements], audit_row)
    assert sqlstate(error) == INSUFFICIENT_PRIVILEGE, error
    assert refusal in str(error)


# -- erased_at is written once: the scrub cannot be turned on anyone ---------------------------

_AUDITED_ADDRESS = "203.0.113.7"


def _person_with_an_audited_address() -> tuple[uuid.UUID, uuid.UUID]:
    """An active donor, and an audit row of their own request with its address; both ids."""
    user = _owner_insert(
        "INSERT INTO users (email, first_name, last_name, role, is_active)"
        " VALUES (:email, 'Ada', 'Lovelace', 'donor', true) RETURNING id",
        email=f"scrub-{secrets.token_hex(6)}@example.org",
    )
    row = _owner_insert(
        "INSERT INTO audit_logs (event_type, actor_user_id, target_user_id, ip_address, user_agent)"
        " VALUES ('auth.login_succeeded', :user, :user, :ip, 'pytest') RETURNING id",
        user=user,
        ip=_AUDITED_ADDRESS,
    )
    return user, row


def _as_runtime_role(statements: list[str], user: uuid.UUID) -> sa.exc.DBAPIError:
    """Run ``statements`` as the app's role in one transaction that must fail."""
    with get_engine().connect() as connection, connection.begin() as transaction:
        with pytest.raises(sa.exc.DBAPIError) as refused:
            for statement in statements:
                connection.execute(text(statement), {"id": user})
        transaction.rollback()
    return refused.value


def test_the_runtime_role_cannot_mark_an_account_erased_to_blank_its_audit_addresses() -> None:
    """Mark erased, scrub, unmark used to blank anyone's audit addresses: marking now takes a real erasure."""
    user, row = _person_with_an_audited_address()
    error = _as_runtime_role(
        [
            "UPDATE users SET erased_at = now() WHERE id = :id",
            "SELECT scrub_erased_user_audit_logs(:id)",
            "UPDATE users SET erased_at = NULL WHERE id = :id",
        ],
        user,
    )
    assert sqlstate(error) == CHECK_VIOLATION and "ck_users_erased_state" in str(error), error
    assert _owner_scalar("SELECT ip_address FROM audit_logs WHERE id = :id", id=row) == _AUDITED_ADDRESS
    assert _owner_scalar("SELECT erased_at FROM users WHERE id = :id", id=user) is None


def test_erased_at_is_written_once_and_an_erased_account_stays_erased() -> None:
    user, _ = _person_with_an_audited_address()
    _owner(
        "UPDATE users SET email = 'erased-' || id || '@erased.invalid', first_name = '', last_name = '',"
        " password_hash = NULL, is_active = false, erased_at = now() WHERE id = :id",
        id=user,
    )
    for statement, expected in (
        ("UPDATE users SET erased_at = NULL WHERE id = :id", "written once"),
        ("UPDATE users SET erased_at = now() - interval '1 day' WHERE id = :id", "written once"),
        ("UPDATE users SET email = 'ada@example.org' WHERE id = :id", "ck_users_erased_state"),
        ("UPDATE users SET is_active = true WHERE id = :id", "ck_users_erased_state"),
    ):
        error = _as_runtime_role([statement], user)
        assert sqlstate(error) in (CHECK_VIOLATION, INSUFFICIENT_PRIVILEGE) and expected in str(error), statement
    with get_engine().begin() as connection:  # what it was erased for still works
        assert connection.scalar(text("SELECT scrub_erased_user_audit_logs(:id)"), {"id": user}) == 1


@pytest.mark.parametrize(
    ("statements", "expected_sqlstate", "refusal"),
    [
        (["DELETE FROM audit_logs WHERE id = :id"], INSUFFICIENT_PRIVILEGE, "permission denied for table audit_logs"),
        (
            ["SET LOCAL augeo.audit_logs_purge = 'on'", "DELETE FROM audit_logs WHERE id = :id"],
            INSUFFICIENT_PRIVILEGE,
            "permission denied for table audit_logs",
        ),
        (["UPDATE audit_logs SET ip_address = NULL WHERE id = :id"], INSUFFICIENT_PRIVILEGE, "permission denied"),
        (["INSERT INTO audit_logs (event_type) VALUES ('forged')"], INSUFFICIENT_PRIVILEGE, "permission denied"),
        (["TRUNCATE audit_logs"], INSUFFICIENT_PRIVILEGE, "permission denied"),
        (["SELECT purge_audit_logs(interval '89 days', 10)"], INVALID_PARAMETER_VALUE, "keeps at least 90 days"),
        (["SELECT purge_audit_logs(interval '400 days', 0)"], INVALID_PARAMETER_VALUE, "1 to 10000 rows"),
        (["SELECT scrub_erased_user_audit_logs(gen_random_uuid())"], INSUFFICIENT_PRIVILEGE, "permission denied"),
        (["DELETE FROM users"], INSUFFICIENT_PRIVILEGE, "permission denied for table users"),
        (["DELETE FROM refresh_tokens"], INSUFFICIENT_PRIVILEGE, "permission denied for table refresh_tokens"),
        (["UPDATE sessions SET revoked_at = NULL"], INSUFFICIENT_PRIVILEGE, "permission denied for table sessions"),
    ],
)
def test_the_retention_role_purges_only_through_the_function_and_keeps_90_days(
    audit_row: uuid.UUID, statements: list[str], expected_sqlstate: str, refusal: str
) -> None:
    error = _refused(retention_engine(), statements, audit_row)
    assert sqlstate(error) == expected_sqlstate, error
    assert refusal in str(error)


def test_the_purge_deletes_only_what_is_older_than_asked() -> None:
    old, recent = _audit_row(days_ago=120), _audit_row(days_ago=100)
    with retention_engine().begin() as connection:
        while connection.scalar(text("SELECT purge_audit_logs(interval '110 days', 10000)")) == 10000:
            pass
        assert connection.scalar(text("SELECT current_setting('augeo.audit_logs_purge', true)")) == ""
    assert _owner_scalar("SELECT count(*) FROM audit_logs WHERE id = ANY(:ids)", ids=[old, recent]) == 1
    assert _owner_scalar("SELECT count(*) FROM audit_logs WHERE id = :id", id=recent) == 1


# -- every migration run sets both roles' rights exactly ---------------------------------------


def _may_execute(url: str, role: str, function: str) -> bool:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        return bool(
            connection.scalar(
                text("SELECT has_function_privilege(:role, :function, 'EXECUTE')"), {"role": role, "function": function}
            )
        )


def _rights(url: str) -> dict[str, object]:
    app, retention = os.environ["DB_APP_ROLE"], os.environ["DB_RETENTION_ROLE"]
    return {
        "retention": {table: table_privileges(url, retention, table) for table in ("sessions", "audit_logs", "users")},
        "app": {table: table_privileges(url, app, table) for table in ("sessions", "email_outbox", "audit_logs")},
        "purge": (_may_execute(url, retention, PURGE_FUNCTION), _may_execute(url, app, PURGE_FUNCTION)),
        "scrub": (_may_execute(url, retention, SCRUB_FUNCTION), _may_execute(url, app, SCRUB_FUNCTION)),
    }


EXACT_RIGHTS = {
    "retention": {"sessions": {"SELECT", "DELETE"}, "audit_logs": set(), "users": set()},
    "app": {
        "sessions": {"SELECT", "INSERT", "UPDATE"},
        "email_outbox": {"SELECT", "INSERT", "UPDATE", "DELETE"},
        "audit_logs": {"SELECT", "INSERT"},
    },
    "purge": (True, False),
    "scrub": (False, True),
}


def test_every_migration_run_sets_both_roles_rights_exactly(scratch_database: str) -> None:
    config = alembic_config(scratch_database)
    command.upgrade(config, "head")
    assert _rights(scratch_database) == EXACT_RIGHTS
    app, retention = os.environ["DB_APP_ROLE"], os.environ["DB_RETENTION_ROLE"]
    engine = sa.create_engine(scratch_database, poolclass=sa.pool.NullPool)
    with engine.begin() as owner:  # rights granted by hand, as someone might
        owner.execute(text(f'GRANT DELETE, UPDATE ON audit_logs TO "{retention}"'))
        owner.execute(text(f'GRANT EXECUTE ON FUNCTION {PURGE_FUNCTION} TO PUBLIC, "{app}"'))
        owner.execute(text(f'GRANT EXECUTE ON FUNCTION {SCRUB_FUNCTION} TO "{retention}"'))
    assert _rights(scratch_database) != EXACT_RIGHTS
    command.upgrade(config, "head")  # nothing to migrate: the rights are set all the same
    assert _rights(scratch_database) == EXACT_RIGHTS
    command.downgrade(config, "0006")
    assert table_privileges(scratch_database, retention, "sessions") == {"SELECT", "DELETE"}
    command.upgrade(config, "head")
    assert _rights(scratch_database) == EXACT_RIGHTS


@pytest.fixture
def probe_roles(scratch_database: str) -> Iterator[tuple[str, str]]:
    """A runtime and a retention role of this test's own, dropped afterwards (their grants in the
    scratch database first)."""
    app, retention = f"{os.environ['DB_APP_ROLE']}_probe", f"{os.environ['DB_RETENTION_ROLE']}_probe"
    for role in (app, retention):
        _owner(f'CREATE ROLE "{role}"')
    yield app, retention
    engine = sa.create_engine(scratch_database, poolclass=sa.pool.NullPool)
    with engine.begin() as owner:
        owner.execute(text(f'DROP OWNED BY "{app}", "{retention}"'))
    for role in (app, retention):
        _owner(f'DROP ROLE IF EXISTS "{role}"')


def test_migrations_refuse_a_runtime_role_that_can_act_as_the_retention_role(
    scratch_database: str, probe_roles: tuple[str, str]
) -> None:
    app, retention = probe_roles
    _owner(f'GRANT "{retention}" TO "{app}"')
    config = alembic_config(scratch_database, app_role=app, retention_role=retention)
    with pytest.raises(sa.exc.DBAPIError, match="must not be able to act as the retention role"):
        command.upgrade(config, "head")
    _owner(f'REVOKE "{retention}" FROM "{app}"')
    command.upgrade(config, "head")
    assert _may_execute(scratch_database, retention, PURGE_FUNCTION)
    assert not _may_execute(scratch_database, app, PURGE_FUNCTION)


def test_migrations_refuse_a_retention_role_that_does_not_exist(scratch_database: str) -> None:
    config = alembic_config(scratch_database, retention_role="augeo_no_such_retention_role")
    with pytest.raises(sa.exc.DBAPIError, match="augeo_no_such_retention_role does not exist"):
        command.upgrade(config, "head")
