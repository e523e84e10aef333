"""The admin API over HTTP: visibility, role changes, deactivation, creation, lists, audit."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select

from shared.context import ClientInfo
from shared.database import unit_of_work
from shared.errors import AppError, ConflictError
from shared.models import AuditLog, RoleName, User
from shared.services import users
from shared.services.caller import authenticate
from tests.support.accounts import PASSWORD, Account, Actor, enrol_second_factor, only_active_super_admins
from tests.support.concurrency import locks_held
from tests.support.emails import emails_to, token_from_last_email

NPO_A = str(uuid.uuid4())
NPO_B = str(uuid.uuid4())
# Admins here have a second factor, as production requires of them (README, "The first super admin").
pytestmark = pytest.mark.usefixtures("second_factor_required_as_in_production")
# The client of the requests the race tests make in-process (their callers resolved first, as the pipeline does).
CLIENT = ClientInfo(request_id="admin-race", ip_address="198.51.100.79", user_agent="race-test")


def _user(user_id: str) -> User:
    with unit_of_work() as db:
        user = db.get(User, uuid.UUID(user_id))
    assert user is not None, f"user {user_id} exists"
    return user


# -- visibility over HTTP -------------------------------------------------------------


def test_npo_admin_sees_own_npo_only(signed_in: Callable[..., Actor]) -> None:
    admin = signed_in("npo_admin", NPO_A)
    mine, theirs, donor, root = (
        signed_in("staff", NPO_A),
        signed_in("staff", NPO_B),
        signed_in("donor"),
        signed_in("super_admin"),
    )
    assert admin.request("GET", f"/api/v1/users/{mine.id}").status_code == 200
    for hidden in (theirs, donor, root):
        response = admin.request("GET", f"/api/v1/users/{hidden.id}")
        assert response.status_code == 404
        assert admin.request("DELETE", f"/api/v1/users/{hidden.id}").status_code == 404


def test_staff_sees_itself_and_changes_nothing(signed_in: Callable[..., Actor]) -> None:
    staff = signed_in("staff", NPO_A)
    colleague = signed_in("staff", NPO_A)
    assert staff.request("GET", f"/api/v1/users/{staff.id}").status_code == 200
    assert staff.request("GET", f"/api/v1/users/{colleague.id}").status_code == 404
    assert staff.request("DELETE", f"/api/v1/users/{staff.id}").status_code == 403
    assert staff.request("PATCH", f"/api/v1/users/{staff.id}", json={"city": "Nice"}).status_code == 403
    assert staff.request("GET", "/api/v1/users").status_code == 403
    assert staff.request("GET", "/api/v1/audit-logs").status_code == 403


def test_malformed_and_unknown_ids(signed_in: Callable[..., Actor]) -> None:
    root = signed_in("super_admin")
    bad = root.request("GET", "/api/v1/users/not-a-uuid")
    assert bad.status_code == 404, "the route only matches a GUID (users/{user_id:guid})"
    assert bad.json()["error"]["code"] == "NOT_FOUND"
    assert root.request("GET", f"/api/v1/users/{uuid.uuid4()}").status_code == 404


# -- role changes ------------------------------------------------------------------------


def test_role_change_applies_on_the_very_next_request(signed_in: Callable[..., Actor]) -> None:
    root = signed_in("super_admin")
    target = signed_in("donor")
    as_donor = target.request("GET", "/api/v1/users")
    assert as_donor.status_code == 403 and as_donor.json()["error"]["code"] == "FORBIDDEN"
    response = root.request("PATCH", f"/api/v1/users/{target.id}/role", json={"role": "npo_admin", "npo_id": NPO_A})
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "npo_admin"
    # same access token, issued while a donor: the role is read fresh per request, and with
    # it the new role's rule: an NPO admin enrols a second factor before anything else
    assert target.request("GET", "/api/v1/users/me").json()["role"] == "npo_admin"
    as_new_admin = target.request("GET", "/api/v1/users")
    assert as_new_admin.status_code == 403 and as_new_admin.json()["error"]["code"] == "MFA_ENROLLMENT_REQUIRED"
    enrol_second_factor(target)
    assert target.request("GET", "/api/v1/users").status_code == 200
    root.request("PATCH", f"/api/v1/users/{target.id}/role", json={"role": "donor"})
    assert target.request("GET", "/api/v1/users").status_code == 403


@pytest.mark.parametrize(
    ("body", "field_hint"),
    [
        ({"role": "staff"}, "is required for role staff"),
        ({"role": "donor", "npo_id": NPO_A}, "must not be set"),
        ({"role": "super_admin", "npo_id": NPO_A}, "must not be set"),
        ({"role": "wizard"}, "role"),
        ({"role": "staff", "npo_id": "nope"}, "npo_id"),
    ],
)
def test_role_change_validates_npo_id(signed_in: Callable[..., Actor], body: dict[str, str], field_hint: str) -> None:
    root = signed_in("super_admin")
    target = signed_in("donor")
    response = root.request("PATCH", f"/api/v1/users/{target.id}/role", json=body)
    assert response.status_code == 422
    assert field_hint in str(response.json()["error"]["details"])


@pytest.mark.parametrize(
    ("role", "npo_id", "rule"),
    [("staff", None, "npo_id_required"), ("donor", NPO_A, "npo_id_not_allowed")],
)
def test_the_role_and_npo_rule_names_npo_id_and_its_own_type(
    signed_in: Callable[..., Actor], role: str, npo_id: str | None, rule: str
) -> None:
    """Not ``body`` and ``value_error``: a form puts the message beside the npo_id field."""
    root = signed_in("super_admin")
    target = signed_in("donor")
    created = root.request(
        "POST",
        "/api/v1/users",
        json={"email": f"npo-{uuid.uuid4().hex[:8]}@example.org", "first_name": "N", "last_name": "P", "role": role}
        | ({"npo_id": npo_id} if npo_id else {}),
    )
    changed = root.request("PATCH", f"/api/v1/users/{target.id}/role", json={"role": role, "npo_id": npo_id})
    for response in (created, changed):
        assert response.status_code == 422
        assert [(f["field"], f["type"]) for f in response.json()["error"]["details"]["fields"]] == [("npo_id", rule)]


def test_nobody_changes_their_own_role_or_deactivates_themselves(signed_in: Callable[..., Actor]) -> None:
    root = signed_in("super_admin")
    assert root.request("PATCH", f"/api/v1/users/{root.id}/role", json={"role": "donor"}).status_code == 403
    assert root.request("DELETE", f"/api/v1/users/{root.id}").status_code == 403
    admin = signed_in("npo_admin", NPO_A)
    body = {"role": "staff", "npo_id": NPO_A}
    assert admin.request("PATCH", f"/api/v1/users/{admin.id}/role", json=body).status_code == 403


def test_npo_admin_cannot_assign_above_itself_or_elsewhere(signed_in: Callable[..., Actor]) -> None:
    admin = signed_in("npo_admin", NPO_A)
    staff = signed_in("staff", NPO_A)
    promote = admin.request("PATCH", f"/api/v1/users/{staff.id}/role", json={"role": "super_admin"})
    assert promote.status_code == 403
    move = admin.request("PATCH", f"/api/v1/users/{staff.id}/role", json={"role": "staff", "npo_id": NPO_B})
    assert move.status_code == 403
    ok = admin.request("PATCH", f"/api/v1/users/{staff.id}/role", json={"role": "event_coordinator", "npo_id": NPO_A})
    assert ok.status_code == 200


def _active_super_admin_ids() -> set[str]:
    with unit_of_work() as db:
        rows = db.scalars(select(User.id).where(User.role == "super_admin", User.is_active.is_(True)))
        return {str(row) for row in rows}


@pytest.mark.parametrize("action", ["demote", "deactivate"])
def test_last_super_admin_guard_refuses_a_stale_peer(signed_in: Callable[..., Actor], action: str) -> None:
    """B's request was authorised as super admin; meanwhile A removed B. B's change to A
    would leave no active super admin: refused with 409 LAST_SUPER_ADMIN."""
    a, b = signed_in("super_admin"), signed_in("super_admin")
    only_active_super_admins(a, b)
    stale_b = authenticate(b.access_token, CLIENT)  # B as seen at the start of its request
    assert a.request("PATCH", f"/api/v1/users/{b.id}/role", json={"role": "donor"}).status_code == 200
    with pytest.raises(ConflictError) as refused:
        if action == "demote":
            users.change_role(stale_b, uuid.UUID(a.id), RoleName.DONOR, None, CLIENT)
        else:
            users.deactivate(stale_b, uuid.UUID(a.id), CLIENT)
    assert refused.value.code == "LAST_SUPER_ADMIN"
    assert _active_super_admin_ids() == {a.id}


# Both requests were authorised (their callers resolved) before either changes anything; the test
# holds the rows they lock, and lets go once both wait: their transactions overlap, as in a real race.
def _at_once(rows: list[str], *changes: Callable[[], object]) -> list[Future[object]]:
    """Run ``changes`` together: each waits on the locks of ``rows`` (user ids) until all of them do."""
    held = "SELECT 1 FROM users WHERE id = ANY(CAST(:ids AS uuid[])) FOR UPDATE"
    with ThreadPoolExecutor(max_workers=len(changes)) as pool, locks_held(held, ids=rows) as lock:
        started = [pool.submit(change) for change in changes]
        lock.queued(len(changes))
    return started


def _outcome(change: Future[object]) -> str:
    """``done``, or the code of the error the change was refused with."""
    error = change.exception()
    if error is None:
        return "done"
    assert isinstance(error, AppError), error
    return error.code


def test_two_last_super_admins_removing_each_other_leave_one(signed_in: Callable[..., Actor]) -> None:
    a, b = signed_in("super_admin"), signed_in("super_admin")
    only_active_super_admins(a, b)
    as_a, as_b = authenticate(a.access_token, CLIENT), authenticate(b.access_token, CLIENT)
    changes = _at_once(
        [a.id, b.id],
        lambda: users.change_role(as_a, uuid.UUID(b.id), RoleName.DONOR, None, CLIENT),
        lambda: users.change_role(as_b, uuid.UUID(a.id), RoleName.DONOR, None, CLIENT),
    )
    assert sorted(_outcome(change) for change in changes) == ["LAST_SUPER_ADMIN", "done"]
    assert len(_active_super_admin_ids()) == 1


def test_two_admins_changing_one_role_at_once_are_serialised(signed_in: Callable[..., Actor]) -> None:
    first, second = signed_in("super_admin"), signed_in("super_admin")
    target = signed_in("staff", NPO_A)
    as_first, as_second = authenticate(first.access_token, CLIENT), authenticate(second.access_token, CLIENT)
    npo = uuid.UUID(NPO_A)
    changes = _at_once(
        [target.id],
        lambda: users.change_role(as_first, uuid.UUID(target.id), RoleName.NPO_ADMIN, npo, CLIENT),
        lambda: users.change_role(as_second, uuid.UUID(target.id), RoleName.EVENT_COORDINATOR, npo, CLIENT),
    )
    assert [_outcome(change) for change in changes] == ["done", "done"]
    final = _user(target.id)
    with unit_of_work() as db:
        events = db.scalars(
            select(AuditLog)
            .where(AuditLog.event_type == "user.role_changed", AuditLog.target_user_id == uuid.UUID(target.id))
            .order_by(AuditLog.created_at)
        ).all()
    assert len(events) == 2
    first_change, last_change = sorted(events, key=lambda e: e.details["after"]["role"] != final.role)[::-1]
    assert last_change.details["after"]["role"] == final.role
    # serialised, not lost: the later change saw the earlier one as its "before"
    assert last_change.details["before"]["role"] == first_change.details["after"]["role"]
    assert {first_change.details["after"]["role"], last_change.details["after"]["role"]} == {
        "npo_admin",
        "event_coordinator",
    }


# -- deactivation ---------------------------------------------------------------------------


def test_deactivate_ends_sessions_and_blocks_sign_in_then_activate(signed_in: Callable[..., Actor]) -> None:
    admin = signed_in("npo_admin", NPO_A)
    staff = signed_in("staff", NPO_A)
    assert admin.request("DELETE", f"/api/v1/users/{staff.id}").status_code == 204
    assert staff.request("GET", "/api/v1/users/me").status_code == 401
    refreshed = staff.account.refresh(staff.refresh_token)
    assert refreshed.status_code == 401
    login = staff.account.login()
    assert login.status_code == 403 and login.json()["error"]["code"] == "ACCOUNT_DEACTIVATED"
    activated = admin.request("POST", f"/api/v1/users/{staff.id}/activate")
    assert activated.status_code == 200 and activated.json()["is_active"] is True
    assert staff.account.login().status_code == 200


def test_admin_verify_email_activates_unless_deactivated(client: httpx.Client, signed_in: Callable[..., Actor]) -> None:
    root = signed_in("super_admin")
    pending = Account(client, f"pending-{uuid.uuid4().hex[:8]}@example.org")
    user_id = pending.register().json()["user"]["id"]
    verified = root.request("POST", f"/api/v1/users/{user_id}/verify-email")
    assert verified.status_code == 200
    assert verified.json()["email_verified"] is True and verified.json()["is_active"] is True
    assert pending.login().status_code == 200

    other = Account(client, f"pending-{uuid.uuid4().hex[:8]}@example.org")
    other_id = other.register().json()["user"]["id"]
    assert root.request("DELETE", f"/api/v1/users/{other_id}").status_code == 204
    after = root.request("POST", f"/api/v1/users/{other_id}/verify-email").json()
    assert after["email_verified"] is True and after["is_active"] is False, "deactivation wins over verification"


# -- creation -------------------------------------------------------------------------------------


def test_create_without_password_invites_and_the_link_opens_the_accept_page(
    client: httpx.Client, signed_in: Callable[..., Actor]
) -> None:
    admin = signed_in("npo_admin", NPO_A)
    email = f"invited-{uuid.uuid4().hex[:8]}@example.org"
    body = {"email": email, "first_name": "In", "last_name": "Vited", "role": "staff", "npo_id": NPO_A}
    created = admin.request("POST", "/api/v1/users", json=body)
    assert created.status_code == 202, created.text
    assert created.json()["npo_id"] == NPO_A and created.json()["status"] == "pending", "the invitation"
    [invitation] = emails_to(email)
    assert "http://localhost:3000/accept-invitation?token=" in invitation["text"]
    token = token_from_last_email(email, "invited")
    accepted = client.post("/api/v1/invitations/accept", json={"token": token, "password": "Welcome-aboard-42"})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["user"]["email_verified"] is True
    assert Account(client, email, password="Welcome-aboard-42").login().status_code == 200


def test_create_with_password_sends_verification(client: httpx.Client, signed_in: Callable[..., Actor]) -> None:
    root = signed_in("super_admin")
    email = f"made-{uuid.uuid4().hex[:8]}@example.org"
    body = {"email": email, "first_name": "M", "last_name": "D", "role": "donor", "password": PASSWORD}
    assert root.request("POST", "/api/v1/users", json=body).status_code == 201
    person = Account(client, email)
    assert person.login().status_code == 403
    assert person.verify().status_code == 200
    assert person.login().status_code == 200
    assert root.request("POST", "/api/v1/users", json=body).json()["error"]["code"] == "DUPLICATE_EMAIL"


@pytest.mark.parametrize(
    ("role", "npo", "status"),
    [("donor", None, 403), ("super_admin", None, 403), ("staff", NPO_B, 403), ("npo_admin", NPO_A, 202)],
)
def test_npo_admin_creation_limits(signed_in: Callable[..., Actor], role: str, npo: str | None, status: int) -> None:
    admin = signed_in("npo_admin", NPO_A)
    body = {"email": f"c-{uuid.uuid4().hex[:8]}@example.org", "first_name": "C", "last_name": "C", "role": role}
    if npo:
        body["npo_id"] = npo
    assert admin.request("POST", "/api/v1/users", json=body).status_code == status


def test_only_admins_create(signed_in: Callable[..., Actor]) -> None:
    staff = signed_in("staff", NPO_A)
    body = {"email": "x@example.org", "first_name": "C", "last_name": "C", "role": "staff", "npo_id": NPO_A}
    assert staff.request("POST", "/api/v1/users", json=body).status_code == 403


# -- profiles -----------------------------------------------------------------------------------------


def test_patch_me_accepts_profile_fields_only(signed_in: Callable[..., Actor]) -> None:
    me = signed_in("donor")
    ok = me.request("PATCH", "/api/v1/users/me", json={"city": "Lyon", "phone": "+33 1 23 45 67 89", "country": None})
    assert ok.status_code == 200 and ok.json()["city"] == "Lyon"
    for forbidden in (
        {"email": "new@example.org"},
        {"role": "super_admin"},
        {"npo_id": NPO_A},
        {"is_active": True},
        {"email_verified": True},
        {"favourite": "x"},
        {"first_name": None},
    ):
        response = me.request("PATCH", "/api/v1/users/me", json=forbidden)
        assert response.status_code == 422, forbidden
    assert _user(me.id).role == "donor"


def test_admin_patches_profile_in_own_npo(signed_in: Callable[..., Actor]) -> None:
    admin = signed_in("npo_admin", NPO_A)
    staff = signed_in("staff", NPO_A)
    response = admin.request("PATCH", f"/api/v1/users/{staff.id}", json={"last_name": "Renamed"})
    assert response.status_code == 200 and response.json()["last_name"] == "Renamed"
    assert admin.request("PATCH", f"/api/v1/users/{staff.id}", json={"role": "npo_admin"}).status_code == 422


# -- lists ------------------------------------------------------------------------------------------------


def test_list_paging_filters_search_and_sort(signed_in: Callable[..., Actor]) -> None:
    npo = str(uuid.uuid4())
    admin = signed_in("npo_admin", npo)
    staff = [signed_in("staff", npo) for _ in range(3)]
    signed_in("staff", str(uuid.uuid4()))  # another NPO: never listed for this admin
    page = admin.request("GET", "/api/v1/users", params={"per_page": 2, "sort": "created_at"}).json()
    assert page["total"] == 4 and page["pages"] == 2 and len(page["items"]) == 2
    assert page["items"][0]["id"] == admin.id
    second = admin.request("GET", "/api/v1/users", params={"per_page": 2, "page": 2, "sort": "created_at"}).json()
    assert [u["id"] for u in second["items"]] == [staff[1].id, staff[2].id]
    only_staff = admin.request("GET", "/api/v1/users", params={"role": "staff"}).json()
    assert only_staff["total"] == 3
    email = staff[0].account.email
    found = admin.request("GET", "/api/v1/users", params={"search": email[:12].upper()}).json()
    assert [u["email"] for u in found["items"]] == [email]
    by_name = admin.request("GET", "/api/v1/users", params={"search": "npo_ADM"}).json()
    assert [u["id"] for u in by_name["items"]] == [admin.id]
    wildcard = admin.request("GET", "/api/v1/users", params={"search": "%"}).json()
    assert wildcard["total"] == 0, "LIKE wildcards in the search are literal"


@pytest.mark.parametrize(
    "params",
    [
        {"per_page": 0},
        {"per_page": 101},
        {"page": 0},
        {"role": "king"},
        {"sort": "password_hash"},
        {"is_active": "maybe"},
        {"npo_id": "x"},
        {"unknown": "1"},
        {"sort": "-"},
    ],
)
def test_list_rejects_invalid_parameters(signed_in: Callable[..., Actor], params: dict[str, str | int]) -> None:
    root = signed_in("super_admin")
    response = root.request("GET", "/api/v1/users", params=params)
    assert response.status_code == 422, params
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_super_admin_lists_everyone_with_filters(signed_in: Callable[..., Actor]) -> None:
    root = signed_in("super_admin")
    npo = str(uuid.uuid4())
    signed_in("staff", npo)
    listed = root.request("GET", "/api/v1/users", params={"npo_id": npo, "is_active": "true"}).json()
    assert listed["total"] == 1 and listed["per_page"] == 20


# -- roles and audit -------------------------------------------------------------------------------------


def test_roles_lists_five_with_permissions_from_the_policy(signed_in: Callable[..., Actor]) -> None:
    donor = signed_in("donor")
    roles = donor.request("GET", "/api/v1/roles").json()["items"]
    assert [r["name"] for r in roles] == ["super_admin", "npo_admin", "event_coordinator", "staff", "donor"]
    by_name = {r["name"]: r for r in roles}
    assert by_name["npo_admin"]["scope"] == "npo"
    assert "users:list on users of their own NPO" in by_name["npo_admin"]["user_admin"]
    assert "users:deactivate on any user" in by_name["super_admin"]["user_admin"]
    assert not any(p.startswith("users:list") for p in by_name["donor"]["user_admin"])
    assert by_name["staff"]["permissions"] == ["checkin:perform", "registrations:manage"]
    assert by_name["staff"]["reach"] == "the events assigned to them, in own NPO"
    assert len(by_name["super_admin"]["permissions"]) == 10 and by_name["super_admin"]["reach"] == "everything"


def test_audit_log_scoping_and_admin_events(signed_in: Callable[..., Actor]) -> None:
    npo = str(uuid.uuid4())
    admin = signed_in("npo_admin", npo)
    staff = signed_in("staff", npo)
    outsider = signed_in("staff", str(uuid.uuid4()))
    admin.request("DELETE", f"/api/v1/users/{staff.id}", headers={"X-Request-ID": "audit-trace-1"})
    events = admin.request("GET", "/api/v1/audit-logs", params={"event_type": "user.deactivated"}).json()
    assert events["total"] == 1
    [event] = events["items"]
    assert event["actor_user_id"] == admin.id and event["target_user_id"] == staff.id
    assert event["details"]["before"]["is_active"] is True and event["details"]["after"]["is_active"] is False
    assert event["request_id"] == "audit-trace-1" and event["ip_address"] == admin.account.ip
    assert event["user_agent"]
    seen_users = {e["target_user_id"] for e in admin.request("GET", "/api/v1/audit-logs").json()["items"]}
    assert outsider.id not in seen_users
    root = signed_in("super_admin")
    everything = root.request("GET", "/api/v1/audit-logs", params={"user_id": outsider.id}).json()
    assert everything["total"] >= 1
    window = root.request(
        "GET", "/api/v1/audit-logs", params={"since": "2100-01-01T00:00:00Z", "user_id": staff.id}
    ).json()
    assert window["total"] == 0
    inverted = root.request(
        "GET", "/api/v1/audit-logs", params={"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    )
    assert inverted.status_code == 200 and inverted.json()["total"] == 0, "an empty window, not an error"
    assert root.request("GET", "/api/v1/audit-logs", params={"since": "1700000000"}).status_code == 422
    naive = root.request("GET", "/api/v1/audit-logs", params={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422
