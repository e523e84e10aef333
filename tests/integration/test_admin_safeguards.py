"""What an administrator can no longer do to people: set a permanent password, vouch for
an address (unless a super admin), or act on a peer of the same rank."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select

from shared.database import unit_of_work
from shared.models import AuditLog
from tests.support.accounts import TEMPORARY_PASSWORD, Account, Actor, created_with_temporary_password
from tests.support.emails import token_from_last_email

NPO = str(uuid.uuid4())
# Admins here have a second factor, as production requires of them.
pytestmark = pytest.mark.usefixtures("second_factor_required_as_in_production")


def test_a_password_an_admin_set_must_be_changed_before_anything_else(
    client: httpx.Client, signed_in: Callable[..., Actor]
) -> None:
    person = created_with_temporary_password(signed_in("npo_admin", NPO), client, signed_in("super_admin"), NPO)
    tokens = person.tokens()
    assert tokens["password_change_required"] is True
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert person.http.get("/api/v1/users/me", headers=bearer).status_code == 200
    for method, path in (("GET", "/api/v1/users/me/sessions"), ("GET", "/api/v1/roles"), ("PATCH", "/api/v1/users/me")):
        refused = person.http.request(method, path, headers=bearer, json={} if method == "PATCH" else None)
        assert refused.status_code == 403, (method, path)
        assert refused.json()["error"]["code"] == "PASSWORD_CHANGE_REQUIRED"
    changed = person.http.post(
        "/api/v1/auth/password/change",
        json={"current_password": TEMPORARY_PASSWORD, "new_password": "Chosen-by-me-77"},
        headers=bearer,
    )
    assert changed.status_code == 200, changed.text
    assert person.http.get("/api/v1/users/me/sessions", headers=bearer).status_code == 200
    again = person.login(password="Chosen-by-me-77").json()
    assert again["password_change_required"] is False


def test_logout_works_while_the_password_change_is_pending(
    client: httpx.Client, signed_in: Callable[..., Actor]
) -> None:
    person = created_with_temporary_password(signed_in("npo_admin", NPO), client, signed_in("super_admin"), NPO)
    token = person.tokens()["access_token"]
    out = person.http.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert out.status_code == 204
    assert person.me(token).status_code == 401


def test_self_registered_and_reset_passwords_are_not_temporary(
    account: Account, client: httpx.Client, signed_in: Callable[..., Actor]
) -> None:
    assert account.tokens()["password_change_required"] is False
    person = created_with_temporary_password(signed_in("npo_admin", NPO), client, signed_in("super_admin"), NPO)
    assert person.tokens()["password_change_required"] is True
    assert person.http.post("/api/v1/auth/password/reset/request", json={"email": person.email}).status_code == 202
    token = token_from_last_email(person.email, "reset your password")
    body = {"token": token, "new_password": "Reset-by-me-88"}
    assert person.http.post("/api/v1/auth/password/reset/confirm", json=body).status_code == 200
    assert person.login(password="Reset-by-me-88").json()["password_change_required"] is False


def test_only_a_super_admin_marks_another_users_email_verified(
    client: httpx.Client, signed_in: Callable[..., Actor]
) -> None:
    admin = signed_in("npo_admin", NPO)
    email = f"unverified-{uuid.uuid4().hex[:8]}@example.org"
    body = {"email": email, "first_name": "U", "last_name": "V", "role": "staff", "npo_id": NPO}
    created = admin.request("POST", "/api/v1/users", json={**body, "password": TEMPORARY_PASSWORD})
    user_id = created.json()["id"]  # an account with a temporary password, its address not verified
    refused = admin.request("POST", f"/api/v1/users/{user_id}/verify-email")
    assert refused.status_code == 403
    assert signed_in("super_admin").request("POST", f"/api/v1/users/{user_id}/verify-email").status_code == 200


def test_an_npo_admin_sees_but_cannot_change_a_fellow_npo_admin(signed_in: Callable[..., Actor]) -> None:
    admin, peer = signed_in("npo_admin", NPO), signed_in("npo_admin", NPO)
    assert admin.request("GET", f"/api/v1/users/{peer.id}").status_code == 200
    attempts = [
        admin.request("PATCH", f"/api/v1/users/{peer.id}", json={"first_name": "Renamed"}),
        admin.request("PATCH", f"/api/v1/users/{peer.id}/role", json={"role": "staff", "npo_id": NPO}),
        admin.request("DELETE", f"/api/v1/users/{peer.id}"),
        admin.request("POST", f"/api/v1/users/{peer.id}/activate"),
    ]
    assert [response.status_code for response in attempts] == [403] * 4
    assert peer.request("GET", "/api/v1/users/me").json()["first_name"] == "Npo_Admin"


def test_only_a_super_admin_undoes_a_super_admins_deactivation(signed_in: Callable[..., Actor]) -> None:
    root, admin, staff = signed_in("super_admin"), signed_in("npo_admin", NPO), signed_in("staff", NPO)
    assert root.request("DELETE", f"/api/v1/users/{staff.id}").status_code == 204
    refused = admin.request("POST", f"/api/v1/users/{staff.id}/activate")
    assert refused.status_code == 403
    assert root.request("POST", f"/api/v1/users/{staff.id}/activate").status_code == 200
    assert admin.request("DELETE", f"/api/v1/users/{staff.id}").status_code == 204
    assert admin.request("POST", f"/api/v1/users/{staff.id}/activate").status_code == 200, "their own, they undo"


def test_refused_admin_actions_are_audited_once_per_caller_action_and_window(signed_in: Callable[..., Actor]) -> None:
    admin, peer = signed_in("npo_admin", NPO), signed_in("npo_admin", NPO)
    staff = signed_in("staff", NPO)
    for _ in range(3):
        assert admin.request("DELETE", f"/api/v1/users/{peer.id}").status_code == 403
        assert staff.request("GET", "/api/v1/users").status_code == 403
    with unit_of_work() as db:
        rows = db.scalars(select(AuditLog).where(AuditLog.event_type == "authz.refused")).all()
    mine = [(str(row.actor_user_id), row.details["action"], row.target_user_id) for row in rows]
    assert mine.count((admin.id, "users_deactivate", uuid.UUID(peer.id))) == 1
    assert mine.count((staff.id, "users_list", None)) == 1
    [event] = [row for row in rows if str(row.actor_user_id) == staff.id]
    assert event.npo_id == uuid.UUID(NPO) and event.details["role"] == "staff"
