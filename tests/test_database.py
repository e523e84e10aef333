"""The unit of work is a real transaction; read_only() opens none."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select, text

from shared.database import read_only, unit_of_work
from shared.models import EmailOutbox


def _count(address: str) -> int:
    with read_only() as db:
        return db.scalar(select(func.count()).select_from(EmailOutbox).where(EmailOutbox.to_address == address))


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


def _driver_status(db) -> bytes:
    """pg8000's view of the server's transaction status: b"I" idle, b"T" in a transaction."""
    return db.connection().connection.dbapi_connection._transaction_status


def test_unit_of_work_runs_in_a_transaction_and_read_only_in_none() -> None:
    with unit_of_work() as db:
        db.scalar(text("SELECT 1"))
        assert _driver_status(db) == b"T"
    with read_only() as db:
        db.scalar(text("SELECT 1"))
        assert _driver_status(db) == b"I", "read_only() never opens a transaction"


def _terminate_our_backends() -> None:
    """What a server restart or PgBouncer does to pooled connections."""
    import os

    import sqlalchemy as sa

    admin = sa.create_engine(os.environ["DATABASE_URL"])
    with admin.begin() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'augeo-platform-api' AND pid <> pg_backend_pid() "
                "AND datname = current_database()"
            )
        )
    admin.dispose()


def test_idle_connection_killed_by_the_server_is_replaced_by_the_ping(functions) -> None:
    import azure.functions as func

    from tests.conftest import settings_changed

    with settings_changed(DB_PING_AFTER_IDLE_SECONDS="0"):
        health = functions["health"]
        assert health(func.HttpRequest("GET", "/health", body=b"")).status_code == 200
        _terminate_our_backends()
        response = health(func.HttpRequest("GET", "/health", body=b""))
    assert response.status_code == 200, response.get_body()


def test_hot_connection_killed_by_the_server_is_a_503_not_a_500(functions) -> None:
    """Within the idle threshold there is no ping: the query itself finds a dead
    connection, the pool discards it, and the caller gets 503 (never 500) until
    every dead pooled connection is gone, then 200 again."""
    import azure.functions as func

    from tests.conftest import settings_changed

    with settings_changed(DB_PING_AFTER_IDLE_SECONDS="3600"):
        assert functions["health"](func.HttpRequest("GET", "/health", body=b"")).status_code == 200
        _terminate_our_backends()
        answers = [functions["health"](func.HttpRequest("GET", "/health", body=b"")) for _ in range(6)]
    statuses = [answer.status_code for answer in answers]
    assert statuses[0] == 503 and b'"database":"unavailable"' in answers[0].get_body()
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[-1] == 200, statuses
