"""What the clients send during a block: Redis round trips and SQL statements."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest


class RoundTrips:
    """What the clients sent during a block: Redis round trips and SQL statements."""

    def __init__(self) -> None:
        self.redis: list[object] = []
        self.sql: list[str] = []

    @property
    def statements(self) -> list[str]:
        """SQL statements other than the transaction's own BEGIN."""
        return [statement for statement in self.sql if statement.strip().upper() != "BEGIN"]


@contextmanager
def counting_round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[RoundTrips]:
    """Count packed commands written to Redis sockets and statements sent to PostgreSQL."""
    import redis.connection
    from sqlalchemy import event

    from shared.database import get_engine

    seen = RoundTrips()
    # redis-py leaves send_packed_command unannotated: this is its signature.
    real_send: Callable[[Any, Any, bool], None] = redis.connection.AbstractConnection.send_packed_command

    def counting_send(self: Any, command: Any, check_health: bool = True) -> None:
        seen.redis.append(command)
        real_send(self, command, check_health)

    def count_statement(*args: Any) -> None:
        seen.sql.append(args[2])

    with monkeypatch.context() as patch:
        patch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting_send)
        event.listen(get_engine(), "before_cursor_execute", count_statement)
        try:
            yield seen
        finally:
            event.remove(get_engine(), "before_cursor_execute", count_statement)
