"""The test suite's response observer (tests/support/contract_observer.py) cannot pass silently:
fed a response the document does not allow, it fails, naming the operation, the status, the
code and what to declare; what the document allows passes."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.contract_observer import UndocumentedResponseError, check_response, problem_with

USER = "/api/v1/users/0b8f5c1e-4a7d-4c3e-9f21-6d5a8e3b2c10"


def _error(code: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": "x", "request_id": "r"}}).encode()


def _response(method: str, path: str, status: int, body: bytes) -> httpx.Response:
    return httpx.Response(status, content=body, request=httpx.Request(method, f"http://testserver{path}"))


def test_a_code_the_operation_does_not_list_for_its_status_fails_naming_all_of_it() -> None:
    with pytest.raises(UndocumentedResponseError) as refused:
        check_response(_response("POST", "/api/v1/auth/login", 401, _error("SESSION_ENDED")))
    message = str(refused.value)
    assert "POST /api/v1/auth/login (operation auth_login) answered 401 with code SESSION_ENDED" in message
    assert "(INVALID_CREDENTIALS)" in message
    assert "add ErrorCode.SESSION_ENDED to errors= of the @endpoint named 'auth_login' (functions.auth)" in message


def test_a_status_the_operation_does_not_document_fails() -> None:
    problem = problem_with("POST", "/api/v1/auth/login", 409, _error("CONFLICT"))
    assert problem is not None and "answered 409 CONFLICT, a status it does not document" in problem
    success = problem_with("POST", "/api/v1/auth/login", 201, b"{}")
    assert success is not None and "201" in success


def test_a_422_of_pydantics_generic_value_error_fails() -> None:
    """Each rule of the service's own names itself: a bad email and a leaked password are told apart."""
    details = {"fields": [{"field": "email", "message": "x", "type": "value_error"}]}
    body = json.dumps({"error": {"code": "VALIDATION_ERROR", "message": "x", "details": details, "request_id": "r"}})
    problem = problem_with("POST", "/api/v1/auth/register", 422, body.encode())
    assert problem is not None and "value_error" in problem


def test_an_operation_is_found_by_its_route_template_and_method() -> None:
    problem = problem_with("GET", USER, 403, _error("FORBIDDEN"))
    assert problem is not None and "GET /api/v1/users/{user_id} (operation users_get)" in problem
    assert problem_with("PATCH", USER, 403, _error("FORBIDDEN")) is None  # users_update declares it


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("POST", "/api/v1/auth/login", 200, b"{}"),
        ("POST", "/api/v1/auth/login", 429, _error("RATE_LIMITED")),
        ("POST", "/api/v1/auth/verify-email", 400, _error("INVALID_TOKEN")),
        ("GET", "/api/v1/users/me", 401, _error("INVALID_TOKEN")),
        ("GET", "/api/v1/nothing-here", 404, _error("NOT_FOUND")),  # no operation: the catch-all's
        ("DELETE", "/api/v1/roles", 405, _error("METHOD_NOT_ALLOWED")),
        ("GET", "/docs", 200, b"<html>"),
    ],
)
def test_what_the_document_allows_passes(method: str, path: str, status: int, body: bytes) -> None:
    check_response(_response(method, path, status, body))
