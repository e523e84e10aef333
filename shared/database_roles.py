"""The database roles: the owner that migrates, the runtime role the app signs in as, and
the retention role of the job that deletes what is past its age.

The owner (MIGRATION_DATABASE_URL) owns every table, function and trigger.
The runtime role (DB_APP_ROLE; the app's managed identity in Azure) owns
nothing. It reads, inserts and updates the app's tables, may only SELECT and
INSERT the histories (``audit_logs``, ``legal_documents``, ``consents``: of
these it may UPDATE only the two columns an erasure blanks, the IP address and
user agent of ``consents``, and migration 0011's trigger lets nothing but that
blanking through), and deletes only what the app removes on purpose
(:data:`DELETABLE_TABLES`: an assignment ended, a second factor removed, an
erased user's email tokens, outbox rows and the invitations addressed to them). Owning nothing, it can neither
disable a trigger nor drop, alter or truncate a table. It may blank the IP
address and user agent of an erased user's audit rows, through
``scrub_erased_user_audit_logs`` only; an erasure is final (migration 0009:
``erased_at`` is written once and an erased row stays erased), so it cannot
mark someone erased for the function's sake and then undo it.

The retention role (DB_RETENTION_ROLE, RETENTION_DATABASE_URL; a second
managed identity in Azure) is the retention job's and nobody else's: the
runtime role is not a member of it. It may read and delete the tables the job
empties (:data:`RETENTION_TABLES`; refresh tokens go with their session, by
the foreign key's cascade) and purge the audit log through
``purge_audit_logs`` only, which keeps at least 90 days. It holds no DELETE
on ``audit_logs``: the append-only trigger lets only that function's deletes
through (migration 0007).

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

EXECUTE on both functions is revoked from PUBLIC by their migration and set
again, exactly, by every migration run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, pool, text
from sqlalchemy.engine import make_url

from shared.database import sign_in_with_entra_tokens, ssl_context

if TYPE_CHECKING:
    from shared.config import Settings

# Tables the runtime role may only read and append to.
APPEND_ONLY_TABLES = ("audit_logs", "legal_documents", "consents")
# Columns of those tables the runtime role may update nonetheless: an erasure
# blanks them (a trigger refuses any other change: migration 0011).
BLANKABLE_COLUMNS = {"consents": ("ip_address", "user_agent")}
# Tables that are none of the app's business.
PRIVATE_TABLES = ("alembic_version",)
# Tables whose rows the app itself removes: an assignment ended, a second factor
# removed or its recovery codes replaced, an erased user's email tokens, the
# messages and the invitations addressed to them. Nothing else is ever deleted by the app.
DELETABLE_TABLES = (
    "event_assignments",
    "mfa_totp",
    "mfa_recovery_codes",
    "user_tokens",
    "email_outbox",
    "invitations",
)
APP_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE"
APPEND_ONLY_PRIVILEGES = "SELECT, INSERT"
# Tables the retention job empties of what is past its age (refresh tokens go with
# their session, an invitation's emails with the invitation: ON DELETE CASCADE, which runs as the owner).
RETENTION_TABLES = ("sessions", "user_tokens", "email_outbox", "invitations")
RETENTION_TABLE_PRIVILEGES = "SELECT, DELETE"
# The SECURITY DEFINER functions (migration 0007) and the one role each may call.
PURGE_FUNCTION = "public.purge_audit_logs(interval, integer)"
SCRUB_FUNCTION = "public.scrub_erased_user_audit_logs(uuid)"


def quote_identifier(name: str) -> str:
    """``name`` as a PostgreSQL identifier (role names come validated from the settings)."""
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _array(values: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join(_literal(value) for value in values) + "]::text[]"


def _column_grants() -> str:
    """The column UPDATE grants of :data:`BLANKABLE_COLUMNS`, inside the grants' loop over tables."""
    return "\n".join(
        f"        IF relation.name = {_literal(table)} THEN\n"
        f"            EXECUTE format('GRANT UPDATE ({', '.join(columns)}) ON TABLE public.%I TO %I',"
        " relation.name, app_role);\n"
        "        END IF;"
        for table, columns in BLANKABLE_COLUMNS.items()
    )


def runtime_grants_sql(role: str, retention_role: str) -> str:
    """One idempotent statement: exactly the runtime and retention roles' privileges in ``public``.

    Plain SQL with no round trip to read first, so ``alembic upgrade --sql``
    prints it too. Run by the owner; refuses (naming the fix) when a role is
    missing, or when the runtime role could act as the retention role. The
    role names are validated settings, written as quoted literals.
    """
    return f"""
DO $grants$
DECLARE
    app_role text := {_literal(role)};
    retention_role text := {_literal(retention_role)};
    append_only text[] := {_array(APPEND_ONLY_TABLES)};
    private text[] := {_array(PRIVATE_TABLES)};
    deletable text[] := {_array(DELETABLE_TABLES)};
    retention_tables text[] := {_array(RETENTION_TABLES)};
    relation record;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = app_role) THEN
        RAISE EXCEPTION 'the runtime role % does not exist', app_role
            USING HINT = 'create it first: python -m shared.cli create-app-role (as an administrator), '
                         'or set DB_APP_ROLE to the role DATABASE_URL signs in as';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = retention_role) THEN
        RAISE EXCEPTION 'the retention role % does not exist', retention_role
            USING HINT = 'create it first: python -m shared.cli create-app-role (as an administrator), '
                         'or set DB_RETENTION_ROLE to the role RETENTION_DATABASE_URL signs in as';
    END IF;
    IF retention_role = app_role OR pg_catalog.pg_has_role(app_role, retention_role, 'MEMBER') THEN
        RAISE EXCEPTION 'the runtime role % must not be able to act as the retention role %', app_role, retention_role
            USING HINT = 'REVOKE the membership; only the retention job may purge the audit log';
    END IF;
    FOR relation IN SELECT tablename AS name FROM pg_catalog.pg_tables WHERE schemaname = 'public' LOOP
        EXECUTE format('REVOKE ALL ON TABLE public.%I FROM %I', relation.name, app_role);
        EXECUTE format('REVOKE ALL ON TABLE public.%I FROM %I', relation.name, retention_role);
        IF relation.name = ANY (append_only) THEN
            EXECUTE format('GRANT {APPEND_ONLY_PRIVILEGES} ON TABLE public.%I TO %I', relation.name, app_role);
        ELSIF NOT relation.name = ANY (private) THEN
            EXECUTE format('GRANT {APP_TABLE_PRIVILEGES} ON TABLE public.%I TO %I', relation.name, app_role);
        END IF;
{_column_grants()}
        IF relation.name = ANY (deletable) THEN
            EXECUTE format('GRANT DELETE ON TABLE public.%I TO %I', relation.name, app_role);
        END IF;
        IF relation.name = ANY (retention_tables) THEN
            EXECUTE format('GRANT {RETENTION_TABLE_PRIVILEGES} ON TABLE public.%I TO %I',
                           relation.name, retention_role);
        END IF;
    END LOOP;
    FOR relation IN SELECT sequencename AS name FROM pg_catalog.pg_sequences WHERE schemaname = 'public' LOOP
        EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE public.%I TO %I', relation.name, app_role);
    END LOOP;
    IF to_regprocedure({_literal(PURGE_FUNCTION)}) IS NOT NULL THEN
        EXECUTE format('REVOKE ALL ON FUNCTION {PURGE_FUNCTION} FROM PUBLIC, %I', app_role);
        EXECUTE format('GRANT EXECUTE ON FUNCTION {PURGE_FUNCTION} TO %I', retention_role);
    END IF;
    IF to_regprocedure({_literal(SCRUB_FUNCTION)}) IS NOT NULL THEN
        EXECUTE format('REVOKE ALL ON FUNCTION {SCRUB_FUNCTION} FROM PUBLIC, %I', retention_role);
        EXECUTE format('GRANT EXECUTE ON FUNCTION {SCRUB_FUNCTION} TO %I', app_role);
    END IF;
END
$grants$
"""  # noqa: S608 (no input but the validated role names, written as quoted literals)


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


def ensure_app_role(
    settings: Settings,
    *,
    entra_admin: str | None = None,
    entra_object_id: str | None = None,
    retention_entra_object_id: str | None = None,
) -> dict[str, bool]:
    """Create the runtime role DB_APP_ROLE and the retention role DB_RETENTION_ROLE unless
    they exist, and (re)apply their limits. Idempotent.

    Without ``entra_admin``: signs in with MIGRATION_DATABASE_URL (which needs
    CREATEROLE) and makes login roles whose passwords are DATABASE_URL's and
    RETENTION_DATABASE_URL's (when those URLs sign in as the role). With
    ``entra_admin`` and the identities' object ids (Azure): signs in to the
    same server's ``postgres`` database as that Entra administrator, with its
    token (``az login``), and maps each role to its managed identity. Returns
    each role's name and whether it was created.
    """
    if entra_admin and not (entra_object_id and retention_entra_object_id):
        raise ValueError("roles for Microsoft Entra identities need both identities' object ids")
    wanted = (
        (settings.db_app_role, settings.database_url, entra_object_id),
        (settings.db_retention_role, settings.retention_database_url, retention_entra_object_id),
    )
    created: dict[str, bool] = {}
    engine = _administrator_engine(settings, entra_admin)
    try:
        with engine.begin() as connection:
            for role, url, object_id in wanted:
                if entra_admin and object_id:
                    created[role] = ensure_entra_role(connection, role, object_id)
                else:
                    created[role] = ensure_password_role(connection, role, _password_for(url, role))
                set_role_limits(
                    connection,
                    role,
                    statement_timeout_seconds=settings.db_statement_timeout_seconds,
                    idle_in_transaction_timeout_seconds=settings.db_idle_in_transaction_timeout_seconds,
                )
    finally:
        engine.dispose()
    return created


def _password_for(url: str | None, role: str) -> str | None:
    """The password ``url`` signs in with, when it signs in as ``role``."""
    if url is None:
        return None
    parsed = make_url(url)
    return parsed.password if parsed.username == role else None


def _administrator_engine(settings: Settings, entra_admin: str | None) -> Engine:
    """The owner's connection, or the server's ``postgres`` database as an Entra administrator (its token)."""

    url = make_url(settings.owner_database_url)
    if entra_admin:
        url = url.set(username=entra_admin, password=None, database="postgres")
    engine = create_engine(url, poolclass=pool.NullPool, connect_args={"ssl_context": ssl_context(settings.db_ssl)})
    if entra_admin:
        sign_in_with_entra_tokens(engine, None)  # the operator's own sign-in (az login)
    return engine
