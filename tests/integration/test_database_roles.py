"""Least privilege: the app signs in as a runtime role that owns nothing and cannot rewrite history.

Every statement here runs through the app's own engine (DATABASE_URL), the
connection every other test and every request uses.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import text

from shared.database import get_engine
from shared.database_roles import scram_sha256_verifier
from shared.failures import sqlstate
from tests.support.database import owner_engine
from tests.support.processes import run_cli

INSUFFICIENT_PRIVILEGE = "42501"


@pytest.fixture
def audit_event_id() -> Iterator[str]:
    """An audit row written by the app (INSERT is what it may do)."""
    with get_engine().begin() as connection:
        event_id = connection.execute(
            text("INSERT INTO audit_logs (event_type) VALUES ('test.least_privilege') RETURNING id")
        ).scalar_one()
    yield str(event_id)


def test_the_app_signs_in_as_the_runtime_role_which_owns_nothing() -> None:
    query = text(
        "SELECT current_user, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,"
        " (SELECT count(*) FROM pg_class WHERE relowner = r.oid)"
        " + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid)"
        " + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)"
        " + (SELECT count(*) FROM pg_type WHERE typowner = r.oid) AS owned"
        " FROM pg_roles r WHERE r.rolname = current_user"
    )
    with get_engine().connect() as connection:
        row = connection.execute(query).one()
    assert (
        row.current_user
        == os.environ["DB_APP_ROLE"]
        != sa.engine.make_url(os.environ["MIGRATION_DATABASE_URL"]).username
    )
    assert (row.rolsuper, row.rolcreaterole, row.rolcreatedb, row.rolbypassrls) == (False, False, False, False)
    assert row.owned == 0


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("UPDATE audit_logs SET event_type = 'rewritten' WHERE id = :id", "permission denied for table audit_logs"),
        ("DELETE FROM audit_logs WHERE id = :id", "permission denied for table audit_logs"),
        ("TRUNCATE audit_logs", "permission denied for table audit_logs"),
        ("ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_append_only", "must be owner of table audit_logs"),
        ("ALTER TABLE audit_logs DISABLE TRIGGER ALL", "must be owner of table audit_logs"),
        ("DROP TRIGGER audit_logs_append_only ON audit_logs", "must be owner of"),
        ("DROP TABLE audit_logs", "must be owner of table audit_logs"),
        ("DROP TABLE users", "must be owner of table users"),
        ("TRUNCATE users", "permission denied for table users"),
        ("DELETE FROM sessions WHERE id = :id", "permission denied for table sessions"),
        ("ALTER TABLE users ADD COLUMN backdoor text", "must be owner of table users"),
        ("UPDATE alembic_version SET version_num = version_num", "permission denied for table alembic_version"),
        ("CREATE TABLE intruder (id int)", "permission denied for schema public"),
        ("CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'", "permission denied for schema public"),
    ],
)
def test_the_runtime_role_cannot_rewrite_history_or_the_schema(
    audit_event_id: str, statement: str, refusal: str
) -> None:
    # Rolled back whatever happens: a role that could do it must not do it to the suite's database.
    with get_engine().connect() as connection, connection.begin() as transaction:
        with pytest.raises(sa.exc.DBAPIError) as refused:
            connection.execute(text(statement), {"id": audit_event_id})
        transaction.rollback()
    assert sqlstate(refused.value) == INSUFFICIENT_PRIVILEGE, refused.value
    assert refusal in str(refused.value), "refused by its privileges, not only by the trigger"
    with owner_engine().connect() as owner:
        kept = owner.execute(text("SELECT event_type FROM audit_logs WHERE id = :id"), {"id": audit_event_id})
        assert kept.scalar_one() == "test.least_privilege"
        enabled = text("SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_logs_append_only'")
        assert owner.execute(enabled).scalar_one() == "O", "the append-only trigger is still enabled"


def test_the_runtime_role_reads_and_appends_to_the_audit_log(audit_event_id: str) -> None:
    with get_engine().connect() as connection:
        found = connection.execute(text("SELECT event_type FROM audit_logs WHERE id = :id"), {"id": audit_event_id})
        assert found.scalar_one() == "test.least_privilege"


def test_the_runtime_role_has_its_limits_from_the_server_not_from_the_connection() -> None:
    """Set on the role (ALTER ROLE ... SET): PgBouncer in transaction mode would lose a per-connection SET."""
    with get_engine().connect() as connection:
        assert connection.scalar(text("SHOW statement_timeout")) == "5s"
        assert connection.scalar(text("SHOW idle_in_transaction_session_timeout")) == "10s"
    with owner_engine().connect() as owner:
        settings = owner.scalar(
            text(
                "SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole"
                " WHERE r.rolname = :role AND s.setdatabase = 0"
            ),
            {"role": os.environ["DB_APP_ROLE"]},
        )
    assert sorted(settings) == ["idle_in_transaction_session_timeout=10000ms", "statement_timeout=5000ms"]


def test_a_statement_over_the_servers_limit_is_a_dependency_failure() -> None:
    """The server cancels it (57014), which the app answers with 503, not 500."""
    from shared.failures import is_dependency_failure

    with pytest.raises(sa.exc.DBAPIError) as cancelled, get_engine().begin() as connection:
        connection.execute(text("SET LOCAL statement_timeout = '50ms'"))
        connection.execute(text("SELECT pg_sleep(1)"))
    assert sqlstate(cancelled.value) == "57014"
    assert is_dependency_failure(cancelled.value)


# -- python -m shared.cli create-app-role ------------------------------------------------


@pytest.fixture
def probe_role() -> Iterator[str]:
    """A role of this suite's own (named after its database), dropped afterwards."""
    role = f"{os.environ['DB_APP_ROLE']}_probe"
    yield role
    with owner_engine().begin() as owner:
        owner.execute(text(f'DROP ROLE IF EXISTS "{role}"'))


def _create_app_role(**env: str) -> subprocess.CompletedProcess[str]:
    return run_cli("create-app-role", env={**os.environ, **env})


def test_create_app_role_is_idempotent_and_never_shows_the_password(probe_role: str) -> None:
    url = sa.engine.make_url(os.environ["DATABASE_URL"]).set(username=probe_role, password="Probe-secret-81")
    env = {
        "DB_APP_ROLE": probe_role,
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "DB_STATEMENT_TIMEOUT_SECONDS": "2.5",
    }
    first, second = _create_app_role(**env), _create_app_role(**env)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert f"{probe_role} created" in first.stdout and f"{probe_role} exists" in second.stdout
    assert "Probe-secret-81" not in first.stdout + first.stderr + second.stdout + second.stderr
    with owner_engine().connect() as owner:
        row = owner.execute(
            text(
                "SELECT a.rolcanlogin, a.rolsuper, a.rolpassword, r.rolconfig"
                " FROM pg_authid a JOIN pg_roles r USING (oid) WHERE a.rolname = :role"
            ),
            {"role": probe_role},
        ).one()
    assert row.rolcanlogin and not row.rolsuper
    assert row.rolpassword.startswith("SCRAM-SHA-256$4096:"), "stored as a verifier; the server never saw it"
    assert "statement_timeout=2500ms" in row.rolconfig


def test_the_role_password_is_sent_as_a_scram_verifier_postgresql_accepts() -> None:
    """The same verifier as the SCRAM library pg8000 signs in with (scramp), for a fixed salt."""
    import base64

    from scramp import ScramMechanism

    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    _salt, stored_key, server_key, iterations = ScramMechanism("SCRAM-SHA-256").make_auth_info(
        "pencil", iteration_count=4096, salt=salt
    )
    expected = (
        f"SCRAM-SHA-256${iterations}:{base64.b64encode(salt).decode()}"
        f"${base64.b64encode(stored_key).decode()}:{base64.b64encode(server_key).decode()}"
    )
    assert scram_sha256_verifier("pencil", salt=salt) == expected
