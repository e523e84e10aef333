"""Migrations: up, down, up again; the schema matches the models; the audit log is append-only."""

from __future__ import annotations

import os
import secrets
import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shared.models import Base
from tests.support.database import alembic_config, owner_engine, table_privileges


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(scratch_database: str) -> None:
    config = alembic_config(scratch_database)
    engine = sa.create_engine(scratch_database)
    try:
        command.upgrade(config, "head")
        assert _tables(engine) == set(Base.metadata.tables)
        command.downgrade(config, "base")
        assert _tables(engine) == set()
        command.upgrade(config, "head")
        assert _tables(engine) == set(Base.metadata.tables)
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        assert _privileges(scratch_database, "sessions") == {"SELECT", "INSERT", "UPDATE"}
    finally:
        engine.dispose()


def _privileges(url: str, table: str) -> set[str]:
    return table_privileges(url, os.environ["DB_APP_ROLE"], table)


def test_every_migration_run_grants_the_runtime_role_exactly_its_rights(scratch_database: str) -> None:
    """A table a later migration creates is granted in the same run; a right granted by hand is taken back."""
    config = alembic_config(scratch_database)
    command.upgrade(config, "head")
    assert _privileges(scratch_database, "audit_logs") == {"SELECT", "INSERT"}
    assert _privileges(scratch_database, "users") == {"SELECT", "INSERT", "UPDATE"}
    assert _privileges(scratch_database, "alembic_version") == set()
    engine = sa.create_engine(scratch_database)
    with engine.begin() as owner:
        owner.execute(sa.text("CREATE TABLE later_table (id int)"))  # as a later migration would
        owner.execute(sa.text(f'GRANT DELETE, TRUNCATE ON audit_logs TO "{os.environ["DB_APP_ROLE"]}"'))
    engine.dispose()
    command.upgrade(config, "head")  # nothing to migrate: the grants are set all the same
    assert _privileges(scratch_database, "later_table") == {"SELECT", "INSERT", "UPDATE"}
    assert _privileges(scratch_database, "audit_logs") == {"SELECT", "INSERT"}


def test_the_runtime_role_appends_to_the_consent_history_and_may_blank_only_its_address_and_browser(
    scratch_database: str,
) -> None:
    command.upgrade(alembic_config(scratch_database), "head")
    assert _privileges(scratch_database, "legal_documents") == {"SELECT", "INSERT"}
    assert _privileges(scratch_database, "consents") == {"SELECT", "INSERT"}
    assert _privileges(scratch_database, "legal_document_kinds") == {"SELECT", "INSERT", "UPDATE"}
    engine = sa.create_engine(scratch_database, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        updatable = {
            column
            for column in ("id", "user_id", "kind", "version", "action", "at", "ip_address", "user_agent")
            if connection.scalar(
                sa.text("SELECT has_column_privilege(:role, 'consents', :column, 'UPDATE')"),
                {"role": os.environ["DB_APP_ROLE"], "column": column},
            )
        }
        kinds = set(connection.scalars(sa.text("SELECT kind FROM legal_document_kinds")))
    engine.dispose()
    assert updatable == {"ip_address", "user_agent"}
    assert kinds == {"terms_of_service", "privacy_policy"}


# What the erasure leaves of a row (the users table refuses an erased_at without it: migration 0009).
_ERASE_IN_PLACE = (
    "UPDATE users SET erased_at = now(), is_active = false, password_hash = NULL, first_name = '',"
    " last_name = '', email = 'erased-' || id::text || '@erased.invalid' WHERE id = :id"
)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE consents SET action = 'withdrawn' WHERE id = :id",
        "UPDATE consents SET ip_address = '192.0.2.1' WHERE id = :id",
        "UPDATE consents SET ip_address = NULL, user_agent = NULL WHERE id = :id",  # not an erased account's
        "DELETE FROM consents WHERE id = :id",
    ],
)
def test_consents_refuse_changes_but_the_blanking_of_an_erased_accounts_rows(statement: str) -> None:
    """The trigger holds even for the owner; everything here is rolled back."""
    with owner_engine().connect() as owner:
        transaction = owner.begin()
        try:
            user_id = owner.execute(
                sa.text(
                    "INSERT INTO users (email, first_name, last_name, role)"
                    " VALUES (:email, 'A', 'B', 'donor') RETURNING id"
                ),
                {"email": f"consent-{secrets.token_hex(4)}@example.org"},
            ).scalar_one()
            owner.execute(
                sa.text(
                    "INSERT INTO legal_documents (kind, revision, version, url, requires_reconsent)"
                    " VALUES ('terms_of_service', 100000, 'trigger-test', 'https://augeo.example/t', false)"
                )
            )
            consent_id = owner.execute(
                sa.text(
                    "INSERT INTO consents (user_id, kind, version, action, ip_address, user_agent)"
                    " VALUES (:user, 'terms_of_service', 'trigger-test', 'accepted', '192.0.2.7', 'browser')"
                    " RETURNING id"
                ),
                {"user": user_id},
            ).scalar_one()
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), owner.begin_nested():
                owner.execute(sa.text(statement), {"id": consent_id})
            owner.execute(sa.text(_ERASE_IN_PLACE), {"id": user_id})  # erased, as the erasure leaves a row
            blank = "UPDATE consents SET ip_address = NULL, user_agent = NULL WHERE id = :id"
            assert owner.execute(sa.text(blank), {"id": consent_id}).rowcount == 1
            kept = owner.execute(sa.text("SELECT action, ip_address FROM consents WHERE id = :id"), {"id": consent_id})
            assert kept.one() == ("accepted", None)
        finally:
            transaction.rollback()


def test_migrations_refuse_a_runtime_role_that_does_not_exist(scratch_database: str) -> None:
    config = alembic_config(scratch_database)
    config.attributes["app_role"] = "augeo_no_such_role"
    with pytest.raises(sa.exc.DBAPIError, match="augeo_no_such_role does not exist"):
        command.upgrade(config, "head")
    assert _tables(sa.create_engine(scratch_database, poolclass=sa.pool.NullPool)) == set(), "rolled back"


def test_roles_are_seeded_as_designed() -> None:
    engine = sa.create_engine(os.environ["DATABASE_URL"])
    with engine.connect() as connection:
        rows: dict[str, str] = dict(connection.execute(sa.text("SELECT name, scope FROM roles")).all())
    engine.dispose()
    assert rows == {
        "super_admin": "platform",
        "npo_admin": "npo",
        "event_coordinator": "npo",
        "staff": "event",
        "donor": "own",
    }


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_logs SET event_type = 'rewritten' WHERE id = :id",
        "DELETE FROM audit_logs WHERE id = :id",
        "TRUNCATE audit_logs",
    ],
)
def test_audit_log_refuses_changes(statement: str) -> None:
    """The trigger holds even for the owner (the runtime role is refused earlier, by its privileges)."""
    engine = owner_engine()
    try:
        with engine.begin() as connection:
            event_id = connection.execute(
                sa.text("INSERT INTO audit_logs (event_type) VALUES ('test.append_only') RETURNING id")
            ).scalar_one()
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(sa.text(statement), {"id": event_id})
        with engine.connect() as connection:
            kept = connection.execute(
                sa.text("SELECT event_type FROM audit_logs WHERE id = :id"), {"id": event_id}
            ).scalar_one()
        assert kept == "test.append_only"
    finally:
        engine.dispose()


def test_database_enforces_email_case_and_npo_scope() -> None:
    engine = sa.create_engine(os.environ["DATABASE_URL"])
    insert = sa.text(
        "INSERT INTO users (email, first_name, last_name, role, npo_id) VALUES (:email, 'A', 'B', :role, :npo)"
    )
    try:
        for params in (
            {"email": "Upper@Example.org", "role": "donor", "npo": None},
            {"email": f"s-{secrets.token_hex(4)}@example.org", "role": "staff", "npo": None},
            {
                "email": f"d-{secrets.token_hex(4)}@example.org",
                "role": "donor",
                "npo": "6f1c3e1e-8a52-4d3e-9a57-0c2b3e0f4a11",
            },
            {"email": f"x-{secrets.token_hex(4)}@example.org", "role": "wizard", "npo": None},
        ):
            with pytest.raises(sa.exc.DBAPIError) as raised, engine.begin() as connection:
                connection.execute(insert, params)
            assert raised.value.orig is not None, raised.value  # the driver's own error
            assert raised.value.orig.args[0]["C"].startswith("23"), raised.value  # integrity violation class
    finally:
        engine.dispose()


def test_updated_at_is_kept_by_the_database() -> None:
    engine = sa.create_engine(os.environ["DATABASE_URL"])
    try:
        with engine.begin() as connection:
            row = connection.execute(
                sa.text(
                    "INSERT INTO email_outbox"
                    " (to_address, subject, text_body, html_body, template, created_at, updated_at)"
                    " VALUES ('a@example.org', 's', 't', 'h', 'test',"
                    " now() - interval '1 hour', now() - interval '1 hour')"
                    " RETURNING id, updated_at"
                )
            ).one()
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE email_outbox SET attempts = 1 WHERE id = :id"), {"id": row.id})
            updated = connection.execute(
                sa.text("SELECT updated_at FROM email_outbox WHERE id = :id"), {"id": row.id}
            ).scalar_one()
        assert updated > row.updated_at
    finally:
        engine.dispose()


_LEGACY_ROWS = {  # subject: (template, status) of rows an older drain left behind
    "sent link": ("verify_email", "sent"),
    "failed link": ("invitation", "failed"),
    "pending link": ("password_reset", "pending"),
    "failed notice": ("password_changed", "failed"),
}


def test_revision_0004_blanks_the_tokens_older_rows_hold(scratch_database: str) -> None:
    """Before 0004 a link's token sat in the body: sent rows are blanked, failed ones with a
    link cancelled and blanked; pending ones are left for the next drain, which blanks them."""
    config = alembic_config(scratch_database)
    engine = sa.create_engine(scratch_database)
    body = "Confirm: https://app.example.org/verify-email?token=live-token"
    try:
        command.upgrade(config, "0003")
        with engine.begin() as connection:
            for subject, (template, status) in _LEGACY_ROWS.items():
                connection.execute(
                    sa.text(
                        "INSERT INTO email_outbox (to_address, subject, text_body, html_body, template, status)"
                        " VALUES ('a@example.org', :subject, :body, :body, :template, :status)"
                    ),
                    {"subject": subject, "body": body, "template": template, "status": status},
                )
        command.upgrade(config, "head")
        with engine.connect() as connection:
            rows = {
                row.subject: (row.status, row.text_body, row.html_body)
                for row in connection.execute(sa.text("SELECT subject, status, text_body, html_body FROM email_outbox"))
            }
        assert rows == {
            "sent link": ("sent", "", ""),
            "failed link": ("cancelled", "", ""),
            "pending link": ("pending", body, body),
            "failed notice": ("failed", body, body),
        }
        command.downgrade(config, "0003")
        with engine.connect() as connection:
            statuses = set(connection.execute(sa.text("SELECT status FROM email_outbox")).scalars())
        assert statuses <= {"pending", "sent", "failed"}
    finally:
        engine.dispose()


_STAFF = (
    "INSERT INTO users (email, first_name, last_name, role, npo_id)"
    " VALUES (:email, 'S', 'T', 'staff', :npo) RETURNING id"
)
_ASSIGNMENT = (
    "INSERT INTO event_assignments (user_id, event_id, assigned_by, assigned_at)"
    " VALUES (:user, :event, :by, now() - make_interval(mins => :minutes_ago))"
)


def _staff_of(connection: sa.Connection, npo: uuid.UUID) -> uuid.UUID:
    email = f"staff-{secrets.token_hex(4)}@example.org"
    return uuid.UUID(str(connection.execute(sa.text(_STAFF), {"email": email, "npo": npo}).scalar_one()))


def test_revision_0008_registers_the_events_of_existing_assignments_with_their_teams_npo(
    scratch_database: str,
) -> None:
    """Each assigned event is registered to its assignees' NPO, by whoever assigned first, when they did."""
    config = alembic_config(scratch_database)
    engine = sa.create_engine(scratch_database, poolclass=sa.pool.NullPool)
    npo_a, npo_b, gala, fair = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    try:
        command.upgrade(config, "0007")
        with engine.begin() as connection:
            first, second, other = (
                _staff_of(connection, npo_a),
                _staff_of(connection, npo_a),
                _staff_of(connection, npo_b),
            )
            for user, event, by, minutes_ago in (
                (second, gala, first, 5),
                (first, gala, second, 9),
                (other, fair, None, 1),
            ):
                connection.execute(
                    sa.text(_ASSIGNMENT), {"user": user, "event": event, "by": by, "minutes_ago": minutes_ago}
                )
        command.upgrade(config, "head")
        with engine.connect() as connection:
            events = {
                row.id: (row.npo_id, row.registered_by, row.name)
                for row in connection.execute(sa.text("SELECT id, npo_id, registered_by, name FROM events"))
            }
            registered_when = connection.execute(
                sa.text(
                    "SELECT e.registered_at = min(a.assigned_at) FROM events e"
                    " JOIN event_assignments a ON a.event_id = e.id WHERE e.id = :gala GROUP BY e.registered_at"
                ),
                {"gala": gala},
            ).scalar_one()
            audited = set(
                connection.execute(
                    sa.text("SELECT details->>'event_id' FROM audit_logs WHERE event_type = 'event.registered'")
                ).scalars()
            )
            kept = connection.execute(sa.text("SELECT count(*) FROM event_assignments")).scalar_one()
        assert events == {gala: (npo_a, second, None), fair: (npo_b, None, None)}
        assert registered_when is True
        assert audited == {str(gala), str(fair)}
        assert kept == 3
        with (
            pytest.raises(sa.exc.DBAPIError, match="fk_event_assignments_event_id_events"),
            engine.begin() as connection,
        ):
            connection.execute(
                sa.text(_ASSIGNMENT), {"user": first, "event": uuid.uuid4(), "by": None, "minutes_ago": 0}
            )
        command.downgrade(config, "0007")
        assert "events" not in _tables(engine)
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM event_assignments")).scalar_one() == 3
    finally:
        engine.dispose()


def test_revision_0008_refuses_an_event_whose_team_spans_several_npos(scratch_database: str) -> None:
    """Which NPO such an event is cannot be known: the operator removes the wrong assignments first."""
    config = alembic_config(scratch_database)
    engine = sa.create_engine(scratch_database, poolclass=sa.pool.NullPool)
    gala = uuid.uuid4()
    try:
        command.upgrade(config, "0007")
        with engine.begin() as connection:
            for npo in (uuid.uuid4(), uuid.uuid4()):
                user = _staff_of(connection, npo)
                connection.execute(sa.text(_ASSIGNMENT), {"user": user, "event": gala, "by": None, "minutes_ago": 1})
        with pytest.raises(sa.exc.DBAPIError, match=f"assignees of several NPOs: {gala}"):
            command.upgrade(config, "head")
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "0007"
        assert "events" not in _tables(engine)
    finally:
        engine.dispose()
