"""Which exceptions mean "a dependency is down" (503) rather than a bug (500), and what
PostgreSQL said when it refused a statement."""

from __future__ import annotations

from typing import Any

import redis.exceptions
from sqlalchemy import exc as sa_exc

# PostgreSQL SQLSTATE classes that describe the server, not our query:
# 08 connection exception, 53 insufficient resources, 57 operator intervention
# (includes 57014 statement timeout), 58 system error.
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57", "58")

_REDIS_UNAVAILABLE_REPLIES = ("OOM", "LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY")


_UNIQUE_VIOLATION = "23505"


def sqlstate(error: Any) -> str | None:
    """The SQLSTATE PostgreSQL answered (pg8000 carries it as ``C``), if the error holds one."""
    detail = error.orig.args[0] if error.orig is not None and error.orig.args else None
    if isinstance(detail, dict):
        code = detail.get("C")
        return code if isinstance(code, str) else None
    return None


def is_dependency_failure(error: BaseException) -> bool:  # noqa: PLR0911 (a flat list of cases)
    """True when ``error`` says PostgreSQL or Redis could not serve us."""
    unavailable = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ReadOnlyError)
    if isinstance(error, unavailable):
        return True
    if isinstance(error, redis.exceptions.ResponseError):
        return str(error).startswith(_REDIS_UNAVAILABLE_REPLIES)
    if isinstance(error, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        state = sqlstate(error)
        return state is not None and state[:2] in _UNAVAILABLE_SQLSTATE_CLASSES
    return isinstance(error, ConnectionError | TimeoutError)


def is_unique_violation(error: sa_exc.IntegrityError) -> bool:
    """True when PostgreSQL refused a row because a unique constraint already holds its value."""
    return sqlstate(error) == _UNIQUE_VIOLATION
