"""How the pipeline calls a handler: what it needs, read from its signature.

A handler names what it takes, and the pipeline provides exactly that:

- ``body: SomeRequest``: the JSON body, validated into that model;
- ``query: SomeQuery``: the query string, validated into that model;
- ``caller: Principal``: the authenticated caller and their authorization state
  (the route must say ``auth=True``); ``caller: Principal | None`` on a route
  whose bearer token is optional (``bearer_optional=True``): None without one;
- ``session: LiveSession``: only the live session behind the bearer token, the
  user's state if it was cached (a route that resolves the state itself, at a
  cost it controls: the permission check other services call);
- ``client: ClientInfo``: request id, client IP and user agent;
- ``bearer: PresentedBearer``: the bearer token as sent, unverified, for a
  route that decides itself what it accepts of it (logout: an expired token
  still names its session);
- ``cookie: CookieRequest``: the refresh cookie and what its CSRF rule checks
  (refresh and logout; ``shared.http.refresh_cookie``);
- a route parameter by its name: ``user_id: uuid.UUID`` for ``{user_id:guid}``,
  ``str`` for an unconstrained one, a ``StrEnum`` for an unconstrained one
  whose values are known (``kind: DocumentKind`` for ``{kind}``: any other
  value is a 422 naming the parameter).

So a handler is typed all the way (``body.email`` is a ``str``, ``user_id`` a
``UUID``), and the request and query models that the OpenAPI document
describes are the very ones the handler reads. A signature the pipeline
cannot serve is a ``TypeError`` when the module is imported, which the test
suite does, never a surprise on a request.
"""

from __future__ import annotations

import inspect
import typing
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from shared.context import ClientInfo
from shared.errors import ValidationFailedError
from shared.http.refresh_cookie import CookieRequest
from shared.http.request import PresentedBearer
from shared.http.routing import RouteTemplate
from shared.services.principal import LiveSession, Principal

BODY = "body"
QUERY = "query"
CALLER = "caller"
SESSION = "session"
CLIENT = "client"
BEARER = "bearer"
COOKIE = "cookie"

RouteParser = Callable[[str, str], object]


def _uuid(name: str, value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationFailedError.of_field(name, "must be a UUID", "uuid_parsing") from None


def _text(_name: str, value: str) -> str:
    return value


def _one_of(choices: type[StrEnum]) -> RouteParser:
    def parse(name: str, value: str) -> StrEnum:
        try:
            return choices(value)
        except ValueError:
            allowed = ", ".join(choice.value for choice in choices)
            raise ValidationFailedError.of_field(name, f"must be one of: {allowed}", "enum") from None

    return parse


def route_enum(hint: object) -> type[StrEnum] | None:
    """The enum a route parameter's type is, when it is one (its values are the route's)."""
    return hint if isinstance(hint, type) and issubclass(hint, StrEnum) else None


def _route_parser(
    handler: Callable[..., Any], name: str, hint: object, choices: type[StrEnum] | None, template: RouteTemplate
) -> RouteParser:
    """How to parse route parameter ``name`` into ``hint`` (``choices``: the enum it is, if one),
    whose route constraint must match."""
    wanted = None if choices is not None else _CONSTRAINT_FOR[hint]
    if wanted != template.constraints.get(name):
        raise TypeError(f"{handler.__qualname__}: route parameter {name!r} needs the matching constraint")
    return _one_of(choices) if choices is not None else _ROUTE_PARSERS[hint]


_ROUTE_PARSERS: dict[object, RouteParser] = {uuid.UUID: _uuid, str: _text}
# The route constraint each parameter type needs, so the host already refuses
# what the parser would (a malformed id is a 404 from the router, not a 422).
_CONSTRAINT_FOR: dict[object, str | None] = {uuid.UUID: "guid", str: None}


def _model(handler: Callable[..., Any], name: str, hint: object) -> type[BaseModel]:
    if not (isinstance(hint, type) and issubclass(hint, BaseModel)):
        raise TypeError(f"{handler.__qualname__}: parameter {name!r} must be annotated with a pydantic model")
    return hint


# What the pipeline provides by parameter name, and the type the parameter must name.
_PROVIDED: dict[str, type] = {
    CALLER: Principal,
    SESSION: LiveSession,
    CLIENT: ClientInfo,
    BEARER: PresentedBearer,
    COOKIE: CookieRequest,
}


@dataclass(frozen=True)
class HandlerBinding:
    """What one handler takes, and how to produce each argument."""

    request_model: type[BaseModel] | None
    query_model: type[BaseModel] | None
    provided: frozenset[str]  # names of _PROVIDED the handler takes
    route_parsers: Mapping[str, RouteParser]
    # The enums of route parameters typed as one, for the OpenAPI document.
    route_enums: Mapping[str, type[StrEnum]]
    caller_optional: bool = False  # ``caller: Principal | None``

    @classmethod
    def of(cls, handler: Callable[..., Any], template: RouteTemplate) -> HandlerBinding:
        """Read ``handler``'s signature; raise TypeError for anything the pipeline cannot serve."""
        hints = typing.get_type_hints(handler)
        request_model = query_model = None
        provided: set[str] = set()
        caller_optional = False
        parsers: dict[str, RouteParser] = {}
        enums: dict[str, type[StrEnum]] = {}
        for name in inspect.signature(handler).parameters:
            hint = hints.get(name)
            if name == BODY:
                request_model = _model(handler, name, hint)
            elif name == QUERY:
                query_model = _model(handler, name, hint)
            elif name in _PROVIDED and hint is _PROVIDED[name]:
                provided.add(name)
            elif name == CALLER and hint == Principal | None:
                provided.add(name)
                caller_optional = True
            elif name in template.param_names and ((choices := route_enum(hint)) is not None or hint in _ROUTE_PARSERS):
                parsers[name] = _route_parser(handler, name, hint, choices, template)
                if choices is not None:
                    enums[name] = choices
            else:
                raise TypeError(f"{handler.__qualname__}: the pipeline cannot provide parameter {name!r}: {hint!r}")
        missing = set(template.param_names) - set(parsers)
        if missing:
            raise TypeError(f"{handler.__qualname__}: route parameters {sorted(missing)} are not taken")
        if {CALLER, SESSION} <= provided:
            raise TypeError(f"{handler.__qualname__}: take either 'caller' or 'session', not both")
        return cls(request_model, query_model, frozenset(provided), parsers, enums, caller_optional)

    def takes(self, name: str) -> bool:
        """Whether the handler takes the provided parameter ``name`` (CALLER, SESSION, CLIENT, BEARER, COOKIE)."""
        return name in self.provided

    def route_values(self, route_params: Mapping[str, str]) -> dict[str, object]:
        """Each route parameter parsed into the handler's type."""
        return {name: parse(name, route_params.get(name, "")) for name, parse in self.route_parsers.items()}
