"""The unit of work is a real transaction; without_transaction() opens none."""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import select as io_select
import socket
import time
from collections.abc import Callable
from typing import Any, cast

import pytest
from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from shared.database import unit_of_work, without_transaction
from shared.models import EmailOutbox


def _count(address: str) -> int:
    with without_transaction() as db:
        count = db.scalar(select(func.count()).select_from(EmailOutbox).where(EmailOutbox.to_address == address))
    assert count is not None, "COUNT(*) returns a row"
    return count


def _outbox_row(address: str) -> EmailOutbox:
    return EmailOutbox(to_address=address, subject="s", text_body="t", html_body="h", template="test")


def test_unit_of_work_rolls_back_everything_on_error() -> None:
    address = f"rollback-{secrets.token_hex(4)}@example.org"
    with pytest.raises(RuntimeError), unit_of_work() as db:
        db.add(_outbox_row(address))
        db.flush()  # the row reached the server inside the transaction
        raise RuntimeError("boom")
    assert _count(address) == 0


def test_unit_of_work_commits() -> None:
    address = f"commit-{secrets.token_hex(4)}@example.org"
    with unit_of_work() as db:
        db.add(_outbox_row(address))
    assert _count(address) == 1


def _driver_status(db: Session) -> bytes:
    """pg8000's view of the server's transaction status: b"I" idle, b"T" in a transaction."""
    dbapi_connection = db.connection().connection.dbapi_connection
    assert dbapi_connection is not None, "the session holds a live connection"
    return cast(bytes, dbapi_connection._transaction_status)  # pg8000's own attribute: untyped


def test_unit_of_work_runs_in_a_transaction_and_without_transaction_in_none() -> None:
    with unit_of_work() as db:
        db.scalar(text("SELECT 1"))
        assert _driver_status(db) == b"T"
    with without_transaction() as db:
        db.scalar(text("SELECT 1"))
        assert _driver_status(db) == b"I", "without_transaction() never opens a transaction"


def _waits_on_the_server(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each time pg8000 flushes its socket it then waits for the server's answer: count those."""
    import pg8000.core

    flushes: list[int] = []
    real_flush: Callable[[Any], None] = pg8000.core._flush

    def counting_flush(sock: Any) -> None:
        flushes.append(1)
        real_flush(sock)

    monkeypatch.setattr(pg8000.core, "_flush", counting_flush)
    return flushes


def test_a_transaction_is_begin_its_statements_and_commit_one_round_trip_each(monkeypatch: pytest.MonkeyPatch) -> None:
    with unit_of_work() as db:
        db.scalar(text("SELECT 1"))  # a warm pooled connection, so no ping below
    waits = _waits_on_the_server(monkeypatch)
    with unit_of_work() as db:
        db.scalar(text("SELECT 1"))
    assert len(waits) == 3, "BEGIN, the statement, COMMIT"
    with contextlib.suppress(RuntimeError), unit_of_work() as db:
        db.scalar(text("SELECT 1"))
        raise RuntimeError
    assert len(waits) == 6, "BEGIN, the statement, ROLLBACK"
    with without_transaction() as db:
        db.scalar(text("SELECT 1"))
    assert len(waits) == 7, "without_transaction(): the statement alone, no COMMIT or ROLLBACK"


def _terminate_our_backends() -> None:
    """What a server restart or PgBouncer does to pooled connections (this suite's database only)."""
    from tests.support.database import owner_engine

    admin = owner_engine()
    with admin.begin() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'augeo-platform-api' AND datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
        )
    admin.dispose()


def test_idle_connection_killed_by_the_server_is_replaced_by_the_ping(functions: dict[str, Callable[..., Any]]) -> None:
    import azure.functions as func

    from tests.support.settings import settings_changed

    with settings_changed(DB_PING_AFTER_IDLE_SECONDS="0"):
        health = functions["health"]
        assert health(func.HttpRequest("GET", "/health", body=b"")).status_code == 200
        _terminate_our_backends()
        response = health(func.HttpRequest("GET", "/health", body=b""))
    assert response.status_code == 200, response.get_body()


def test_hot_connection_killed_by_the_server_is_a_503_not_a_500(functions: dict[str, Callable[..., Any]]) -> None:
    """Within the idle threshold there is no ping: the query itself finds a dead
    connection, the pool discards it, and the caller gets 503 (never 500) until
    every dead pooled connection is gone, then 200 again."""
    import azure.functions as func

    from tests.support.settings import settings_changed

    with settings_changed(DB_PING_AFTER_IDLE_SECONDS="3600"):
        assert functions["health"](func.HttpRequest("GET", "/health", body=b"")).status_code == 200
        _terminate_our_backends()
        answers = [functions["health"](func.HttpRequest("GET", "/health", body=b"")) for _ in range(6)]
    statuses = [answer.status_code for answer in answers]
    assert statuses[0] == 503 and b'"database":"unavailable"' in answers[0].get_body()
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[-1] == 200, statuses


# -- a restart: one warning line per lost connection ------------------------------------


def _driver_socket(connection: Connection) -> socket.socket:
    """The socket pg8000 talks to the server on, under a pooled connection."""
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None, "the connection is live"
    return cast(socket.socket, dbapi_connection._usock)  # pg8000's own attribute: untyped


def _wait_for_the_servers_reset(sockets: list[socket.socket]) -> None:
    """Let each terminated backend's hang-up arrive, and its reset (RST) too.

    A remote server's reset is long there when the pool next touches the
    connection; on loopback it may follow the pool's first write by a moment,
    and the pool's goodbye would then still succeed. One byte on a socket the
    server has closed draws the reset now, so every write after it fails.
    """
    for sock in sockets:
        io_select.select([sock], [], [], 5)  # the server's FIN
        with contextlib.suppress(OSError):
            sock.send(b"\0")
    time.sleep(0.1)


@pytest.mark.parametrize("ping_after_idle", ["0", "3600"], ids=["idle-connections-pinged", "hot-connections"])
def test_connections_a_restart_dropped_are_one_warning_line_each(
    functions: dict[str, Callable[..., Any]], caplog: pytest.LogCaptureFixture, ping_after_idle: str
) -> None:
    """SQLAlchemy logged each dead connection it closed at ERROR with two tracebacks;
    it is expected and handled, so it is a WARNING line, and any other pool error stays ERROR."""
    import azure.functions as func

    from shared.database import get_engine
    from tests.support.settings import settings_changed

    caplog.set_level(logging.WARNING, logger="sqlalchemy")
    with settings_changed(DB_PING_AFTER_IDLE_SECONDS=ping_after_idle):
        with get_engine().connect() as first, get_engine().connect() as second:  # two pooled connections
            first.execute(text("SELECT 1"))
            second.execute(text("SELECT 1"))
            sockets = [_driver_socket(connection) for connection in (first, second)]
        _terminate_our_backends()
        _wait_for_the_servers_reset(sockets)
        caplog.clear()
        statuses = [functions["health"](func.HttpRequest("GET", "/health", body=b"")).status_code for _ in range(4)]
    assert statuses[-1] == 200, statuses
    pool_records = [record for record in caplog.records if record.name.startswith("sqlalchemy")]
    assert len(pool_records) == 2, "one line for each lost connection"
    for record in pool_records:
        assert record.levelno == logging.WARNING, (record.levelname, record.getMessage())
        assert record.exc_info is None and not record.exc_text, "no traceback"
        message = record.getMessage()
        assert "\n" not in message and message.startswith("PostgreSQL connection lost"), message
        assert "password" not in message.lower()


def test_other_pool_errors_keep_their_level_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    from shared.database import get_engine

    logger = logging.getLogger("sqlalchemy.pool.impl.QueuePool")
    assert get_engine().pool.logger in (logger, getattr(get_engine().pool.logger, "logger", None))
    caplog.set_level(logging.WARNING, logger="sqlalchemy")
    try:
        raise ValueError("a bug in a reset handler")
    except ValueError:
        logger.error("Exception during reset or similar", exc_info=True)
    (record,) = [record for record in caplog.records if record.name == logger.name]
    assert record.levelno == logging.ERROR and record.exc_info is not None


# -- a hung server: 503 after one ping and one connection attempt ---------------------------


def test_a_hung_server_is_a_503_after_one_ping_and_one_new_connection(
    functions: dict[str, Callable[..., Any]],
) -> None:
    """The worst case: a pooled connection is idle, so it is pinged (no answer), and the pool
    tries one new connection (accepted, never answered), then answers 503: one ping and one
    connection attempt, never more. How long those waits are (DB_PING_TIMEOUT_SECONDS and
    DB_CONNECT_TIMEOUT_SECONDS, under 3 s with the defaults) is measured by ``make bench``."""
    import os

    import azure.functions as func
    from sqlalchemy.engine import make_url

    from tests.support.hung_server import HangingProxy, upstream_address
    from tests.support.settings import settings_changed

    app_url = make_url(os.environ["DATABASE_URL"])
    with HangingProxy(upstream_address(os.environ["DATABASE_URL"])) as proxy:
        through_proxy = app_url.set(host="127.0.0.1", port=proxy.port, query={})
        with settings_changed(
            DATABASE_URL=through_proxy.render_as_string(hide_password=False), DB_PING_AFTER_IDLE_SECONDS="0"
        ):
            assert functions["health"](func.HttpRequest("GET", "/health", body=b"")).status_code == 200
            proxy.hang()
            body = json.dumps({"email": "nobody@example.org", "password": "Whatever-123"}).encode()
            request = func.HttpRequest(
                "POST", "/api/v1/auth/login", headers={"Content-Type": "application/json"}, body=body
            )
            response = functions["auth_login"](request)
    assert response.status_code == 503, response.get_body()
    assert proxy.accepted_while_hung == 1, "the idle connection was pinged, then one new connection tried"


# -- Microsoft Entra sign-in ----------------------------------------------------------------


class _FakeCredential:
    """Stands in for DefaultAzureCredential (no Azure here); PostgreSQL stays real."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **_options: object) -> object:
        from azure.core.credentials import AccessToken
        from azure.core.exceptions import ClientAuthenticationError

        self.scopes.append(scopes)
        if self.token is None:
            raise ClientAuthenticationError("managed identity endpoint unreachable")
        return AccessToken(self.token, int(time.time()) + 3600)


def _urls_without_passwords() -> dict[str, str]:
    """The app's and the retention job's URLs as Microsoft Entra sign-in needs them: no password."""
    import os

    from sqlalchemy.engine import make_url

    return {
        name: make_url(os.environ[name])._replace(password=None).render_as_string(hide_password=False)
        for name in ("DATABASE_URL", "RETENTION_DATABASE_URL")
    }


def test_entra_sign_in_sends_a_token_as_the_password_of_each_new_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    from sqlalchemy import event
    from sqlalchemy.engine import make_url

    from shared import database
    from tests.support.settings import settings_changed

    app_url = make_url(os.environ["DATABASE_URL"])
    # The real password where the server checks one (the embedded server); a trusting server ignores it.
    credential = _FakeCredential(app_url.password or "eyJ0eXAi.not-a-real-token")
    identities: list[str | None] = []

    def credential_of(client_id: str | None) -> _FakeCredential:
        identities.append(client_id)
        return credential

    monkeypatch.setattr(database, "_entra_credential", credential_of)
    sent: list[str] = []
    entra = {"DB_AUTH": "entra", "DB_ENTRA_CLIENT_ID": "client-id-of-app", **_urls_without_passwords()}
    with settings_changed(**entra):
        engine = database.get_engine()
        event.listen(engine, "do_connect", lambda _d, _r, _a, cparams: sent.append(cparams["password"]))
        with engine.connect() as first, engine.connect() as second:
            users = {first.scalar(text("SELECT current_user")), second.scalar(text("SELECT current_user"))}
        with engine.connect() as pooled:  # no new connection, no new token
            pooled.scalar(text("SELECT 1"))
    assert users == {os.environ["DB_APP_ROLE"]}
    assert sent == [credential.token] * 2
    assert credential.scopes == [("https://ossrdbms-aad.database.windows.net/.default",)] * 2
    assert set(identities) == {"client-id-of-app"}


def test_entra_sign_in_without_a_token_is_a_503(
    functions: dict[str, Callable[..., Any]], monkeypatch: pytest.MonkeyPatch
) -> None:

    import azure.functions as func

    from shared import database
    from tests.support.settings import settings_changed

    monkeypatch.setattr(database, "_entra_credential", lambda client_id: _FakeCredential(None))
    with settings_changed(DB_AUTH="entra", **_urls_without_passwords()):
        response = functions["health"](func.HttpRequest("GET", "/health", body=b""))
    assert response.status_code == 503
    assert b'"database":"unavailable"' in response.get_body()
