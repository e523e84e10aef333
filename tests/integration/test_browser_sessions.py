"""What the product itself sends so a web app in a browser can use the API.

Every response exposes the headers a script reads and varies by Origin (the
Functions host's CORS middleware does neither); every response that carries a
token, a second-factor secret or recovery codes forbids caching. The cookie
transport of refresh tokens: the cookie's exact attributes, refresh and logout
by cookie, the CSRF rule, and what a body token changes. Checked over HTTP and,
where it matters that no host is in between, in-process. The host's own CORS
(and its local stand-in) is tested in test_local_host_cors.py; a real browser
in test_browser_sessions_chromium.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import httpx
import jwt
import pyotp
import pytest
from sqlalchemy import func as sql
from sqlalchemy import select, update

from shared.config import get_settings
from shared.database import unit_of_work
from shared.http.endpoint import EndpointSpec, Reply, run_pipeline
from shared.http.responses import EXPOSED_TO_BROWSERS
from shared.models import RefreshToken, Session
from tests.support import FunctionsByName
from tests.support.accounts import Account, Actor, enrol_second_factor
from tests.support.refresh_cookie import (
    CLEARED,
    COOKIE_ATTRIBUTES,
    COOKIE_NAME,
    FROM_A_SCRIPT,
    by_cookie,
    cookie_sign_in,
    cookie_token,
    set_cookie,
)
from tests.support.settings import settings_changed

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
    refreshed = _no_store(account.refresh(tokens["refresh_token"]))
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


# -- the refresh token in a cookie --------------------------------------------------------------

APP_ORIGIN = "https://admin.example.org"


@pytest.fixture
def app_origin_allowed() -> Iterator[str]:
    """CORS_ORIGINS names the web app's origin (the one setting the host's CORS and the CSRF rule read)."""
    with settings_changed(CORS_ORIGINS=APP_ORIGIN):
        yield APP_ORIGIN


def _session_of(access_token: str) -> uuid.UUID:
    return uuid.UUID(jwt.decode(access_token, options={"verify_signature": False})["sid"])


def _spent_tokens(session_id: uuid.UUID) -> int:
    with unit_of_work() as db:
        count = db.scalar(
            select(sql.count())
            .select_from(RefreshToken)
            .where(RefreshToken.session_id == session_id, RefreshToken.rotated_at.is_not(None))
        )
    return int(count or 0)


def _error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_a_cookie_sign_in_sets_exactly_the_cookie_and_leaves_the_token_out_of_the_json(account: Account) -> None:
    body = {"email": account.email, "password": account.password, "refresh_token_transport": "cookie"}
    response = account.http.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert "refresh_token" not in tokens and tokens["access_token"] and tokens["user"]["email"] == account.email
    cookie = set_cookie(response)
    token = cookie_token(response)
    max_age = int(cookie.rsplit("; Max-Age=", 1)[1])
    assert cookie == f"{COOKIE_NAME}={token}; {COOKIE_ATTRIBUTES}; Max-Age={max_age}"
    assert len(token) == 43 and response.headers["Cache-Control"] == "no-store"
    with unit_of_work() as db:
        session = db.get(Session, _session_of(tokens["access_token"]))
    assert session is not None
    to_the_end = (session.expires_at - datetime.now(UTC)).total_seconds()
    assert abs(to_the_end - max_age) < 60, "Max-Age: seconds to the session's absolute expiry"
    assert max_age > get_settings().refresh_token_expire_days * 86400 - 60


def test_the_body_transport_is_what_it_always_was(account: Account) -> None:
    for body in ({}, {"refresh_token_transport": "body"}):
        response = account.http.post(
            "/api/v1/auth/login", json={"email": account.email, "password": account.password, **body}
        )
        assert response.status_code == 200 and response.json()["refresh_token"]
        assert "set-cookie" not in response.headers


@pytest.mark.parametrize("transport", ["Cookie", "header", "", None, 1])
def test_an_unknown_transport_is_422(account: Account, transport: object) -> None:
    body = {"email": account.email, "password": account.password, "refresh_token_transport": transport}
    response = account.http.post("/api/v1/auth/login", json=body)
    _error(response, 422, "VALIDATION_ERROR")
    assert response.json()["error"]["details"]["fields"][0]["field"] == "refresh_token_transport"
    verify = account.http.post(
        "/api/v1/auth/mfa/verify",
        json={"mfa_token": "A" * 43, "code": "123456", "refresh_token_transport": transport},
    )
    _error(verify, 422, "VALIDATION_ERROR")


def test_the_second_step_of_a_sign_in_sets_the_cookie_too(signed_in: Callable[..., Actor]) -> None:
    actor = signed_in("donor")
    enrolment = enrol_second_factor(actor)
    challenge = actor.account.tokens()
    proof = {"mfa_token": challenge["mfa_token"], "recovery_code": enrolment.recovery_codes[0]}
    response = actor.account.http.post("/api/v1/auth/mfa/verify", json={**proof, "refresh_token_transport": "cookie"})
    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json()
    refreshed = by_cookie(actor.account, "refresh", cookie_token(response), **FROM_A_SCRIPT)
    assert refreshed.status_code == 200, refreshed.text
    assert jwt.decode(refreshed.json()["access_token"], options={"verify_signature": False})["amr"] == ["pwd", "otp"]


def test_a_refresh_by_cookie_rotates_it(account: Account, app_origin_allowed: str) -> None:
    tokens, token = cookie_sign_in(account)
    response = by_cookie(account, "refresh", token, Origin=app_origin_allowed, **FROM_A_SCRIPT)
    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json() and response.json()["access_token"]
    child = cookie_token(response)
    assert child != token and set_cookie(response).startswith(f"{COOKIE_NAME}={child}; {COOKIE_ATTRIBUTES}; Max-Age=")
    assert account.me(response.json()["access_token"]).status_code == 200
    assert by_cookie(account, "refresh", child, **FROM_A_SCRIPT).status_code == 200, "no Origin (not a browser's)"
    assert _spent_tokens(_session_of(tokens["access_token"])) == 2


def test_two_refreshes_by_one_cookie_inside_the_grace_get_one_child_and_one_cookie(account: Account) -> None:
    tokens, token = cookie_sign_in(account)
    first, second = (by_cookie(account, "refresh", token, **FROM_A_SCRIPT) for _ in range(2))
    assert first.status_code == second.status_code == 200
    assert cookie_token(first) == cookie_token(second)
    with unit_of_work() as db:
        rows = db.scalar(
            select(sql.count())
            .select_from(RefreshToken)
            .where(RefreshToken.session_id == _session_of(tokens["access_token"]))
        )
    assert rows == 2, "the parent and one child"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Requested-With": "XMLHttpRequest"},
        {"X-Requested-With": ""},
        {**FROM_A_SCRIPT, "Origin": "https://evil.example.net"},
        {**FROM_A_SCRIPT, "Origin": "null"},
        {**FROM_A_SCRIPT, "Origin": "https://admin.example.org.evil.example.net"},
        {**FROM_A_SCRIPT, "Origin": "http://admin.example.org"},
    ],
    ids=["no-header", "other-header-value", "empty-header", "foreign-origin", "null-origin", "lookalike", "http"],
)
@pytest.mark.parametrize("route", ["refresh", "logout"])
def test_a_cookie_without_the_csrf_proof_is_403_and_nothing_changes(
    account: Account, app_origin_allowed: str, headers: dict[str, str], route: str
) -> None:
    tokens, token = cookie_sign_in(account)
    response = by_cookie(account, route, token, **headers)
    _error(response, 403, "CSRF_CHECK_FAILED")
    assert "set-cookie" not in response.headers, "the cookie is left alone"
    assert _spent_tokens(_session_of(tokens["access_token"])) == 0, "nothing rotated"
    assert account.me(tokens["access_token"]).status_code == 200, "nothing ended"
    assert by_cookie(account, "refresh", token, Origin=app_origin_allowed, **FROM_A_SCRIPT).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Requested-With": "Fetch"},
        {"X-Requested-With": "fetch", "Origin": "HTTPS://ADMIN.EXAMPLE.ORG"},
        {
            "X-Requested-With": "fetch",
            "Origin": "https://api.example.org",
            "X-Forwarded-Host": "api.example.org",
            "X-Forwarded-Proto": "https",
        },
        {
            "X-Requested-With": "fetch",
            "Origin": "https://api.example.org:443",
            "Host": "api.example.org",
            "X-Forwarded-Proto": "https",
        },
    ],
    ids=["header-case", "origin-case", "own-forwarded", "own-host"],
)
def test_what_the_csrf_rule_accepts(account: Account, app_origin_allowed: str, headers: dict[str, str]) -> None:
    """The header in any case, the origin as browsers send it, and the API's own origin as the host received it."""
    _, token = cookie_sign_in(account)
    response = by_cookie(account, "refresh", token, **headers)
    assert response.status_code == 200, response.text


def test_the_api_s_own_origin_passes_without_being_listed(account: Account, base_url: str) -> None:
    _, token = cookie_sign_in(account)
    assert by_cookie(account, "refresh", token, Origin=base_url, **FROM_A_SCRIPT).status_code == 200


def test_a_star_in_cors_origins_allows_no_origin(account: Account) -> None:
    with settings_changed(CORS_ORIGINS="*"):
        _, token = cookie_sign_in(account)
        response = by_cookie(account, "refresh", token, Origin="https://anyone.example.net", **FROM_A_SCRIPT)
    _error(response, 403, "CSRF_CHECK_FAILED")


@pytest.mark.parametrize("garbage", ["", "not a token", "A" * 43, '"quoted"', "x" * 300])
def test_a_cookie_holding_garbage_is_401_invalid_refresh_token_and_is_cleared(account: Account, garbage: str) -> None:
    response = by_cookie(account, "refresh", garbage, **FROM_A_SCRIPT)
    _error(response, 401, "INVALID_REFRESH_TOKEN")
    assert set_cookie(response) == CLEARED


def test_two_cookies_of_the_name_are_neither_trusted(account: Account) -> None:
    """A sibling site can toss a Domain cookie of the same name: a browser then sends both."""
    tokens, token = cookie_sign_in(account)
    _, other = cookie_sign_in(account)
    both = {"Cookie": f"{COOKIE_NAME}={token}; {COOKIE_NAME}={other}", **FROM_A_SCRIPT}
    response = account.http.post("/api/v1/auth/refresh", headers=both)
    _error(response, 401, "INVALID_REFRESH_TOKEN")
    assert _spent_tokens(_session_of(tokens["access_token"])) == 0


def test_a_refresh_with_no_token_at_all_is_401_and_never_counts_as_a_failure(account: Account) -> None:
    """A web app's first page load, signed out, asks for a refresh: a venue of them must not meet the limit."""
    with settings_changed(RATE_LIMIT_REFRESH_PER_IP="1"):
        answers = [by_cookie(account, "refresh", None, **FROM_A_SCRIPT) for _ in range(3)]
        answers.append(account.http.post("/api/v1/auth/refresh", json={}))
    for response in answers:
        _error(response, 401, "AUTHENTICATION_REQUIRED")
        assert "set-cookie" not in response.headers


def test_a_refused_refresh_by_cookie_clears_it(account: Account) -> None:
    tokens, token = cookie_sign_in(account)
    child = cookie_token(by_cookie(account, "refresh", token, **FROM_A_SCRIPT))
    with unit_of_work() as db:  # pretend the rotation was long ago: the parent is now a stolen token
        db.execute(
            update(RefreshToken)
            .where(RefreshToken.session_id == _session_of(tokens["access_token"]))
            .values(rotated_at=sql.now() - timedelta(minutes=5))
        )
    reused = by_cookie(account, "refresh", token, **FROM_A_SCRIPT)
    _error(reused, 401, "REFRESH_TOKEN_REUSED")
    assert set_cookie(reused) == CLEARED
    ended = by_cookie(account, "refresh", child, **FROM_A_SCRIPT)
    _error(ended, 401, "SESSION_ENDED")
    assert set_cookie(ended) == CLEARED


def test_a_body_token_wins_over_the_cookie_and_needs_no_header(account: Account) -> None:
    tokens, token = cookie_sign_in(account)
    other = account.tokens()  # another session, by the body transport
    response = by_cookie(account, "refresh", token, json={"refresh_token": other["refresh_token"]})
    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"] and "set-cookie" not in response.headers
    assert _session_of(response.json()["access_token"]) == _session_of(other["access_token"])
    assert _spent_tokens(_session_of(tokens["access_token"])) == 0, "the cookie's session was not touched"


def test_a_logout_by_cookie_ends_the_session_and_clears_the_cookie(account: Account, app_origin_allowed: str) -> None:
    tokens, token = cookie_sign_in(account)
    response = by_cookie(account, "logout", token, Origin=app_origin_allowed, **FROM_A_SCRIPT)
    assert response.status_code == 204 and set_cookie(response) == CLEARED
    _error(account.me(tokens["access_token"]), 401, "SESSION_ENDED")
    _error(by_cookie(account, "refresh", token, **FROM_A_SCRIPT), 401, "SESSION_ENDED")
    again = by_cookie(account, "logout", token, **FROM_A_SCRIPT)
    assert again.status_code == 204 and set_cookie(again) == CLEARED, "already ended: 204, cleared again"


def test_a_logout_with_a_garbage_cookie_and_nothing_else_is_401_and_clears_it(account: Account) -> None:
    response = by_cookie(account, "logout", "garbage", **FROM_A_SCRIPT)
    _error(response, 401, "INVALID_REFRESH_TOKEN")
    assert set_cookie(response) == CLEARED


def test_a_logout_by_body_token_leaves_the_cookie_and_its_session_alone(account: Account) -> None:
    tokens, token = cookie_sign_in(account)
    other = account.tokens()
    response = by_cookie(account, "logout", token, json={"refresh_token": other["refresh_token"]})
    assert response.status_code == 204 and "set-cookie" not in response.headers
    _error(account.me(other["access_token"]), 401, "SESSION_ENDED")
    assert account.me(tokens["access_token"]).status_code == 200, "the body named the session: the cookie's lives"
