"""Route templates as the Functions host reads them; literal beats parameter beats catch-all."""

from __future__ import annotations

from devtools.local_server import Route, Router
from shared.http.routing import RouteTemplate


def _router(*templates: str) -> Router:
    routes = [Route(t, RouteTemplate.parse(t), None, lambda req: None) for t in templates]
    return Router(sorted(routes, key=lambda r: r.template.precedence))


def test_literal_segment_beats_parameter_and_catch_all() -> None:
    router = _router("{*path}", "api/v1/users/{user_id}", "api/v1/users/me")
    assert router.resolve("GET", "/api/v1/users/me")[0].name == "api/v1/users/me"
    route, params = router.resolve("GET", "/api/v1/users/123")
    assert route.name == "api/v1/users/{user_id}" and params == {"user_id": "123"}
    route, params = router.resolve("GET", "/nothing/here")
    assert route.name == "{*path}" and params == {"path": "nothing/here"}


def test_constraints_and_trailing_slash() -> None:
    template = RouteTemplate.parse("api/v1/users/{user_id:guid}")
    assert template.match("/api/v1/users/6f1c3e1e-8a52-4d3e-9a57-0c2b3e0f4a11/") == {
        "user_id": "6f1c3e1e-8a52-4d3e-9a57-0c2b3e0f4a11"
    }
    assert template.match("/api/v1/users/not-a-guid") is None
    assert template.openapi_path == "/api/v1/users/{user_id}"


def test_methods_filter_routes() -> None:
    routes = [
        Route("get", RouteTemplate.parse("health"), frozenset({"GET"}), lambda req: None),
        Route("any", RouteTemplate.parse("{*path}"), None, lambda req: None),
    ]
    router = Router(sorted(routes, key=lambda r: r.template.precedence))
    assert router.resolve("GET", "/health")[0].name == "get"
    assert router.resolve("POST", "/health")[0].name == "any"
