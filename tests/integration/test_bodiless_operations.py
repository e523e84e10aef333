"""An operation that takes no body refuses one (422 naming ``body``) and changes nothing.

The admin web app deactivated users with ``POST /users/{id}/activate {"is_active": false}``:
the body was ignored, the answer was 200, the user stayed active and the app said
"User deactivated". No body is ignored any more: none, white space or ``{}`` is no
body (axios sends ``{}`` for ``post(url, {})``); anything else is refused before the
handler runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shared.database import unit_of_work
from shared.models import AuditLog, User
from tests.support.accounts import Actor, enrol_second_factor

NPO = str(uuid.uuid4())
# Admins here have a second factor, as production requires of them.
pytestmark = pytest.mark.usefixtures("second_factor_required_as_in_production")


def _refused_naming_body(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [field["field"] for field in error["details"]["fields"]] == ["body"]
    assert error["message"] == "The request body must be empty."


def _user(user_id: str) -> User:
    with unit_of_work() as db:
        user = db.get(User, uuid.UUID(user_id))
    assert user is not None
    return user


def _audited(user_id: str) -> list[str]:
    with unit_of_work() as db:
        rows = db.scalars(select(AuditLog.event_type).where(AuditLog.target_user_id == uuid.UUID(user_id))).all()
    return list(rows)


def test_activate_with_a_body_is_refused_and_the_user_stays_as_they_were(signed_in: Callable[..., Actor]) -> None:
    admin = signed_in("npo_admin", NPO)
    staff = signed_in("staff", NPO)
    assert admin.request("DELETE", f"/api/v1/users/{staff.id}").status_code == 204
    audited = _audited(staff.id)

    for body in ({"is_active": False}, {"is_active": True}):
        _refused_naming_body(admin.request("POST", f"/api/v1/users/{staff.id}/activate", json=body))
    assert _user(staff.id).is_active is False
    assert _audited(staff.id) == audited, "nothing was done, so nothing was audited"
    assert staff.account.login().json()["error"]["code"] == "ACCOUNT_DEACTIVATED"

    activated = admin.request("POST", f"/api/v1/users/{staff.id}/activate", json={})
    assert activated.status_code == 200 and activated.json()["is_active"] is True


def test_deactivate_with_a_body_is_refused_and_the_user_stays_signed_in(signed_in: Callable[..., Actor]) -> None:
    admin = signed_in("npo_admin", NPO)
    staff = signed_in("staff", NPO)
    audited = _audited(staff.id)

    refused = admin.request("DELETE", f"/api/v1/users/{staff.id}", json={"reason": "left the team"})
    _refused_naming_body(refused)
    assert _user(staff.id).is_active is True
    assert staff.request("GET", "/api/v1/users/me").status_code == 200, "the user's session did not end"
    assert _audited(staff.id) == audited

    assert admin.request("DELETE", f"/api/v1/users/{staff.id}").status_code == 204


def test_new_recovery_codes_with_a_body_are_refused_and_the_old_set_still_works(
    signed_in: Callable[..., Actor],
) -> None:
    actor = signed_in("donor")
    codes = enrol_second_factor(actor).recovery_codes
    proof = {"password": actor.account.password, "recovery_code": codes[0]}
    renewed = actor.request("POST", "/api/v1/auth/reauthenticate", json=proof)  # a recent proof with a second factor
    assert renewed.status_code == 200, renewed.text
    actor.access_token = renewed.json()["access_token"]

    _refused_naming_body(actor.request("POST", "/api/v1/auth/mfa/recovery-codes", json={"code": "123456"}))

    challenge = actor.account.tokens()
    done = actor.account.http.post(
        "/api/v1/auth/mfa/verify", json={"mfa_token": challenge["mfa_token"], "recovery_code": codes[1]}
    )
    assert done.status_code == 200, "the old set was not replaced"


@pytest.mark.parametrize(
    "body",
    [
        b'{"x":1}',
        b"[]",
        b"null",
        b'""',
        b"0",
        b"{} {}",
        b"not json",
        b"\x00",
        b"{\x0c}",  # not JSON white space
    ],
)
def test_every_method_refuses_a_body_where_none_is_taken(client: httpx.Client, body: bytes) -> None:
    for method, path in (("GET", "/health"), ("GET", "/api"), ("GET", "/openapi.json")):
        _refused_naming_body(client.request(method, path, content=body, headers={"Content-Type": "application/json"}))


@pytest.mark.parametrize("body", [b"", b"  \r\n\t", b"{}", b" { \n } ", b"{}\n"])
def test_no_body_is_no_body_and_works(signed_in: Callable[..., Actor], body: bytes) -> None:
    actor = signed_in("donor")
    headers: dict[str, Any] = {"Content-Type": "application/json"}
    assert actor.request("GET", "/api/v1/users/me", content=body, headers=headers).status_code == 200
    other = Actor(actor.account)
    ended = actor.request("DELETE", "/api/v1/users/me/sessions", content=body, headers=headers)
    assert ended.status_code == 204
    assert other.request("GET", "/api/v1/users/me").status_code == 401


def test_an_unknown_path_is_404_whatever_the_body(client: httpx.Client) -> None:
    assert client.post("/api/v1/nowhere", json={"x": 1}).status_code == 404
    assert client.post("/health", json={"x": 1}).status_code == 405


def test_anonymous_callers_learn_nothing_from_the_body_check(client: httpx.Client) -> None:
    response = client.post(f"/api/v1/users/{uuid.uuid4()}/activate", json={"is_active": False})
    assert response.status_code == 401


def test_the_document_says_every_operation_may_answer_422(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    bodiless = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "requestBody" not in operation
    ]
    assert len(bodiless) > 10
    for path, method, operation in bodiless:
        assert "422" in operation["responses"], f"{method.upper()} {path}"
