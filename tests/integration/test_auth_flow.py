"""The happy paths of /api/v1/auth through HTTP, and the rules around them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import httpx
import jwt
import pytest

from tests.support.accounts import PASSWORD, Account, Actor
from tests.support.emails import emails_to, token_from_last_email
from tests.support.settings import settings_changed


def test_register_creates_unverified_inactive_donor(client: httpx.Client, unique_email: Callable[[str], str]) -> None:
    person = Account(client, unique_email("Mixed.Case").replace("mixed", "MiXeD"))
    response = person.register(phone="+1 555 0100", city="Lyon")
    assert response.status_code == 201, response.text
    body = response.json()
    user = body["user"]
    assert body["message"]
    assert user["email"] == person.email.lower()
    assert (user["role"], user["email_verified"], user["is_active"], user["npo_id"]) == ("donor", False, False, None)
    assert user["phone"] == "+1 555 0100" and user["city"] == "Lyon"
    assert "password" not in response.text and "password_hash" not in user
    assert "token" not in user


def test_verification_email_links_to_the_donor_app(client: httpx.Client, unique_email: Callable[[str], str]) -> None:
    person = Account(client, unique_email("link"))
    person.register()
    [message] = emails_to(person.email)
    assert message["subject"] == "Confirm your email address"
    assert "http://localhost:3001/verify-email?token=" in message["text"]
    assert set(message) >= {"to", "subject", "text", "html", "created_at"}


def test_each_email_link_opens_the_page_its_setting_names(
    client: httpx.Client, unique_email: Callable[[str], str], signed_in: Callable[..., Actor]
) -> None:
    """An admin app whose reset page is /password-reset-confirm and whose invitation page is
    /join points the links there; the verification page is renamed too. Each link still works."""
    pages = {
        "FRONTEND_VERIFY_EMAIL_PATH": "/confirm-email",
        "FRONTEND_RESET_PASSWORD_PATH": "/password-reset-confirm",
        "FRONTEND_ACCEPT_INVITATION_PATH": "/join",
    }
    with settings_changed(**pages):
        person = Account(client, unique_email("pages"))
        person.register()
        [verification] = emails_to(person.email)
        assert "http://localhost:3001/confirm-email?token=" in verification["text"]
        assert person.verify().status_code == 200

        assert person.http.post("/api/v1/auth/password/reset/request", json={"email": person.email}).status_code == 202
        reset = emails_to(person.email)[-1]
        assert "http://localhost:3001/password-reset-confirm?token=" in reset["text"]
        assert 'href="http://localhost:3001/password-reset-confirm?token=' in reset["html"]

        admin = signed_in("super_admin")
        invited = unique_email("invited")
        body = {"email": invited, "first_name": "In", "last_name": "Vited", "role": "npo_admin", "npo_id": str(uuid4())}
        assert admin.request("POST", "/api/v1/users", json=body).status_code == 202
        [invitation] = emails_to(invited)
        assert "http://localhost:3000/join?token=" in invitation["text"]
        token = token_from_last_email(invited, "invited")
        inspected = client.post("/api/v1/invitations/inspect", json={"token": token})
        assert inspected.status_code == 200, inspected.text
        assert inspected.json()["email"] == invited
    assert "/accept-invitation?token=" not in invitation["text"] and "/reset-password?" not in reset["text"]


def test_taken_email_in_any_case_is_409(client: httpx.Client, account: Account) -> None:
    again = Account(client, account.email.upper())
    response = again.register()
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "DUPLICATE_EMAIL"


def test_verify_then_login_then_me(client: httpx.Client, unique_email: Callable[[str], str]) -> None:
    person = Account(client, unique_email("flow"))
    person.register()
    unverified = person.login()
    assert unverified.status_code == 403 and unverified.json()["error"]["code"] == "EMAIL_NOT_VERIFIED"
    verified = person.verify()
    assert verified.status_code == 200
    assert verified.json()["user"]["email_verified"] is True and verified.json()["user"]["is_active"] is True
    tokens = person.tokens()
    assert tokens["status"] == "authenticated" and "mfa_required" not in tokens
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900
    assert tokens["password_change_required"] is False and tokens["mfa_enrollment_required"] is False
    assert tokens["user"]["last_login_at"] is not None and tokens["user"]["mfa_enrollment_required"] is False
    me = person.me(tokens["access_token"])
    assert me.status_code == 200 and me.json()["email"] == person.email


def test_verification_token_is_single_use(client: httpx.Client, unique_email: Callable[[str], str]) -> None:
    person = Account(client, unique_email("once"))
    person.register()
    token = token_from_last_email(person.email, "confirm")
    assert client.post("/api/v1/auth/verify-email", json={"token": token}).status_code == 200
    second = client.post("/api/v1/auth/verify-email", json={"token": token})
    assert second.status_code == 400 and second.json()["error"]["code"] == "INVALID_TOKEN"


@pytest.mark.parametrize("token", ["A" * 43, "not-a-real-token-but-long-enough"])
def test_unknown_verification_token_is_400(client: httpx.Client, token: str) -> None:
    response = client.post("/api/v1/auth/verify-email", json={"token": token})
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_TOKEN"


def test_access_token_claims(account: Account) -> None:
    tokens = account.tokens()
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert set(claims) >= {"sub", "sid", "jti", "role", "npo_id", "iat", "exp", "iss", "aud", "typ"}
    assert claims["typ"] == "access" and claims["role"] == "donor"
    assert claims["exp"] - claims["iat"] == 900
    header = jwt.get_unverified_header(tokens["access_token"])
    assert header["alg"] == "ES256" and header["typ"] == "at+jwt"
    published = account.http.get("/.well-known/jwks.json").json()["keys"]
    assert header["kid"] == published[0]["kid"], "signed by the first published key"


def test_wrong_password_and_unknown_email_answer_the_same(client: httpx.Client, account: Account) -> None:
    wrong = account.login(password="Wrong-password-1")
    unknown = Account(client, "nobody-" + account.email).login(password="Wrong-password-1")
    assert wrong.status_code == unknown.status_code == 401

    def strip(r: httpx.Response) -> dict[str, Any]:
        return {k: v for k, v in r.json()["error"].items() if k != "request_id"}

    assert strip(wrong) == strip(unknown)
    assert wrong.headers["www-authenticate"].startswith("Bearer")


def test_logout_ends_this_session_only(account: Account) -> None:
    laptop = account.tokens()
    phone = account.tokens()
    response = account.http.post(
        "/api/v1/auth/logout", headers=account.headers(Authorization=f"Bearer {laptop['access_token']}")
    )
    assert response.status_code == 204
    assert account.me(laptop["access_token"]).status_code == 401
    refreshed = account.refresh(laptop["refresh_token"])
    assert refreshed.status_code == 401
    assert account.me(phone["access_token"]).status_code == 200


def test_refresh_rotates_and_returns_both_tokens(account: Account) -> None:
    tokens = account.tokens()
    response = account.refresh(tokens["refresh_token"])
    assert response.status_code == 200, response.text
    fresh = response.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert fresh["access_token"] != tokens["access_token"]
    assert account.me(fresh["access_token"]).status_code == 200
    again = account.refresh(fresh["refresh_token"])
    assert again.status_code == 200


# The contract's names, and the first names the service had (served too, marked deprecated).
@pytest.mark.parametrize("reset", ["/api/v1/auth/password/reset", "/api/v1/auth/password-reset"])
def test_password_reset_flow(client: httpx.Client, account: Account, reset: str) -> None:
    before = account.tokens()
    requested = account.http.post(f"{reset}/request", json={"email": account.email})
    assert requested.status_code == 202
    assert requested.json() == {"message": "If the address belongs to an account, a reset link is on its way."}
    token = token_from_last_email(account.email, "reset your password")
    confirm = client.post(f"{reset}/confirm", json={"token": token, "new_password": "Brand-new-pass-77"})
    assert confirm.status_code == 200, confirm.text
    assert account.me(before["access_token"]).status_code == 401
    assert account.login().status_code == 401
    assert account.login(password="Brand-new-pass-77").status_code == 200
    reuse = client.post(f"{reset}/confirm", json={"token": token, "new_password": "Other-pass-88"})
    assert reuse.status_code == 400
    error = reuse.json()["error"]
    assert error["code"] == "INVALID_TOKEN"
    assert error["message"] == "This link is not valid, was already used or has expired. Ask for a new one."


def test_both_reset_paths_are_one_operation_sharing_its_limits(client: httpx.Client, account: Account) -> None:
    """One declaration, one handler: the old path counts against the same limit as the new one."""
    with settings_changed(RATE_LIMIT_TOKEN_PER_IP="2"):
        for path in ("/api/v1/auth/password/reset/confirm", "/api/v1/auth/password-reset/confirm"):
            wrong = account.http.post(path, json={"token": "w" * 43, "new_password": "Brand-new-pass-77"})
            assert wrong.status_code == 400
        limited = account.http.post(
            "/api/v1/auth/password/reset/confirm", json={"token": "w" * 43, "new_password": "Brand-new-pass-77"}
        )
        assert limited.status_code == 429


def test_password_change_keeps_this_session_and_ends_others(account: Account) -> None:
    this = account.tokens()
    other = account.tokens()
    response = account.http.post(
        "/api/v1/auth/password/change",
        json={"current_password": PASSWORD, "new_password": "Changed-pass-99"},
        headers=account.headers(Authorization=f"Bearer {this['access_token']}"),
    )
    assert response.status_code == 200, response.text
    assert account.me(this["access_token"]).status_code == 200
    assert account.me(other["access_token"]).status_code == 401
    assert any("password was changed" in m["subject"] for m in emails_to(account.email))
