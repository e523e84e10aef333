"""Unit tests: no PostgreSQL, no Redis, no subprocess, no server; `make test-unit` runs them alone.

Some code reads the process-wide settings, which require a database and a
Redis URL. When the session has none (the unit tests alone), these name ports
nothing listens on: a unit test that tried to reach a server would fail at
once rather than find one. In a full run the integration tests' real URLs are
already set and stay.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.settings import settings_changed

UNREACHABLE = {
    "DATABASE_URL": "postgresql+pg8000://unit-tests@127.0.0.1:9/no_database",
    "REDIS_URL": "redis://127.0.0.1:9/0",
}


@pytest.fixture(scope="session", autouse=True)
def _settings_without_servers() -> Iterator[None]:
    missing = {name: url for name, url in UNREACHABLE.items() if not os.environ.get(name)}
    with settings_changed(**missing):
        yield
