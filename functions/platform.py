"""Platform routes: health, the API index, the JWK Set, the OpenAPI document, and 404/405."""

from collections.abc import Callable

import azure.functions as func

from shared.config import get_settings
from shared.context import ClientInfo
from shared.docs_assets import REDOC_PAGE, SWAGGER_PAGE, asset
from shared.errors import ErrorCode, MethodNotAllowedError, NotFoundError, ServiceUnavailableError
from shared.http.endpoint import ANY_METHOD, ENDPOINTS, Handler, Reply, endpoint
from shared.http.responses import error_response
from shared.openapi import build_openapi
from shared.schemas.platform import (
    ApiIndexResponse,
    CheckStatus,
    HealthChecks,
    HealthResponse,
    JwksResponse,
    UnhealthyReport,
)
from shared.security.jwt_tokens import published_keys
from shared.services.health import check_health

bp = func.Blueprint()  # type: ignore[no-untyped-call]

TAGS = ("platform",)
# Where key sets live (RFC 8615 well-known URIs; OpenID Connect's jwks_uri is
# conventionally here). The Functions host routes a leading-dot literal
# segment like any other: docs/tokens.md says what was checked.
JWKS_ROUTE = ".well-known/jwks.json"
JWKS_ROUTE_PATH = "/" + JWKS_ROUTE


@endpoint(
    bp,
    "GET",
    "health",
    name="health",
    summary="Service and dependency health",
    tags=TAGS,
    response_model=HealthResponse,
    report_beside_503=UnhealthyReport,
)
def health(client: ClientInfo) -> Reply | func.HttpResponse:
    """200 when PostgreSQL and Redis both answer; 503 naming the failing check.

    The 503 body is the health report plus the usual error object, so a probe
    and a client that only knows the error shape both understand it.
    """
    report = check_health()
    checks = HealthChecks(database=_answered(report.database_ok), redis=_answered(report.redis_ok))
    if report.healthy:
        return Reply(HealthResponse(environment=report.environment, version=report.version, checks=checks))
    unhealthy = UnhealthyReport(environment=report.environment, version=report.version, checks=checks)
    unavailable = ServiceUnavailableError()
    return error_response(unavailable, client.request_id, beside=unhealthy.model_dump(mode="json"))


def _answered(ok: bool) -> CheckStatus:
    return "ok" if ok else "unavailable"


@endpoint(
    bp,
    "GET",
    "api",
    name="api_index",
    summary="API name, version and links",
    tags=TAGS,
    response_model=ApiIndexResponse,
    uses_storage=False,
)
def api_index() -> ApiIndexResponse:
    """Served at /api: the Functions host keeps / for its own landing page."""
    return ApiIndexResponse(
        name="Augeo Platform API",
        version=get_settings().app_version,
        links={
            "health": "/health",
            "openapi": "/openapi.json",
            "docs": "/docs",
            "redoc": "/redoc",
            "jwks": JWKS_ROUTE_PATH,
            "v1": "/api/v1",
        },
    )


@endpoint(
    bp,
    "GET",
    JWKS_ROUTE,
    name="jwks",
    summary="The public keys that verify access tokens (JWK Set)",
    tags=TAGS,
    response_model=JwksResponse,
    uses_storage=False,
)
def jwks() -> Reply:
    """Every configured key, the signing key first; other services pick the one a token's `kid` names.

    Cached by callers for JWKS_CACHE_SECONDS: a key published for rotation must
    be visible this long before it starts signing (docs/operations.md, "Rotating the signing key").
    """
    settings = get_settings()
    return Reply(published_keys(settings), headers={"Cache-Control": f"public, max-age={settings.jwks_cache_seconds}"})


# The document and its viewers are not in the document: a client generated from it has no use for them.
@endpoint(
    bp,
    "GET",
    "openapi.json",
    name="openapi_document",
    summary="The OpenAPI 3.1 document",
    tags=TAGS,
    include_in_schema=False,
    uses_storage=False,
)
def openapi_document() -> Reply:
    return Reply(build_openapi(), headers={"Cache-Control": "public, max-age=300"})


def _viewer(route: str, name: str, summary: str) -> Callable[[Handler], Handler]:
    """The declaration of a documentation page: HTML this app serves, itself not in the document."""
    return endpoint(
        bp,
        "GET",
        route,
        name=name,
        summary=summary,
        tags=TAGS,
        media_type="text/html",
        include_in_schema=False,
        uses_storage=False,
    )


@_viewer("docs", "docs_swagger_ui", "Swagger UI for this API")
def swagger_ui() -> Reply:
    """Every asset is served by this app from files vendored in the repository: no CDN."""
    return Reply(raw=SWAGGER_PAGE, mimetype="text/html", headers=_PAGE_HEADERS)


@_viewer("redoc", "docs_redoc", "ReDoc for this API")
def redoc() -> Reply:
    return Reply(raw=REDOC_PAGE, mimetype="text/html", headers=_PAGE_HEADERS)


@endpoint(
    bp,
    "GET",
    "docs/assets/{name}",
    name="docs_asset",
    summary="A Swagger UI or ReDoc asset",
    tags=TAGS,
    media_type="application/octet-stream",
    errors=(ErrorCode.NOT_FOUND,),
    include_in_schema=False,
    uses_storage=False,
)
def docs_asset(name: str) -> Reply:
    content, media_type = asset(name)
    return Reply(raw=content, mimetype=media_type, headers={"Cache-Control": "public, max-age=86400"})


# The pages may load nothing from outside this app (ReDoc's footer would fetch
# a logo from a CDN otherwise); inline script and styles are the viewers' own.
_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self' 'unsafe-inline'; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'"
    ),
}


@endpoint(
    bp,
    ANY_METHOD,
    "{*path}",
    name="route_not_found",
    summary="Unknown route",
    tags=TAGS,
    errors=(ErrorCode.NOT_FOUND, ErrorCode.METHOD_NOT_ALLOWED),
    include_in_schema=False,
    uses_storage=False,
)
def route_not_found(path: str) -> None:
    """The catch-all: the host gives it the lowest precedence, so it only sees
    paths no other function claimed. Answers 405 with Allow when the path
    exists under other methods, else 404, both in the error shape."""
    allowed = {
        spec.method for spec in ENDPOINTS if spec.method != ANY_METHOD and spec.template.match("/" + path) is not None
    }
    if allowed:
        raise MethodNotAllowedError(sorted(allowed))
    raise NotFoundError("Nothing was found at this address.")
