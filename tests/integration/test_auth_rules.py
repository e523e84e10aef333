"""Rules around passwords, tokens, devices and the audit trail, through HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import bcrypt
import httpx
import pytest
from sqlalchemy import func, select, update

from shared.database import unit_of_work
from shared.models import AuditLog, User, UserToken
from shared.security.tokens import hash_token
from tests.support.accounts import PASSWORD, Account, Actor
from tests.support.emails import emails_to, token_from_last_email

# -- password policy over HTTP -------------------------------------------------


@pytest.mark.parametrize(
    ("password", "rule", "words"),
    [
        ("short1", "password_too_short", "at least 8"),
        ("onlyletters", "password_needs_letter_and_digit", "number"),
        ("1234567890", "password_needs_letter_and_digit", "letter"),
        ("Aa1" * 43, "password_too_long", "at most 128"),
        ("password123", "password_too_common", "too common"),
        ("qwerty123", "password_too_common", "too common"),
        ("Lovelace-1815", "password_contains_personal_info", "your name"),
        ("Augeo-gala-2026", "password_contains_personal_info", "service's name"),
    ],
)
def test_register_rejects_weak_passwords_naming_the_rule(
    client: httpx.Client, unique_email: Callable[[str], str], password: str, rule: str, words: str
) -> None:
    response = Account(client, unique_email("weak"), password=password).register()
    assert response.status_code == 422
    fields = response.json()["error"]["details"]["fields"]
    assert [(f["field"], f["type"]) for f in fields] == [("password", rule)]
    assert words in fields[0]["message"]
    assert password not in response.text


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"email": "not-an-address"}, "email", "email_invalid"),
        ({"email": "a" * 400 + "@example.org"}, "email", "email_invalid"),
        ({"phone": "call me"}, "phone", "phone_invalid"),
        ({"password": "password123"}, "password", "password_too_common"),
        ({"first_name": ""}, "first_name", "string_too_short"),
        ({"favourite": "x"}, "favourite", "extra_forbidden"),
    ],
)
def test_a_422_names_the_field_and_the_rule_by_a_stable_type(
    client: httpx.Client, unique_email: Callable[[str], str], fields: dict[str, str], field: str, rule: str
) -> None:
    """A program tells the rules apart by ``type``: never pydantic's generic ``value_error``."""
    body = {"email": unique_email("rule"), "password": PASSWORD, "first_name": "Ada", "last_name": "Lovelace", **fields}
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422
    problems = response.json()["error"]["details"]["fields"]
    assert [(problem["field"], problem["type"]) for problem in problems] == [(field, rule)]


def test_a_password_built_on_the_person_is_refused_wherever_one_is_set(
    client: httpx.Client, account: Account, signed_in: Callable[..., Actor]
) -> None:
    """Registration, a reset, a change and an administrator's temporary password: each knows the
    person's email address and names, and refuses a password made of them (naming the rule)."""
    local_part = account.email.split("@", 1)[0]
    personal = f"{local_part.capitalize()}-77"

    def refused(response: httpx.Response, field: str) -> bool:
        problems = response.json()["error"]["details"]["fields"] if response.status_code == 422 else []
        return [(p["field"], p["type"]) for p in problems] == [(field, "password_contains_personal_info")]

    account.http.post("/api/v1/auth/password-reset/request", json={"email": account.email})
    token = token_from_last_email(account.email, "reset")
    reset = client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": personal})
    assert refused(reset, "new_password"), reset.text
    access = account.tokens()["access_token"]
    assert refused(_change(account, access, PASSWORD, "Lovelace-Gala-9"), "new_password")
    root = signed_in("super_admin")
    body = {"email": "grace.hopper@example.org", "first_name": "Grace", "last_name": "Hopper", "role": "donor"}
    created = root.request("POST", "/api/v1/users", json={**body, "password": "Hopper-Gala-1906"})
    assert refused(created, "password"), created.text
    assert account.login().status_code == 200, "nothing changed"
    again = client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": "Fresh-pass-321"})
    assert again.status_code == 200, "the refused reset did not spend its token"


@pytest.mark.parametrize("password", ["x1" * 40 + "é" * 40, "😀" * 100 + "a1", "a1" + "\u200b" * 120])
def test_long_multibyte_passwords_work_end_to_end(
    client: httpx.Client, unique_email: Callable[[str], str], password: str
) -> None:
    person = Account(client, unique_email("long"), password=password)
    assert person.register().status_code == 201
    assert person.verify().status_code == 200
    assert person.login().status_code == 200
    assert person.login(password=password[:-1] + "Z").status_code == 401


@pytest.mark.parametrize("password", ["a" * 5000, "\\u0000" * 10, "\\ud800abc", "x" * 100_000])
def test_no_login_password_makes_a_500(account: Account, password: str) -> None:
    raw = '{"email": "%s", "password": "%s"}' % (account.email, password)  # noqa: UP031
    response = account.http.post("/api/v1/auth/login", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code in (401, 413, 422), response.text


def test_unknown_email_costs_one_bcrypt_check_at_the_same_cost(
    account: Account, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    costs: list[int] = []
    real = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        costs.append(int(hashed.split(b"$")[2]))
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", spy)
    account.login(password="Wrong-password-1")
    Account(client, "nobody-" + account.email).login(password="Wrong-password-1")
    with unit_of_work() as db:
        stored = db.scalars(select(User.password_hash).where(User.email == account.email)).one()
    assert stored is not None, "the account has a password"
    assert costs == [int(stored.split("$")[2])] * 2


def test_deactivated_is_403_only_after_the_password_matched(account: Account) -> None:
    with unit_of_work() as db:
        db.execute(update(User).where(User.email == account.email).values(is_active=False, deactivated_at=func.now()))
    assert account.login(password="Wrong-password-1").status_code == 401
    response = account.login()
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "ACCOUNT_DEACTIVATED"


def test_unverified_wrong_password_is_401_not_403(client: httpx.Client, unique_email: Callable[[str], str]) -> None:
    person = Account(client, unique_email("unverified"))
    person.register()
    assert person.login(password="Wrong-password-1").status_code == 401


# -- verification and reset tokens -----------------------------------------------


def _expire(token: str) -> None:
    with unit_of_work() as db:
        db.execute(update(UserToken).where(UserToken.token_hash == hash_token(token)).values(expires_at=func.now()))


def test_tokens_are_stored_only_as_hashes(client: httpx.Client, unique_email: Callable[[str], str]) -> None:
    person = Account(client, unique_email("hash"))
    person.register()
    token = token_from_last_email(person.email, "confirm")
    with unit_of_work() as db:
        stored = db.scalars(select(UserToken).where(UserToken.token_hash == hash_token(token))).one()
        everything = " ".join(str(v) for v in db.execute(select(UserToken.__table__)).all())
    assert stored.purpose == "email_verification"
    assert token not in everything


def test_expired_verification_token_is_400(client: httpx.Client, unique_email: Callable[[str], str]) -> None:
    person = Account(client, unique_email("late"))
    person.register()
    token = token_from_last_email(person.email, "confirm")
    _expire(token)
    response = client.post("/api/v1/auth/verify-email", json={"token": token})
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_TOKEN"


def test_verification_token_lives_24_hours(client: httpx.Client, unique_email: Callable[[str], str]) -> None:
    person = Account(client, unique_email("ttl"))
    person.register()
    token = token_from_last_email(person.email, "confirm")
    with unit_of_work() as db:
        hours = db.scalar(
            select(func.extract("epoch", UserToken.expires_at - UserToken.created_at) / 3600).where(
                UserToken.token_hash == hash_token(token)
            )
        )
    assert hours is not None, "the token was stored"
    assert round(float(hours)) == 24


def test_resent_link_verifies_and_the_older_one_is_dead(
    client: httpx.Client, unique_email: Callable[[str], str]
) -> None:
    person = Account(client, unique_email("resend"))
    person.register()
    first = token_from_last_email(person.email, "confirm")
    assert person.http.post("/api/v1/auth/verify-email/resend", json={"email": person.email}).status_code == 202
    second = token_from_last_email(person.email, "confirm")
    assert first != second
    assert client.post("/api/v1/auth/verify-email", json={"token": first}).status_code == 400
    assert client.post("/api/v1/auth/verify-email", json={"token": second}).status_code == 200


def test_newer_reset_request_kills_the_older_token(client: httpx.Client, account: Account) -> None:
    account.http.post("/api/v1/auth/password/reset/request", json={"email": account.email})
    older = token_from_last_email(account.email, "reset")
    account.http.post("/api/v1/auth/password/reset/request", json={"email": account.email})
    newer = token_from_last_email(account.email, "reset")
    body = {"token": older, "new_password": "Fresh-pass-321"}
    assert client.post("/api/v1/auth/password/reset/confirm", json=body).status_code == 400
    body["token"] = newer
    assert client.post("/api/v1/auth/password/reset/confirm", json=body).status_code == 200


def test_expired_reset_token_is_400(client: httpx.Client, account: Account) -> None:
    account.http.post("/api/v1/auth/password/reset/request", json={"email": account.email})
    token = token_from_last_email(account.email, "reset")
    _expire(token)
    response = client.post(
        "/api/v1/auth/password/reset/confirm", json={"token": token, "new_password": "Fresh-pass-321"}
    )
    assert response.status_code == 400


def test_reset_confirm_applies_the_password_policy(client: httpx.Client, account: Account) -> None:
    account.http.post("/api/v1/auth/password/reset/request", json={"email": account.email})
    token = token_from_last_email(account.email, "reset")
    response = client.post("/api/v1/auth/password/reset/confirm", json={"token": token, "new_password": "password1"})
    assert response.status_code == 422
    # the token was not spent by the refused attempt
    ok = client.post("/api/v1/auth/password/reset/confirm", json={"token": token, "new_password": "Fresh-pass-321"})
    assert ok.status_code == 200


def test_reset_request_answers_the_same_for_unknown_emails(client: httpx.Client, account: Account) -> None:
    known = account.http.post("/api/v1/auth/password/reset/request", json={"email": account.email})
    unknown = Account(client, "ghost-" + account.email).http.post(
        "/api/v1/auth/password/reset/request", json={"email": "ghost-" + account.email}
    )
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert emails_to("ghost-" + account.email) == []


# -- password change -------------------------------------------------------------


def _change(account: Account, access: str, current: str, new: str) -> httpx.Response:
    return account.http.post(
        "/api/v1/auth/password/change",
        json={"current_password": current, "new_password": new},
        headers=account.headers(Authorization=f"Bearer {access}"),
    )


def test_change_needs_the_current_password(account: Account) -> None:
    access = account.tokens()["access_token"]
    response = _change(account, access, "Wrong-password-1", "Changed-pass-99")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_CREDENTIALS"
    assert account.login().status_code == 200


def test_change_refuses_the_same_password_and_weak_ones(account: Account) -> None:
    access = account.tokens()["access_token"]
    same = _change(account, access, PASSWORD, PASSWORD)
    assert same.status_code == 422
    assert same.json()["error"]["details"]["fields"][0]["type"] == "password_unchanged"
    assert _change(account, access, PASSWORD, "abc").status_code == 422


def test_change_without_a_token_is_401(account: Account) -> None:
    response = account.http.post(
        "/api/v1/auth/password/change", json={"current_password": PASSWORD, "new_password": "Changed-pass-99"}
    )
    assert response.status_code == 401


# -- new-device email ---------------------------------------------------------------


def _new_device_mails(address: str) -> int:
    return sum("new sign-in" in m["subject"].lower() for m in emails_to(address))


def test_new_device_email(client: httpx.Client, account: Account) -> None:
    account.tokens()  # first sign-in ever: nothing to compare with, no email
    assert _new_device_mails(account.email) == 0
    account.tokens()  # same IP and browser
    assert _new_device_mails(account.email) == 0
    account.tokens(**{"User-Agent": "OtherBrowser/2.0"})
    assert _new_device_mails(account.email) == 1
    Account(client, account.email).tokens()  # another IP
    assert _new_device_mails(account.email) == 2


# -- audit ---------------------------------------------------------------------------


def test_every_account_event_is_audited(client: httpx.Client, unique_email: Callable[[str], str]) -> None:
    person = Account(client, unique_email("audit"))
    person.register()
    person.verify()
    person.login(password="Wrong-password-1")
    tokens = person.tokens()
    person.http.post("/api/v1/auth/password/reset/request", json={"email": person.email})
    reset = token_from_last_email(person.email, "reset")
    client.post("/api/v1/auth/password/reset/confirm", json={"token": reset, "new_password": "After-reset-55"})
    person.password = "After-reset-55"
    tokens = person.tokens()
    _change(person, tokens["access_token"], "After-reset-55", "After-change-66")
    person.http.post("/api/v1/auth/logout", headers=person.headers(Authorization=f"Bearer {tokens['access_token']}"))
    user_id = uuid.UUID(tokens["user"]["id"])
    with unit_of_work() as db:
        events = db.scalars(
            select(AuditLog).where(AuditLog.target_user_id == user_id).order_by(AuditLog.created_at)
        ).all()
    kinds = [event.event_type for event in events]
    for expected in (
        "user.registered",
        "user.email_verified",
        "auth.login_failed",
        "auth.login_succeeded",
        "auth.password_reset_requested",
        "auth.password_reset_completed",
        "auth.password_changed",
        "auth.logout",
    ):
        assert expected in kinds, (expected, kinds)
    failed = next(e for e in events if e.event_type == "auth.login_failed")
    assert failed.details["reason"] == "wrong_password"
    assert failed.ip_address == person.ip and failed.user_agent == "pytest-browser/1.0" and failed.request_id
    assert all(e.created_at is not None for e in events)
