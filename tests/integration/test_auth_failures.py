"""PostgreSQL or Redis down: 503 SERVICE_UNAVAILABLE, nothing let through, nothing half-written."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, cast

import azure.functions as func
import jwt
import pyotp
import pytest
from sqlalchemy import func as sql_func
from sqlalchemy import select

from shared.database import unit_of_work
from shared.models import EmailOutbox, RefreshToken, Session, User
from tests.support import FunctionsByName
from tests.support.accounts import PASSWORD, Account, Actor, enrol_second_factor
from tests.support.emails import token_from_last_email
from tests.support.messages import check_error_body
from tests.support.network import fresh_ip, unused_port
from tests.support.settings import settings_changed


@contextmanager
def redis_down() -> Iterator[None]:
    with settings_changed(REDIS_URL=f"redis://127.0.0.1:{unused_port()}/0", REDIS_CONNECT_TIMEOUT_SECONDS="0.5"):
        yield


@contextmanager
def database_down() -> Iterator[None]:
    url = f"postgresql+pg8000://postgres@127.0.0.1:{unused_port()}/augeo"
    with settings_changed(DATABASE_URL=url, DB_CONNECT_TIMEOUT_SECONDS="0.5"):
        yield


def call(
    functions: FunctionsByName,
    name: str,
    body: dict[str, str] | None = None,
    token: str | None = None,
    ip: str = "203.0.113.50",
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json", "X-Forwarded-For": ip}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = func.HttpRequest("POST", "/x", headers=headers, body=json.dumps(body or {}).encode())
    response = functions[name](request)
    check_error_body(response.status_code, response.get_body(), name)
    return response.status_code, cast(dict[str, Any], json.loads(response.get_body() or b"{}"))


def _assert_unavailable(result: tuple[int, dict[str, Any]]) -> None:
    status, body = result
    assert status == 503, body
    assert body["error"]["code"] == "SERVICE_UNAVAILABLE"


def _users_with(email: str) -> int:
    with unit_of_work() as db:
        count = db.scalar(select(sql_func.count()).select_from(User).where(User.email == email))
    assert count is not None, "COUNT(*) returns a row"
    return count


@pytest.mark.parametrize("outage", [redis_down, database_down])
def test_register_during_an_outage_writes_nothing(
    functions: FunctionsByName,
    unique_email: Callable[[str], str],
    outage: Callable[[], AbstractContextManager[None]],
) -> None:
    email = unique_email("outage")
    body = {"email": email, "password": PASSWORD, "first_name": "O", "last_name": "O"}
    with outage():
        _assert_unavailable(call(functions, "auth_register", body))
    assert _users_with(email) == 0
    with unit_of_work() as db:
        assert db.scalar(select(sql_func.count()).select_from(EmailOutbox).where(EmailOutbox.to_address == email)) == 0


@pytest.mark.parametrize("outage", [redis_down, database_down])
def test_login_during_an_outage_is_503_and_opens_no_session(
    functions: FunctionsByName, account: Account, outage: Callable[[], AbstractContextManager[None]]
) -> None:
    with unit_of_work() as db:
        user_id = db.scalars(select(User.id).where(User.email == account.email)).one()
        before = db.scalar(select(sql_func.count()).select_from(Session).where(Session.user_id == user_id))
    with outage():
        _assert_unavailable(call(functions, "auth_login", {"email": account.email, "password": PASSWORD}))
    with unit_of_work() as db:
        after = db.scalar(select(sql_func.count()).select_from(Session).where(Session.user_id == user_id))
    assert after == before


@pytest.mark.parametrize("outage", [redis_down, database_down])
def test_authenticated_request_is_refused_not_let_through(
    functions: FunctionsByName, account: Account, outage: Callable[[], AbstractContextManager[None]]
) -> None:
    tokens = account.tokens()
    request = func.HttpRequest(
        "GET", "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}, body=b""
    )
    with outage():
        response = functions["users_me"](request)
    assert response.status_code == 503
    assert account.me(tokens["access_token"]).status_code == 200


def test_refresh_with_redis_down_rotates_nothing(functions: FunctionsByName, account: Account) -> None:
    tokens = account.tokens()
    with redis_down():
        _assert_unavailable(call(functions, "auth_refresh", {"refresh_token": tokens["refresh_token"]}))
    sid = uuid.UUID(jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"])
    with unit_of_work() as db:
        rows = db.scalars(select(RefreshToken).where(RefreshToken.session_id == sid)).all()
    assert [row.rotated_at for row in rows] == [None], "the rotation was rolled back with the failed request"
    after = account.refresh(tokens["refresh_token"])
    assert after.status_code == 200


def test_logout_when_redis_fails_keeps_the_session_consistent(functions: FunctionsByName, account: Account) -> None:
    tokens = account.tokens()
    with redis_down():
        _assert_unavailable(call(functions, "auth_logout", token=tokens["access_token"]))
    sid = uuid.UUID(jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"])
    with unit_of_work() as db:
        session = db.get(Session, sid)
        assert session is not None
        assert session.revoked_at is None
    assert account.me(tokens["access_token"]).status_code == 200


def test_requests_answered_503_give_back_every_limit_slot_they_reserved(
    functions: FunctionsByName, account: Account, unique_email: Callable[[str], str]
) -> None:
    """A ten-second database outage must not leave a venue's address locked out afterwards."""
    ip = fresh_ip()  # of its own: the test ends with this address's limits used up for their windows
    wrong = {"email": account.email, "password": "Wrong-password-1"}
    with database_down():
        for _ in range(8):
            _assert_unavailable(call(functions, "auth_login", wrong, ip=ip))
            _assert_unavailable(call(functions, "auth_login", {"email": account.email, "password": PASSWORD}, ip=ip))
        for _ in range(12):
            body = {"email": unique_email("outage"), "password": PASSWORD, "first_name": "O", "last_name": "O"}
            _assert_unavailable(call(functions, "auth_register", body, ip=ip))
            _assert_unavailable(call(functions, "auth_resend_verification", {"email": account.email}, ip=ip))
            _assert_unavailable(call(functions, "auth_password_reset_request", {"email": account.email}, ip=ip))
            _assert_unavailable(call(functions, "auth_verify_email", {"token": "x" * 43}, ip=ip))
            _assert_unavailable(
                call(functions, "auth_password_reset_confirm", {"token": "x" * 43, "new_password": "Abcdef-123"}, ip=ip)
            )
    assert [call(functions, "auth_login", wrong, ip=ip)[0] for _ in range(5)] == [401] * 5
    body = {"email": unique_email("after"), "password": PASSWORD, "first_name": "A", "last_name": "A"}
    assert call(functions, "auth_register", body, ip=ip)[0] == 201
    assert call(functions, "auth_password_reset_request", {"email": account.email}, ip=ip)[0] == 202
    assert token_from_last_email(account.email, "reset your password"), "the owner's reset was sent"
    assert [call(functions, "auth_verify_email", {"token": "y" * 43}, ip=ip)[0] for _ in range(20)] == [400] * 20


def test_a_signed_in_password_check_answered_503_gives_back_its_slot(
    functions: FunctionsByName, account: Account
) -> None:
    """Password change, re-authentication and self-erasure share one check of the caller's password."""
    token = account.tokens()["access_token"]
    assert account.me(token).status_code == 200  # the state is cached: only the password check needs the database
    wrong = {"current_password": "Wrong-password-1", "new_password": "Another-password-2"}
    with database_down():
        for _ in range(8):
            _assert_unavailable(call(functions, "auth_password_change", wrong, token=token))
    statuses = [call(functions, "auth_password_change", wrong, token=token)[0] for _ in range(6)]
    assert statuses == [401] * 5 + [429], "five wrong passwords, then the per-user limit"


def test_a_second_step_answered_503_gives_back_its_slots_and_the_challenge_keeps_its_own(
    functions: FunctionsByName, signed_in: Callable[..., Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code's slots go back on a 503; the password check's stay with the challenge, which
    still works after the outage and gives them back when its code opens the session."""
    now = [1_900_000_020.0]  # the app's clock, held still: codes of chosen steps
    monkeypatch.setattr("shared.clock.now", lambda: now[0])
    actor = signed_in("donor")
    secret = enrol_second_factor(actor).secret
    now[0] += 60
    ip, credentials = actor.account.ip, {"email": actor.account.email, "password": PASSWORD}
    with settings_changed(RATE_LIMIT_LOGIN_PER_IP="2"):
        status, challenge = call(functions, "auth_login", credentials, ip=ip)
        assert status == 200 and challenge["mfa_required"] is True
        proof = {"mfa_token": challenge["mfa_token"], "code": pyotp.TOTP(secret).at(now[0])}
        with database_down():
            for _ in range(3):
                _assert_unavailable(call(functions, "auth_mfa_verify", proof, ip=ip))
        status, signed = call(functions, "auth_mfa_verify", proof, ip=ip)
        assert status == 200, signed
        assert [call(functions, "auth_login", credentials, ip=ip)[0] for _ in range(3)] == [200, 200, 429]
