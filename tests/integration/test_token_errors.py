"""The 401 codes a client acts on, each in the situation that produces it, over HTTP.

An app refreshes after ``TOKEN_EXPIRED`` and signs in again after
``SESSION_ENDED`` or ``REFRESH_TOKEN_REUSED``; ``INVALID_TOKEN`` and
``INVALID_REFRESH_TOKEN`` are what no honest client sends. Each of these says
``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750 §3.1); a request
with no token at all gets the bare challenge.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import func, select, update

from shared.config import get_settings
from shared.database import unit_of_work
from shared.models import AuditLog, RefreshToken, Session
from shared.redis_client import Keys, get_redis
from shared.security.jwt_tokens import access_token_claims
from shared.security.refresh_tokens import new_refresh_token
from tests.support import FunctionsByName
from tests.support.accounts import Account, Actor
from tests.support.emails import token_from_last_email
from tests.support.round_trips import counting_round_trips
from tests.support.settings import settings_changed

INVALID_TOKEN_CHALLENGE = 'Bearer realm="augeo", error="invalid_token"'


def _claims(tokens: dict[str, Any]) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    return claims


def _refused(response: httpx.Response, code: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == code
    assert response.headers["WWW-Authenticate"] == INVALID_TOKEN_CHALLENGE


def _age_rotation(session_id: str, seconds: int) -> None:
    """Pretend the rotations of this session's tokens happened ``seconds`` ago."""
    with unit_of_work() as db:
        db.execute(
            update(RefreshToken)
            .where(RefreshToken.session_id == uuid.UUID(session_id), RefreshToken.rotated_at.is_not(None))
            .values(rotated_at=RefreshToken.rotated_at - timedelta(seconds=seconds))
        )


def _reuse_rows(session_id: str) -> int:
    with unit_of_work() as db:
        count = db.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(
                AuditLog.event_type == "auth.refresh_reuse_detected",
                AuditLog.details["session_id"].astext == session_id,
            )
        )
    return int(count or 0)


# -- access tokens ----------------------------------------------------------------------------


def _expired(tokens: dict[str, Any], **changed: Any) -> str:
    """An access token of the live session behind ``tokens``, signed by this service, issued
    sixteen minutes ago (so past its exp and the leeway); ``changed`` claims replace its own."""
    settings = get_settings()
    claims = _claims(tokens)
    payload = access_token_claims(
        settings,
        user_id=claims["sub"],
        session_id=claims["sid"],
        role=claims["role"],
        npo_id=claims["npo_id"],
        events=None,
        auth_time=claims["auth_time"],
        amr=claims["amr"],
        issued=datetime.now(UTC) - timedelta(minutes=16),
    )
    keys = settings.jwt_signing_keys
    assert keys is not None
    headers = {"typ": "at+jwt", "kid": keys.signing.kid}
    return jwt.encode({**payload, **changed}, keys.signing.private_key, algorithm="ES256", headers=headers)


def test_an_access_token_past_its_expiry_is_token_expired(account: Account) -> None:
    tokens = account.tokens()
    response = account.me(_expired(tokens))
    _refused(response, "TOKEN_EXPIRED")
    assert account.me(tokens["access_token"]).status_code == 200, "the session lives on: refresh and go on"


@pytest.mark.parametrize(
    "changed",
    [
        {"aud": "another-audience"},
        {"iss": "someone-else"},
        {"typ": "refresh"},
        {"exp": "tomorrow"},
    ],
    ids=["audience", "issuer", "type", "malformed-exp"],
)
def test_an_expired_token_with_anything_else_wrong_is_invalid_token(account: Account, changed: dict[str, Any]) -> None:
    """PyJWT checks exp before iss and aud: only a token whose one fault is its age is TOKEN_EXPIRED."""
    _refused(account.me(_expired(account.tokens(), **changed)), "INVALID_TOKEN")


def test_an_expired_token_with_a_broken_signature_is_invalid_token(account: Account) -> None:
    header, payload, signature = _expired(account.tokens()).split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    _refused(account.me(tampered), "INVALID_TOKEN")


def test_an_expired_token_living_longer_than_issued_is_invalid_token(account: Account) -> None:
    tokens = account.tokens()
    long_lived = _expired(tokens, exp=int(time.time()) - 60, iat=int(time.time()) - 3600)
    _refused(account.me(long_lived), "INVALID_TOKEN")


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "A" * 43])
def test_a_token_that_is_not_ours_is_invalid_token(account: Account, token: str) -> None:
    _refused(account.me(token), "INVALID_TOKEN")


def test_a_signature_that_does_not_verify_is_invalid_token(account: Account) -> None:
    header, payload, _ = account.tokens()["access_token"].split(".")
    other = account.tokens()["access_token"].split(".")[2]
    _refused(account.me(f"{header}.{payload}.{other}"), "INVALID_TOKEN")


def test_no_token_is_authentication_required_with_the_bare_challenge(account: Account) -> None:
    response = account.http.get("/api/v1/users/me")
    assert response.status_code == 401 and response.json()["error"]["code"] == "AUTHENTICATION_REQUIRED"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="augeo"', "RFC 6750 §3.1: no error code"


def test_telling_expired_from_invalid_costs_no_round_trip(
    account: Account, functions: FunctionsByName, monkeypatch: pytest.MonkeyPatch
) -> None:
    import azure.functions as func

    expired = _expired(account.tokens())
    request = func.HttpRequest("GET", "/api/v1/users/me", headers={"Authorization": f"Bearer {expired}"}, body=b"")
    with counting_round_trips(monkeypatch) as seen:
        response = functions["users_me"](request)
    assert response.status_code == 401 and b"TOKEN_EXPIRED" in response.get_body()
    assert (seen.redis, seen.sql) == ([], [])


# -- sessions that ended: SESSION_ENDED for the access and the refresh token ------------------


def _logout(account: Account, tokens: dict[str, Any]) -> None:
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert account.http.post("/api/v1/auth/logout", headers=bearer).status_code == 204


def _idle(tokens: dict[str, Any]) -> None:
    claims = _claims(tokens)
    get_redis().delete(Keys.session(claims["sub"], claims["sid"]))  # what 30 idle minutes do to the key


def _deactivate(tokens: dict[str, Any], admin: Actor) -> None:
    assert admin.request("DELETE", f"/api/v1/users/{tokens['user']['id']}").status_code == 204


def _reset_password(account: Account) -> None:
    assert account.http.post("/api/v1/auth/password-reset/request", json={"email": account.email}).status_code == 202
    token = token_from_last_email(account.email, "reset your password")
    body = {"token": token, "new_password": "Brand-new-pass-77"}
    assert account.http.post("/api/v1/auth/password-reset/confirm", json=body).status_code == 200


def _reach_absolute_expiry(tokens: dict[str, Any]) -> None:
    """The session's end, REFRESH_TOKEN_EXPIRE_DAYS after sign-in, is now: in the database and in Redis."""
    claims = _claims(tokens)
    with unit_of_work() as db:
        db.execute(update(Session).where(Session.id == uuid.UUID(claims["sid"])).values(expires_at=func.now()))
    get_redis().hset(Keys.session(claims["sub"], claims["sid"]), "expires_at", int(time.time()))


def _evict(account: Account) -> None:
    with settings_changed(MAX_SESSIONS_PER_USER="1"):
        account.tokens()  # a sign-in beyond the limit ends the oldest session


def _erase(account: Account, tokens: dict[str, Any]) -> None:
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    erased = account.http.request("DELETE", "/api/v1/users/me", json={"password": account.password}, headers=bearer)
    assert erased.status_code == 204, erased.text


# How a session ends: given the account, its tokens and a way to get a super admin.
ENDINGS: dict[str, Callable[[Account, dict[str, Any], Callable[[], Actor]], None]] = {
    "logout": lambda account, tokens, _: _logout(account, tokens),
    "deactivation": lambda _, tokens, admin: _deactivate(tokens, admin()),
    "password-reset": lambda account, _, __: _reset_password(account),
    "idle": lambda _, tokens, __: _idle(tokens),
    "absolute-expiry": lambda _, tokens, __: _reach_absolute_expiry(tokens),
    "eviction": lambda account, _, __: _evict(account),
    "erasure": lambda account, tokens, _: _erase(account, tokens),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_every_way_a_session_ends_is_session_ended_for_both_tokens(
    account: Account, signed_in: Callable[..., Actor], ending: str
) -> None:
    tokens = account.tokens()
    ENDINGS[ending](account, tokens, lambda: signed_in("super_admin"))
    _refused(account.me(tokens["access_token"]), "SESSION_ENDED")
    _refused(account.refresh(tokens["refresh_token"]), "SESSION_ENDED")


def _spent(session_id: str) -> int:
    with unit_of_work() as db:
        count = db.scalar(
            select(func.count())
            .select_from(RefreshToken)
            .where(RefreshToken.session_id == uuid.UUID(session_id), RefreshToken.rotated_at.is_not(None))
        )
    return int(count or 0)


def test_a_token_of_an_ended_session_stays_session_ended_and_is_never_taken_for_a_reuse(account: Account) -> None:
    """The refused refresh spends nothing: presented again long after, it is not a rotated token."""
    tokens = account.tokens()
    session_id = _claims(tokens)["sid"]
    _idle(tokens)
    _refused(account.refresh(tokens["refresh_token"]), "SESSION_ENDED")
    assert _spent(session_id) == 0
    _refused(account.refresh(tokens["refresh_token"]), "SESSION_ENDED")
    assert _reuse_rows(session_id) == 0


def test_a_rotated_token_of_a_session_that_ended_otherwise_is_session_ended(account: Account) -> None:
    """Within the grace or long after: the session ended by a logout, not by this token."""
    tokens = account.tokens()
    child = account.refresh(tokens["refresh_token"]).json()
    _logout(account, child)
    _refused(account.refresh(tokens["refresh_token"]), "SESSION_ENDED")
    _age_rotation(_claims(tokens)["sid"], 3600)
    _refused(account.refresh(tokens["refresh_token"]), "SESSION_ENDED")
    assert _reuse_rows(_claims(tokens)["sid"]) == 0


def test_a_refresh_of_a_revoked_session_is_told_apart_by_the_rotation_statement_alone(
    account: Account, functions: FunctionsByName, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SESSION_ENDED rather than INVALID_REFRESH_TOKEN costs no statement beyond the rotation's."""
    import json

    import azure.functions as func

    tokens = account.tokens()
    _logout(account, tokens)
    body = json.dumps({"refresh_token": tokens["refresh_token"]}).encode()
    request = func.HttpRequest("POST", "/api/v1/auth/refresh", headers={"Content-Type": "application/json"}, body=body)
    with counting_round_trips(monkeypatch) as seen:
        response = functions["auth_refresh"](request)
    assert response.status_code == 401 and b"SESSION_ENDED" in response.get_body()
    assert len(seen.statements) == 1, seen.statements
    assert len(seen.redis) == 1, "the failed-refresh counter, nothing else"


# -- refresh tokens ---------------------------------------------------------------------------


def test_a_refresh_token_never_issued_is_invalid_refresh_token(account: Account) -> None:
    _refused(account.refresh(new_refresh_token().text), "INVALID_REFRESH_TOKEN")


def test_a_rotated_token_after_the_grace_is_refresh_token_reused_and_ends_the_session(account: Account) -> None:
    tokens = account.tokens()
    child = account.refresh(tokens["refresh_token"]).json()
    _age_rotation(_claims(tokens)["sid"], get_settings().refresh_token_reuse_grace_seconds + 1)
    _refused(account.refresh(tokens["refresh_token"]), "REFRESH_TOKEN_REUSED")
    # the legitimate holder of the child learns the session is over
    _refused(account.me(child["access_token"]), "SESSION_ENDED")
    _refused(account.refresh(child["refresh_token"]), "SESSION_ENDED")
    _refused(account.refresh(tokens["refresh_token"]), "SESSION_ENDED")  # the reuse was answered once
    assert _reuse_rows(_claims(tokens)["sid"]) == 1
