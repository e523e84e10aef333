"""devtools/local_server.py routes as the Functions host does (tests/unit/test_routing.py: the rules)."""

from __future__ import annotations

from typing import Any

import httpx

from devtools.local_server import Router


def test_the_registered_jwks_route_beats_the_catch_all_for_get_only(local_server: Any) -> None:
    router: Router = local_server.router  # the routes read from function_app.app, as the host reads them
    route, params = router.resolve("GET", "/.well-known/jwks.json") or (None, None)
    assert route is not None and route.name == "jwks" and params == {}
    other = router.resolve("POST", "/.well-known/jwks.json")
    assert other is not None and other[0].name == "route_not_found", "the 405 comes from the catch-all"
    sibling = router.resolve("GET", "/.well-known/openid-configuration")
    assert sibling is not None and sibling[0].name == "route_not_found"


def test_the_local_server_serves_the_jwks_path_as_the_host_would(client: httpx.Client) -> None:
    for path in ("/.well-known/jwks.json", "/.well-known/jwks.json/", "/.WELL-KNOWN/jwks.JSON"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.json()["keys"], path
    wrong_method = client.post("/.well-known/jwks.json", json={})
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET"
    assert client.get("/admin/host/status").status_code == 404
