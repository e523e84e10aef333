"""People to act as: registered over HTTP or written straight to the database, signed in,
with a second factor where the settings require one."""

from __future__ import annotations

import os
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.emails import token_from_last_email
from tests.support.network import client_from, fresh_ip

PASSWORD = "Gala-night-2026"


class Account:
    """A registered, verified user and helpers to act as them over HTTP from their own IP."""

    def __init__(self, http: httpx.Client, email: str, password: str = PASSWORD) -> None:
        self.ip = fresh_ip()
        self.http = client_from(str(http.base_url), self.ip)
        self.email = email
        self.password = password

    def headers(self, **extra: str) -> dict[str, str]:
        return {"User-Agent": "pytest-browser/1.0", **extra}

    def register(self, **fields: Any) -> httpx.Response:
        body = {"email": self.email, "password": self.password, "first_name": "Ada", "last_name": "Lovelace", **fields}
        return self.http.post("/api/v1/auth/register", json=body, headers=self.headers())

    def verify(self) -> httpx.Response:
        token = token_from_last_email(self.email, "confirm")
        return self.http.post("/api/v1/auth/verify-email", json={"token": token}, headers=self.headers())

    def login(self, password: str | None = None, **headers: str) -> httpx.Response:
        body = {"email": self.email, "password": password or self.password}
        return self.http.post("/api/v1/auth/login", json=body, headers=self.headers(**headers))

    def tokens(self, **headers: str) -> dict[str, Any]:
        response = self.login(**headers)
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    def refresh(self, refresh_token: str) -> httpx.Response:
        """``POST /auth/refresh`` with ``refresh_token`` in the body (as a script sends it: no headers)."""
        return self.http.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})

    def me(self, access_token: str) -> httpx.Response:
        return self.http.get("/api/v1/users/me", headers=self.headers(Authorization=f"Bearer {access_token}"))


def make_user(
    http: httpx.Client, role: str, npo_id: Any = None, *, email: str | None = None, verified: bool = True
) -> Account:
    """A user of any role, written straight to the database (test set-up), ready to sign in."""
    from shared.database import unit_of_work
    from shared.models import User
    from shared.security.passwords import hash_password

    address = email or f"{role}-{secrets.token_hex(6)}@example.org"
    with unit_of_work() as db:
        db.add(
            User(
                email=address,
                password_hash=hash_password(PASSWORD, int(os.environ["BCRYPT_ROUNDS"])),
                first_name=role.title(),
                last_name="Tester",
                role=role,
                npo_id=npo_id,
                email_verified=verified,
                is_active=verified,
            )
        )
    return Account(http, address)


class Actor:
    """A signed-in user: their account, id and a bearer header."""

    def __init__(self, account: Account) -> None:
        self.account = account
        tokens = account.tokens()
        self.id = tokens["user"]["id"]
        self.access_token = tokens["access_token"]
        self.refresh_token = tokens["refresh_token"]

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.access_token}", **kwargs.pop("headers", {})}
        return self.account.http.request(method, path, headers=headers, **kwargs)


TEMPORARY_PASSWORD = "Provisional-key-11"


def created_with_temporary_password(admin: Actor, client: httpx.Client, root: Actor, npo_id: str) -> Account:
    """A staff user an NPO admin created with a password they must change; a super admin verified the address."""
    email = f"temp-{uuid.uuid4().hex[:8]}@example.org"
    body = {
        "email": email,
        "first_name": "T",
        "last_name": "P",
        "role": "staff",
        "npo_id": npo_id,
        "password": TEMPORARY_PASSWORD,
    }
    created = admin.request("POST", "/api/v1/users", json=body)
    assert created.status_code == 201, created.text
    assert root.request("POST", f"/api/v1/users/{created.json()['id']}/verify-email").status_code == 200
    return Account(client, email, password=TEMPORARY_PASSWORD)


@dataclass(frozen=True)
class TotpEnrolment:
    """A second factor turned on: what the enrolment showed, and the recovery codes it gave."""

    started: dict[str, Any]
    recovery_codes: list[str]

    @property
    def secret(self) -> str:
        secret: str = self.started["secret"]
        return secret


def enrol_second_factor(actor: Actor) -> TotpEnrolment:
    """Turn a TOTP second factor on, as a user does with an authenticator app: the code
    confirmed is the one for the app's clock (``shared.clock``, which a test may hold still)."""
    import pyotp

    from shared import clock

    started = actor.request("POST", "/api/v1/auth/mfa/totp")
    assert started.status_code == 200, started.text
    code = pyotp.TOTP(started.json()["secret"]).at(clock.now())
    confirmed = actor.request("POST", "/api/v1/auth/mfa/totp/confirm", json={"code": code})
    assert confirmed.status_code == 200, confirmed.text
    return TotpEnrolment(started.json(), confirmed.json()["recovery_codes"])


def only_active_super_admins(*actors: Actor) -> None:
    """Deactivate every other super admin (test set-up), so these are the last ones."""
    from sqlalchemy import update

    from shared.database import unit_of_work
    from shared.models import User

    keep = [uuid.UUID(actor.id) for actor in actors]
    with unit_of_work() as db:
        db.execute(update(User).where(User.role == "super_admin", User.id.not_in(keep)).values(is_active=False))


def second_factor_required(role: str) -> bool:
    """Whether the settings require a second factor of ``role`` (MFA_REQUIRED_ROLES)."""
    from shared.config import get_settings
    from shared.roles_and_permissions import RoleName

    return RoleName(role) in get_settings().mfa_required_roles
