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
