"""The OpenAPI document a code generator reads, checked as a document (the served one is the same
``build_openapi()``; tests/integration/test_contract.py fuzzes it against the server, and
tests/integration/test_generated_typescript.py compiles a web app against its TypeScript).

What the generators need: responses require every field the server always sends, requests
show no default, roles and permissions are enums, every error status of an operation names
exactly the codes it answers (with typed details), examples everywhere, no documentation
route, tags in reading order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

import shared.openapi
from shared.errors import STATUSES, ErrorCode, error_answer
from shared.http.binding import COOKIE, SESSION
from shared.http.endpoint import ENDPOINTS, Declaration, EndpointSpec
from shared.openapi import TAGS, build_openapi, error_component_name
from shared.services.sign_in_state import PendingStep

REF = "#/components/schemas/"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    import function_app  # noqa: F401  (registers every endpoint declaration)

    return build_openapi()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def _specs() -> list[EndpointSpec]:
    import function_app  # noqa: F401

    return [spec for spec in ENDPOINTS if spec.include_in_schema]


def _component(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    return document["components"]["schemas"][schema["$ref"].removeprefix(REF)]  # type: ignore[no-any-return]


def _models_within(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    """``model`` and every model its fields hold (lists and unions included)."""
    yield model
    for field in model.model_fields.values():
        for kind in _types_in(field.annotation):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                yield from _models_within(kind)


def _types_in(annotation: Any) -> Iterator[Any]:
    yield annotation
    for argument in getattr(annotation, "__args__", ()):
        yield from _types_in(argument)


# -- responses and requests ---------------------------------------------------------------------


def test_a_response_schema_requires_every_field_the_server_always_sends(document: dict[str, Any]) -> None:
    """A field with a default is sent too; only a field the model leaves out (``exclude_if``) is optional."""
    schemas = document["components"]["schemas"]
    models = {m for spec in _specs() if spec.response_model for m in _models_within(spec.response_model)}
    checked = 0
    for model in models:
        if model.__name__ not in schemas or "properties" not in schemas[model.__name__]:
            continue  # a union (LoginResponse) is its branches
        always_sent = {name for name, field in model.model_fields.items() if field.exclude_if is None}
        assert set(schemas[model.__name__].get("required", [])) == always_sent, model.__name__
        checked += 1
    assert checked >= 25
    token = schemas["TokenResponse"]["required"]
    assert {"status", "token_type", "password_change_required", "mfa_enrollment_required", "user"} <= set(token)
    assert "refresh_token" not in token  # absent with the cookie transport, never null
    assert schemas["TokenResponse"]["properties"]["refresh_token"] == {
        **schemas["TokenResponse"]["properties"]["refresh_token"],
        "type": "string",
    }
    assert {"mfa_enabled", "mfa_enrollment_required", "phone", "role"} <= set(schemas["UserOut"]["required"])


def _request_schemas(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every schema a request body reaches, following references."""
    pending: list[Any] = [
        operation["requestBody"]["content"]["application/json"]["schema"]
        for _, operation in _operations(document)
        if "requestBody" in operation
    ]
    seen: set[str] = set()
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith(REF) and reference not in seen:
                seen.add(reference)
                pending.append(document["components"]["schemas"][reference.removeprefix(REF)])
            yield node
            pending.extend(node.values())


def test_no_request_property_shows_a_default(document: dict[str, Any]) -> None:
    """openapi-typescript's default options make a field with a default required: a form would have to
    send every optional field, and a PATCH in the shape the type demands would clear them all."""
    found = [
        (name, prop)
        for schema in _request_schemas(document)
        for name, prop in schema.get("properties", {}).items()
        if "default" in prop
    ]
    assert not found
    register = document["components"]["schemas"]["RegisterRequest"]
    assert set(register["required"]) == {"email", "password", "first_name", "last_name"}
    assert "required" not in document["components"]["schemas"]["ProfileUpdate"]


def _properties_named(node: Any, names: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Fields of these names, wherever a schema defines them (not where a rule merely mentions one:
    the ``if`` of the role/npo_id rule names three roles)."""
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            if name in names:
                yield name, prop
        for key, value in node.items():
            if key not in ("if", "then", "else"):
                yield from _properties_named(value, names)
    elif isinstance(node, list):
        for value in node:
            yield from _properties_named(value, names)


def _refers_to(schema: dict[str, Any], component: str) -> bool:
    """The schema is the component, maybe nullable, maybe a list of it."""
    if schema.get("$ref") == REF + component:
        return True
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        return _refers_to(options[0], component)
    return schema.get("type") == "array" and _refers_to(schema["items"], component)


def test_every_role_field_is_the_role_enum_and_every_permission_the_permission_enum(document: dict[str, Any]) -> None:
    roles = list(_properties_named(document["components"], {"role"}))
    permissions = list(_properties_named(document["components"], {"permission", "permissions"}))
    assert len(roles) >= 5 and len(permissions) >= 2
    assert all(_refers_to(prop, "RoleName") for _, prop in roles), roles
    assert all(_refers_to(prop, "Permission") for _, prop in permissions), permissions
    query_roles = [
        parameter["schema"]
        for _, operation in _operations(document)
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "role"
    ]
    assert query_roles and all(_refers_to(schema, "RoleName") for schema in query_roles)


# -- errors ---------------------------------------------------------------------------------------


def _documented_codes(document: dict[str, Any], response: dict[str, Any]) -> set[str]:
    schema = response["content"]["application/json"]["schema"]
    parts = schema.get("oneOf") or schema.get("allOf") or [schema]
    codes: set[str] = set()
    for part in parts:
        error = _component(document, part)["properties"].get("error")
        if error is not None:
            (code,) = error["properties"]["code"]["enum"]
            codes.add(code)
    return codes


def test_each_error_status_names_exactly_the_codes_of_the_operation(document: dict[str, Any]) -> None:
    for spec in _specs():
        operation = document["paths"][spec.path][spec.method.lower()]
        expected: dict[int, set[str]] = {}
        for status, code in spec.answers:
            expected.setdefault(status, set()).add(code.value)
        documented = {
            int(status): _documented_codes(document, response)
            for status, response in operation["responses"].items()
            if int(status) >= 400
        }
        assert documented == expected, spec.name


def test_what_the_pipeline_answers_is_documented_on_every_operation_it_can_happen_on(
    document: dict[str, Any],
) -> None:
    """401 on every bearer route (without AUTHENTICATION_REQUIRED where the bearer is optional); the
    pending steps' 403 unless the route is allowed despite them; REAUTHENTICATION_REQUIRED on the
    recent-proof routes; the cookie's CSRF 403 where the refresh cookie is read; a per-user limit's
    429; 503 wherever PostgreSQL or Redis is reached; a body's 400/413/415/422, and 422 on every
    operation (a body sent where none is taken); 500 everywhere."""
    token_refusals = {"INVALID_TOKEN", "TOKEN_EXPIRED", "SESSION_ENDED"}
    every_step = {f"{step.value.upper()}_REQUIRED" for step in PendingStep}
    assert every_step == {
        "PASSWORD_CHANGE_REQUIRED",
        "MFA_ENROLLMENT_REQUIRED",
        "MFA_STEP_UP_REQUIRED",
        "CONSENT_REQUIRED",
    }
    for spec in _specs():
        responses = document["paths"][spec.path][spec.method.lower()]["responses"]

        def codes(status: int, responses: dict[str, Any] = responses) -> set[str]:
            return _documented_codes(document, responses[str(status)]) if str(status) in responses else set()

        assert codes(500) == {"INTERNAL_ERROR"}, spec.name
        assert "VALIDATION_ERROR" in codes(422), spec.name
        if spec.auth:
            assert {"AUTHENTICATION_REQUIRED", *token_refusals} <= codes(401), spec.name
            assert codes(503) == {"SERVICE_UNAVAILABLE"}, spec.name
            assert "WWW-Authenticate" in responses["401"]["headers"]
        if spec.bearer_optional:
            assert token_refusals <= codes(401), spec.name
            assert codes(503) == {"SERVICE_UNAVAILABLE"}, spec.name
        if (spec.auth or spec.bearer_optional) and not spec.binding.takes(SESSION):
            owed = every_step - {f"{step.value.upper()}_REQUIRED" for step in spec.allowed_despite}
            assert owed <= codes(403), spec.name
        assert ("REAUTHENTICATION_REQUIRED" in codes(403)) is spec.recent_auth, spec.name
        assert ("CSRF_CHECK_FAILED" in codes(403)) is spec.binding.takes(COOKIE), spec.name
        if spec.per_user_limit is not None:
            assert "RATE_LIMITED" in codes(429), spec.name
        if spec.request_model is not None:
            assert codes(400) >= {"INVALID_JSON"} and codes(413) == {"PAYLOAD_TOO_LARGE"}, spec.name
            assert codes(415) == {"UNSUPPORTED_MEDIA_TYPE"} and codes(422) == {"VALIDATION_ERROR"}, spec.name
        for status in (429, 503):
            if str(status) in responses:
                assert "Retry-After" in responses[str(status)]["headers"], (spec.name, status)


@pytest.mark.parametrize(
    ("path", "method", "status", "codes"),
    [
        # What schemathesis found answered and documented nowhere (issue 18).
        ("/api/v1/auth/verify-email", "post", 429, {"RATE_LIMITED"}),
        ("/api/v1/auth/password-reset/confirm", "post", 429, {"RATE_LIMITED"}),
        ("/api/v1/auth/refresh", "post", 429, {"RATE_LIMITED"}),
        ("/api/v1/auth/verify-email", "post", 400, {"INVALID_JSON", "INVALID_TOKEN"}),
        ("/api/v1/auth/login", "post", 401, {"INVALID_CREDENTIALS"}),
        ("/api/v1/auth/login", "post", 403, {"EMAIL_NOT_VERIFIED", "ACCOUNT_DEACTIVATED"}),
        ("/api/v1/users/me", "get", 403, set()),  # allowed despite every pending step
        ("/api/v1/auth/mfa/totp/confirm", "post", 400, {"INVALID_JSON", "INVALID_MFA_CODE"}),
        (
            "/api/v1/auth/mfa/verify",
            "post",
            401,
            {"INVALID_MFA_TOKEN", "INVALID_MFA_CODE", "MFA_CODE_ALREADY_USED", "INVALID_CREDENTIALS"},
        ),
        # The browser sessions' refresh and sign-out: what a web client's token store branches on.
        (
            "/api/v1/auth/refresh",
            "post",
            401,
            {"AUTHENTICATION_REQUIRED", "INVALID_REFRESH_TOKEN", "SESSION_ENDED", "REFRESH_TOKEN_REUSED"},
        ),
        ("/api/v1/auth/refresh", "post", 403, {"CSRF_CHECK_FAILED"}),
        ("/api/v1/auth/logout", "post", 401, {"AUTHENTICATION_REQUIRED", "INVALID_TOKEN", "INVALID_REFRESH_TOKEN"}),
        ("/api/v1/auth/logout", "post", 403, {"CSRF_CHECK_FAILED"}),
        ("/api/v1/auth/password/reset/confirm", "post", 429, {"RATE_LIMITED"}),
        ("/api/v1/invitations/accept", "post", 409, {"DUPLICATE_EMAIL", "ROLE_CONFLICT"}),
        ("/api/v1/events/{event_id}", "get", 404, {"NOT_FOUND", "EVENT_NOT_FOUND"}),
        ("/api/v1/legal-documents/{kind}", "put", 409, {"DOCUMENT_VERSION_CONFLICT"}),
    ],
)
def test_the_codes_of_the_operations_a_client_handles_most(
    document: dict[str, Any], path: str, method: str, status: int, codes: set[str]
) -> None:
    responses = document["paths"][path][method]["responses"]
    if codes:
        assert _documented_codes(document, responses[str(status)]) == codes
    else:
        assert str(status) not in responses


def test_every_error_component_holds_one_code_and_its_typed_details(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["ErrorDetail"]["properties"]["code"]["$ref"] == REF + "ErrorCode"
    assert set(schemas["ErrorCode"]["enum"]) == {code.value for code in ErrorCode}
    details = {
        "VALIDATION_ERROR": "ValidationDetails",
        "RATE_LIMITED": "RetryDetails",
        "SERVICE_UNAVAILABLE": "RetryDetails",
        "PAYLOAD_TOO_LARGE": "BodyLimitDetails",
        "REAUTHENTICATION_REQUIRED": "ReauthenticationDetails",
        "MFA_STEP_UP_REQUIRED": "StepUpDetails",
        "CONSENT_REQUIRED": "ConsentDetails",
        "DOCUMENT_VERSION_CONFLICT": "DocumentVersionDetails",
    }
    for code in ErrorCode:
        error = schemas.get(error_component_name(code), {}).get("properties", {}).get("error")
        if error is None:
            continue  # answered by no operation of the document (405 is the catch-all's)
        assert error["properties"]["code"]["enum"] == [code.value]
        assert error["additionalProperties"] is False
        if code.value in details:
            assert error["properties"]["details"] == {"$ref": REF + details[code.value]}
            assert "details" in error["required"]
        else:
            assert "details" not in error["properties"]
    assert schemas["RetryDetails"]["required"] == ["retry_after_seconds"]
    assert schemas["ValidationDetails"]["required"] == ["fields"]
    assert set(schemas["FieldProblem"]["required"]) == {"field", "message", "type"}


def test_every_code_has_its_statuses_and_a_declaration_must_name_the_status_of_a_code_of_two() -> None:
    assert set(STATUSES) == set(ErrorCode)
    assert error_answer(ErrorCode.DUPLICATE_EMAIL) == (409, ErrorCode.DUPLICATE_EMAIL)
    assert error_answer((400, ErrorCode.INVALID_TOKEN)) == (400, ErrorCode.INVALID_TOKEN)
    with pytest.raises(TypeError, match=r"declare \(400, ErrorCode.INVALID_TOKEN\)"):
        error_answer(ErrorCode.INVALID_TOKEN)
    with pytest.raises(TypeError, match="never answered with 404"):
        error_answer((404, ErrorCode.DUPLICATE_EMAIL))
    with pytest.raises(TypeError, match="409 is a status; declare codes"):
        error_answer(409)  # type: ignore[arg-type]  # the form declarations had before codes


# -- examples, routes, tags ---------------------------------------------------------------------


def _valid(document: dict[str, Any], schema: dict[str, Any], value: Any) -> list[str]:
    validator = Draft202012Validator({**schema, "components": document["components"]})
    return [error.message for error in validator.iter_errors(value)]


def test_every_response_has_examples_the_schema_accepts(document: dict[str, Any]) -> None:
    checked = 0
    for where, operation in _operations(document):
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json")
            if content is None:
                assert status == "204" or int(status) < 300, (where, status)
                continue
            examples = (
                [content["example"]]
                if "example" in content
                else [example["value"] for example in content["examples"].values()]
            )
            assert examples, (where, status)
            for example in examples:
                assert not _valid(document, content["schema"], example), (where, status, example)
                checked += 1
    assert checked > 300
    login = document["paths"]["/api/v1/auth/login"]["post"]["responses"]["200"]["content"]["application/json"]
    assert {example["value"]["status"] for example in login["examples"].values()} == {"authenticated", "mfa_required"}


def test_the_documentation_routes_are_not_in_the_document(document: dict[str, Any]) -> None:
    assert not {"/openapi.json", "/docs", "/redoc", "/docs/assets/{name}", "/{path}"} & set(document["paths"])


def test_tags_come_in_reading_order(document: dict[str, Any]) -> None:
    assert [tag["name"] for tag in document["tags"]] == list(TAGS)
    assert list(TAGS)[:3] == ["auth", "mfa", "users"] and list(TAGS)[-1] == "platform"
    assert all(tag["description"] for tag in document["tags"])


def test_a_tag_missing_from_the_list_fails_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler() -> None:
        """A probe."""

    declared = Declaration("GET", "api/v1/probe", name="probe", summary="A probe", tags=("unlisted",))
    monkeypatch.setattr(shared.openapi, "ENDPOINTS", [*_specs(), EndpointSpec.of(declared, handler)])
    with pytest.raises(ValueError, match="unlisted"):
        build_openapi()
