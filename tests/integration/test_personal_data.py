"""Personal data: erasure leaves nothing that identifies the person, ends every session at
once and frees the address; the export holds every category and no secret.

The person under test has values of their own in every personal field (and
an IP address and browsers of their own), so a generic scan of every text,
varchar and jsonb column of every table can look for each of them.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import azure.functions as func
import httpx
import pyotp
import pytest
from sqlalchemy import select, text

from shared.database import unit_of_work
from shared.models import AuditLog, RecoveryCode, Session, User, UserToken
from shared.redis_client import Keys, get_redis
from shared.security.tokens import hash_token
from tests.support.accounts import PASSWORD, Account, Actor, only_active_super_admins
from tests.support.database import owner_engine
from tests.support.emails import token_from_last_email
from tests.support.events import registered_event

NPO = str(uuid.uuid4())


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- a person with data everywhere ---------------------------------------------------------------


@dataclass
class Person:
    """A staff user who registered with a full profile, was assigned to an event, asked for a
    password reset, turned a second factor on in one browser and then signed in on a second
    with a recovery code (turning the factor on ends every other session)."""

    account: Account
    id: str
    profile: dict[str, str]
    browsers: tuple[str, str]
    first: dict[str, Any]
    second: dict[str, Any]
    event_id: str
    reset_token: str
    totp_secret: str
    recovery_codes: list[str]
    admin: Actor

    @property
    def identifying(self) -> dict[str, str]:
        """Every value that identifies the person (profile, address, browsers)."""
        return {**self.profile, "browser_a": self.browsers[0], "browser_b": self.browsers[1]}

    def request(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {**_bearer(token or self.first["access_token"]), "User-Agent": self.browsers[0]}
        return self.account.http.request(method, path, headers=headers, **kwargs)


def _unique_profile(email: str) -> dict[str, str]:
    tag = secrets.token_hex(4)
    digits = "".join(str(secrets.randbelow(10)) for _ in range(8))
    return {
        "email": email,
        "first_name": f"Ada{tag}",
        "last_name": f"Lovelace{tag}",
        "phone": f"+44 20 {digits[:4]} {digits[4:]}",
        "organization_name": f"Analytical Engines {tag}",
        "address_line1": f"{secrets.randbelow(900) + 100} Marylebone {tag}",
        "address_line2": f"Flat {tag}",
        "city": f"London{tag}",
        "state": f"Middlesex{tag}",
        "postal_code": f"NW1 {tag}",
        "country": f"Kingdom{tag}",
    }


@pytest.fixture
def person(client: httpx.Client, unique_email: Callable[[str], str], signed_in: Callable[..., Actor]) -> Person:
    account = Account(client, unique_email("person"))
    profile = _unique_profile(account.email)
    registered = account.register(**{k: v for k, v in profile.items() if k != "email"})
    assert registered.status_code == 201, registered.text
    assert account.verify().status_code == 200
    user_id = registered.json()["user"]["id"]
    admin = signed_in("super_admin")
    assert admin.request("PATCH", f"/api/v1/users/{user_id}/role", json={"role": "staff", "npo_id": NPO}).is_success
    event_id = registered_event(NPO)
    assert admin.request("PUT", f"/api/v1/users/{user_id}/events/{event_id}").status_code == 201
    tag = secrets.token_hex(4)
    browsers = (f"ErasureBrowser/{tag}", f"ErasurePhone/{tag}")
    assert account.login("not the password", **{"User-Agent": browsers[1]}).status_code == 401
    first = account.tokens(**{"User-Agent": browsers[0]})
    asked = account.http.post("/api/v1/auth/password/reset/request", json={"email": account.email})
    assert asked.status_code == 202
    reset_token = token_from_last_email(account.email, "reset")
    found = Person(account, user_id, profile, browsers, first, {}, event_id, reset_token, "", [], admin)
    started = found.request("POST", "/api/v1/auth/mfa/totp")
    assert started.status_code == 200, started.text
    found.totp_secret = started.json()["secret"]
    code = pyotp.TOTP(found.totp_secret).now()
    confirmed = found.request("POST", "/api/v1/auth/mfa/totp/confirm", json={"code": code})
    assert confirmed.status_code == 200, confirmed.text
    found.recovery_codes = confirmed.json()["recovery_codes"]
    challenge = account.tokens(**{"User-Agent": browsers[1]})  # a new device: an email about it
    proof = {"mfa_token": challenge["mfa_token"], "recovery_code": found.recovery_codes[0]}
    second = account.http.post(
        "/api/v1/auth/mfa/verify", json=proof, headers=account.headers(**{"User-Agent": browsers[1]})
    )
    assert second.status_code == 200, second.text
    found.second = second.json()
    return found


# -- a scan of every text column of every table ---------------------------------------------------


def _text_columns() -> list[tuple[str, str]]:
    with owner_engine().connect() as owner:
        rows = owner.execute(
            text(
                "SELECT c.table_name, c.column_name FROM information_schema.columns c"
                " JOIN information_schema.tables t USING (table_schema, table_name)"
                " WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'"
                " AND c.data_type IN ('text', 'character varying', 'character', 'jsonb', 'json')"
                " ORDER BY 1, 2"
            )
        )
        return [(row.table_name, row.column_name) for row in rows]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def holding(value: str, *, whole: bool = False) -> list[str]:
    """``table.column`` of every text, varchar and jsonb column in which some row contains
    ``value`` (case-insensitive; ``whole``: not as part of a longer run of digits and dots)."""
    if whole:
        condition = "{column}::text ~ :pattern"
        parameter = {"pattern": r"(^|[^0-9.])" + re.escape(value) + r"($|[^0-9.])"}
    else:
        condition = "strpos(lower({column}::text), lower(:value)) > 0"
        parameter = {"value": value}
    found = []
    with owner_engine().connect() as owner:
        for table, column in _text_columns():
            where = condition.format(column=_quoted(column))
            statement = f"SELECT count(*) FROM {_quoted(table)} WHERE {where}"  # noqa: S608 (catalog names, quoted)
            if owner.scalar(text(statement), parameter):
                found.append(f"{table}.{column}")
    return found


# -- erasure --------------------------------------------------------------------------------------


def _erase_me(person: Person, password: str = PASSWORD, token: str | None = None) -> httpx.Response:
    return person.request("DELETE", "/api/v1/users/me", token, json={"password": password})


def _in_process_me(functions: dict[str, Callable[..., Any]], token: str) -> int:
    """GET /users/me through the function itself, as another instance of the app would run it."""
    request = func.HttpRequest("GET", "/api/v1/users/me", headers=_bearer(token), body=b"")
    response = functions["users_me"](request)
    return int(response.status_code)


def test_erasure_leaves_no_personal_data_in_any_table_and_ends_every_session(
    person: Person, functions: dict[str, Callable[..., Any]], client: httpx.Client
) -> None:
    values = person.identifying
    for name, value in values.items():
        assert holding(value), f"{name} is somewhere before the erasure (the scan finds what it looks for)"
    assert holding(person.account.ip, whole=True)
    tokens = [person.first["access_token"], person.second["access_token"]]
    assert [_in_process_me(functions, token) for token in tokens] == [200, 200]

    assert _erase_me(person).status_code == 204

    # Every session ended at once: in another process of the app, and over HTTP.
    assert [_in_process_me(functions, token) for token in tokens] == [401, 401]
    for token in tokens:
        assert person.account.me(token).status_code == 401

    # Nothing that identifies the person, in any text column of any table.
    leftovers = {name: holding(value) for name, value in values.items()}
    leftovers["ip_address"] = holding(person.account.ip, whole=True)
    assert not any(leftovers.values()), leftovers

    # Neither the refresh token nor the password signs in any more (a sign-in attempt from the
    # address is a stranger's now, audited as such: after the scan).
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": person.second["refresh_token"]})
    assert refreshed.status_code == 401
    assert person.account.login().status_code == 401

    # The row stays as a marker that never signs in; the audit trail stays, with ids.
    user_id = uuid.UUID(person.id)
    with unit_of_work() as db:
        user = db.get(User, user_id)
        assert user is not None and user.erased_at is not None
        assert user.email == f"erased-{user_id}@erased.invalid"
        assert (user.password_hash, user.is_active, user.mfa_enabled) == (None, False, False)
        assert db.scalars(select(Session.revoked_at).where(Session.user_id == user_id)).all()
        assert all(db.scalars(select(Session.revoked_at).where(Session.user_id == user_id)))
        assert not db.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user_id)).all()
        assert not db.scalars(select(UserToken).where(UserToken.user_id == user_id)).all()
        events = set(db.scalars(select(AuditLog.event_type).where(AuditLog.target_user_id == user_id)))
    assert {"user.registered", "auth.login_succeeded", "event.assigned", "user.erased"} <= events
    assert not get_redis().exists(Keys.user_state(person.id)), "the cached authorization state is gone"
    reset = client.post(
        "/api/v1/auth/password/reset/confirm", json={"token": person.reset_token, "new_password": "Another-gala-27"}
    )
    assert reset.status_code == 400, "the reset link died with the account's tokens"

    # The address is free: it registers again, as a new account.
    again = Account(client, person.account.email)
    answer = again.register()
    assert answer.status_code == 201, answer.text
    assert answer.json()["user"]["id"] != person.id


def test_a_wrong_password_erases_nothing_and_counts_like_a_password_change(person: Person) -> None:
    answers = [_erase_me(person, password=f"wrong-{attempt}").status_code for attempt in range(5)]
    assert answers == [401] * 5
    limited = _erase_me(person)
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    assert person.account.me(person.first["access_token"]).status_code == 200
    with unit_of_work() as db:
        user = db.get(User, uuid.UUID(person.id))
        assert user is not None and user.erased_at is None and user.email == person.account.email


def test_erasure_needs_a_recent_proof_of_identity(person: Person, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shared.clock.now", lambda: time.time() + 11 * 60)  # 11 minutes after the sign-in
    refused = _erase_me(person)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "REAUTHENTICATION_REQUIRED"
    erase = person.admin.request("POST", f"/api/v1/users/{person.id}/erase")
    assert erase.status_code == 403 and erase.json()["error"]["code"] == "REAUTHENTICATION_REQUIRED"
    assert person.account.me(person.first["access_token"]).status_code == 200


def test_the_last_active_super_admin_cannot_erase_themselves(signed_in: Callable[..., Actor]) -> None:
    last, other = signed_in("super_admin"), signed_in("super_admin")
    only_active_super_admins(last, other)
    assert other.request("DELETE", "/api/v1/users/me", json={"password": PASSWORD}).status_code == 204
    refused = last.request("DELETE", "/api/v1/users/me", json={"password": PASSWORD})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "LAST_SUPER_ADMIN"
    assert last.request("GET", "/api/v1/users/me").status_code == 200


def test_a_super_admin_erases_another_user_and_nobody_else_may(
    person: Person, signed_in: Callable[..., Actor], client: httpx.Client
) -> None:
    path = f"/api/v1/users/{person.id}/erase"
    npo_admin, elsewhere, donor = (
        signed_in("npo_admin", NPO),
        signed_in("npo_admin", str(uuid.uuid4())),
        signed_in("donor"),
    )
    assert npo_admin.request("POST", path).status_code == 403, "visible to them, not theirs to erase"
    assert elsewhere.request("POST", path).status_code == 404
    assert donor.request("POST", path).status_code == 404
    admin = person.admin
    themselves = admin.request("POST", f"/api/v1/users/{admin.id}/erase")
    assert themselves.status_code == 403, "their own goes through DELETE /users/me, with the password"
    assert admin.request("POST", f"/api/v1/users/{uuid.uuid4()}/erase").status_code == 404

    assert admin.request("POST", path).status_code == 204
    assert person.account.me(person.first["access_token"]).status_code == 401
    shown = admin.request("GET", f"/api/v1/users/{person.id}").json()
    assert shown["erased_at"] and shown["email"] == f"erased-{person.id}@erased.invalid"
    assert (shown["first_name"], shown["phone"], shown["city"], shown["is_active"]) == ("", None, None, False)
    for method, suffix, body in (
        ("POST", "/erase", None),
        ("PATCH", "", {"first_name": "Back"}),
        ("POST", "/activate", None),
        ("POST", "/verify-email", None),
        ("PATCH", "/role", {"role": "donor"}),
        ("DELETE", "", None),
        ("PUT", f"/events/{uuid.uuid4()}", None),
    ):
        answer = admin.request(method, f"/api/v1/users/{person.id}{suffix}", json=body)
        assert answer.status_code == 409, (method, suffix, answer.text)
        assert answer.json()["error"]["code"] == "ACCOUNT_ERASED"
    assert all(holding(value) == [] for value in person.identifying.values())
    with unit_of_work() as db:
        row = db.scalars(
            select(AuditLog).where(
                AuditLog.event_type == "user.erased", AuditLog.target_user_id == uuid.UUID(person.id)
            )
        ).one()
    assert str(row.actor_user_id) == admin.id and row.ip_address == admin.account.ip, "the admin's request is theirs"
    assert row.details["own"] is False and row.details["sessions_ended"] == 2


# -- export ---------------------------------------------------------------------------------------


def test_the_export_holds_every_category_and_no_secret(person: Person) -> None:
    answer = person.request("GET", "/api/v1/users/me/export")
    assert answer.status_code == 200, answer.text
    export = answer.json()
    profile = export["profile"]
    assert {name: profile[name] for name in person.profile} == person.profile
    assert profile["role"] == "staff" and profile["npo_id"] == NPO

    browsers = {session["user_agent"] for session in export["sessions"]}
    assert set(person.browsers) <= browsers
    assert {session["ip_address"] for session in export["sessions"]} == {person.account.ip}
    assert all(session["created_at"] and session["expires_at"] for session in export["sessions"])
    assert [item["event_id"] for item in export["event_assignments"]] == [person.event_id]
    assert export["event_assignments"][0]["assigned_by"] == person.admin.id
    assert export["second_factor"]["enabled"] is True and export["second_factor"]["enrolled_at"]
    assert export["second_factor"]["recovery_codes_left"] == len(person.recovery_codes) - 1, "one signed in"

    events = {event["event_type"] for event in export["audit_events"]}
    assert {"user.registered", "auth.login_failed", "auth.login_succeeded", "mfa.enrolled"} <= events
    assert {"user.role_changed", "event.assigned", "auth.password_reset_requested"} <= events
    by_admin = [event for event in export["audit_events"] if event["actor_user_id"] == person.admin.id]
    assert by_admin and all(event["ip_address"] is None and event["user_agent"] is None for event in by_admin), (
        "an administrator's address and browser are theirs, not the person's"
    )
    own = [event for event in export["audit_events"] if event["actor_user_id"] == person.id]
    assert {event["ip_address"] for event in own} == {person.account.ip}

    emails = {email["template"]: email for email in export["emails"]}
    assert {"verify_email", "password_reset", "new_device"} <= set(emails)
    assert emails["password_reset"]["status"] == "sent" and emails["password_reset"]["subject"]
    assert all(
        set(email) == {"id", "template", "subject", "status", "created_at", "sent_at"} for email in export["emails"]
    )
    assert export["retention_days"] == {"sessions": 90, "email_tokens": 7, "emails": 30, "audit_events": 400}

    document = json.dumps(export)
    for secret in _secrets_of(person):
        assert secret not in document, "the export holds a secret"
    assert "$2b$" not in document and "$2a$" not in document, "no bcrypt hash"
    with unit_of_work() as db:
        exported = db.scalars(
            select(AuditLog).where(AuditLog.event_type == "user.data_exported", AuditLog.actor_user_id == person.id)
        ).all()
    assert len(exported) == 1


def test_the_export_needs_a_recent_proof_of_identity(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stolen access token must not carry off the history of addresses and browsers."""
    token = account.tokens()["access_token"]
    monkeypatch.setattr("shared.clock.now", lambda: time.time() + 11 * 60)  # 11 minutes after the sign-in
    stale = account.http.get("/api/v1/users/me/export", headers=_bearer(token))
    assert stale.status_code == 403 and stale.json()["error"]["code"] == "REAUTHENTICATION_REQUIRED"
    renewed = account.http.post("/api/v1/auth/reauthenticate", json={"password": PASSWORD}, headers=_bearer(token))
    assert renewed.status_code == 200, renewed.text
    assert account.http.get("/api/v1/users/me/export", headers=_bearer(token)).status_code == 200


def _secrets_of(person: Person) -> list[str]:
    """Every secret held for the person, and every stored hash of one."""
    user_id = uuid.UUID(person.id)
    with unit_of_work() as db:
        password_hash = db.scalar(select(User.password_hash).where(User.id == user_id))
        token_hashes = list(db.scalars(select(UserToken.token_hash).where(UserToken.user_id == user_id)))
        code_hashes = list(db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user_id)))
    assert password_hash and token_hashes and code_hashes
    tokens = [
        person.first["access_token"],
        person.first["refresh_token"],
        person.second["access_token"],
        person.second["refresh_token"],
        person.reset_token,
    ]
    return [
        PASSWORD,
        password_hash,
        person.totp_secret,
        *tokens,
        *(hash_token(token) for token in tokens),
        *person.recovery_codes,
        *token_hashes,
        *code_hashes,
    ]
