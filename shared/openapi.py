"""The OpenAPI 3.1 document, built from the endpoint declarations.

Nothing here is written by hand per route: paths, methods, models, statuses,
auth, tags and the error codes of each status all come from
:data:`shared.http.endpoint.ENDPOINTS`, the same records that registered the
Functions triggers, so the spec cannot drift. What a code generator needs to
get right without reading the Python:

- request and response schemas are separate: a response field is required
  when the server always sends it; a request field shows no default (a
  generator makes every field with a default required);
- each error status of an operation names exactly the codes that operation
  answers with it (one component per code, ``details`` typed per code);
- every success and every error has an example, generated from the schemas
  and from the code table (``shared.errors``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from shared.config import Settings, get_settings
from shared.errors import DETAILS, AppError, ErrorCode
from shared.http.binding import BEARER, COOKIE
from shared.http.endpoint import ENDPOINTS, EndpointSpec
from shared.schemas.common import ErrorResponse

_REF = "#/components/schemas/{model}"

# Every tag, in the order a reader meets them (the document lists them so); a tag not here is an error.
TAGS = {
    "auth": "Register, verify the email address, sign in and out, refresh, reset and change the password.",
    "mfa": "The signed-in user's second factor: an authenticator app (TOTP) and recovery codes.",
    "users": "The signed-in user, and user administration (super_admin everywhere, npo_admin in its NPO).",
    "sessions": "The signed-in user's own sessions (devices).",
    "privacy": "Personal data: everything held about the signed-in user, and erasing an account for good.",
    "consent": "The legal documents (terms of service, privacy policy) and each user's consent to them.",
    "invitations": "Inviting people by email, including people who already have an account; the accept page's calls.",
    "events": "Event assignments: which events each event coordinator and staff user works.",
    "authz": "The live permission check other Augeo services call with a user's access token.",
    "roles": "The five roles and what each may do.",
    "audit": "The append-only audit log.",
    "platform": "Health, the API index and the keys that verify access tokens.",
}

_ERROR_TEXT = {
    400: "Malformed request.",
    401: "Missing, invalid or revoked credentials.",
    403: "Not allowed (the code says why).",
    404: "Not found, or not visible to the caller.",
    405: "Method not allowed on this path.",
    409: "Conflicts with the current state.",
    413: "Request body too large.",
    415: "Request body is not JSON.",
    422: "Validation failed, or a body sent where none is taken; `details.fields` names each failing field.",
    429: "Rate limited; retry after `Retry-After` seconds.",
    500: "Unexpected error; nothing internal is disclosed.",
    503: "A dependency is unavailable; retry after `Retry-After` seconds.",
}
_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
_ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer challenge."}},
    405: {"Allow": {"schema": {"type": "string"}, "description": "Allowed methods."}},
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}
_REQUEST_ID_HEADER = {"X-Request-ID": {"schema": {"type": "string"}, "description": "Echoed or generated."}}
_REQUEST_ID_EXAMPLE = "4f1c2b8e9a0d4e6f8b7a6c5d4e3f2a1b"
# What each kind of ``details`` looks like in an example.
_DETAILS_EXAMPLES: dict[str, Any] = {
    "ValidationDetails": {
        "fields": [{"field": "password", "message": "password is too common", "type": "password_too_common"}]
    },
    "RetryDetails": {"retry_after_seconds": 42},
    "BodyLimitDetails": {"max_bytes": 1_048_576},
    "ReauthenticationDetails": {
        "max_age_seconds": 600,
        "code_required": False,
        "reauthenticate_with": "POST /api/v1/auth/reauthenticate",
    },
    "StepUpDetails": {"reauthenticate_with": "POST /api/v1/auth/reauthenticate", "code_required": True},
    "ConsentDetails": {
        "owed": [{"kind": "terms_of_service", "version": "2026-05"}],
        "accept_with": "POST /api/v1/users/me/consents",
    },
    "DocumentVersionDetails": {"kind": "terms_of_service", "version": "2026-04", "current_version": "2026-05"},
}


class ContractJsonSchema(GenerateJsonSchema):
    """Pydantic's JSON schemas, as a code generator must read them.

    - Serialization (responses): every field is required, since the server
      sends it, defaults included; a field the server leaves out when it has
      nothing to say (``exclude_if``) is optional and never null. A
      ``TypedDict`` keeps its own ``NotRequired`` keys.
    - Validation (requests): no ``default``. openapi-typescript's default
      options make every field that shows one required, so a client would
      have to send (and a PATCH would overwrite) every optional field.
    """

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        if self.mode == "serialization":
            if field["type"] == "typed-dict-field":
                return field.get("required", total)
            return field.get("serialization_exclude_if") is None
        return super().field_is_required(field, total)

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if self.mode == "validation":
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)

    def model_field_schema(self, schema: core_schema.ModelField) -> JsonSchemaValue:
        json_schema = super().model_field_schema(schema)
        if self.mode == "serialization" and schema.get("serialization_exclude_if") is not None:
            return _without_null(json_schema)
        return json_schema


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without its ``null`` branch: a field left out is never null."""
    options = [option for option in schema.get("anyOf", []) if option.get("type") != "null"]
    if not options:
        return schema
    rest = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
    return {**options[0], **rest} if len(options) == 1 else {"anyOf": options, **rest}


class _SchemaSet:
    """Component schemas of every model, and the $ref of each (model, direction)."""

    def __init__(self, specs: list[EndpointSpec]) -> None:
        pairs: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(ErrorResponse, "serialization"): None}
        self.query_models = {spec.query_model for spec in specs if spec.query_model is not None}
        for spec in specs:
            if spec.request_model is not None:
                pairs[(spec.request_model, "validation")] = None
            if spec.response_model is not None:
                pairs[(spec.response_model, "serialization")] = None
            if spec.report_beside_503 is not None:
                pairs[(spec.report_beside_503, "serialization")] = None
            for answer in spec.also_answers:
                pairs[(answer.model, "serialization")] = None
        pairs.update({(model, "validation"): None for model in self.query_models})
        refs, schema = models_json_schema(list(pairs), ref_template=_REF, schema_generator=ContractJsonSchema)
        self.refs = refs
        self.components: dict[str, Any] = dict(schema.get("$defs", {}))

    def name(self, model: type[BaseModel], mode: JsonSchemaMode) -> str:
        return str(self.refs[(model, mode)]["$ref"]).rsplit("/", 1)[-1]

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return dict(self.refs[(model, mode)])

    def fields(self, model: type[BaseModel]) -> tuple[dict[str, Any], set[str]]:
        """The property schemas and required names of a (query) model."""
        schema = self.components[self.name(model, "validation")]
        return schema.get("properties", {}), set(schema.get("required", []))

    def drop_query_models(self) -> None:
        """A query model becomes parameters: its own schema would be a type nothing uses."""
        for model in self.query_models:
            self.components.pop(self.name(model, "validation"), None)


# -- examples, from the schemas ------------------------------------------------------------

_FORMAT_EXAMPLES = {
    "uuid": "3f2b8c1d-9e4a-4b7c-8d2e-1a5f6c7b8e90",
    "date-time": "2026-01-31T12:00:00Z",
    "email": "ada@example.org",
    "uri": "https://example.org",
}


_UNSAID = object()


def example_of(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A value ``schema`` accepts, from the examples its properties carry, else a plain one of its type."""
    given = _given_example(schema)
    if given is not _UNSAID:
        return given
    if "$ref" in schema:
        return example_of(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    options = schema.get("oneOf") or schema.get("anyOf")
    if options:
        present = [option for option in options if option.get("type") != "null"]
        return example_of(present[0], components) if present else None
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(example_of(part, components))
        return merged
    return _plain_example(schema, components)


def _given_example(schema: dict[str, Any]) -> Any:
    """What the schema itself says a value is or may be: an example, a constant, a default, an enum's first."""
    if schema.get("examples"):
        return schema["examples"][0]
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    return schema["enum"][0] if schema.get("enum") else _UNSAID


def _plain_example(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "object":
        return {name: example_of(prop, components) for name, prop in schema.get("properties", {}).items()}
    if kind == "array":
        return [example_of(schema.get("items", {}), components)]
    if kind == "string":
        return _FORMAT_EXAMPLES.get(schema.get("format", ""), "string")
    return {"integer": schema.get("minimum", 1), "number": 1.5, "boolean": True, "null": None}.get(str(kind))


def _branches(schema: dict[str, Any], components: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each shape a success body may take: a union's branches by name, else the one schema."""
    name = schema.get("$ref", "").rsplit("/", 1)[-1]
    options = components.get(name, {}).get("oneOf")
    if options:
        for option in options:
            yield option["$ref"].rsplit("/", 1)[-1], option
    else:
        yield name, schema


def _success_content(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    examples = {name: {"value": example_of(branch, components)} for name, branch in _branches(schema, components)}
    if len(examples) == 1:
        return {"schema": schema, "example": next(iter(examples.values()))["value"]}
    return {"schema": schema, "examples": examples}


# -- errors: one component per code, each status narrowed to the operation's codes ---------


def error_component_name(code: ErrorCode) -> str:
    """``INVALID_TOKEN`` -> ``InvalidTokenError``; ``VALIDATION_ERROR`` -> ``ValidationError``."""
    words = "".join(word.capitalize() for word in code.value.split("_"))
    return words if words.endswith("Error") else f"{words}Error"


def _error_component(code: ErrorCode) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "code": {"type": "string", "enum": [code.value]},
        "message": {"type": "string", "description": "For people; it may change."},
        "request_id": {"type": "string", "description": "This request's X-Request-ID: quote it when reporting it."},
    }
    required = ["code", "message", "request_id"]
    details = DETAILS.get(code)
    if details is not None:
        properties["details"] = {"$ref": _REF.format(model=details.__name__)}
        required.insert(2, "details")
    error = {"type": "object", "required": required, "properties": properties, "additionalProperties": False}
    return {
        "title": error_component_name(code),
        "description": f"The error body of `{code.value}`.",
        "type": "object",
        "required": ["error"],
        "properties": {"error": error},
    }


@functools.cache
def _default_messages() -> dict[tuple[int, ErrorCode], str]:
    """The message each error class carries unless its raiser says another: the examples' messages.

    Walked once: every error class is defined in shared.errors, imported before any document is built.
    """
    messages: dict[tuple[int, ErrorCode], str] = {}
    pending: list[type[AppError]] = [AppError]
    while pending:
        kind = pending.pop()
        messages.setdefault((kind.status_code, kind.default_code), kind.default_message)
        pending.extend(kind.__subclasses__())
    return messages


def _error_example(status: int, code: ErrorCode, messages: dict[tuple[int, ErrorCode], str]) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code.value, "message": messages.get((status, code), _ERROR_TEXT[status])}
    details = DETAILS.get(code)
    if details is not None:
        error["details"] = _DETAILS_EXAMPLES[details.__name__]
    error["request_id"] = _REQUEST_ID_EXAMPLE
    return {"error": error}


def _error_response(spec: EndpointSpec, status: int, codes: list[ErrorCode], schemas: _SchemaSet) -> dict[str, Any]:
    refs = [{"$ref": _REF.format(model=error_component_name(code))} for code in codes]
    schema: dict[str, Any] = refs[0] if len(refs) == 1 else {"oneOf": refs}
    messages = _default_messages()
    examples = {code.value: {"value": _error_example(status, code, messages)} for code in codes}
    if status == 503 and spec.report_beside_503 is not None:
        report = schemas.ref(spec.report_beside_503, "serialization")
        schema = {"allOf": [report, schema]}
        for example in examples.values():
            example["value"] = {**example_of(report, schemas.components), **example["value"]}
    listed = ", ".join(f"`{code.value}`" for code in codes)
    return {
        "description": f"{_ERROR_TEXT[status]} Codes: {listed}.",
        "headers": {**_REQUEST_ID_HEADER, **_ERROR_HEADERS.get(status, {})},
        "content": {
            "application/json": {
                "schema": schema,
                "examples": examples,
            }
        },
    }


def _codes_by_status(spec: EndpointSpec) -> dict[int, list[ErrorCode]]:
    by_status: dict[int, list[ErrorCode]] = {}
    for status, code in sorted(spec.answers):
        by_status.setdefault(status, []).append(code)
    return by_status


# -- operations ---------------------------------------------------------------------------


def _parameters(spec: EndpointSpec, schemas: _SchemaSet) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": _path_schema(spec, name)}
        for name in spec.template.param_names
    ]
    if spec.query_model is not None:
        properties, required = schemas.fields(spec.query_model)
        for name, prop in properties.items():
            schema = _without_null(prop)
            default = spec.query_model.model_fields[name].default
            if default is not None and name not in required:
                schema["default"] = default
            parameter = {"name": name, "in": "query", "required": name in required, "schema": schema}
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


def _responses(spec: EndpointSpec, schemas: _SchemaSet) -> dict[str, Any]:
    success: dict[str, Any] = {"description": spec.summary, "headers": _REQUEST_ID_HEADER}
    if spec.response_model is not None and spec.status != 204:
        schema = schemas.ref(spec.response_model, "serialization")
        success["content"] = {"application/json": _success_content(schema, schemas.components)}
    elif spec.media_type != "application/json":
        success["content"] = {spec.media_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(status): success for status in (spec.status, *spec.also_succeeds_with)}
    for answer in spec.also_answers:
        schema = schemas.ref(answer.model, "serialization")
        responses[str(answer.status)] = {
            "description": answer.description,
            "headers": _REQUEST_ID_HEADER,
            "content": {"application/json": _success_content(schema, schemas.components)},
        }
    for status, codes in sorted(_codes_by_status(spec).items()):
        responses[str(status)] = _error_response(spec, status, codes, schemas)
    return responses


def _operation(spec: EndpointSpec, schemas: _SchemaSet) -> dict[str, Any]:
    unknown = set(spec.tags) - set(TAGS)
    if unknown:
        raise ValueError(f"{spec.name}: tags {sorted(unknown)} are not in shared.openapi.TAGS (add them, in order)")
    operation: dict[str, Any] = {
        "operationId": spec.name,
        "summary": spec.summary,
        "tags": list(spec.tags),
        "responses": _responses(spec, schemas),
    }
    if spec.description:
        operation["description"] = re.sub(r"\n\s+", "\n", spec.description.strip())
    if spec.deprecated:
        operation["deprecated"] = True
    parameters = _parameters(spec, schemas)
    if parameters:
        operation["parameters"] = parameters
    if spec.request_model is not None:
        operation["requestBody"] = {
            "required": not spec.body_optional,
            "content": {"application/json": {"schema": schemas.ref(spec.request_model, "validation")}},
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
    schemas.drop_query_models()
    answered = sorted({code for spec in specs for _, code in spec.answers})
    errors = {error_component_name(code): _error_component(code) for code in answered}
    used_tags = {tag for spec in specs for tag in spec.tags}
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
            "schemas": {**schemas.components, **errors},
            "securitySchemes": _security_schemes(settings),
        },
        "tags": [{"name": tag, "description": text} for tag, text in TAGS.items() if tag in used_tags],
    }
