"""Building HttpResponses: JSON bodies, error bodies, the headers every answer carries."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

from shared.errors import AppError, error_body

# no-store unless a handler opts into caching public data: every token, secret
# and recovery code leaves in a JSON body, which caches must never keep (RFC 6749 §5.1).
BASE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

# Headers a web app's script may read on a cross-origin response. The Functions
# host's CORS middleware (built from siteConfig.cors) exposes none, so the
# product says which: the request id for support, Retry-After of a 429/503,
# and WWW-Authenticate of a 401.
EXPOSED_TO_BROWSERS = ("X-Request-ID", "Retry-After", "WWW-Authenticate")


def add_cross_origin_headers(response: func.HttpResponse) -> None:
    """Expose the headers above and mark every answer as varying by Origin.

    The host adds Access-Control-Allow-Origin only for allowed origins (and
    Vary only when more than one is configured), so a shared cache must key
    every response by Origin, or it could hand one origin's answer to another.
    """
    response.headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_TO_BROWSERS)
    vary = response.headers.get("Vary")
    if not vary:
        response.headers["Vary"] = "Origin"
    elif "origin" not in {token.strip().lower() for token in vary.split(",")}:
        response.headers["Vary"] = f"{vary}, Origin"


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
