"""What every test needs, and nothing that reaches a server: the settings of a test run.

tests/unit runs with this alone (`make test-unit`: no PostgreSQL, no Redis, no
subprocess, in seconds). tests/integration/conftest.py, loaded only when its
tests are collected, finds or starts PostgreSQL and Redis and serves the app.
Helpers are in tests/support.
"""

from __future__ import annotations

import pytest

from tests.support.settings import use_test_settings


def pytest_configure(config: pytest.Config) -> None:
    """Before any of the app's modules reads a setting."""
    use_test_settings()
