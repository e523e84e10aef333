"""Every HTTP response the test suite receives, checked against the OpenAPI document.

:func:`check_response` is a response hook of every client tests/support/network.py
builds (the ``client`` fixture, each Account's own client, the clients tests make
with ``client_from``). A response to an operation of the document whose status the
operation does not list, or whose error code is not among the codes the document
lists for that status, fails the test that received it: the message names the
operation, the status and the code, and what to declare. So a code raised where
no declaration says so (added later, by anyone) shows up the first time any test
meets it, and the document generated clients trust stays true.

A 422 whose failing field has pydantic's generic ``value_error`` type fails too: each
rule of the service's own has a type of its own (``shared.schemas.fields.refusal``).

Requests to no operation of the document (an unknown path, a wrong method, the
documentation pages, a preflight the host answers) are not checked here: the
tests of the 404/405 and of the host check those.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from shared.http.routing import RouteTemplate


class UndocumentedResponseError(AssertionError):
    """A response the document does not allow for its operation."""


@dataclass(frozen=True)
class Operation:
    """One operation of the document: its statuses, and for each error status the codes it lists."""

    name: str
    method: str
    path: str
    module: str
    successes: frozenset[int]
    error_codes: dict[int, frozenset[str]]


def _codes_in(schema: dict[str, Any], components: dict[str, Any]) -> set[str]:
    """The error codes a response schema allows (its per-code components' ``code`` enums)."""
    if "$ref" in schema:
        return _codes_in(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    if "oneOf" in schema or "allOf" in schema:
        return {code for part in schema.get("oneOf", schema.get("allOf", [])) for code in _codes_in(part, components)}
    code = schema.get("properties", {}).get("error", {}).get("properties", {}).get("code", {})
    return set(code.get("enum", []))


@lru_cache(maxsize=1)
def operations() -> tuple[tuple[RouteTemplate, Operation], ...]:
    """Each operation of the document with the route template the router matches it by,
    literal segments first (as the host orders routes)."""
    import function_app  # noqa: F401  (registers every endpoint declaration)
    from shared.http.endpoint import ENDPOINTS
    from shared.openapi import build_openapi

    document = build_openapi()
    components = document["components"]["schemas"]
    found = []
    for spec in sorted(ENDPOINTS, key=lambda spec: spec.template.precedence):
        operation = document["paths"].get(spec.path, {}).get(spec.method.lower())
        if operation is None:
            continue
        responses = {int(status): response for status, response in operation["responses"].items()}
        errors = {
            status: frozenset(_codes_in(response["content"]["application/json"]["schema"], components))
            for status, response in responses.items()
            if status >= 400
        }
        successes = frozenset(status for status in responses if status < 400)
        found.append(
            (spec.template, Operation(spec.name, spec.method, spec.path, spec.handler.__module__, successes, errors))
        )
    return tuple(found)


def operation_for(method: str, path: str) -> Operation | None:
    """The document's operation a request reaches, or None for a request to none of them."""
    for template, operation in operations():
        if operation.method == method.upper() and template.match(path) is not None:
            return operation
    return None


def _declare(operation: Operation, status: int, code: str | None) -> str:
    what = f"ErrorCode.{code}" if code else f"the code it answers {status} with"
    return (
        f"if it is right, add {what} to errors= of the @endpoint named {operation.name!r} ({operation.module}); "
        "codes of two statuses are declared as (status, ErrorCode.X), see shared.errors.STATUSES"
    )


def problem_with(method: str, path: str, status: int, body: bytes) -> str | None:
    """What is wrong with a response, by the document; None when it is what the document says."""
    operation = operation_for(method, path)
    if operation is None:
        return None
    where = f"{operation.method} {operation.path} (operation {operation.name})"
    if status < 400:
        return (
            None
            if status in operation.successes
            else f"{where} answered {status}, a success status the document does not list for it"
        )
    if status == 422 and "value_error" in _field_types(body):
        return f"{where} answered a 422 of type value_error: give the rule a type of its own (fields.refusal)"
    return _error_problem(operation, where, status, _error_code(body))


def _error_problem(operation: Operation, where: str, status: int, code: str | None) -> str | None:
    allowed = operation.error_codes.get(status)
    if allowed is None:
        return f"{where} answered {status} {code}, a status it does not document: {_declare(operation, status, code)}"
    if code not in allowed:
        listed = ", ".join(sorted(allowed))
        return (
            f"{where} answered {status} with code {code}, not among the codes its document lists for "
            f"{status} ({listed}): {_declare(operation, status, code)}"
        )
    return None


def error_of(body: bytes) -> dict[str, Any]:
    """The ``error`` object of an error body; empty when the body is not one."""
    try:
        error = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return {}
    return error if isinstance(error, dict) else {}


def _error_code(body: bytes) -> str | None:
    code = error_of(body).get("code")
    return code if isinstance(code, str) else None


def _field_types(body: bytes) -> set[str]:
    fields = (error_of(body).get("details") or {}).get("fields") or []
    return {str(field.get("type")) for field in fields if isinstance(field, dict)}


def check_response(response: httpx.Response) -> None:
    """The response hook: fail the request (and so the test) on a response the document does not allow."""
    response.read()
    problem = problem_with(response.request.method, response.request.url.path, response.status_code, response.content)
    if problem is not None:
        raise UndocumentedResponseError(problem)
