"""Test set-up: real PostgreSQL and Redis, the local server over real HTTP.

DATABASE_URL / REDIS_URL from the environment are used as they are (CI points
them at a fresh database); when unset, embedded servers start under .data/.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
EMAIL_DIR = Path(tempfile.mkdtemp(prefix="augeo-test-emails-"))


def pytest_configure(config: pytest.Config) -> None:
    """Point the app at real services before any of its modules reads settings."""
    os.environ["ENVIRONMENT"] = "test"
    os.environ.setdefault("JWT_SECRET_KEY", secrets.token_urlsafe(48))
    os.environ.setdefault("BCRYPT_ROUNDS", "4")
    os.environ["EMAIL_BACKEND"] = "file"
    os.environ["EMAIL_FILE_DIR"] = str(EMAIL_DIR)
    os.environ.setdefault("CORS_ORIGINS", "http://localhost:3000")
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        from devtools.services import start_embedded_postgres, start_embedded_redis

        if not os.environ.get("DATABASE_URL"):
            os.environ["DATABASE_URL"] = start_embedded_postgres(database="augeo_test", fresh=True)
        if not os.environ.get("REDIS_URL"):
            os.environ["REDIS_URL"] = start_embedded_redis()
    from alembic import command
    from alembic.config import Config

    alembic_config = Config(str(ROOT / "alembic.ini"))
    alembic_config.attributes["configure_logger"] = False
    command.upgrade(alembic_config, "head")


@pytest.fixture(scope="session")
def local_server() -> Iterator[Any]:
    """The FunctionApp behind the local dev server on an ephemeral port."""
    from devtools.local_server import create_server, serve_in_thread

    server = create_server("127.0.0.1", 0)
    serve_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def base_url(local_server: Any) -> str:
    host, port = local_server.server_address[:2]
    return f"http://{host}:{port}"


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
def functions(local_server: Any) -> dict[str, Callable[..., Any]]:
    """Each registered function by name, for in-process calls."""
    return {route.name: route.call for route in local_server.router.routes}


def _reset_clients() -> None:
    from shared.config import get_settings
    from shared.database import dispose_engine
    from shared.redis_client import reset_redis

    get_settings.cache_clear()
    dispose_engine()
    reset_redis()


@contextmanager
def settings_changed(**env: str) -> Iterator[None]:
    """Run with some settings changed; process-wide clients are rebuilt around it."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    _reset_clients()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _reset_clients()


@pytest.fixture
def unique_email() -> Callable[[str], str]:
    def make(prefix: str = "user") -> str:
        return f"{prefix}-{secrets.token_hex(6)}@example.org"

    return make
