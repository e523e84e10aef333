"""Races: concurrent registrations of one email, concurrent refreshes of one token (in the body or the cookie).

Each race is forced, not hoped for: the test holds a lock the requests must
wait for, lets go only once every one of them is queued on it, and so they
all get past their own checks before any of them commits. Run one after
another, the same requests would take the easy path (the email already
taken, the token already rotated) and prove nothing about the race.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from shared.database import unit_of_work
from shared.models import EmailOutbox, RefreshToken, User
from shared.security.tokens import hash_token
from tests.support.accounts import PASSWORD, Account
from tests.support.concurrency import locks_held
from tests.support.network import client_from, fresh_ip
from tests.support.refresh_cookie import COOKIE_NAME, FROM_A_SCRIPT, cookie_sign_in, cookie_token
from tests.support.settings import settings_changed

RACERS = 10
# Room in the app's pool for every racer to wait on the lock at once.
POOL_FOR_THE_RACERS = {"DB_POOL_SIZE": str(RACERS + 2), "DB_MAX_OVERFLOW": "0"}


def test_concurrent_registrations_of_one_email_make_one_user(base_url: str, unique_email: Callable[[str], str]) -> None:
    """All find the address free, then insert: the unique index lets one through, the rest are 409."""
    email = unique_email("race")
    body = {"email": email, "password": PASSWORD, "first_name": "R", "last_name": "R"}

    def register() -> int:
        with client_from(base_url, fresh_ip()) as http:
            return http.post("/api/v1/auth/register", json=body).status_code

    # The test's own uncommitted row with the address: each insert waits on it in the unique index.
    taken = "INSERT INTO users (email, first_name, last_name, role) VALUES (:email, 'T', 'T', 'donor')"
    with (
        settings_changed(RATE_LIMIT_EMAIL_PER_ADDRESS="1000", **POOL_FOR_THE_RACERS),
        ThreadPoolExecutor(max_workers=RACERS) as pool,
    ):
        with locks_held(taken, email=email) as lock:
            racers = [pool.submit(register) for _ in range(RACERS)]
            lock.queued(RACERS)  # every one checked that the address is free, and is inserting
        statuses = [racer.result() for racer in racers]
    assert sorted(statuses) == [201] + [409] * (RACERS - 1), statuses
    with unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(User).where(User.email == email)) == 1
        # the user and its verification email were written together, once
        assert db.scalar(select(func.count()).select_from(EmailOutbox).where(EmailOutbox.to_address == email)) == 1


def _refresh_by_body(http: httpx.Client, token: str) -> tuple[int, str | None]:
    response = http.post("/api/v1/auth/refresh", json={"refresh_token": token})
    return response.status_code, response.json().get("refresh_token")


def _refresh_by_cookie(http: httpx.Client, token: str) -> tuple[int, str | None]:
    """As a tab of a web app: the cookie, the CSRF header; the child comes back as the new cookie."""
    headers = {"Cookie": f"{COOKIE_NAME}={token}", **FROM_A_SCRIPT}
    response = http.post("/api/v1/auth/refresh", headers=headers)
    assert "refresh_token" not in response.json()
    return response.status_code, cookie_token(response)  # its value (Max-Age may differ by a second)


@pytest.mark.parametrize(
    ("sign_in", "refresh"),
    [
        (lambda account: account.tokens()["refresh_token"], _refresh_by_body),
        (lambda account: cookie_sign_in(account)[1], _refresh_by_cookie),
    ],
    ids=["body", "cookie"],
)
def test_concurrent_refreshes_of_one_token_keep_one_lineage(
    account: Account,
    sign_in: Callable[[Account], str],
    refresh: Callable[[httpx.Client, str], tuple[int, str | None]],
) -> None:
    """All present the unspent token at once: one spends it, the others wait for that and get its child
    (tabs of a web app, by cookie: the same child, so the same cookie value)."""
    token = sign_in(account)

    def racer() -> tuple[int, str | None]:
        with client_from(str(account.http.base_url), account.ip) as http:
            return refresh(http, token)

    token_row = "SELECT 1 FROM refresh_tokens WHERE token_hash = :token_hash FOR UPDATE"
    with settings_changed(**POOL_FOR_THE_RACERS), ThreadPoolExecutor(max_workers=RACERS) as pool:
        with locks_held(token_row, token_hash=hash_token(token)) as lock:
            racers = [pool.submit(racer) for _ in range(RACERS)]
            lock.queued(RACERS)  # every one is spending the token
        answers = [racer.result() for racer in racers]
    statuses = [status for status, _ in answers]
    assert all(status == 200 for status in statuses), statuses
    children = {child for _, child in answers}
    assert len(children) == 1 and None not in children, "every racer must get the same child"
    with unit_of_work() as db:
        session_id = db.scalar(select(RefreshToken.session_id).where(RefreshToken.token_hash == hash_token(token)))
        rows = db.scalars(select(RefreshToken).where(RefreshToken.session_id == session_id)).all()
    assert len(rows) == 2, "one parent, one child: a single lineage"
