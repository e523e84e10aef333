"""The local stand-in of the Functions host's CORS (devtools/host_cors.py, devtools/local_server.py).

None of this is deployed: in Azure the host's own middleware does it, built from
siteConfig.cors. These tests pin that the stand-in behaves like that middleware,
so a browser sees the same under `make run` as in Azure. What the product itself
adds to every response (exposed headers, Vary) is tested in test_browser_sessions.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import pytest

from devtools.host_cors import HostCorsPolicy
from devtools.local_server import LocalFunctionsServer, serve_in_thread, site_cors
from shared.config import DEVELOPMENT_CORS_ORIGINS
from tests.support.network import client_from, fresh_ip, served_at
from tests.support.settings import settings_changed

ALLOWED = "http://localhost:3000"  # CORS_ORIGINS of the suite (tests/conftest.py)
OTHER = "https://elsewhere.example.org"
HOST_CORS_HEADERS = ("access-control-allow-origin", "access-control-allow-credentials")
PREFLIGHT_ONLY = ("access-control-allow-headers", "access-control-allow-methods", "access-control-max-age")


def _preflight(http: httpx.Client, origin: str, method: str = "POST", headers: str | None = None) -> httpx.Response:
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        asked["Access-Control-Request-Headers"] = headers
    return http.options("/api/v1/auth/login", headers=asked)


@contextmanager
def _serving(server: LocalFunctionsServer) -> Iterator[httpx.Client]:
    serve_in_thread(server)
    try:
        with client_from(served_at(server), fresh_ip()) as http:
            yield http
    finally:
        server.shutdown()
        server.server_close()


def _host_with(local_server: Any, *origins: str) -> AbstractContextManager[httpx.Client]:
    """The same app behind a stand-in whose siteConfig.cors names ``origins``."""
    return _serving(LocalFunctionsServer(("127.0.0.1", 0), local_server.router, HostCorsPolicy(origins)))


def test_the_stand_in_takes_cors_origins_and_the_deployed_credentials(local_server: Any) -> None:
    assert local_server.cors == HostCorsPolicy((ALLOWED,), support_credentials=True)


def test_make_run_lets_the_usual_dev_servers_in_when_cors_origins_is_unset(local_server: Any) -> None:
    with settings_changed(ENVIRONMENT="development", CORS_ORIGINS=None):
        server = LocalFunctionsServer(("127.0.0.1", 0), local_server.router, site_cors())
    with _serving(server) as http:
        for origin in DEVELOPMENT_CORS_ORIGINS:
            assert _preflight(http, origin).headers["access-control-allow-origin"] == origin
        assert "access-control-allow-origin" not in _preflight(http, "http://localhost:8080").headers


def test_a_preflight_from_an_allowed_origin_gets_what_it_asked_for(client: httpx.Client) -> None:
    response = _preflight(client, ALLOWED, "PATCH", headers="content-type, x-requested-with")
    assert response.status_code == 204 and response.content == b""
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-allow-headers"] == "content-type,x-requested-with"
    assert response.headers["access-control-allow-methods"] == "PATCH"
    # The host sends no Max-Age, exposes nothing and, with one origin, adds no Vary.
    assert "access-control-max-age" not in response.headers
    assert "access-control-expose-headers" not in response.headers
    assert "vary" not in response.headers


def test_a_preflight_without_requested_headers_allows_none(client: httpx.Client) -> None:
    response = _preflight(client, ALLOWED, "GET")
    assert response.status_code == 204
    assert "access-control-allow-headers" not in response.headers
    assert response.headers["access-control-allow-methods"] == "GET"


def test_a_preflight_from_another_origin_is_a_204_without_any_cors_header(client: httpx.Client) -> None:
    response = _preflight(client, OTHER, headers="content-type")
    assert response.status_code == 204
    assert not {name for name in response.headers if name.startswith("access-control-")}


@pytest.mark.parametrize("origin", [ALLOWED, OTHER])
def test_a_preflight_never_reaches_a_function(client: httpx.Client, origin: str) -> None:
    response = _preflight(client, origin)
    assert "x-request-id" not in response.headers  # every function's answer carries one
    assert "vary" not in response.headers


def test_an_options_request_that_is_not_a_preflight_goes_to_the_function(client: httpx.Client) -> None:
    without_method = client.options("/api/v1/auth/login", headers={"Origin": ALLOWED})
    assert without_method.status_code == 405 and without_method.headers["x-request-id"]
    assert without_method.headers["access-control-allow-origin"] == ALLOWED
    without_origin = client.options("/api/v1/auth/login", headers={"Access-Control-Request-Method": "POST"})
    assert without_origin.status_code == 405
    assert not set(HOST_CORS_HEADERS) & set(without_origin.headers)


def test_a_response_to_an_allowed_origin_gets_allow_origin_and_credentials(client: httpx.Client) -> None:
    response = client.get("/api", headers={"Origin": ALLOWED})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-credentials"] == "true"
    assert not set(PREFLIGHT_ONLY) & set(response.headers)
    assert response.headers.get_list("vary") == ["Origin"]  # the product's; the host adds none for one origin


@pytest.mark.parametrize("headers", [{"Origin": OTHER}, {"Origin": "HTTP://LOCALHOST:3000"}, {}])
def test_other_origins_and_no_origin_get_nothing_from_the_host(client: httpx.Client, headers: dict[str, str]) -> None:
    response = client.get("/api", headers=headers)
    assert response.status_code == 200
    assert not set(HOST_CORS_HEADERS) & set(response.headers)


def test_errors_from_a_function_carry_the_hosts_headers_too(client: httpx.Client) -> None:
    response = client.get("/api/v1/users/me", headers={"Origin": ALLOWED})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == ALLOWED


def test_with_several_origins_the_host_adds_its_own_vary(local_server: Any) -> None:
    with _host_with(local_server, ALLOWED, "http://localhost:3001") as http:
        response = http.get("/api", headers={"Origin": "http://localhost:3001"})
        assert response.headers["access-control-allow-origin"] == "http://localhost:3001"
        assert response.headers.get_list("vary") == ["Origin", "Origin"]  # the product's, then the host's
        assert _preflight(http, ALLOWED).headers.get_list("vary") == ["Origin"]
        assert "vary" not in _preflight(http, OTHER).headers


def test_configured_origins_are_lower_cased_and_then_matched_exactly(local_server: Any) -> None:
    with _host_with(local_server, "http://LocalHost:3000") as http:
        assert http.get("/api", headers={"Origin": ALLOWED}).headers["access-control-allow-origin"] == ALLOWED
        assert "access-control-allow-origin" not in http.get("/api", headers={"Origin": ALLOWED + "/"}).headers


def test_an_origin_list_of_only_a_star_cannot_go_with_credentials() -> None:
    with pytest.raises(ValueError, match="CORS_ORIGINS"):
        HostCorsPolicy(("*",))
    anyone = HostCorsPolicy(("*",), support_credentials=False)
    assert anyone.on_response(OTHER) == [("Access-Control-Allow-Origin", "*")]
    # Beside other origins a star is just a string no browser sends.
    assert HostCorsPolicy(("*", ALLOWED)).on_response(OTHER) == []
