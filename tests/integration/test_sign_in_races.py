"""A sign-in (or a password change) that checked a password which a reset or change then replaced
opens no session (changes nothing).

Deterministic, with database locks as barriers (no sleeps decide the order):
the test holds the user's row lock; the password reset (or change, or
deactivation) queues on it first, then the sign-in, whose bcrypt check
already passed with the old password, queues behind it. Releasing the lock
lets them run in exactly that order.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from shared.context import ClientInfo
from shared.database import unit_of_work
from shared.errors import AppError, AuthenticationError, AuthorizationError
from shared.models import Session, User
from shared.services import password_changes, users
from shared.services.caller import authenticate
from shared.services.sign_in import login
from tests.support.accounts import PASSWORD, Account, Actor
from tests.support.concurrency import USER_ROW_LOCK, locks_held
from tests.support.emails import token_from_last_email
from tests.support.network import fresh_ip

NEW_PASSWORD = "Fresh-gala-pass-42"
CLIENT = ClientInfo(request_id="race", ip_address="198.51.100.77", user_agent="race-test")


def _user_id(email: str) -> uuid.UUID:
    with unit_of_work() as db:
        return db.scalars(select(User.id).where(User.email == email)).one()


def _open_sessions(user_id: uuid.UUID) -> int:
    with unit_of_work() as db:
        count = db.scalar(
            select(func.count()).select_from(Session).where(Session.user_id == user_id, Session.revoked_at.is_(None))
        )
    return int(count or 0)


def _race(user_id: uuid.UUID, first: Callable[[], Any], email: str) -> tuple[Future[Any], Future[Any]]:
    """Run ``first`` and then a sign-in with the old password, both queued on the row lock in that order."""
    with ThreadPoolExecutor(max_workers=2) as pool, locks_held(USER_ROW_LOCK, id=user_id) as lock:
        change = pool.submit(first)
        lock.queued(1)
        # From an address of its own: a sign-in that opens no session keeps its slot of the address's limit.
        signing_in = ClientInfo(request_id="race", ip_address=fresh_ip(), user_agent="race-test")
        sign_in = pool.submit(login, email, PASSWORD, signing_in)
        lock.queued(2)
    return change, sign_in


def test_no_session_outlives_a_password_reset_that_raced_the_sign_in(account: Account) -> None:
    user_id = _user_id(account.email)
    assert account.http.post("/api/v1/auth/password/reset/request", json={"email": account.email}).status_code == 202
    token = token_from_last_email(account.email, "reset your password")
    reset, sign_in = _race(user_id, lambda: password_changes.confirm_reset(token, NEW_PASSWORD, CLIENT), account.email)
    reset.result()
    with pytest.raises(AuthenticationError):
        sign_in.result()
    assert _open_sessions(user_id) == 0
    assert account.login(password=NEW_PASSWORD).status_code == 200


def test_no_session_outlives_a_password_change_that_raced_the_sign_in(account: Account) -> None:
    user_id = _user_id(account.email)
    tokens = account.tokens()
    principal = authenticate(tokens["access_token"], CLIENT)
    change, sign_in = _race(
        user_id, lambda: password_changes.change_password(principal, PASSWORD, NEW_PASSWORD, CLIENT), account.email
    )
    change.result()
    with pytest.raises(AuthenticationError):
        sign_in.result()
    assert _open_sessions(user_id) == 1, "only the session that changed the password stays"


def test_a_password_change_that_raced_a_reset_does_not_undo_it(account: Account) -> None:
    """Someone holding the old password and a session changes it while the owner resets it:
    the reset commits first (ending that session), so the change finds neither its password
    nor its session current and changes nothing; the owner's new password stands."""
    user_id = _user_id(account.email)
    principal = authenticate(account.tokens()["access_token"], CLIENT)
    assert account.http.post("/api/v1/auth/password-reset/request", json={"email": account.email}).status_code == 202
    token = token_from_last_email(account.email, "reset your password")
    attackers = "Attackers-choice-77"
    with ThreadPoolExecutor(max_workers=2) as pool, locks_held(USER_ROW_LOCK, id=user_id) as lock:
        reset = pool.submit(password_changes.confirm_reset, token, NEW_PASSWORD, CLIENT)
        lock.queued(1)
        change = pool.submit(password_changes.change_password, principal, PASSWORD, attackers, CLIENT)
        lock.queued(2)
    reset.result()
    with pytest.raises(AuthenticationError):
        change.result()
    assert account.login(password=attackers).status_code == 401
    assert account.login(password=NEW_PASSWORD).status_code == 200


def test_no_session_opens_for_an_account_deactivated_during_the_sign_in(
    account: Account, signed_in: Callable[..., Actor]
) -> None:
    user_id = _user_id(account.email)
    admin = signed_in("super_admin")
    principal = authenticate(admin.access_token, CLIENT)
    deactivate, sign_in = _race(user_id, lambda: users.deactivate(principal, user_id, CLIENT), account.email)
    deactivate.result()
    with pytest.raises(AuthorizationError) as refused:
        sign_in.result()
    assert isinstance(refused.value, AppError) and refused.value.code == "ACCOUNT_DEACTIVATED"
    assert _open_sessions(user_id) == 0
