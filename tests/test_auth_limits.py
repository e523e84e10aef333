"""Abuse limits: counted atomically in Redis, before any bcrypt work, per IP and per account."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from shared.database import unit_of_work
from shared.models import AuditLog, EmailOutbox
from shared.redis_client import get_redis
from shared.services import rate_limits
from shared.services.rate_limits import Limit
from tests.conftest import Account, client_from, fresh_ip, settings_changed

WRONG = "Wrong-password-1"


def test_sixth_failed_login_from_one_ip_is_429_with_retry_after(account: Account, client) -> None:
    statuses = [account.login(password=WRONG).status_code for _ in range(5)]
    assert statuses == [401] * 5
    sixth = account.login(password=WRONG)
    assert sixth.status_code == 429
    assert sixth.json()["error"]["code"] == "RATE_LIMITED"
    retry_after = int(sixth.headers["retry-after"])
    assert 0 < retry_after <= 900
    # the right password from the same IP is refused too until the window passes
    assert account.login().status_code == 429
    # ...while another IP signs in fine
    elsewhere = Account(client, account.email)
    assert elsewhere.login().status_code == 200


def test_thirty_concurrent_bad_logins_let_exactly_five_reach_the_password_check(account: Account) -> None:
    def attempt(_: int) -> int:
        with client_from(str(account.http.base_url), account.ip) as http:
            return http.post("/api/v1/auth/login", json={"email": account.email, "password": WRONG}).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(attempt, range(30)))
    assert statuses.count(401) == 5, statuses
    assert statuses.count(429) == 25, statuses
    with unit_of_work() as db:
        checked = db.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.event_type == "auth.login_failed", AuditLog.ip_address == account.ip)
        )
    assert checked == 5


def test_a_correct_login_does_not_use_up_the_failure_budget(account: Account) -> None:
    for _ in range(8):
        assert account.login().status_code == 200


def test_rate_limited_is_audited_once_per_window(account: Account) -> None:
    for _ in range(8):
        account.login(password=WRONG)
    with unit_of_work() as db:
        events = db.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.event_type == "auth.rate_limited", AuditLog.ip_address == account.ip)
        )
    assert events == 1


def test_many_ips_guessing_one_account_hit_the_account_limit_but_not_the_owner(account: Account, client) -> None:
    assert account.login().status_code == 200  # the owner's IP is now known for this account
    with settings_changed(RATE_LIMIT_LOGIN_PER_ACCOUNT="4"):
        attackers = [Account(client, account.email) for _ in range(6)]
        statuses = [attacker.login(password=WRONG).status_code for attacker in attackers]
        assert statuses[:4] == [401] * 4
        assert statuses[4:] == [429, 429], "fresh IPs are stopped by the per-account limit"
        assert account.login().status_code == 200, "the owner, from a known IP, is not locked out"


def test_counter_is_born_with_its_expiry() -> None:
    limit = Limit("test", fresh_ip(), attempts=3, window_seconds=120)
    rate_limits.reserve(limit)
    ttl = get_redis().ttl(limit.key)
    assert 0 < ttl <= 120
    rate_limits.reserve(limit)
    rate_limits.reserve(limit)
    from shared.errors import RateLimitedError

    with pytest.raises(RateLimitedError) as refused:
        rate_limits.reserve(limit)
    assert 0 < refused.value.retry_after_seconds <= 120


def test_register_is_limited_per_ip(client, unique_email) -> None:
    ip = fresh_ip()
    with settings_changed(RATE_LIMIT_REGISTER_PER_IP="2"), client_from(str(client.base_url), ip) as http:
        statuses = [
            http.post(
                "/api/v1/auth/register",
                json={"email": unique_email("r"), "password": "Gala-night-2026", "first_name": "A", "last_name": "B"},
            ).status_code
            for _ in range(3)
        ]
    assert statuses == [201, 201, 429]


def _outbox_count(address: str) -> int:
    with unit_of_work() as db:
        return db.scalar(select(func.count()).select_from(EmailOutbox).where(EmailOutbox.to_address == address))


def test_resend_answers_the_same_for_every_email_and_mails_at_most_once_per_cooldown(client, unique_email) -> None:
    unverified = Account(client, unique_email("pending"))
    unverified.register()
    verified_account = Account(client, unique_email("done"))
    verified_account.register()
    verified_account.verify()
    bodies = set()
    for address in (unverified.email, verified_account.email, unique_email("ghost")):
        with client_from(str(client.base_url), fresh_ip()) as http:
            response = http.post("/api/v1/auth/verify-email/resend", json={"email": address})
        assert response.status_code == 202
        bodies.add(response.text)
    assert len(bodies) == 1
    assert _outbox_count(unverified.email) == 2  # registration + one resend
    with client_from(str(client.base_url), fresh_ip()) as http:
        again = http.post("/api/v1/auth/verify-email/resend", json={"email": unverified.email})
    assert again.status_code == 202
    assert _outbox_count(unverified.email) == 2, "a second resend inside 5 minutes sends nothing"
    assert _outbox_count(verified_account.email) == 1


def test_resend_and_reset_are_limited_per_address(client, unique_email) -> None:
    address = unique_email("target")
    for path in ("/api/v1/auth/verify-email/resend", "/api/v1/auth/password-reset/request"):
        statuses = []
        for _ in range(4):
            with client_from(str(client.base_url), fresh_ip()) as http:
                statuses.append(http.post(path, json={"email": address}).status_code)
        assert statuses == [202, 202, 202, 429], (path, statuses)


def test_reset_request_is_limited_per_ip(client, unique_email) -> None:
    with settings_changed(RATE_LIMIT_EMAIL_PER_IP="2"), client_from(str(client.base_url), fresh_ip()) as http:
        statuses = [
            http.post("/api/v1/auth/password-reset/request", json={"email": unique_email("x")}).status_code
            for _ in range(3)
        ]
    assert statuses == [202, 202, 429]


def test_limits_are_checked_before_bcrypt(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(5):
        account.login(password=WRONG)
    import bcrypt

    calls: list[int] = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda *a: calls.append(1) or real(*a))
    assert account.login(password=WRONG).status_code == 429
    assert calls == []
