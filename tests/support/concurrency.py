"""Races forced with locks, never with sleeps: hold a lock, wait until the racers queue on it, let go."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Connection


def any_app_connection_waiting_on_a_lock() -> bool:
    """Whether one of the app's connections waits for a lock now, looked at on a connection of its own."""
    from shared.database import get_engine

    with get_engine().connect() as probe:
        return app_connections_waiting_on_a_lock(probe) > 0


def app_connections_waiting_on_a_lock(probe: Connection) -> int:
    """How many of the app's connections wait for a lock right now (a race test's barrier)."""
    from sqlalchemy import text

    count = probe.execute(
        text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'augeo-platform-api' AND cardinality(pg_blocking_pids(pid)) > 0"
        )
    ).scalar_one()
    probe.rollback()  # activity statistics are a snapshot per transaction: look again next time
    return int(count)


# A user's row, locked as the services lock it before changing the user (``id``: the user's).
USER_ROW_LOCK = "SELECT 1 FROM users WHERE id = :id FOR UPDATE"


class LockWait:
    """A race test's barrier: locks the test holds, and a look at who waits for them."""

    def __init__(self, probe: Connection) -> None:
        self._probe = probe

    def waiting(self) -> int:
        """How many of the app's connections wait for a lock now."""
        return app_connections_waiting_on_a_lock(self._probe)

    def queued(self, expected: int) -> None:
        """Return once ``expected`` of the app's connections wait for a lock (fail after a while)."""
        wait_until(lambda: self.waiting() >= expected, f"{expected} of the app's connections waiting on a lock")


@contextmanager
def locks_held(statement: str, **parameters: object) -> Iterator[LockWait]:
    """Hold the locks ``statement`` takes, in a transaction of the test's own, until the block ends.

    The requests a race test starts queue on them; :meth:`LockWait.queued` says
    when they all have, so releasing the locks lets them run truly at once
    (never a sleep). The test's two connections (the holder, and the probe that
    watches pg_stat_activity) are its own, as the runtime role, outside the
    app's pool: every pooled connection is left to the requests that race.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(
        os.environ["DATABASE_URL"], poolclass=sa.pool.NullPool, connect_args={"application_name": "augeo-tests"}
    )
    try:
        with engine.connect() as holder, engine.connect() as probe:
            # The role ends a transaction idle for 10 s; the test's may wait longer, when a race goes wrong.
            holder.execute(sa.text("SET idle_in_transaction_session_timeout = 0"))
            holder.execute(sa.text(statement), parameters)
            try:
                yield LockWait(probe)
            finally:
                holder.rollback()
    finally:
        engine.dispose()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)
