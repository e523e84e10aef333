"""The refresh cookie as a browser handles it, done by hand over HTTP: what the API set, sent back.

httpx keeps no ``Secure`` cookie for an http:// server (Python's cookie policy), so
these tests read ``Set-Cookie`` themselves and send ``Cookie`` themselves, which
also lets them send what no browser would (garbage, two cookies of the name).
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.accounts import Account

COOKIE_NAME = "__Secure-augeo_refresh"
COOKIE_ATTRIBUTES = "HttpOnly; Secure; SameSite=Strict; Path=/api/v1/auth"
CLEARED = f"{COOKIE_NAME}=; {COOKIE_ATTRIBUTES}; Max-Age=0"
# What a web app's script adds to a request the cookie authenticates (the CSRF rule).
FROM_A_SCRIPT = {"X-Requested-With": "fetch"}


def set_cookie(response: httpx.Response) -> str:
    """The one ``Set-Cookie`` of ``response``."""
    values = response.headers.get_list("set-cookie")
    assert len(values) == 1, values
    return values[0]


def cookie_token(response: httpx.Response) -> str:
    """The refresh token ``response`` set in the cookie."""
    name, _, rest = set_cookie(response).partition("=")
    assert name == COOKIE_NAME
    return rest.split(";", 1)[0]


def cookie_sign_in(account: Account) -> tuple[dict[str, Any], str]:
    """Sign in with the cookie transport: the JSON body, and the refresh token the cookie holds."""
    body = {"email": account.email, "password": account.password, "refresh_token_transport": "cookie"}
    response = account.http.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.text
    return response.json(), cookie_token(response)


def by_cookie(account: Account, route: str, token: str | None, *, json: Any = None, **headers: str) -> httpx.Response:
    """POST /api/v1/auth/<route> carrying the cookie ``token`` (None: no cookie), and ``headers``."""
    sent = {**headers, "Cookie": f"{COOKIE_NAME}={token}"} if token is not None else dict(headers)
    return account.http.post(f"/api/v1/auth/{route}", headers=sent, json=json)
