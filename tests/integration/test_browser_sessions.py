"""What the product itself sends so a web app in a browser can use the API.

Every response exposes the headers a script reads and varies by Origin (the
Functions host's CORS middleware does neither); every response that carries a
token, a second-factor secret or recovery codes forbids caching. Checked over
HTTP and, where it matters that no host is in between, in-process. The host's
own CORS (and its local stand-in) is tested in test_local_host_cors.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import azure.functions as func
import httpx
import pyotp
import pytest

from shared.http.endpoint import EndpointSpec, Reply, run_pipeline
from shared.http.responses import EXPOSED_TO_BROWSERS
from tests.support import FunctionsByName
from tests.support.accounts import Account, Actor

EXPOSED = "X-Request-ID, Retry-After, WWW-Authenticate"
ORIGIN = "http://localhost:3000"


def _readable_by_browsers(response: httpx.Response | func.HttpResponse) -> None:
    headers = response.headers
    assert headers["Access-Control-Expose-Headers"] == EXPOSED
    assert "Origin" in [token.strip() for token in headers["Vary"].split(",")]


def test_the_exposed_headers_are_the_ones_the_design_names() -> None:
    assert ", ".join(EXPOSED_TO_BROWSERS) == EXPOSED


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api", 200),
        ("GET", "/docs", 200),
        ("GET", "/api/v1/users/me", 401),
        ("GET", "/api/v1/no-such-thing", 404),
        ("DELETE", "/health", 405),
        ("POST", "/api/v1/auth/login", 422),
    ],
)
@pytest.mark.parametrize("origin", [ORIGIN, "https://elsewhere.example.org", None])
def test_every_answer_exposes_the_headers_a_script_reads_and_varies_by_origin(
    client: httpx.Client, method: str, path: str, status: int, origin: str | None
) -> None:
    headers = {"Origin": origin} if origin else {}
    response = client.request(method, path, json={} if method == "POST" else None, headers=headers)
    assert response.status_code == status
    _readable_by_browsers(response)


def test_a_429_exposes_retry_after(account: Account) -> None:
    for _ in range(6):
        response = account.login("Wrong-password-1")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    _readable_by_browsers(response)


def test_the_headers_come_from_the_function_not_from_a_host_in_front(functions: FunctionsByName) -> None:
    request = func.HttpRequest("GET", "/api", headers={"Origin": ORIGIN}, body=b"")
    response = functions["api_index"](request)
    assert response.status_code == 200
    _readable_by_browsers(response)
    assert "Access-Control-Allow-Origin" not in response.headers  # the host's part, never the product's


@pytest.mark.parametrize(
    ("own", "sent"),
    [("Accept-Encoding", "Accept-Encoding, Origin"), ("origin", "origin"), ("Accept, Origin", "Accept, Origin")],
)
def test_a_handlers_own_vary_keeps_its_values_and_gains_origin(own: str, sent: str) -> None:
    def handler() -> Reply:
        return Reply({"ok": True}, headers={"Vary": own})

    spec = EndpointSpec(name="probe", method="GET", route="probe", summary="probe", tags=("test",), handler=handler)
    response = run_pipeline(spec, func.HttpRequest("GET", "/probe", headers={}, body=b""))
    assert response.headers["Vary"] == sent


def _no_store(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def test_every_answer_that_carries_a_token_or_a_secret_forbids_caching(signed_in: Callable[..., Actor]) -> None:
    actor = signed_in("donor")
    account = actor.account
    tokens = _no_store(account.login())
    assert tokens["access_token"] and tokens["refresh_token"]
    refreshed = _no_store(account.http.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}))
    assert refreshed["access_token"]
    reauthenticated = _no_store(
        actor.request("POST", "/api/v1/auth/reauthenticate", json={"password": account.password})
    )
    assert reauthenticated["access_token"]
    secret = _no_store(actor.request("POST", "/api/v1/auth/mfa/totp"))["secret"]
    confirm = {"code": pyotp.TOTP(secret).now()}
    recovery_codes = _no_store(actor.request("POST", "/api/v1/auth/mfa/totp/confirm", json=confirm))["recovery_codes"]
    challenge = _no_store(account.login())
    assert challenge["mfa_required"] is True and challenge["mfa_token"]
    proof = {"mfa_token": challenge["mfa_token"], "recovery_code": recovery_codes[0]}
    assert _no_store(account.http.post("/api/v1/auth/mfa/verify", json=proof))["access_token"]
