"""The SQLAlchemy engine (one per process) and the unit of work.

A function app may run on hundreds of instances while a small PostgreSQL
allows a few dozen connections, so the pool is small and bounded, pre-pings
connections (PgBouncer or the server may have dropped them), recycles them,
and gives up on checkout after a short timeout instead of queueing forever.

Every wait on the server is bounded on the client too: connecting
(DB_CONNECT_TIMEOUT_SECONDS), the pre-ping (DB_PING_TIMEOUT_SECONDS) and each
statement (the server's own statement_timeout plus a second). A server that
accepts connections and never answers costs a request one ping and one
connect attempt, then 503.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import pg8000.exceptions as pg8000_exceptions
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError, InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from shared import pg8000_patches
from shared.config import Settings, get_settings

# A statement the server is still working on is the server's to cancel
# (statement_timeout, a clean 57014); the client gives up this much later, when
# the server itself has stopped answering.
STATEMENT_TIMEOUT_MARGIN_SECONDS = 1.0
# Scope of Microsoft Entra tokens for Azure Database for PostgreSQL.
ENTRA_TOKEN_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"

_lock = threading.Lock()
_engine: Engine | None = None
_session_factory: sessionmaker[Session] | None = None


def ssl_context(mode: str) -> ssl.SSLContext | bool:
    """pg8000's ``ssl_context``: False for no TLS, else a context for the mode."""
    if mode == "disable":
        return False
    context = ssl.create_default_context()
    if mode == "require":  # encrypted, certificate not checked
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def build_engine(settings: Settings) -> Engine:
    """Create an engine with the pool limits and timeouts of ``settings``.

    No per-connection ``SET`` here: behind PgBouncer in transaction mode a
    session setting lands on whichever server connection is current. The
    runtime role's limits (``statement_timeout``, ...) are set on the role in
    the server (``shared.database_roles``).
    """
    engine = create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_recycle=settings.db_pool_recycle_seconds,
        pool_pre_ping=False,  # replaced by _ping_after_idle: the same check, not on hot connections
        connect_args={
            # pg8000's socket timeout while connecting (each read of the handshake)
            "timeout": settings.db_connect_timeout_seconds,
            "application_name": "augeo-platform-api",
            "ssl_context": ssl_context(settings.db_ssl),
        },
    )
    read_timeout = settings.db_statement_timeout_seconds + STATEMENT_TIMEOUT_MARGIN_SECONDS
    _begin_transactions_explicitly(engine)
    _bound_reads_once_connected(engine, read_timeout)
    _ping_after_idle(engine, settings.db_ping_after_idle_seconds, settings.db_ping_timeout_seconds, read_timeout)
    if settings.db_auth == "entra":
        sign_in_with_entra_tokens(engine, settings.db_entra_client_id)
    _report_lost_connections_as_warnings(engine)
    pg8000_patches.cache_paramstyle_conversion()
    return engine


def build_retention_engine(settings: Settings, url: str) -> Engine:
    """The retention job's connection (RETENTION_DATABASE_URL, as DB_RETENTION_ROLE).

    No pool: the job runs once an hour on an instance of its own and must hold
    nothing between runs, so it costs the server one connection while it runs.
    The waits are bounded as the app's are (connecting, each statement); with
    DB_AUTH=entra it signs in as its own managed identity
    (DB_RETENTION_ENTRA_CLIENT_ID), never the app's.
    """
    engine = create_engine(
        url,
        poolclass=NullPool,
        connect_args={
            "timeout": settings.db_connect_timeout_seconds,
            "application_name": "augeo-retention",
            "ssl_context": ssl_context(settings.db_ssl),
        },
    )
    _bound_reads_once_connected(engine, settings.db_statement_timeout_seconds + STATEMENT_TIMEOUT_MARGIN_SECONDS)
    if settings.db_auth == "entra":
        sign_in_with_entra_tokens(engine, settings.db_retention_entra_client_id)
    return engine


def _bound_reads_once_connected(engine: Engine, read_timeout: float) -> None:
    """After the handshake, a statement may wait for the server's statement_timeout and a margin."""

    @event.listens_for(engine, "connect")
    def _statement_reads(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        pg8000_patches.set_read_timeout(dbapi_connection, read_timeout)


def _ping_after_idle(engine: Engine, idle_seconds: float, ping_timeout: float, read_timeout: float) -> None:
    """Pre-ping a pooled connection that sat idle for ``idle_seconds`` or more.

    A server, PgBouncer or a NAT drops idle connections after minutes, never
    within seconds of their last use; pinging every checkout (SQLAlchemy's
    ``pool_pre_ping``) would add a round trip to every request. 0 pings every
    checkout of a used connection; a connection just made is never pinged.

    The ping waits ``ping_timeout`` at most. When it fails the server has most
    likely restarted or hung, so every pooled connection made before now is
    discarded (InvalidatePoolError) and the pool tries one new connection: a
    request pays at most one ping and one connect timeout before its 503.
    """

    def _used_and_idle_from_now(_dbapi_connection, record, *_args):  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()

    def _fresh(_dbapi_connection, record):  # type: ignore[no-untyped-def]
        record.info["idle_since"] = None

    event.listen(engine, "connect", _fresh)
    event.listen(engine, "checkin", _used_and_idle_from_now)

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, record, _proxy):  # type: ignore[no-untyped-def]
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            pg8000_patches.set_read_timeout(dbapi_connection, ping_timeout)
            cursor = dbapi_connection.cursor()
            cursor.execute(";")
            cursor.close()
            pg8000_patches.set_read_timeout(dbapi_connection, read_timeout)
        except Exception as error:
            raise InvalidatePoolError("pre-ping failed") from error


# -- Microsoft Entra sign-in (DB_AUTH=entra) --------------------------------------


@lru_cache(maxsize=4)
def _entra_credential(client_id: str | None) -> Any:
    """One credential per identity and process: it caches its token until shortly before expiry."""
    from azure.identity import DefaultAzureCredential  # noqa: PLC0415 (only with DB_AUTH=entra; heavy to import)

    if client_id:
        return DefaultAzureCredential(managed_identity_client_id=client_id)
    return DefaultAzureCredential()


def entra_token(client_id: str | None) -> str:
    """A Microsoft Entra access token for PostgreSQL: the password of a new connection.

    ``client_id`` names the user-assigned managed identity (the app in Azure);
    None lets DefaultAzureCredential choose (``az login`` for an operator).
    A failure is a DisconnectionError (503), and names no token.
    """
    try:
        token: str = _entra_credential(client_id).get_token(ENTRA_TOKEN_SCOPE).token
    except Exception as error:
        raise DisconnectionError(f"no Microsoft Entra token for PostgreSQL ({type(error).__name__})") from error
    return token


def sign_in_with_entra_tokens(engine: Engine, client_id: str | None) -> None:
    """Every new connection signs in with a current token (tokens live about an hour;
    pooled connections stay signed in, and the credential caches the token)."""

    @event.listens_for(engine, "do_connect")
    def _token_as_password(_dialect, _record, _cargs, cparams):  # type: ignore[no-untyped-def]
        cparams["password"] = entra_token(client_id)


# -- a lost connection is one warning line ----------------------------------------

_POOL_MESSAGES_ABOUT_A_CONNECTION = (
    "Exception terminating connection",
    "Exception closing connection",
    "Exception during reset or similar",
    "Error closing cursor",
)


def _is_connection_loss(error: BaseException | None) -> bool:
    """Whether ``error`` (or what caused it) says the socket to PostgreSQL is gone."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, OSError | pg8000_exceptions.InterfaceError | DisconnectionError):
            return True
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


class _ConnectionLossAsWarning(logging.Filter):
    """The pool's ERROR and traceback for closing a dead connection become one WARNING line.

    When PostgreSQL restarts (or PgBouncer, or a NAT, drops connections), the
    pool closes each dead connection it finds, and pg8000's goodbye message on
    the broken socket fails: SQLAlchemy logs that at ERROR with two chained
    tracebacks per connection. It is expected, handled (the request gets a new
    connection or a 503) and says nothing a line cannot. Any other error the
    pool logs keeps its level and traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            record.levelno >= logging.ERROR
            and record.exc_info
            and str(record.msg).startswith(_POOL_MESSAGES_ABOUT_A_CONNECTION)
            and _is_connection_loss(record.exc_info[1])
        ):
            error = record.exc_info[1]
            assert error is not None
            detail = (str(error).splitlines() or [""])[0]
            record.msg = "PostgreSQL connection lost; discarded from the pool (%s: %s)"
            record.args = (type(error).__name__, detail)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def _report_lost_connections_as_warnings(engine: Engine) -> None:
    """Attach the filter to the pool's own logger (a filter on a parent logger would not see it)."""
    wrapped = engine.pool.logger  # a logging.Logger, or SQLAlchemy's InstanceLogger around one (echo_pool)
    pool_logger: logging.Logger = wrapped if isinstance(wrapped, logging.Logger) else wrapped.logger
    if not any(isinstance(existing, _ConnectionLossAsWarning) for existing in pool_logger.filters):
        pool_logger.addFilter(_ConnectionLossAsWarning())


# The execution option of a connection that sends no BEGIN (see without_transaction).
_NO_BEGIN = "augeo_without_transaction"


def _begin_transactions_explicitly(engine: Engine) -> None:
    """Let SQLAlchemy, not pg8000, decide when a transaction starts.

    With the driver in autocommit mode (``pg8000_patches``) and BEGIN emitted
    when SQLAlchemy begins a transaction, the pre-ping is one round trip, a
    ``without_transaction()`` statement is one, and a unit of work is BEGIN,
    its statements and COMMIT.
    """
    pg8000_patches.drive_in_autocommit(engine)
    pg8000_patches.end_transactions_in_one_round_trip(engine)

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        if not connection.get_execution_options().get(_NO_BEGIN):
            connection.exec_driver_sql("BEGIN")


def get_engine() -> Engine:
    """The process-wide engine, created on first use."""
    global _engine, _session_factory
    if _engine is None:
        with _lock:
            if _engine is None:
                engine = build_engine(get_settings())
                _session_factory = sessionmaker(bind=engine, expire_on_commit=False)
                _engine = engine
    return _engine


def dispose_engine() -> None:
    """Close every pooled connection (tests and shutdown)."""
    global _engine, _session_factory
    with _lock:
        if _engine is not None:
            _engine.dispose()
        _engine = None
        _session_factory = None


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error, always close."""
    get_engine()
    assert _session_factory is not None
    session = _session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def without_transaction() -> Iterator[Session]:
    """A session that sends no BEGIN: each statement commits on its own, one round trip each.

    For plain reads, and for a write that is one statement needing nothing
    else to be atomic with it (an audit row that checks for its own twin).
    A row lock taken here (``FOR UPDATE``, ``FOR SHARE``) ends with its
    statement: it can make a read wait for a writer, never hold a row.
    """
    with get_engine().connect() as connection:
        connection.execution_options(**{_NO_BEGIN: True})
        with Session(bind=connection, expire_on_commit=False) as session:
            yield session
