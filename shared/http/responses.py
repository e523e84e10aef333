"""Building HttpResponses: JSON bodies, error bodies, the headers every answer carries."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

from shared.errors import AppError, error_body

BASE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def json_response(payload: Any, status: int, headers: dict[str, str] | None = None) -> func.HttpResponse:
    """A JSON response (or an empty one for 204) with the standard headers."""
    body = None if status == 204 or payload is None else json.dumps(payload, separators=(",", ":"))
    return func.HttpResponse(
        body=body,
        status_code=status,
        headers={**BASE_HEADERS, **(headers or {})},
        mimetype="application/json" if body is not None else None,
        charset="utf-8",
    )


def error_response(error: AppError, request_id: str, *, beside: dict[str, Any] | None = None) -> func.HttpResponse:
    """The error body for ``error``; the only place one is built.

    ``beside``: fields the body carries next to the error object (the health
    report of a failing ``GET /health``), so a client that knows only the
    error shape and one that reads the report both understand it.
    """
    payload = {**(beside or {}), **error_body(error.code, error.message, request_id, error.details)}
    return json_response(payload, error.status_code, error.headers)
