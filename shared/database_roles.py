"""The two database roles: the owner that migrates, and the runtime role the app signs in as.

The owner (MIGRATION_DATABASE_URL) owns every table, function and trigger.
The runtime role (DB_APP_ROLE; the app's managed identity in Azure) owns
nothing. It reads, inserts and updates the app's tables, may only SELECT and
INSERT ``audit_logs``, and deletes nothing: the app never deletes a row (users
are deactivated, sessions revoked, tokens marked used). Owning nothing, it can
neither disable a trigger nor drop, alter or truncate a table.

Who does what:

- an administrator creates the runtime role and sets its limits
  (:func:`ensure_password_role` or :func:`ensure_entra_role`, then
  :func:`set_role_limits`): ``python -m shared.cli create-app-role``, which
  ``make run``, the test suite and the deployment hook run for you;
- every ``alembic upgrade`` (and downgrade or stamp) ends by applying
  :func:`runtime_grants_sql` as the owner, so a table a new migration creates
  is granted in the same run, and a privilege granted by hand is taken back.

The limits are role settings (``ALTER ROLE ... SET``), applied by the server
when a session starts, never per connection: in Azure the app reaches the
server through PgBouncer in transaction mode.

Deleting audit rows (a retention job) is meant to go through a function owned
by the owner, ``SECURITY DEFINER``, EXECUTE revoked from PUBLIC and granted
to a role of that job only; the runtime role keeps no DELETE on ``audit_logs``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, pool, text
from sqlalchemy.engine import make_url

from shared.database import entra_token, ssl_context

if TYPE_CHECKING:
    from shared.config import Settings

# Tables the runtime role may only read and append to.
APPEND_ONLY_TABLES = ("audit_logs",)
# Tables that are none of the app's business.
PRIVATE_TABLES = ("alembic_version",)
# Tables whose rows the app itself removes: an assignment ended, a second factor
# removed or its recovery codes replaced. Nothing else is ever deleted by the app.
DELETABLE_TABLES = ("event_assignments", "mfa_totp", "mfa_recovery_codes")
APP_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE"
APPEND_ONLY_PRIVILEGES = "SELECT, INSERT"


def quote_identifier(name: str) -> str:
    """``name`` as a PostgreSQL identifier (role names come validated from the settings)."""
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _array(values: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join(_literal(value) for value in values) + "]::text[]"


def runtime_grants_sql(role: str) -> str:
    """One idempotent statement: exactly the runtime role's privileges on every table of ``public``.

    Plain SQL with no round trip to read first, so ``alembic upgrade --sql``
    prints it too. Run by the owner; refuses (naming the fix) when the role is missing.
    The role name is a validated setting, and written as a quoted literal.
    """
    return f"""
DO $grants$
DECLARE
    app_role text := {_literal(role)};
    append_only text[] := {_array(APPEND_ONLY_TABLES)};
    private text[] := {_array(PRIVATE_TABLES)};
    deletable text[] := {_array(DELETABLE_TABLES)};
    relation record;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = app_role) THEN
        RAISE EXCEPTION 'the runtime role % does not exist', app_role
            USING HINT = 'create it first: python -m shared.cli create-app-role (as an administrator), '
                         'or set DB_APP_ROLE to the role DATABASE_URL signs in as';
    END IF;
    FOR relation IN SELECT tablename AS name FROM pg_catalog.pg_tables WHERE schemaname = 'public' LOOP
        EXECUTE format('REVOKE ALL ON TABLE public.%I FROM %I', relation.name, app_role);
        IF relation.name = ANY (append_only) THEN
            EXECUTE format('GRANT {APPEND_ONLY_PRIVILEGES} ON TABLE public.%I TO %I', relation.name, app_role);
        ELSIF NOT relation.name = ANY (private) THEN
            EXECUTE format('GRANT {APP_TABLE_PRIVILEGES} ON TABLE public.%I TO %I', relation.name, app_role);
        END IF;
        IF relation.name = ANY (deletable) THEN
            EXECUTE format('GRANT DELETE ON TABLE public.%I TO %I', relation.name, app_role);
        END IF;
    END LOOP;
    FOR relation IN SELECT sequencename AS name FROM pg_catalog.pg_sequences WHERE schemaname = 'public' LOOP
        EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE public.%I TO %I', relation.name, app_role);
    END LOOP;
END
$grants$
"""  # noqa: S608 (no input but the validated role name, written as a quoted literal)


def role_exists(connection: Connection, role: str) -> bool:
    found = connection.execute(text("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :role"), {"role": role})
    return found.first() is not None


def ensure_password_role(connection: Connection, role: str, password: str | None) -> bool:
    """Create ``role`` as a plain login role unless it exists; give it ``password`` when one is set.

    Needs CREATEROLE (a local superuser, a server administrator). Returns
    whether the role was created. Nothing else about an existing role changes.
    """
    created = not role_exists(connection, role)
    if created:
        connection.execute(text(f"CREATE ROLE {quote_identifier(role)} LOGIN"))
    if password is not None:
        verifier = scram_sha256_verifier(password)
        # exec_driver_sql: the verifier is text, and text() would read ":<base64>" as a parameter.
        connection.exec_driver_sql(f"ALTER ROLE {quote_identifier(role)} PASSWORD {_literal(verifier)}")
    return created


def scram_sha256_verifier(password: str, *, salt: bytes | None = None, iterations: int = 4096) -> str:
    """What PostgreSQL stores for a SCRAM-SHA-256 password (RFC 5802, 7677).

    Sent instead of the password itself, so the password never reaches the
    server's statement log or ``pg_stat_activity``.
    """
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    stored_key = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    encode = base64.b64encode
    return (
        f"SCRAM-SHA-256${iterations}:{encode(salt).decode()}"
        f"${encode(stored_key).decode()}:{encode(server_key).decode()}"
    )


def ensure_entra_role(connection: Connection, role: str, object_id: str) -> bool:
    """Create ``role`` for a Microsoft Entra principal (the app's managed identity) unless it exists.

    Azure Database for PostgreSQL only: ``pgaadauth_create_principal_with_oid``
    maps the role to the identity's object id, so its tokens sign in as it.
    Must run as an Entra administrator of the server, in the ``postgres`` database.
    """
    if role_exists(connection, role):
        return False
    connection.execute(
        text("SELECT * FROM pgaadauth_create_principal_with_oid(:role, :object_id, 'service', false, false)"),
        {"role": role, "object_id": object_id},
    )
    return True


def set_role_limits(
    connection: Connection, role: str, *, statement_timeout_seconds: float, idle_in_transaction_timeout_seconds: float
) -> None:
    """The server-side limits of the runtime role, applied to each of its new sessions."""
    for name, seconds in (
        ("statement_timeout", statement_timeout_seconds),
        ("idle_in_transaction_session_timeout", idle_in_transaction_timeout_seconds),
    ):
        milliseconds = max(1, round(seconds * 1000))
        connection.execute(text(f"ALTER ROLE {quote_identifier(role)} SET {name} = {_literal(f'{milliseconds}ms')}"))


def ensure_app_role(settings: Settings, *, entra_admin: str | None = None, entra_object_id: str | None = None) -> bool:
    """Create the runtime role DB_APP_ROLE unless it exists, and (re)apply its limits. Idempotent.

    Without ``entra_admin``: signs in with MIGRATION_DATABASE_URL (which needs
    CREATEROLE) and makes a login role whose password is DATABASE_URL's (when
    DATABASE_URL signs in as that role). With ``entra_admin`` and
    ``entra_object_id`` (Azure): signs in to the same server's ``postgres``
    database as that Entra administrator, with its token (``az login``), and
    maps the role to the managed identity. Returns whether the role was created.
    """
    role = settings.db_app_role
    if entra_admin and not entra_object_id:
        raise ValueError("a role for a Microsoft Entra identity needs the identity's object id")
    engine = _administrator_engine(settings, entra_admin)
    try:
        with engine.begin() as connection:
            if entra_admin and entra_object_id:
                created = ensure_entra_role(connection, role, entra_object_id)
            else:
                app_url = make_url(settings.database_url)
                created = ensure_password_role(connection, role, app_url.password if app_url.username == role else None)
            set_role_limits(
                connection,
                role,
                statement_timeout_seconds=settings.db_statement_timeout_seconds,
                idle_in_transaction_timeout_seconds=settings.db_idle_in_transaction_timeout_seconds,
            )
    finally:
        engine.dispose()
    return created


def _administrator_engine(settings: Settings, entra_admin: str | None) -> Engine:
    """The owner's connection, or the server's ``postgres`` database as an Entra administrator (its token)."""

    url = make_url(settings.owner_database_url)
    if entra_admin:
        url = url.set(username=entra_admin, password=None, database="postgres")
    engine = create_engine(url, poolclass=pool.NullPool, connect_args={"ssl_context": ssl_context(settings.db_ssl)})
    if entra_admin:

        @event.listens_for(engine, "do_connect")
        def _administrator_token(_dialect, _record, _cargs, cparams):  # type: ignore[no-untyped-def]
            cparams["password"] = entra_token(None)

    return engine
