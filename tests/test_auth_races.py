"""Races: concurrent registrations of one email, concurrent refreshes of one token."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import jwt
from sqlalchemy import func, select

from shared.database import unit_of_work
from shared.models import EmailOutbox, RefreshToken, User
from tests.conftest import PASSWORD, Account, client_from, fresh_ip, settings_changed


def test_fifty_concurrent_registrations_make_one_user(base_url: str, unique_email: Callable[[str], str]) -> None:
    email = unique_email("race")
    body = {"email": email, "password": PASSWORD, "first_name": "R", "last_name": "R"}

    def register(_: int) -> int:
        with client_from(base_url, fresh_ip()) as http:
            return http.post("/api/v1/auth/register", json=body).status_code

    with settings_changed(RATE_LIMIT_EMAIL_PER_ADDRESS="1000"), ThreadPoolExecutor(max_workers=25) as pool:
        statuses = list(pool.map(register, range(50)))
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {201, 409}, statuses
    with unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(User).where(User.email == email)) == 1
        # the user and its verification email were written together, once
        assert db.scalar(select(func.count()).select_from(EmailOutbox).where(EmailOutbox.to_address == email)) == 1


def test_twenty_concurrent_refreshes_keep_one_lineage(account: Account) -> None:
    tokens = account.tokens()

    def refresh(_: int) -> httpx.Response:
        with client_from(str(account.http.base_url), account.ip) as http:
            return http.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(refresh, range(20)))
    statuses = [r.status_code for r in responses]
    assert all(status == 200 for status in statuses), statuses
    children = {r.json()["refresh_token"] for r in responses}
    assert len(children) == 1, "every racer must get the same child"
    [child] = children
    session_id = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]
    with unit_of_work() as db:
        rows = db.scalars(select(RefreshToken).where(RefreshToken.session_id == session_id)).all()
    assert len(rows) == 2, "one parent, one child: a single lineage"
    # the session is still usable: the child refreshes, its access token works
    after = account.http.post("/api/v1/auth/refresh", json={"refresh_token": child})
    assert after.status_code == 200
    assert account.me(after.json()["access_token"]).status_code == 200
