"""Sign-out always works: by the bearer token (even expired), by a refresh token in the body, or by the cookie.

It answers 204 when the session named had already ended, and 401 only when
nothing could name one. The cookie's part (and its CSRF rule) is in
test_browser_sessions.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import func, select, update

from shared.config import get_settings
from shared.database import unit_of_work
from shared.models import AuditLog, RefreshToken
from shared.security.jwt_tokens import create_access_token
from shared.security.refresh_tokens import new_refresh_token
from tests.support.accounts import Account


def _session_id(tokens: dict[str, Any]) -> str:
    return str(jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"])


def _logout(account: Account, *, bearer: str | None = None, refresh_token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    body = {"refresh_token": refresh_token} if refresh_token else None
    return account.http.post("/api/v1/auth/logout", headers=headers, json=body)


def _code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def _ended(account: Account, tokens: dict[str, Any]) -> bool:
    """Both of the session's tokens are refused as those of an ended session."""
    me, refreshed = account.me(tokens["access_token"]), account.refresh(tokens["refresh_token"])
    return (me.status_code, _code(me), refreshed.status_code, _code(refreshed)) == (
        401,
        "SESSION_ENDED",
        401,
        "SESSION_ENDED",
    )


def _logout_rows(session_id: str) -> int:
    with unit_of_work() as db:
        count = db.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.event_type == "auth.logout", AuditLog.details["session_id"].astext == session_id)
        )
    return int(count or 0)


def _expired_access_token(tokens: dict[str, Any]) -> str:
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    token, _ = create_access_token(
        get_settings(),
        user_id=claims["sub"],
        session_id=claims["sid"],
        role=claims["role"],
        npo_id=claims["npo_id"],
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    return token


def test_the_bearer_token_alone_signs_out_as_it_always_did(account: Account) -> None:
    tokens = account.tokens()
    response = _logout(account, bearer=tokens["access_token"])
    assert response.status_code == 204 and "set-cookie" not in response.headers, "no cookie came, none is cleared"
    assert _ended(account, tokens) and _logout_rows(_session_id(tokens)) == 1


def test_a_refresh_token_in_the_body_alone_ends_its_session(account: Account) -> None:
    tokens = account.tokens()
    response = _logout(account, refresh_token=tokens["refresh_token"])
    assert response.status_code == 204 and "set-cookie" not in response.headers
    assert _ended(account, tokens) and _logout_rows(_session_id(tokens)) == 1


def test_an_expired_access_token_with_the_refresh_token_signs_out(account: Account) -> None:
    """The issue's case: the access token had expired, and sign-out answered 401 and left the session alive."""
    tokens = account.tokens()
    response = _logout(account, bearer=_expired_access_token(tokens), refresh_token=tokens["refresh_token"])
    assert response.status_code == 204, response.text
    assert _ended(account, tokens)


def test_an_expired_access_token_alone_still_names_its_session(account: Account) -> None:
    tokens = account.tokens()
    assert _logout(account, bearer=_expired_access_token(tokens)).status_code == 204
    assert _ended(account, tokens)


@pytest.mark.parametrize("state", ["rotated-within-grace", "rotated-after-grace"])
def test_a_refresh_token_in_any_state_names_its_session(account: Account, state: str) -> None:
    tokens = account.tokens()
    child = account.refresh(tokens["refresh_token"]).json()
    if state == "rotated-after-grace":
        with unit_of_work() as db:
            db.execute(
                update(RefreshToken)
                .where(RefreshToken.session_id == uuid.UUID(_session_id(tokens)))
                .values(rotated_at=func.now() - timedelta(minutes=5))
            )
    assert _logout(account, refresh_token=tokens["refresh_token"]).status_code == 204
    assert _ended(account, child) and _logout_rows(_session_id(tokens)) == 1


def test_a_session_that_already_ended_signs_out_again_with_204(account: Account) -> None:
    tokens = account.tokens()
    for _ in range(2):
        assert _logout(account, bearer=tokens["access_token"]).status_code == 204
        assert _logout(account, refresh_token=tokens["refresh_token"]).status_code == 204
    assert _logout_rows(_session_id(tokens)) == 1, "ended once, audited once"


def test_bearer_and_body_naming_two_sessions_end_both(account: Account) -> None:
    laptop, phone = account.tokens(), account.tokens()
    assert _logout(account, bearer=laptop["access_token"], refresh_token=phone["refresh_token"]).status_code == 204
    assert _ended(account, laptop) and _ended(account, phone)


def test_a_well_formed_refresh_token_nobody_issued_answers_like_any_other(account: Account) -> None:
    """Sign-out is no oracle: an unknown token and a real one get the same 204."""
    tokens = account.tokens()
    assert _logout(account, refresh_token=new_refresh_token().text).status_code == 204
    assert account.me(tokens["access_token"]).status_code == 200, "nothing else ended"


@pytest.mark.parametrize(
    ("bearer", "refresh_token", "code"),
    [
        (None, None, "AUTHENTICATION_REQUIRED"),
        ("not-a-jwt", None, "INVALID_TOKEN"),
        (None, "A" * 20, "INVALID_REFRESH_TOKEN"),  # of a shape no refresh token has
        ("not-a-jwt", "A" * 20, "INVALID_REFRESH_TOKEN"),
    ],
)
def test_nothing_that_could_name_a_session_is_401(
    account: Account, bearer: str | None, refresh_token: str | None, code: str
) -> None:
    response = _logout(account, bearer=bearer, refresh_token=refresh_token)
    assert response.status_code == 401 and _code(response) == code
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="augeo"')


def test_a_body_that_is_not_a_token_is_422(account: Account) -> None:
    response = _logout(account, bearer=account.tokens()["access_token"], refresh_token="short")
    assert response.status_code == 422 and _code(response) == "VALIDATION_ERROR"


def test_a_garbage_bearer_beside_a_real_refresh_token_still_signs_out(account: Account) -> None:
    tokens = account.tokens()
    assert _logout(account, bearer="not-a-jwt", refresh_token=tokens["refresh_token"]).status_code == 204
    assert _ended(account, tokens)
