"""Abuse limits: counted atomically in Redis, before any bcrypt work, per IP and per account."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import azure.functions as azure_functions
import httpx
import jwt
import pytest
from sqlalchemy import func, select, update

from shared.context import ClientInfo
from shared.database import unit_of_work
from shared.errors import RateLimitedError
from shared.models import AuditLog, EmailOutbox, User
from shared.redis_client import get_redis
from shared.services import rate_limits
from shared.services.rate_limits import Limit
from shared.services.sign_in import login
from tests.support.accounts import Account, make_user
from tests.support.concurrency import locks_held, wait_until
from tests.support.network import client_from, fresh_ip
from tests.support.round_trips import counting_round_trips
from tests.support.settings import settings_changed

WRONG = "Wrong-password-1"


def _audited(event: str, ip: str) -> int:
    """How many audit rows of ``event`` the address caused."""
    with unit_of_work() as db:
        count = db.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.event_type == event, AuditLog.ip_address == ip)
        )
    return int(count or 0)


def test_sixth_failed_login_from_one_ip_is_429_with_retry_after(account: Account, client: httpx.Client) -> None:
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
    """A slot is taken before the password is checked, not counted after: while five attempts
    are still at their check (held there by a lock on the users table), the other 25 are refused."""

    def attempt() -> int:
        with client_from(str(account.http.base_url), account.ip) as http:
            return http.post("/api/v1/auth/login", json={"email": account.email, "password": WRONG}).status_code

    # Room in the app's pool for the five held attempts and the refusals' audit.
    with (
        settings_changed(DB_POOL_SIZE="10", DB_MAX_OVERFLOW="0"),
        ThreadPoolExecutor(max_workers=30) as pool,
        locks_held("LOCK TABLE users IN ACCESS EXCLUSIVE MODE") as lock,
    ):
        attempts = [pool.submit(attempt) for _ in range(30)]
        wait_until(lambda: sum(a.done() for a in attempts) >= 25, "25 attempts answered while five are held")
        held_at_the_check = lock.waiting()
        refused = [a.result() for a in attempts if a.done()]
    assert held_at_the_check == 5, f"{held_at_the_check} held at the check; the others answered {sorted(refused)}"
    assert refused == [429] * 25, refused
    statuses = [a.result() for a in attempts]
    assert statuses.count(401) == 5 and statuses.count(429) == 25, statuses
    assert _audited("auth.login_failed", account.ip) == 5


def test_a_correct_login_does_not_use_up_the_failure_budget(account: Account) -> None:
    for _ in range(8):
        assert account.login().status_code == 200


def test_rate_limited_is_audited_once_per_window(account: Account) -> None:
    for _ in range(8):
        account.login(password=WRONG)
    assert _audited("auth.rate_limited", account.ip) == 1


def test_refused_sign_ins_are_audited_by_the_first_refusal_of_the_window_alone(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flood of refused sign-ins does not reach PostgreSQL: the script that refuses says
    whether this is the counter's first refusal in its window, and only that one is audited.
    No Redis round trip is added for it: a refused sign-in costs three (the success limit,
    whether the address is known, the per-address limit), the first as the others."""
    for _ in range(5):
        assert account.login(password=WRONG).status_code == 401
    client = ClientInfo(request_id="flood", ip_address=account.ip, user_agent="pytest")
    refusals = []
    for _ in range(6):
        with counting_round_trips(monkeypatch) as seen, pytest.raises(RateLimitedError):
            login(account.email, WRONG, client)
        refusals.append(seen)
    assert [len(seen.redis) for seen in refusals] == [3] * 6
    audit_writes = [sum("audit_logs" in statement for statement in seen.statements) for seen in refusals]
    assert audit_writes == [1, 0, 0, 0, 0, 0]
    assert _audited("auth.rate_limited", account.ip) == 1


@pytest.mark.parametrize("state", ["unverified", "deactivated"])
def test_a_right_password_to_an_account_that_cannot_sign_in_keeps_its_slot(client: httpx.Client, state: str) -> None:
    """Only a session actually opening gives a password check's slot back: a right password
    answered 403 still cost a bcrypt check, and counts like a wrong one."""
    person = make_user(client, "donor", verified=state != "unverified")
    if state == "deactivated":
        with unit_of_work() as db:
            deactivate = update(User).where(User.email == person.email)
            db.execute(deactivate.values(is_active=False, deactivated_at=func.now()))
    statuses = [person.login().status_code for _ in range(6)]
    assert statuses == [403] * 5 + [429]


def test_many_ips_guessing_one_account_hit_the_account_limit_but_not_the_owner(
    account: Account, client: httpx.Client
) -> None:
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


def test_register_is_limited_per_ip(client: httpx.Client, unique_email: Callable[[str], str]) -> None:
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
        count = db.scalar(select(func.count()).select_from(EmailOutbox).where(EmailOutbox.to_address == address))
    assert count is not None, "COUNT(*) returns a row"
    return count


def test_resend_answers_the_same_for_every_email_and_mails_at_most_once_per_cooldown(
    client: httpx.Client, unique_email: Callable[[str], str]
) -> None:
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


def test_over_the_per_address_limit_resend_and_reset_answer_the_same_and_send_nothing(
    client: httpx.Client, account: Account
) -> None:
    """Anyone can name an address: a limit they could use up must not turn into a 429
    that blocks the owner's own reset, so it silently stops sending instead."""
    sent_before = _outbox_count(account.email)
    for path in ("/api/v1/auth/verify-email/resend", "/api/v1/auth/password/reset/request"):
        statuses = []
        for _ in range(5):
            with client_from(str(client.base_url), fresh_ip()) as http:
                statuses.append(http.post(path, json={"email": account.email}).status_code)
        assert statuses == [202] * 5, (path, statuses)
    assert _outbox_count(account.email) - sent_before == 3, "three reset links, then nothing (resend: verified)"


def test_reset_request_is_limited_per_ip(client: httpx.Client, unique_email: Callable[[str], str]) -> None:
    with settings_changed(RATE_LIMIT_EMAIL_PER_IP="2"), client_from(str(client.base_url), fresh_ip()) as http:
        statuses = [
            http.post("/api/v1/auth/password/reset/request", json={"email": unique_email("x")}).status_code
            for _ in range(3)
        ]
    assert statuses == [202, 202, 429]


def test_limits_are_checked_before_bcrypt(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(5):
        account.login(password=WRONG)
    import bcrypt

    calls: list[int] = []
    real = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        calls.append(1)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", spy)
    assert account.login(password=WRONG).status_code == 429
    assert calls == []


# -- expensive paths, successful sign-ins, sessions, shared addresses ----------------------------


def test_reset_confirm_looks_at_the_token_before_any_bcrypt_work(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bcrypt

    calls: list[int] = []
    real = bcrypt.hashpw

    def spy(password: bytes, salt: bytes) -> bytes:
        calls.append(1)
        return real(password, salt)

    monkeypatch.setattr(bcrypt, "hashpw", spy)
    response = client.post(
        "/api/v1/auth/password/reset/confirm", json={"token": "z" * 43, "new_password": "Brand-new-pass-77"}
    )
    assert response.status_code == 400
    assert calls == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/auth/verify-email", {"token": "q" * 43}),
        ("/api/v1/auth/password/reset/confirm", {"token": "q" * 43, "new_password": "Brand-new-pass-77"}),
    ],
)
def test_made_up_email_tokens_are_limited_per_address(client: httpx.Client, path: str, body: dict[str, str]) -> None:
    with settings_changed(RATE_LIMIT_TOKEN_PER_IP="3"):
        statuses = [client.post(path, json=body).status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]


def test_failed_refreshes_are_limited_per_address_but_successful_ones_never(account: Account) -> None:
    with settings_changed(RATE_LIMIT_REFRESH_PER_IP="3"):
        refresh_token = account.tokens()["refresh_token"]
        for _ in range(6):  # more successes than the limit: none of them counts
            response = account.refresh(refresh_token)
            assert response.status_code == 200, response.text
            refresh_token = response.json()["refresh_token"]
        bad = [account.refresh("r" * 43).status_code for _ in range(4)]
    assert bad == [401, 401, 401, 429]


def test_successful_sign_ins_are_limited_per_account_from_any_address(account: Account, client: httpx.Client) -> None:
    with settings_changed(RATE_LIMIT_LOGIN_SUCCESS_PER_ACCOUNT="3"):
        statuses = [Account(client, account.email).login().status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_successful_sign_ins_are_never_limited_per_address(
    client: httpx.Client, new_account: Callable[[], Account]
) -> None:
    """A gala: many donors, one venue address, everyone signs in (twice)."""
    venue = fresh_ip()
    donors = [new_account() for _ in range(12)]
    with settings_changed(RATE_LIMIT_LOGIN_SUCCESS_PER_ACCOUNT="2"), client_from(str(client.base_url), venue) as http:
        statuses = [
            http.post("/api/v1/auth/login", json={"email": donor.email, "password": donor.password}).status_code
            for donor in donors + donors
        ]
    assert statuses == [200] * 24


def test_the_oldest_session_ends_when_a_user_opens_one_too_many(account: Account) -> None:
    with settings_changed(MAX_SESSIONS_PER_USER="3"):
        sessions = [account.tokens() for _ in range(4)]
    assert account.me(sessions[0]["access_token"]).status_code == 401
    assert all(account.me(s["access_token"]).status_code == 200 for s in sessions[1:])
    evicted = jwt.decode(sessions[0]["access_token"], options={"verify_signature": False})["sid"]
    with unit_of_work() as db:
        events = db.scalars(
            select(AuditLog).where(AuditLog.event_type == "auth.session_evicted", AuditLog.target_user_id.isnot(None))
        ).all()
    assert any(event.details.get("session_id") == evicted for event in events)


def test_inside_a_trusted_network_one_donors_typos_do_not_lock_out_the_room(
    client: httpx.Client, new_account: Callable[[], Account]
) -> None:
    clumsy, neighbour = new_account(), new_account()

    def attempts(venue: str) -> tuple[list[int], int, int]:
        with client_from(str(client.base_url), venue) as http:

            def login(who: Account, password: str) -> int:
                return http.post("/api/v1/auth/login", json={"email": who.email, "password": password}).status_code

            typos = [login(clumsy, WRONG) for _ in range(6)]
            return typos, login(neighbour, neighbour.password), login(clumsy, clumsy.password)

    assert attempts(fresh_ip()) == ([401] * 5 + [429], 429, 429), "elsewhere the address is what counts"
    with settings_changed(RATE_LIMIT_TRUSTED_NETWORKS="127.0.0.0/8"):
        assert attempts(fresh_ip()) == ([401] * 5 + [429], 200, 429), "per (address, account) in a trusted network"


def test_inside_a_trusted_network_password_checks_across_accounts_have_a_ceiling(
    client: httpx.Client, new_account: Callable[[], Account]
) -> None:
    """Spraying one password over many accounts from a venue's address: each account's own
    budget is untouched, but the address has a ceiling (RATE_LIMIT_LOGIN_PER_TRUSTED_IP),
    which sign-ins that open a session never use up."""
    donors = [new_account() for _ in range(10)]
    venue = fresh_ip()
    with (
        settings_changed(RATE_LIMIT_TRUSTED_NETWORKS="127.0.0.0/8", RATE_LIMIT_LOGIN_PER_TRUSTED_IP="4"),
        client_from(str(client.base_url), venue) as http,
    ):

        def login(who: Account, password: str) -> int:
            return http.post("/api/v1/auth/login", json={"email": who.email, "password": password}).status_code

        assert [login(donor, donor.password) for donor in donors] == [200] * 10, "sign-ins that open a session"
        assert [login(donor, WRONG) for donor in donors[:5]] == [401] * 4 + [429]
        assert login(donors[9], donors[9].password) == 429, "the ceiling holds for the whole address"
        elsewhere = client_from(str(client.base_url), fresh_ip())
        with elsewhere:
            answer = elsewhere.post(
                "/api/v1/auth/login", json={"email": donors[9].email, "password": donors[9].password}
            )
        assert answer.status_code == 200, "another address of the network has a ceiling of its own"


def test_ipv6_clients_are_counted_by_their_slash_64() -> None:
    assert rate_limits.client_subject("2001:db8:1:2:aaaa::1") == rate_limits.client_subject("2001:db8:1:2:ffff::9")
    assert rate_limits.client_subject("2001:db8:1:2::1") != rate_limits.client_subject("2001:db8:1:3::1")
    assert rate_limits.client_subject("203.0.113.9") == "203.0.113.9"
    assert rate_limits.client_subject(None) == rate_limits.client_subject("garbage") == "unknown"


def test_failed_sign_ins_from_one_ipv6_network_share_a_budget(
    functions: dict[str, Callable[..., Any]], account: Account
) -> None:
    prefix = f"2001:db8:{secrets.randbelow(9999):x}:{secrets.randbelow(9999):x}"
    statuses = []
    for host in range(6):
        request = azure_functions.HttpRequest(
            "POST",
            "/api/v1/auth/login",
            headers={"Content-Type": "application/json", "X-Forwarded-For": f"{prefix}::{host + 1}"},
            body=json.dumps({"email": account.email, "password": WRONG}).encode(),
        )
        statuses.append(functions["auth_login"](request).status_code)
    assert statuses == [401] * 5 + [429]
