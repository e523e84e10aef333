"""The OpenAPI 3.1 document, built from the endpoint declarations.

Nothing here is written by hand per route: paths, methods, models, statuses,
auth and tags all come from :data:`shared.http.endpoint.ENDPOINTS`, the same
records that registered the Functions triggers, so the spec cannot drift.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.config import Settings, get_settings
from shared.http.binding import BEARER, COOKIE
from shared.http.endpoint import ENDPOINTS, EndpointSpec
from shared.schemas.common import ErrorResponse

_REF = "#/components/schemas/{model}"

TAG_DESCRIPTIONS = {
    "platform": "Health, the API index, the keys that verify access tokens, this document and its viewers.",
    "auth": "Register, verify the email address, sign in and out, refresh, reset and change the password.",
    "mfa": "The signed-in user's second factor: an authenticator app (TOTP) and recovery codes.",
    "users": "The signed-in user, and user administration (super_admin everywhere, npo_admin in its NPO).",
    "invitations": "Inviting people by email, including people who already have an account; the accept page's calls.",
    "sessions": "The signed-in user's own sessions (devices).",
    "privacy": "Personal data: everything held about the signed-in user, and erasing an account for good.",
    "roles": "The five roles and what each may do.",
    "audit": "The append-only audit log.",
    "events": "Event assignments: which events each event coordinator and staff user works.",
    "authz": "The live permission check other Augeo services call with a user's access token.",
    "consent": "The legal documents (terms of service, privacy policy) and each user's consent to them.",
}

_ERROR_TEXT = {
    400: "Malformed request (for example invalid JSON).",
    401: "Missing, invalid or revoked credentials.",
    403: "Authenticated but not allowed.",
    404: "Not found, or not visible to the caller.",
    405: "Method not allowed on this path.",
    409: "Conflicts with the current state.",
    413: "Request body too large.",
    415: "Request body is not JSON.",
    422: "Validation failed, or a body sent where none is taken; `details.fields` names each failing field.",
    429: "Rate limited; retry after `Retry-After` seconds.",
    500: "Unexpected error; nothing internal is disclosed.",
    503: "A dependency is unavailable; retry shortly.",
}
_ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer challenge."}},
    405: {"Allow": {"schema": {"type": "string"}, "description": "Allowed methods."}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
    503: {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
}
_REQUEST_ID_HEADER = {"X-Request-ID": {"schema": {"type": "string"}, "description": "Echoed or generated."}}


class _SchemaSet:
    """Component schemas of every model, and the $ref of each (model, direction)."""

    def __init__(self, specs: list[EndpointSpec]) -> None:
        pairs: dict[tuple[type[BaseModel], str], None] = {(ErrorResponse, "serialization"): None}
        for spec in specs:
            if spec.request_model is not None:
                pairs[(spec.request_model, "validation")] = None
            if spec.response_model is not None:
                pairs[(spec.response_model, "serialization")] = None
            for answer in spec.also_answers:
                pairs[(answer.model, "serialization")] = None
            if spec.query_model is not None:
                pairs[(spec.query_model, "validation")] = None
        refs, schema = models_json_schema(list(pairs), ref_template=_REF)  # type: ignore[arg-type]
        self.refs = refs
        self.components: dict[str, Any] = dict(schema.get("$defs", {}))

    def content(self, model: type[BaseModel], mode: str) -> dict[str, Any]:
        return {"application/json": {"schema": dict(self.refs[(model, mode)])}}  # type: ignore[index]

    def fields(self, model: type[BaseModel]) -> tuple[dict[str, Any], set[str]]:
        """The property schemas and required names of a (query) model."""
        name = self.refs[(model, "validation")]["$ref"].rsplit("/", 1)[-1]
        schema = self.components[name]
        return schema.get("properties", {}), set(schema.get("required", []))


def _parameters(spec: EndpointSpec, schemas: _SchemaSet) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": _path_schema(spec, name)}
        for name in spec.template.param_names
    ]
    if spec.query_model is not None:
        properties, required = schemas.fields(spec.query_model)
        for name, prop in properties.items():
            parameter = {"name": name, "in": "query", "required": name in required, "schema": _not_null(prop)}
            if "description" in prop:
                parameter["description"] = prop["description"]
            params.append(parameter)
    return params


# Route constraints of the Functions host, as JSON schemas.
_PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "": {"type": "string"},
    "guid": {"type": "string", "format": "uuid"},
    "int": {"type": "integer"},
    "alpha": {"type": "string", "pattern": "^[A-Za-z]+$"},
}


def _path_schema(spec: EndpointSpec, name: str) -> dict[str, Any]:
    choices = spec.binding.route_enums.get(name)
    if choices is not None:
        return {"type": "string", "enum": [choice.value for choice in choices]}
    return _PATH_SCHEMAS[spec.template.constraints.get(name, "")]


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string: drop pydantic's ``anyOf [T, null]``."""
    options = [option for option in schema.get("anyOf", []) if option.get("type") != "null"]
    if len(options) != 1:
        return schema
    rest = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
    return {**options[0], **rest}


def _responses(spec: EndpointSpec, schemas: _SchemaSet) -> dict[str, Any]:
    success: dict[str, Any] = {"description": spec.summary, "headers": _REQUEST_ID_HEADER}
    if spec.response_model is not None and spec.status != 204:
        success["content"] = schemas.content(spec.response_model, "serialization")
    elif spec.media_type != "application/json":
        success["content"] = {spec.media_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(status): success for status in (spec.status, *spec.also_succeeds_with)}
    for answer in spec.also_answers:
        responses[str(answer.status)] = {
            "description": answer.description,
            "headers": _REQUEST_ID_HEADER,
            "content": schemas.content(answer.model, "serialization"),
        }
    # 422: every operation checks its body, even one that takes none (which refuses one)
    statuses = set(spec.errors) | {422, 500}
    if spec.request_model is not None:
        statuses |= {400, 413, 415}
    if spec.auth or spec.bearer_optional:
        statuses |= {401, 403, 503}  # 403: a step the caller still owes (a temporary password)
    for status in sorted(statuses):
        responses[str(status)] = {
            "description": _ERROR_TEXT[status],
            "headers": {**_REQUEST_ID_HEADER, **_ERROR_HEADERS.get(status, {})},
            "content": schemas.content(ErrorResponse, "serialization"),
        }
    return responses


def _operation(spec: EndpointSpec, schemas: _SchemaSet) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": spec.name,
        "summary": spec.summary,
        "tags": list(spec.tags),
        "responses": _responses(spec, schemas),
    }
    if spec.description:
        operation["description"] = spec.description.strip()
    if spec.deprecated:
        operation["deprecated"] = True
    parameters = _parameters(spec, schemas)
    if parameters:
        operation["parameters"] = parameters
    if spec.request_model is not None:
        operation["requestBody"] = {
            "required": not spec.body_optional,
            "content": schemas.content(spec.request_model, "validation"),
        }
    operation["security"] = _security(spec)
    return operation


def _security(spec: EndpointSpec) -> list[dict[str, list[str]]]:
    """Bearer for a route that needs it; an optional one (``{}``: none at all is fine too); for one
    that reads what it is given itself (refresh, logout), each credential it accepts, and none
    (``{}``: a refresh token in the body will do)."""
    if spec.auth:
        return [{"bearerAuth": []}]
    if spec.bearer_optional:
        return [{}, {"bearerAuth": []}]
    accepted: list[dict[str, list[str]]] = [{"bearerAuth": []}] if spec.binding.takes(BEARER) else []
    if spec.binding.takes(COOKIE):
        accepted.append({"refreshCookie": []})
    return [*accepted, {}] if accepted else []


def _security_schemes(settings: Settings) -> dict[str, Any]:
    return {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "refreshCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.refresh_cookie_name,
            "description": "The refresh token of the cookie transport (HttpOnly: the browser sends it, no script "
            "reads it). A request it authenticates must carry `X-Requested-With: fetch`, and an allowed `Origin`.",
        },
    }


def build_openapi() -> dict[str, Any]:
    """The whole document for every declared endpoint."""
    settings = get_settings()
    specs = [spec for spec in ENDPOINTS if spec.include_in_schema]
    schemas = _SchemaSet(specs)
    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Augeo Platform API",
            "version": settings.app_version,
            "description": "Sign-up, sign-in, sessions, users and roles of the Augeo platform.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": _security_schemes(settings),
        },
        "tags": [
            {"name": tag, "description": TAG_DESCRIPTIONS.get(tag, tag)}
            for tag in sorted({tag for spec in specs for tag in spec.tags})
        ],
    }
