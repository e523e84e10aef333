"""One declaration per endpoint, feeding both the Functions route and OpenAPI.

``@endpoint(bp, "POST", "api/v1/auth/login", ...)`` records an
:class:`EndpointSpec` in :data:`ENDPOINTS` (read by ``shared.openapi`` and by
the 404/405 function) and registers a trigger on the blueprint that runs the
shared request pipeline: request id, client IP, body and query validation,
bearer authentication, the handler, and the conversion of every exception
into the error body. Triggers stay thin: they take an :class:`ApiRequest` and
call one service.
"""

# No ``from __future__ import annotations`` here: the Functions worker reads
# the trigger's type hints at indexing time and needs real classes.

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
from pydantic import BaseModel

from shared.config import get_settings
from shared.context import ClientInfo
from shared.errors import AppError, ServiceUnavailableError
from shared.failures import is_dependency_failure
from shared.http.request import (
    bearer_token_from,
    client_ip_from,
    parse_json,
    request_id_from,
    user_agent_from,
    validate_model,
)
from shared.http.responses import error_response, json_response
from shared.http.routing import RouteTemplate
from shared.log import client_ip_var, configure_logging, request_id_var, user_id_var
from shared.services.authentication import authenticate

logger = logging.getLogger("augeo.http")


@dataclass(frozen=True)
class EndpointSpec:
    """Everything known about one endpoint: route, models, status, auth, docs."""

    name: str
    method: str
    route: str
    summary: str
    tags: tuple[str, ...]
    request_model: type[BaseModel] | None = None
    query_model: type[BaseModel] | None = None
    response_model: type[BaseModel] | None = None
    status: int = 200
    auth: bool = False
    errors: tuple[int, ...] = ()
    description: str | None = None
    include_in_schema: bool = True
    body_optional: bool = False
    media_type: str = "application/json"
    template: RouteTemplate = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "template", RouteTemplate.parse(self.route))

    @property
    def path(self) -> str:
        return self.template.openapi_path


ENDPOINTS: list[EndpointSpec] = []

ANY_METHOD = "ANY"
_ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Reply:
    """A handler's answer when the declared status or plain JSON is not enough."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | str | None = None
    mimetype: str = "application/json"


@dataclass(frozen=True)
class ApiRequest:
    """What a trigger gets: validated input and the caller, no HttpRequest."""

    client: ClientInfo
    body: Any
    query: Any
    route_params: dict[str, str]
    principal: Any


Handler = Callable[[ApiRequest], Any]


def endpoint(
    blueprint: func.Blueprint,
    method: str,
    route: str,
    *,
    name: str,
    summary: str,
    tags: tuple[str, ...],
    request: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    auth: bool = False,
    errors: tuple[int, ...] = (),
    description: str | None = None,
    include_in_schema: bool = True,
    body_optional: bool = False,
    media_type: str = "application/json",
) -> Callable[[Handler], Handler]:
    """Declare an endpoint and register its Functions trigger on ``blueprint``."""

    def decorate(handler: Handler) -> Handler:
        spec = EndpointSpec(
            name=name,
            method=method.upper(),
            route=route,
            summary=summary,
            tags=tags,
            request_model=request,
            query_model=query,
            response_model=response,
            status=status,
            auth=auth,
            errors=errors,
            description=description or handler.__doc__,
            include_in_schema=include_in_schema,
            body_optional=body_optional,
            media_type=media_type,
        )
        ENDPOINTS.append(spec)

        def trigger(req: func.HttpRequest) -> func.HttpResponse:
            return run_pipeline(spec, handler, req)

        trigger.__name__ = trigger.__qualname__ = name
        trigger.__doc__ = spec.summary
        methods = list(_ALL_METHODS) if spec.method == ANY_METHOD else [spec.method]
        blueprint.function_name(name)(
            blueprint.route(route=route, methods=methods, auth_level=func.AuthLevel.ANONYMOUS)(trigger)
        )
        return handler

    return decorate


def run_pipeline(spec: EndpointSpec, handler: Handler, req: func.HttpRequest) -> func.HttpResponse:
    """Run one request through validation, auth and the handler; never raise."""
    started = time.perf_counter()
    headers = {key.lower(): value for key, value in req.headers.items()}
    client = ClientInfo(
        request_id=request_id_from(headers),
        ip_address=client_ip_from(headers),
        user_agent=user_agent_from(headers),
    )
    tokens = (request_id_var.set(client.request_id), client_ip_var.set(client.ip_address), user_id_var.set(None))
    try:
        response = _respond(spec, handler, req, headers, client)
        response.headers["X-Request-ID"] = client.request_id
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.info("%s %s -> %s in %.1f ms", spec.method, spec.path, response.status_code, elapsed_ms)
        return response
    finally:
        request_id_var.reset(tokens[0])
        client_ip_var.reset(tokens[1])
        user_id_var.reset(tokens[2])


def _respond(
    spec: EndpointSpec, handler: Handler, req: func.HttpRequest, headers: dict[str, str], client: ClientInfo
) -> func.HttpResponse:
    try:
        settings = get_settings()
        configure_logging(json_lines=settings.is_production, level=settings.log_level)
        api_request = _build_request(spec, req, headers, client, settings.max_request_body_bytes)
        return _render(spec, handler(api_request))
    except AppError as error:
        return error_response(error, client.request_id)
    except Exception as error:
        if is_dependency_failure(error):
            logger.warning("dependency unavailable: %s", type(error).__name__)
            return error_response(ServiceUnavailableError(), client.request_id)
        logger.exception("unhandled error in %s", spec.name)
        return error_response(AppError(), client.request_id)


def _build_request(
    spec: EndpointSpec, req: func.HttpRequest, headers: dict[str, str], client: ClientInfo, body_limit: int
) -> ApiRequest:
    # Who is calling comes first: an anonymous caller learns nothing about
    # what a protected route would accept.
    principal = None
    if spec.auth:
        principal = authenticate(bearer_token_from(headers), client)
        user_id_var.set(str(principal.user_id))
    body = None
    if spec.request_model is not None:
        raw = req.get_body() or b""
        data = (
            {} if spec.body_optional and not raw.strip() else parse_json(raw, headers.get("content-type"), body_limit)
        )
        body = validate_model(spec.request_model, data)
    query = None
    if spec.query_model is not None:
        query = validate_model(spec.query_model, dict(req.params), source="query")
    return ApiRequest(
        client=client,
        body=body,
        query=query,
        route_params=dict(req.route_params or {}),
        principal=principal,
    )


def _render(spec: EndpointSpec, result: Any) -> func.HttpResponse:
    if isinstance(result, func.HttpResponse):
        return result
    if isinstance(result, Reply):
        if result.raw is not None:
            return func.HttpResponse(
                body=result.raw, status_code=result.status, headers=result.headers, mimetype=result.mimetype
            )
        return json_response(_jsonable(result.body), result.status, result.headers)
    return json_response(_jsonable(result), spec.status)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value
