"""Route templates as the Functions host reads them; literal beats parameter beats catch-all."""

from __future__ import annotations

import azure.functions as func
import pytest

from devtools.local_server import Route, Router
from shared.http.routing import RouteTemplate, is_reserved_path


def _handler(req: func.HttpRequest) -> func.HttpResponse:
    """A function body for the routes; these tests only resolve, they never call it."""
    return func.HttpResponse()


def _router(*templates: str) -> Router:
    routes = [Route(t, RouteTemplate.parse(t), None, _handler) for t in templates]
    return Router(sorted(routes, key=lambda r: r.template.precedence))


def _resolved(router: Router, method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route and parameters ``router`` picks for a request it must accept."""
    resolved = router.resolve(method, path)
    assert resolved is not None, f"no route for {method} {path}"
    return resolved


def test_literal_segment_beats_parameter_and_catch_all() -> None:
    router = _router("{*path}", "api/v1/users/{user_id}", "api/v1/users/me")
    assert _resolved(router, "GET", "/api/v1/users/me")[0].name == "api/v1/users/me"
    route, params = _resolved(router, "GET", "/api/v1/users/123")
    assert route.name == "api/v1/users/{user_id}" and params == {"user_id": "123"}
    route, params = _resolved(router, "GET", "/nothing/here")
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
        Route("get", RouteTemplate.parse("health"), frozenset({"GET"}), _handler),
        Route("any", RouteTemplate.parse("{*path}"), None, _handler),
    ]
    router = Router(sorted(routes, key=lambda r: r.template.precedence))
    assert _resolved(router, "GET", "/health")[0].name == "get"
    assert _resolved(router, "POST", "/health")[0].name == "any"


# -- the host's rules that matter for /.well-known/jwks.json -----------------------------


def test_a_leading_dot_literal_is_plain_text_to_the_router() -> None:
    """ASP.NET Core templates treat `.well-known` and `jwks.json` as literals; the dots are not wildcards."""
    template = RouteTemplate.parse(".well-known/jwks.json")
    assert template.match("/.well-known/jwks.json") == {}
    assert template.match("/.well-known/jwks.json/") == {}, "a trailing slash is ignored"
    for other in ("/well-known/jwks.json", "/.well-known/jwks", "/.well-known/jwksXjson", "/xwell-known/jwks.json"):
        assert template.match(other) is None, other
    assert template.openapi_path == "/.well-known/jwks.json"


def test_literals_match_case_insensitively_like_the_host() -> None:
    """ASP.NET Core compares literal segments ordinal-ignore-case; parameters keep their case."""
    assert RouteTemplate.parse(".well-known/jwks.json").match("/.Well-Known/JWKS.json") == {}
    assert RouteTemplate.parse("api/v1/users/{user_id}").match("/API/V1/Users/AbC") == {"user_id": "AbC"}


def test_routes_the_host_reserves_are_refused_when_declared() -> None:
    """The host refuses a function whose route starts with admin or runtime (a plain prefix test)."""
    for reserved in ("admin/keys", "administration", "Runtime/webhooks/x", "/admin"):
        with pytest.raises(ValueError, match="reserves"):
            RouteTemplate.parse(reserved)
    assert RouteTemplate.parse("api/admin").match("/api/admin") == {}


def test_paths_the_host_answers_itself_never_reach_a_function() -> None:
    router = _router("{*path}", "health")
    assert router.resolve("GET", "/admin/host/status") is None
    assert router.resolve("GET", "/RUNTIME/webhooks/x") is None
    assert router.resolve("GET", "/admin") is None
    assert _resolved(router, "GET", "/administration")[0].name == "{*path}", "reserved by segment, not by prefix"
    assert is_reserved_path("/admin/") and not is_reserved_path("/.well-known/jwks.json")
