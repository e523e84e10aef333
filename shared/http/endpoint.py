"""One declaration per endpoint, feeding both the Functions route and OpenAPI.

``@endpoint(bp, "POST", "api/v1/auth/login", ...)`` takes exactly the options
of :class:`Declaration` (the one list of them), records an
:class:`EndpointSpec` in :data:`ENDPOINTS` (read by ``shared.openapi`` and by
the 404/405 function) and registers a trigger on the blueprint that runs the
shared request pipeline: request id, client IP, bearer authentication and the
gates on the caller's sign-in, body, query and route-parameter validation,
the handler, and the mapping of every exception to its response (the error
body is built in ``shared.http.responses``). The handler's signature says
what it takes (see ``shared.http.binding``); triggers stay thin and call one
service. Nothing here audits: the services record what they refuse.
"""

# No ``from __future__ import annotations`` here: the Functions worker reads
# the trigger's type hints at indexing time and needs real classes.

import logging
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field, fields, replace
from typing import Any, Concatenate, ParamSpec

import azure.functions as func
from pydantic import BaseModel

from shared import clock
from shared.config import ConfigurationError, Settings, get_settings
from shared.context import ClientInfo
from shared.errors import AppError, DeclaredError, ErrorCode, ServiceUnavailableError, error_answer
from shared.failures import is_dependency_failure
from shared.http.binding import BEARER, BODY, CALLER, CLIENT, COOKIE, QUERY, SESSION, HandlerBinding
from shared.http.refresh_cookie import COOKIE_REFUSALS, CookieRequest
from shared.http.request import (
    BODY_REFUSALS,
    QUERY_REFUSALS,
    PresentedBearer,
    bearer_token_from,
    client_ip_from,
    parse_json,
    refuse_body,
    request_id_from,
    user_agent_from,
    validate_model,
)
from shared.http.responses import add_cross_origin_headers, error_response, json_response
from shared.http.routing import RouteTemplate
from shared.log import client_ip_var, configure_logging, request_id_var, user_id_var
from shared.services.caller import BEARER_REFUSALS, TOKEN_REFUSALS, authenticate, verify_bearer
from shared.services.principal import LiveSession, Principal
from shared.services.rate_limits import Rule
from shared.services.sign_in_state import (
    STALE_PROOF,
    PendingStep,
    owed_codes,
    refuse_pending_steps,
    refuse_unless_recent,
)

logger = logging.getLogger("augeo.http")


Handler = Callable[..., Any]
P = ParamSpec("P")
# One error an operation can answer: its status and its code.
ErrorAnswer = tuple[int, ErrorCode]


@dataclass(frozen=True)
class Answer:
    """Another success a route answers, with a body of its own: its status, model and what it means."""

    status: int
    model: type[BaseModel]
    description: str


@dataclass(frozen=True)
class Declaration:
    """What ``@endpoint(...)`` says about a route: every option, listed here once.

    ``errors``: the codes the handler (and the service it calls) can raise, a
    code or a ``(status, code)`` pair each (``shared.errors.DeclaredError``);
    the statuses come from ``shared.errors.STATUSES``, and what the pipeline
    itself answers (401 and the pending steps' 403s on a bearer route, a
    body's 400/413/415/422, 503, 500) is added by :meth:`EndpointSpec.answers`.
    ``allowed_despite``: the pending steps (``sign_in_state.PendingStep``) a
    caller may still owe and use this route; ``recent_auth``: the route wants
    a proof of identity within REAUTH_MAX_AGE_MINUTES; ``uses_storage``: the
    handler reaches PostgreSQL or Redis, so it may answer 503 (false for what
    settings and code alone answer: the index, the key set, the documentation);
    ``report_beside_503``: the model of a report a 503 carries beside its error
    (the health check's); ``deprecated_routes``:
    older routes of this same operation, still served by the same handler and
    documented as deprecated operations of their own (``deprecated``);
    ``per_user_limit``: a rule counting the user's calls, taken in the session
    script's own round trip (for routes that take the live session);
    ``also_succeeds_with``: other success statuses with the same body;
    ``also_answers``: other success statuses, each with a body of its own (the
    handler answers a ``Reply`` with that status); ``bearer_optional`` (with
    ``auth=False``): a bearer token is read when one is sent, and the
    handler, taking ``caller: Principal | None``, gets None without one.
    """

    method: str
    route: str
    _: KW_ONLY
    name: str
    summary: str
    tags: tuple[str, ...]
    response_model: type[BaseModel] | None = None
    status: int = 200
    also_succeeds_with: tuple[int, ...] = ()
    also_answers: tuple["Answer", ...] = ()
    auth: bool = False
    errors: tuple[DeclaredError, ...] = ()
    description: str | None = None
    include_in_schema: bool = True
    body_optional: bool = False
    media_type: str = "application/json"
    allowed_despite: tuple[PendingStep, ...] = ()
    recent_auth: bool = False
    uses_storage: bool = True
    report_beside_503: type[BaseModel] | None = None
    deprecated: bool = False
    deprecated_routes: tuple[str, ...] = ()
    per_user_limit: Rule | None = None
    bearer_optional: bool = False


@dataclass(frozen=True)
class EndpointSpec(Declaration):
    """A declaration with its handler: everything known about one endpoint.

    The request and query models come from the handler's signature (``body``
    and ``query`` parameters), so what OpenAPI documents is what the handler reads.
    ``operation``: the declared name, which a deprecated route's spec shares
    (its ``name``, the function's and the document's, is its own).
    """

    handler: Handler = field(kw_only=True)
    operation: str = field(default="", kw_only=True)
    template: RouteTemplate = field(init=False, repr=False)
    binding: HandlerBinding = field(init=False, repr=False)
    answers: frozenset[ErrorAnswer] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "operation", self.operation or self.name)
        template = RouteTemplate.parse(self.route)
        binding = HandlerBinding.of(self.handler, template)
        if (binding.takes(SESSION) or self.recent_auth) and not self.auth:
            raise TypeError(f"{self.name}: a handler taking 'session' or wanting a recent proof needs auth=True")
        if binding.takes(CALLER) and binding.caller_optional != self.bearer_optional:
            raise TypeError(f"{self.name}: 'caller: Principal | None' goes with bearer_optional=True, and only with it")
        if binding.takes(CALLER) and not (self.auth or self.bearer_optional):
            raise TypeError(f"{self.name}: a handler taking 'caller' needs auth=True")
        if self.auth and self.bearer_optional:
            raise TypeError(f"{self.name}: a bearer token is either required (auth) or optional, not both")
        if self.per_user_limit is not None and not binding.takes(SESSION):
            raise TypeError(f"{self.name}: a per-user limit is counted by the session script: take 'session'")
        object.__setattr__(self, "method", self.method.upper())
        object.__setattr__(self, "description", self.description or self.handler.__doc__)
        object.__setattr__(self, "template", template)
        object.__setattr__(self, "binding", binding)
        declared = {error_answer(error) for error in self.errors}
        object.__setattr__(self, "answers", frozenset(declared | self._pipeline_answers()))

    def _pipeline_answers(self) -> set[ErrorAnswer]:
        """What :func:`run_pipeline` itself can answer for this route, whatever its handler does.

        The error answers of a route are these and the declared ones; the
        OpenAPI document lists exactly them, and the test suite's observer
        fails on any response outside them.
        """
        binding = self.binding
        reads_bearer = self.auth or self.bearer_optional
        refusals: list[DeclaredError] = [ErrorCode.INTERNAL_ERROR]
        if self.uses_storage or reads_bearer:
            refusals.append(ErrorCode.SERVICE_UNAVAILABLE)
        if self.auth:
            refusals += BEARER_REFUSALS
        elif self.bearer_optional:
            refusals += TOKEN_REFUSALS  # only a token that came is checked
        if reads_bearer and not binding.takes(SESSION):
            refusals += owed_codes(self.allowed_despite)
        if self.recent_auth:
            refusals.append(STALE_PROOF)
        if self.per_user_limit is not None:
            refusals.append(ErrorCode.RATE_LIMITED)
        if binding.takes(COOKIE):
            refusals += COOKIE_REFUSALS
        if binding.request_model is not None:
            refusals += BODY_REFUSALS
        elif self.method != ANY_METHOD:  # a body sent to an operation that takes none: 422 (refuse_body)
            refusals.append(ErrorCode.VALIDATION_ERROR)
        if binding.query_model is not None:
            refusals += QUERY_REFUSALS
        if self.template.constraints:
            # A malformed id never reaches the route: the host gives the path to the catch-all, a 404.
            refusals.append(ErrorCode.NOT_FOUND)
        return {error_answer(refusal) for refusal in refusals}

    @classmethod
    def of(cls, declared: Declaration, handler: Handler) -> "EndpointSpec":
        options = {option.name: getattr(declared, option.name) for option in fields(Declaration)}
        return cls(**options, handler=handler)

    @property
    def path(self) -> str:
        return self.template.openapi_path

    def deprecated_specs(self) -> list["EndpointSpec"]:
        """One spec per deprecated route: the same operation and handler, a name and route of its own."""
        return [
            replace(
                self,
                route=route,
                name=f"{self.name}_deprecated" + (f"_{number}" if number > 1 else ""),
                description=f"Deprecated: use {self.method} {self.path}. {self.description or ''}".strip(),
                deprecated=True,
                deprecated_routes=(),
                operation=self.operation,
            )
            for number, route in enumerate(self.deprecated_routes, start=1)
        ]

    @property
    def request_model(self) -> type[BaseModel] | None:
        return self.binding.request_model

    @property
    def query_model(self) -> type[BaseModel] | None:
        return self.binding.query_model


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


def _declaring(
    declare: Callable[P, Declaration],
) -> Callable[Concatenate[func.Blueprint, P], Callable[[Handler], Handler]]:
    """The ``endpoint`` decorator: a blueprint, then exactly :class:`Declaration`'s arguments."""

    def endpoint(blueprint: func.Blueprint, /, *args: P.args, **kwargs: P.kwargs) -> Callable[[Handler], Handler]:
        """Declare an endpoint and register its Functions trigger on ``blueprint``."""
        declared = declare(*args, **kwargs)

        def decorate(handler: Handler) -> Handler:
            spec = EndpointSpec.of(declared, handler)
            for each in (spec, *spec.deprecated_specs()):
                ENDPOINTS.append(each)
                _register(blueprint, each)
            return handler

        return decorate

    return endpoint


def _register(blueprint: func.Blueprint, spec: EndpointSpec) -> None:
    """The Functions trigger of one route: the pipeline around the spec's handler."""

    def trigger(req: func.HttpRequest) -> func.HttpResponse:
        return run_pipeline(spec, req)

    trigger.__name__ = trigger.__qualname__ = spec.name
    trigger.__doc__ = spec.summary
    methods = list(_ALL_METHODS) if spec.method == ANY_METHOD else [spec.method]
    blueprint.function_name(spec.name)(
        blueprint.route(route=spec.route, methods=methods, auth_level=func.AuthLevel.ANONYMOUS)(trigger)
    )


endpoint = _declaring(Declaration)


def run_pipeline(spec: EndpointSpec, req: func.HttpRequest) -> func.HttpResponse:
    """Run one request through validation, auth and the handler; never raise."""
    started = time.perf_counter()
    headers = {key.lower(): value for key, value in req.headers.items()}
    client = ClientInfo(
        request_id=request_id_from(headers),
        ip_address=client_ip_from(headers),
        user_agent=user_agent_from(headers),
        operation=spec.operation,
    )
    tokens = (request_id_var.set(client.request_id), client_ip_var.set(client.ip_address), user_id_var.set(None))
    try:
        response = _respond(spec, req, headers, client)
        response.headers["X-Request-ID"] = client.request_id
        add_cross_origin_headers(response)
        if _is_production():
            response.headers["Strict-Transport-Security"] = HSTS
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.info("%s %s -> %s in %.1f ms", spec.method, spec.path, response.status_code, elapsed_ms)
        return response
    finally:
        request_id_var.reset(tokens[0])
        client_ip_var.reset(tokens[1])
        user_id_var.reset(tokens[2])


# Browsers remember for a year to reach this host (and its subdomains) over HTTPS only.
HSTS = "max-age=31536000; includeSubDomains"


def _is_production() -> bool:
    try:
        return get_settings().is_production
    except ConfigurationError:
        return False


def _respond(
    spec: EndpointSpec, req: func.HttpRequest, headers: dict[str, str], client: ClientInfo
) -> func.HttpResponse:
    try:
        settings = get_settings()
        configure_logging(json_lines=settings.is_production, level=settings.log_level)
        principal, live = _authenticated(spec, headers, client)
        arguments = _arguments(spec, req, headers, client, principal=principal, settings=settings)
        if live is not None:
            arguments[SESSION] = live
        return _render(spec, spec.handler(**arguments))
    except AppError as error:
        return error_response(error, client.request_id)
    except Exception as error:
        if is_dependency_failure(error):
            logger.warning("dependency unavailable: %s", type(error).__name__)
            return error_response(ServiceUnavailableError(), client.request_id)
        logger.exception("unhandled error in %s", spec.name)
        return error_response(AppError(), client.request_id)


def _authenticated(
    spec: EndpointSpec, headers: dict[str, str], client: ClientInfo
) -> tuple[Principal | None, LiveSession | None]:
    """The caller of a route that needs one (401 without), who owes no step this route forbids.

    Who is calling comes first: an anonymous caller learns nothing about what
    a protected route would accept. A route that takes only the live session
    resolves the caller's state (and any step they owe) itself.
    """
    token = bearer_token_from(headers)
    if not spec.auth and not (spec.bearer_optional and token):
        return None, None
    if spec.binding.takes(SESSION):
        claims, live = verify_bearer(token, client, spec.per_user_limit)
        user_id_var.set(claims.user_id)
        return None, live
    principal = authenticate(token, client)
    user_id_var.set(str(principal.user_id))
    refuse_pending_steps(principal.state, principal.pending_steps, spec.allowed_despite)
    if spec.recent_auth:
        max_age = get_settings().reauth_max_age_minutes * 60
        refuse_unless_recent(principal.auth_time, clock.now(), max_age, code_required=principal.state.mfa_enabled)
    return principal, None


def _arguments(
    spec: EndpointSpec,
    req: func.HttpRequest,
    headers: dict[str, str],
    client: ClientInfo,
    *,
    principal: Principal | None,
    settings: Settings,
) -> dict[str, Any]:
    """The handler's arguments, each validated into the type its signature names."""
    binding = spec.binding
    arguments: dict[str, Any] = {}
    if binding.takes(CALLER):
        arguments[CALLER] = principal
    if binding.request_model is not None:
        raw = req.get_body() or b""
        limit = settings.max_request_body_bytes
        data = {} if spec.body_optional and not raw.strip() else parse_json(raw, headers.get("content-type"), limit)
        arguments[BODY] = validate_model(binding.request_model, data)
    elif spec.method != ANY_METHOD:  # the catch-all answers 404/405 whatever was sent
        refuse_body(req.get_body() or b"")
    if binding.query_model is not None:
        arguments[QUERY] = validate_model(binding.query_model, dict(req.params), source="query")
    if binding.takes(CLIENT):
        arguments[CLIENT] = client
    if binding.takes(BEARER):
        arguments[BEARER] = PresentedBearer(bearer_token_from(headers))
    if binding.takes(COOKIE):
        arguments[COOKIE] = CookieRequest.of(headers, req.url, settings)
    arguments.update(binding.route_values(req.route_params or {}))
    return arguments


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
