"""The request pipeline every trigger shares, over HTTP through the local server (in-process: tests/unit)."""

from __future__ import annotations

from typing import Any

import azure.functions as func
import httpx

from tests.support.settings import production_settings, settings_changed


def test_unknown_route_is_404_in_error_shape(client: httpx.Client) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "NOT_FOUND"
    assert error["request_id"] == response.headers["x-request-id"]


def test_wrong_method_is_405_with_allow(client: httpx.Client) -> None:
    response = client.delete("/health")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_request_id_is_echoed_or_created(client: httpx.Client) -> None:
    assert client.get("/api", headers={"X-Request-ID": "trace-123"}).headers["x-request-id"] == "trace-123"
    created = client.get("/api").headers["x-request-id"]
    assert len(created) == 32
    hostile = client.get("/api", headers={"X-Request-ID": "evil\tvalue with spaces"}).headers["x-request-id"]
    assert hostile != "evil\tvalue with spaces" and len(hostile) == 32


def test_openapi_lists_the_registered_platform_routes(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    assert {"/health", "/api", "/.well-known/jwks.json"} <= set(document["paths"])
    # Neither the catch-all nor the document and its viewers: a generated client has no use for them.
    assert not {"/{path}", "/openapi.json", "/docs", "/redoc", "/docs/assets/{name}"} & set(document["paths"])
    assert "ErrorResponse" in document["components"]["schemas"]


def test_oversized_body_over_http_is_413(client: httpx.Client) -> None:
    body = b'{"email":"a@example.org","password":"' + b"x" * (1024 * 1024 + 10) + b'"}'
    response = client.post("/api/v1/auth/login", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "PAYLOAD_TOO_LARGE" and error["details"] == {"max_bytes": 1024 * 1024}


def test_hsts_on_every_production_response(functions: dict[str, Any]) -> None:
    request = func.HttpRequest("GET", "/api", body=b"")
    with settings_changed(**production_settings()):
        assert functions["api_index"](request).headers["Strict-Transport-Security"].startswith("max-age=")
        assert "Strict-Transport-Security" in functions["route_not_found"](request).headers
    assert "Strict-Transport-Security" not in functions["api_index"](request).headers
