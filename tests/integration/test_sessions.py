"""Sessions: reuse detection, grace, idle and absolute expiry, every request checked."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, cast

import jwt
import pytest
from sqlalchemy import func, select, text, update

from shared.config import get_settings
from shared.database import unit_of_work
from shared.models import AuditLog, RefreshToken, Session
from shared.redis_client import Keys, get_redis
from shared.security.jwt_tokens import create_access_token
from tests.support import FunctionsByName
from tests.support.accounts import Account, Actor
from tests.support.round_trips import counting_round_trips


def _sid(tokens: dict[str, Any]) -> str:
    return cast(str, jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"])


def _session_key(tokens: dict[str, Any]) -> str:
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    return Keys.session(claims["sub"], claims["sid"])


def _age_rotation(session_id: str, seconds: int) -> None:
    """Pretend the rotation of this session's tokens happened ``seconds`` ago."""
    with unit_of_work() as db:
        db.execute(
            update(RefreshToken)
            .where(RefreshToken.session_id == uuid.UUID(session_id), RefreshToken.rotated_at.is_not(None))
            .values(rotated_at=func.now() - text(f"interval '{int(seconds)} seconds'"))
        )


def test_parent_within_grace_returns_the_same_child(account: Account) -> None:
    tokens = account.tokens()
    first = account.refresh(tokens["refresh_token"]).json()
    second = account.refresh(tokens["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] == first["refresh_token"]


def test_rotated_token_after_grace_ends_the_whole_session(account: Account) -> None:
    tokens = account.tokens()
    child = account.refresh(tokens["refresh_token"]).json()
    _age_rotation(_sid(tokens), get_settings().refresh_token_reuse_grace_seconds + 1)
    stolen = account.refresh(tokens["refresh_token"])
    assert stolen.status_code == 401
    assert stolen.json()["error"]["code"] == "REFRESH_TOKEN_REUSED"
    # the thief's replay killed the legitimate lineage too: access and refresh tokens die
    assert account.me(child["access_token"]).status_code == 401
    assert account.refresh(child["refresh_token"]).status_code == 401
    with unit_of_work() as db:
        session = db.get(Session, uuid.UUID(_sid(tokens)))
        events = db.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(
                AuditLog.event_type == "auth.refresh_reuse_detected",
                AuditLog.details["session_id"].astext == _sid(tokens),
            )
        )
    assert session is not None
    assert session.revoked_at is not None and session.revoked_reason == "refresh_token_reuse"
    assert events == 1


def test_other_devices_survive_a_reuse_on_one(account: Account) -> None:
    laptop, phone = account.tokens(), account.tokens()
    account.refresh(laptop["refresh_token"])
    _age_rotation(_sid(laptop), 60)
    assert account.refresh(laptop["refresh_token"]).status_code == 401
    assert account.me(phone["access_token"]).status_code == 200


def test_idle_session_is_dead_and_cannot_refresh(account: Account) -> None:
    tokens = account.tokens()
    assert account.me(tokens["access_token"]).status_code == 200
    get_redis().pexpire(_session_key(tokens), 1)  # what 30 idle minutes do to the key
    time.sleep(0.05)
    assert account.me(tokens["access_token"]).status_code == 401
    assert account.refresh(tokens["refresh_token"]).status_code == 401


def test_activity_slides_the_idle_timeout(account: Account) -> None:
    tokens = account.tokens()
    key = _session_key(tokens)
    get_redis().expire(key, 5)
    assert account.me(tokens["access_token"]).status_code == 200
    idle = get_settings().session_idle_timeout_minutes * 60
    assert idle - 5 <= get_redis().ttl(key) <= idle


def test_absolute_lifetime_ends_refresh(account: Account) -> None:
    tokens = account.tokens()
    with unit_of_work() as db:
        db.execute(update(Session).where(Session.id == uuid.UUID(_sid(tokens))).values(expires_at=func.now()))
    assert account.refresh(tokens["refresh_token"]).status_code == 401


def test_unknown_and_malformed_refresh_tokens_are_401(account: Account) -> None:
    assert account.refresh("A" * 43).status_code == 401
    malformed = account.refresh("short")
    assert malformed.status_code == 422


def test_access_token_of_an_ended_session_fails_even_if_unexpired(account: Account) -> None:
    tokens = account.tokens()
    get_redis().delete(_session_key(tokens))
    response = account.me(tokens["access_token"])
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_refresh_token_never_passes_as_access_token(account: Account) -> None:
    tokens = account.tokens()
    assert account.me(tokens["refresh_token"]).status_code == 401


def test_forged_token_for_a_live_session_of_another_user_fails(
    account: Account, new_account: Callable[[], Account]
) -> None:
    other = new_account()
    mine = account.tokens()
    forged, _ = create_access_token(
        get_settings(), user_id=str(other.tokens()["user"]["id"]), session_id=_sid(mine), role="donor", npo_id=None
    )
    assert account.me(forged).status_code == 401


@pytest.mark.parametrize("header", ["", "Bearer", "Basic abc", "Bearer not.a.jwt", "bearer x.y.z"])
def test_bad_authorization_headers_are_401(account: Account, header: str) -> None:
    response = account.http.get("/api/v1/users/me", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.json()["error"]["code"] in ("AUTHENTICATION_REQUIRED", "INVALID_TOKEN")


def test_one_session_per_login_records_ip_and_user_agent(account: Account) -> None:
    tokens = account.tokens()
    with unit_of_work() as db:
        session = db.get(Session, uuid.UUID(_sid(tokens)))
    assert session is not None
    assert session.ip_address == account.ip
    assert session.user_agent == "pytest-browser/1.0"
    assert session.revoked_at is None


def test_session_check_is_one_redis_round_trip(
    account: Account, functions: FunctionsByName, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Count what the clients send for one authenticated request: round trips to
    Redis (packed commands written to a socket) and SQL statements."""
    import azure.functions as func

    tokens = account.tokens()
    assert account.me(tokens["access_token"]).status_code == 200  # steady state: the script is cached
    request = func.HttpRequest(
        "GET", "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}, body=b""
    )
    with counting_round_trips(monkeypatch) as seen:
        assert functions["users_me"](request).status_code == 200
    assert len(seen.redis) == 1, seen.redis
    assert len(seen.sql) == 1, seen.sql  # GET /users/me reads the row it returns; the caller's state is cached


def test_a_refresh_is_one_sql_statement_and_one_redis_round_trip(
    account: Account, functions: FunctionsByName, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spend, child, lineage, session touch and the user in one statement; the idle check in one script."""
    import json

    import azure.functions as func

    def refresh(token: str) -> func.HttpResponse:
        body = json.dumps({"refresh_token": token}).encode()
        return functions["auth_refresh"](
            func.HttpRequest("POST", "/api/v1/auth/refresh", headers={"Content-Type": "application/json"}, body=body)
        )

    warm = refresh(account.tokens()["refresh_token"])
    with counting_round_trips(monkeypatch) as seen:
        response = refresh(json.loads(warm.get_body())["refresh_token"])
    assert response.status_code == 200
    assert len(seen.redis) == 1, seen.redis
    assert len(seen.statements) == 1, seen.statements


def test_a_route_that_needs_only_the_callers_state_costs_no_sql(
    account: Account, functions: FunctionsByName, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET /api/v1/roles: the session script (with the caller's cached state) and nothing else."""
    import azure.functions as func

    headers = {"Authorization": f"Bearer {account.tokens()['access_token']}"}
    assert account.http.get("/api/v1/roles", headers=headers).status_code == 200
    request = func.HttpRequest("GET", "/api/v1/roles", headers=headers, body=b"")
    with counting_round_trips(monkeypatch) as seen:
        assert functions["roles_list"](request).status_code == 200
    assert (len(seen.redis), len(seen.sql)) == (1, 0), (seen.redis, seen.sql)


def test_a_role_change_bites_a_cached_caller_on_the_very_next_request(signed_in: Callable[..., Actor]) -> None:
    """The caller's state is cached; the change drops it before it commits."""
    npo = str(uuid.uuid4())
    root, staff = signed_in("super_admin"), signed_in("staff", npo)
    assert staff.request("GET", "/api/v1/users").status_code == 403  # cached as staff
    body = {"role": "npo_admin", "npo_id": npo}
    assert root.request("PATCH", f"/api/v1/users/{staff.id}/role", json=body).status_code == 200
    assert staff.request("GET", "/api/v1/users").status_code == 200
    assert root.request("DELETE", f"/api/v1/users/{staff.id}").status_code == 204
    assert staff.request("GET", "/api/v1/roles").status_code == 401
