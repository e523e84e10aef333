"""What this service changes in pg8000, its PostgreSQL driver, and why: one module per driver.

Each patch reaches into pg8000 beyond its documented API (a private
attribute, a module function replaced), so each was written against one
release, :data:`PATCHED_VERSION`, which ``requirements.txt`` pins. A test
fails when the installed driver is another release: upgrading pg8000 means
reading these patches against its new code first.

- :func:`set_read_timeout`: pg8000 takes one ``timeout`` for a connection's
  whole life; its socket is the one place to give connecting, pinging and
  statements different bounds.
- :func:`drive_in_autocommit`: the driver never sends BEGIN itself (it would
  before the first statement of every transaction, including a ping), so
  SQLAlchemy decides when a transaction starts (``shared.database``); and
  timestamps are parsed by ``datetime.fromisoformat``, not ``strptime``.
- :func:`end_transactions_in_one_round_trip`: COMMIT and ROLLBACK go out as
  one simple query each, and only while the server holds a transaction open
  (pg8000's own commit is three waits on the server).
- :func:`cache_paramstyle_conversion`: pg8000 converts the parameter style of
  the SQL text, scanning it character by character, on every execution;
  SQLAlchemy sends the same text every time, so each text is converted once.

What each saves is measured in BENCHMARKS.md (``make bench``), not here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

import pg8000.converters as pg8000_converters
import pg8000.legacy as pg8000_legacy
from sqlalchemy import Engine, event

# The pg8000 release these patches were written and tested against (requirements.txt pins it).
PATCHED_VERSION = "1.31.6"

_TIMESTAMPTZ_OID = 1184


def set_read_timeout(dbapi_connection: Any, seconds: float) -> None:
    """Bound every wait for the server on this connection to ``seconds`` (pg8000's ``_usock``)."""
    dbapi_connection._usock.settimeout(seconds)


def _timestamptz_from_text(data: str) -> object:
    """PostgreSQL writes timestamps in ISO 8601: ``fromisoformat`` reads them exactly, and cheaply."""
    try:
        return datetime.fromisoformat(data)
    except ValueError:  # infinity, or beyond Python's datetime range
        return pg8000_converters.timestamptz_in(data)


def drive_in_autocommit(engine: Engine) -> None:
    """Every new connection of ``engine``: the driver in autocommit mode, timestamps read by fromisoformat.

    In autocommit mode pg8000 sends no BEGIN of its own; the engine sends one
    when SQLAlchemy begins a transaction (the recipe SQLAlchemy documents for
    drivers that manage transactions themselves; ``shared.database``).
    """

    @event.listens_for(engine, "connect")
    def _autocommit(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.autocommit = True
        dbapi_connection.register_in_adapter(_TIMESTAMPTZ_OID, _timestamptz_from_text)


def end_transactions_in_one_round_trip(engine: Engine) -> None:
    """The dialect's commit and rollback: one simple query each, only when a transaction is open.

    pg8000's commit() and rollback() send their word as an extended-protocol
    statement (Parse, Describe/Bind, Execute: three waits on the server); a
    statement without parameters goes out as one simple query, as BEGIN does.
    """
    engine.dialect.do_commit = _ending_with("COMMIT")  # type: ignore[method-assign, assignment]
    engine.dialect.do_rollback = _ending_with("ROLLBACK")  # type: ignore[method-assign, assignment]


def _ending_with(word: str) -> Callable[[Any], None]:
    def end_transaction(dbapi_connection: Any) -> None:
        # pg8000 tracks the server's ReadyForQuery status; a session without a transaction never began one.
        if dbapi_connection._in_transaction:
            dbapi_connection.cursor().execute(word)

    return end_transaction


def cache_paramstyle_conversion() -> None:
    """Convert each distinct SQL text once (positional styles only: the values pass through
    untouched, so the converted text depends on the text alone). Process-wide, applied once."""
    original = pg8000_legacy.convert_paramstyle
    if getattr(original, "augeo_cached", False):
        return

    @lru_cache(maxsize=1024)
    def converted_text(style: str, query: str) -> str:
        text: str = original(style, query, ())[0]
        return text

    def convert_paramstyle(style: str, query: str, args: Any) -> tuple[str, Any]:
        if style in ("format", "numeric", "qmark"):
            return converted_text(style, query), args
        return original(style, query, args)  # type: ignore[no-any-return]

    convert_paramstyle.augeo_cached = True  # type: ignore[attr-defined]
    pg8000_legacy.convert_paramstyle = convert_paramstyle
