"""Invitations over HTTP: who may invite whom, the emailed link (file backend) inspected and accepted
by a new address and by a signed-in account, dead links, re-sending, revoking, the list, the audit
trail, the limits, and the races of acceptance."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shared.database import unit_of_work
from shared.models import AuditLog, Invitation, User
from tests.support.accounts import PASSWORD, Account, Actor, make_user
from tests.support.concurrency import locks_held
from tests.support.emails import emails_to, token_from_last_email
from tests.support.events import registered_event
from tests.support.network import client_from, fresh_ip
from tests.support.settings import settings_changed

INVITATIONS = "/api/v1/invitations"
NEW_PASSWORD = "Invited-gala-42"


def _npo() -> str:
    """An NPO of the test's own, so lists and limits see only its invitations."""
    return str(uuid.uuid4())


def _invite(admin: Actor, email: str, role: str = "staff", npo_id: str | None = None, **extra: Any) -> httpx.Response:
    body: dict[str, Any] = {"email": email, "role": role, **extra}
    if npo_id is not None:
        body["npo_id"] = npo_id
    return admin.request("POST", INVITATIONS, json=body)


def _invited(admin: Actor, email: str, npo_id: str | None, role: str = "staff", **extra: Any) -> dict[str, Any]:
    response = _invite(admin, email, role, npo_id, **extra)
    assert response.status_code == 201, response.text
    invitation: dict[str, Any] = response.json()
    return invitation


def _token(email: str) -> str:
    """The token of the newest invitation email to ``email`` (the file backend's copy)."""
    return token_from_last_email(email, "invited")


def _inspect(client: httpx.Client, token: str) -> httpx.Response:
    return client.post(f"{INVITATIONS}/inspect", json={"token": token})


def _accept(client: httpx.Client, token: str, bearer: str | None = None, **body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return client.post(f"{INVITATIONS}/accept", json={"token": token, **body}, headers=headers)


def _events(invitation_id: str) -> list[str]:
    """The audit events naming the invitation, by time (those of one request in name order)."""
    with unit_of_work() as db:
        rows = db.scalars(
            select(AuditLog.event_type)
            .where(AuditLog.details["invitation_id"].astext == invitation_id)
            .order_by(AuditLog.created_at, AuditLog.event_type)
        )
        return list(rows)


def _permission(actor: Actor, permission: str) -> dict[str, Any]:
    """The live permission check, with the actor's access token as it was issued."""
    answer = actor.request("POST", "/api/v1/authz/check", json={"permission": permission})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


# -- who may invite whom ----------------------------------------------------------------------


def test_an_npo_admin_invites_into_their_npo_and_never_elsewhere_or_above_their_rank(
    signed_in: Callable[..., Actor], unique_email: Callable[[str], str]
) -> None:
    npo = _npo()
    admin = signed_in("npo_admin", npo)
    for role in ("staff", "event_coordinator", "npo_admin"):
        made = _invite(admin, unique_email(role), role, npo)
        assert made.status_code == 201, made.text
        assert (made.json()["role"], made.json()["npo_id"], made.json()["status"]) == (role, npo, "pending")
        assert made.json()["invited_by"] == admin.id
    for role, npo_id in (("staff", _npo()), ("super_admin", None), ("donor", None)):
        refused = _invite(admin, unique_email("refused"), role, npo_id)
        assert refused.status_code == 403, (role, refused.text)
        assert refused.json()["error"]["code"] == "FORBIDDEN"
    staff = signed_in("staff", npo)
    assert _invite(staff, unique_email("by-staff"), "staff", npo).status_code == 403
    assert _invite(admin, unique_email("no-npo"), "staff", None).status_code == 422, "npo_id goes with the role"


def test_inviting_the_same_address_to_the_same_npo_again_answers_the_pending_invitation(
    signed_in: Callable[..., Actor], unique_email: Callable[[str], str]
) -> None:
    npo = _npo()
    admin, root = signed_in("npo_admin", npo), signed_in("super_admin")
    email = unique_email("twice")
    first = _invited(admin, email, npo)
    assert len(emails_to(email)) == 1
    again = _invite(root, email.upper(), "staff", npo)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first["id"] and again.json()["invited_by"] == admin.id
    elsewhere = _invite(root, email, "staff", _npo())
    assert elsewhere.status_code == 201 and elsewhere.json()["id"] != first["id"], "another NPO: another invitation"
    assert len(emails_to(email)) == 3, "the repeat was sent again"
    with unit_of_work() as db:
        pending = db.scalars(select(Invitation).where(Invitation.email == email, Invitation.state == "pending")).all()
    assert len(pending) == 2


# -- the emailed link: a new address -------------------------------------------------------------


def test_a_new_address_inspects_and_accepts_the_emailed_link_and_can_sign_in(
    client: httpx.Client, signed_in: Callable[..., Actor], unique_email: Callable[[str], str]
) -> None:
    npo = _npo()
    admin = signed_in("npo_admin", npo)
    email = unique_email("newcomer")
    invitation = _invited(admin, email, npo, first_name="Grace", last_name="Hopper")
    [message] = emails_to(email)
    assert "http://localhost:3000/accept-invitation?token=" in message["text"]
    assert "Npo_Admin Tester invited you" in message["text"] and "a staff member" in message["text"]
    assert "expires in 7 days" in message["text"] and "Grace" not in message["text"]
    token = _token(email)

    shown = _inspect(client, token)
    assert shown.status_code == 200, shown.text
    assert shown.json() == {
        "email": email,
        "role": "staff",
        "npo_id": npo,
        "invited_by_name": "Npo_Admin Tester",
        "expires_at": invitation["expires_at"],
        "account_exists": False,
    }
    missing = _accept(client, token)
    assert missing.status_code == 422
    assert [field["field"] for field in missing.json()["error"]["details"]["fields"]] == ["password"]

    accepted = _accept(client, token, password=NEW_PASSWORD, first_name="Amazing")
    assert accepted.status_code == 201, accepted.text
    tokens = accepted.json()
    assert tokens["access_token"] and tokens["refresh_token"] and tokens["token_type"] == "bearer"
    user = tokens["user"]
    assert (user["email"], user["role"], user["npo_id"]) == (email, "staff", npo)
    assert (user["first_name"], user["last_name"]) == ("Amazing", "Hopper"), "the person's name wins, else the invite's"
    assert user["email_verified"] is True and user["is_active"] is True
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200 and me.json()["id"] == user["id"]
    assert Account(client, email, password=NEW_PASSWORD).login().status_code == 200

    assert _inspect(client, token).json()["error"]["code"] == "INVALID_TOKEN", "the link works once"
    listed = admin.request("GET", INVITATIONS, params={"npo_id": npo}).json()["items"]
    assert [(item["id"], item["status"]) for item in listed] == [(invitation["id"], "accepted")]


def test_a_new_account_needs_names_from_the_invitation_or_the_person(
    client: httpx.Client, signed_in: Callable[..., Actor], unique_email: Callable[[str], str]
) -> None:
    root = signed_in("super_admin")
    email = unique_email("nameless")
    _invited(root, email, None, role="donor")
    token = _token(email)
    refused = _accept(client, token, password=NEW_PASSWORD, first_name="Only")
    assert refused.status_code == 422
    assert [field["field"] for field in refused.json()["error"]["details"]["fields"]] == ["last_name"]
    accepted = _accept(client, token, password=NEW_PASSWORD, first_name="Only", last_name="Donor")
    assert accepted.status_code == 201 and accepted.json()["user"]["role"] == "donor"


def test_a_new_accounts_password_may_not_be_built_on_its_address_or_names_and_the_link_stays_good(
    client: httpx.Client, signed_in: Callable[..., Actor], unique_email: Callable[[str], str]
) -> None:
    root = signed_in("super_admin")
    email = unique_email("personal")
    _invited(root, email, None, role="donor", first_name="Marguerite", last_name="Perey")
    token = _token(email)
    for personal in ("Marguerite-2026", "Perey-gala-42", f"{email.split('@')[0]}-9"):
        refused = _accept(client, token, password=personal)
        assert refused.status_code == 422, personal
        [field] = refused.json()["error"]["details"]["fields"]
        assert (field["field"], field["type"]) == ("password", "password_contains_personal_info")
    accepted = _accept(client, token, password=NEW_PASSWORD)
    assert accepted.status_code == 201, "a refused password spends nothing"
    tokens = accepted.json()
    assert tokens["status"] == "authenticated"
    assert tokens["password_change_required"] is False and tokens["consent_required"] is False
    assert tokens["mfa_enrollment_required"] is False and tokens["user"]["mfa_enrollment_required"] is False


# -- the emailed link: an existing account ------------------------------------------------------------


def test_a_signed_in_donor_accepts_and_is_staff_of_the_npo_from_the_next_request(
    client: httpx.Client, signed_in: Callable[..., Actor]
) -> None:
    npo = _npo()
    admin = signed_in("npo_admin", npo)
    donor = signed_in("donor")
    _invited(admin, donor.account.email, npo)
    token = _token(donor.account.email)
    assert _inspect(client, token).json()["account_exists"] is True
    assert _permission(donor, "bids:place")["allowed"] is True

    anonymous = _accept(client, token, password=NEW_PASSWORD)
    assert anonymous.status_code == 401, "an address with an account signs in to accept"
    assert anonymous.json()["error"]["code"] == "AUTHENTICATION_REQUIRED"
    other = signed_in("donor")
    as_other = _accept(client, token, bearer=other.access_token)
    assert as_other.status_code == 403 and as_other.json()["error"]["code"] == "FORBIDDEN"

    accepted = _accept(client, token, bearer=donor.access_token)
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["id"], accepted.json()["role"], accepted.json()["npo_id"]) == (donor.id, "staff", npo)
    assert "access_token" not in accepted.json()
    # The same access token, issued to a donor: the role is read afresh on the next request.
    assert _permission(donor, "bids:place") == {"allowed": False, "reason": "permission_not_in_role"}
    assert donor.request("GET", "/api/v1/users/me").json()["role"] == "staff"
    assert admin.request("GET", f"/api/v1/users/{donor.id}").status_code == 200, "one of the NPO's users now"
    assert _accept(client, token, bearer=donor.access_token).json()["error"]["code"] == "INVALID_TOKEN"


@pytest.mark.parametrize(
    ("held", "invited", "same_npo"),
    [("npo_admin", "staff", True), ("staff", "staff", False), ("super_admin", "npo_admin", False)],
)
def test_an_invitation_that_would_lower_or_move_an_account_is_a_role_conflict(
    client: httpx.Client, signed_in: Callable[..., Actor], held: str, invited: str, same_npo: bool
) -> None:
    npo = _npo()
    root = signed_in("super_admin")
    person = signed_in(held, (npo if same_npo else _npo()) if held != "super_admin" else None)
    _invited(root, person.account.email, npo, role=invited)
    token = _token(person.account.email)
    conflict = _accept(client, token, bearer=person.access_token)
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "ROLE_CONFLICT"
    assert person.request("GET", "/api/v1/users/me").json()["role"] == held
    assert _inspect(client, token).status_code == 200, "a refused acceptance spends nothing"


def test_staff_invited_as_coordinator_of_their_npo_is_promoted_and_keeps_their_events(
    client: httpx.Client, signed_in: Callable[..., Actor]
) -> None:
    npo = _npo()
    root = signed_in("super_admin")
    staff = signed_in("staff", npo)
    event = registered_event(npo)
    assert root.request("PUT", f"/api/v1/users/{staff.id}/events/{event}").status_code == 201
    _invited(root, staff.account.email, npo, role="event_coordinator")
    accepted = _accept(client, _token(staff.account.email), bearer=staff.access_token)
    assert accepted.status_code == 200 and accepted.json()["role"] == "event_coordinator"
    assert [item["event_id"] for item in staff.request("GET", f"/api/v1/users/{staff.id}/events").json()["items"]] == [
        event
    ]


# -- dead links ---------------------------------------------------------------------------------------


def _make_dead(case: str, admin: Actor, client: httpx.Client, email: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A token that no longer opens anything, made dead the way ``case`` says."""
    if case == "unknown":
        return "not-a-token-anyone-was-sent-0123456789"
    invitation = _invited(admin, email, admin_npo(admin))
    token = _token(email)
    if case == "revoked":
        assert admin.request("DELETE", f"{INVITATIONS}/{invitation['id']}").status_code == 204
    elif case == "spent":
        assert _accept(client, token, password=NEW_PASSWORD, first_name="S", last_name="P").status_code == 201
    elif case == "expired":
        later = time.time() + 7 * 86400 + 60  # the app's clock, a minute past the invitation's 7 days
        monkeypatch.setattr("shared.clock.now", lambda: later)
    return token


def admin_npo(admin: Actor) -> str:
    with unit_of_work() as db:
        user = db.get(User, uuid.UUID(admin.id))
        assert user is not None and user.npo_id is not None
        return str(user.npo_id)


@pytest.mark.parametrize("case", ["revoked", "expired", "spent", "unknown"])
def test_a_revoked_expired_spent_or_unknown_link_is_invalid_token_on_inspect_and_accept(
    client: httpx.Client,
    signed_in: Callable[..., Actor],
    unique_email: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    admin = signed_in("npo_admin", _npo())
    token = _make_dead(case, admin, client, unique_email(case), monkeypatch)
    for answer in (
        _inspect(client, token),
        _accept(client, token, password=NEW_PASSWORD, first_name="A", last_name="B"),
    ):
        assert answer.status_code == 400, (case, answer.text)
        assert answer.json()["error"]["code"] == "INVALID_TOKEN"


def test_resend_gives_a_new_link_and_kills_the_old_one(
    client: httpx.Client, signed_in: Callable[..., Actor], unique_email: Callable[[str], str]
) -> None:
    npo = _npo()
    admin = signed_in("npo_admin", npo)
    email = unique_email("resent")
    invitation = _invited(admin, email, npo)
    old = _token(email)
    resent = admin.request("POST", f"{INVITATIONS}/{invitation['id']}/resend")
    assert resent.status_code == 200, resent.text
    assert resent.json()["id"] == invitation["id"] and resent.json()["status"] == "pending"
    assert _inspect(client, old).status_code == 400, "the old link died at once"
    new = _token(email)
    assert new != old and _inspect(client, new).status_code == 200
    assert _inspect(client, old).status_code == 400


def test_accepted_or_revoked_invitations_are_not_sent_again_and_revoke_is_idempotent(
    client: httpx.Client, signed_in: Callable[..., Actor], unique_email: Callable[[str], str]
) -> None:
    npo = _npo()
    admin = signed_in("npo_admin", npo)
    revoked, accepted = _invited(admin, unique_email("r"), npo), _invited(admin, unique_email("a"), npo)
    assert admin.request("DELETE", f"{INVITATIONS}/{revoked['id']}").status_code == 204
    assert admin.request("DELETE", f"{INVITATIONS}/{revoked['id']}").status_code == 204
    body = {"password": NEW_PASSWORD, "first_name": "A", "last_name": "B"}
    assert _accept(client, _token(accepted["email"]), **body).status_code == 201
    for invitation, method, suffix in (
        (revoked, "POST", "/resend"),
        (accepted, "POST", "/resend"),
        (accepted, "DELETE", ""),
    ):
        answer = admin.request(method, f"{INVITATIONS}/{invitation['id']}{suffix}")
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "INVITATION_NOT_PENDING"


def test_only_the_npos_admins_and_super_admins_see_and_manage_its_invitations(
    signed_in: Callable[..., Actor], unique_email: Callable[[str], str]
) -> None:
    npo = _npo()
    admin = signed_in("npo_admin", npo)
    invitation = _invited(admin, unique_email("seen"), npo)
    path = f"{INVITATIONS}/{invitation['id']}"
    other_admin, staff, root = signed_in("npo_admin", _npo()), signed_in("staff", npo), signed_in("super_admin")
    assert other_admin.request("POST", f"{path}/resend").status_code == 404
    assert other_admin.request("DELETE", path).status_code == 404
    assert other_admin.request("GET", INVITATIONS, params={"npo_id": npo}).json()["total"] == 0
    assert staff.request("GET", INVITATIONS).status_code == 403
    assert staff.request("DELETE", path).status_code == 404
    assert root.request("POST", f"{path}/resend").status_code == 200
    assert admin.request("DELETE", f"{INVITATIONS}/{uuid.uuid4()}").status_code == 404


# -- the list --------------------------------------------------------------------------------------------


def test_the_list_filters_by_status_and_npo_and_pages(
    client: httpx.Client,
    signed_in: Callable[..., Actor],
    unique_email: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    npo = _npo()
    admin, root = signed_in("npo_admin", npo), signed_in("super_admin")
    made = [_invited(admin, unique_email(f"list{n}"), npo) for n in range(4)]
    assert admin.request("DELETE", f"{INVITATIONS}/{made[0]['id']}").status_code == 204
    body = {"password": NEW_PASSWORD, "first_name": "L", "last_name": "P"}
    assert _accept(client, _token(made[1]["email"]), **body).status_code == 201

    def listed(actor: Actor, **params: Any) -> dict[str, Any]:
        answer = actor.request("GET", INVITATIONS, params=params)
        assert answer.status_code == 200, answer.text
        page: dict[str, Any] = answer.json()
        return page

    def ids(page: dict[str, Any]) -> list[str]:
        return [item["id"] for item in page["items"]]

    assert ids(listed(admin, status="revoked")) == [made[0]["id"]]
    assert ids(listed(admin, status="accepted")) == [made[1]["id"]]
    assert ids(listed(admin, status="pending")) == [made[3]["id"], made[2]["id"]], "newest first"
    assert ids(listed(root, npo_id=npo, status="pending")) == [made[3]["id"], made[2]["id"]]
    first, second = listed(admin, per_page=3), listed(admin, per_page=3, page=2)
    assert (first["total"], first["pages"], len(first["items"]), len(second["items"])) == (4, 2, 3, 1)
    assert set(ids(first) + ids(second)) == {invitation["id"] for invitation in made}
    later = time.time() + 8 * 86400
    monkeypatch.setattr("shared.clock.now", lambda: later)
    assert ids(listed(admin, status="expired")) == [made[3]["id"], made[2]["id"]]
    assert listed(admin, status="pending")["total"] == 0
    assert admin.request("GET", INVITATIONS, params={"status": "lost"}).status_code == 422


# -- POST /api/v1/users without a password is the same mechanism -----------------------------------


def test_creating_a_user_without_a_password_invites_them(
    client: httpx.Client, signed_in: Callable[..., Actor], unique_email: Callable[[str], str]
) -> None:
    npo = _npo()
    admin = signed_in("npo_admin", npo)
    email = unique_email("created")
    body = {"email": email, "first_name": "Cre", "last_name": "Ated", "role": "staff", "npo_id": npo, "phone": "+1 555"}
    created = admin.request("POST", "/api/v1/users", json=body)
    assert created.status_code == 202, created.text
    assert (created.json()["status"], created.json()["email"], created.json()["role"]) == ("pending", email, "staff")
    with unit_of_work() as db:
        assert db.scalar(select(User.id).where(User.email == email)) is None, "no account until accepted"
    again = admin.request("POST", "/api/v1/users", json=body)
    assert again.status_code == 202 and again.json()["id"] == created.json()["id"], "the pending one"
    listed = admin.request("GET", INVITATIONS, params={"npo_id": npo}).json()["items"]
    assert [item["id"] for item in listed] == [created.json()["id"]]
    accepted = _accept(client, _token(email), password=NEW_PASSWORD)
    assert accepted.status_code == 201, accepted.text
    user = accepted.json()["user"]
    assert (user["first_name"], user["last_name"], user["phone"], user["npo_id"]) == ("Cre", "Ated", "+1 555", npo)


def test_an_existing_account_can_be_invited_through_the_users_route_too(
    signed_in: Callable[..., Actor], account: Account
) -> None:
    root = signed_in("super_admin")
    body = {"email": account.email, "first_name": "Ex", "last_name": "Isting", "role": "staff", "npo_id": _npo()}
    invited = root.request("POST", "/api/v1/users", json=body)
    assert invited.status_code == 202 and invited.json()["status"] == "pending", invited.text
    with_password = root.request("POST", "/api/v1/users", json={**body, "password": PASSWORD})
    assert with_password.status_code == 409 and with_password.json()["error"]["code"] == "DUPLICATE_EMAIL"


# -- the audit trail --------------------------------------------------------------------------------------


def test_every_step_is_audited_with_ids_only(
    client: httpx.Client, signed_in: Callable[..., Actor], unique_email: Callable[[str], str]
) -> None:
    npo = _npo()
    admin = signed_in("npo_admin", npo)
    donor = signed_in("donor")
    to_donor = _invited(admin, donor.account.email, npo)
    assert admin.request("POST", f"{INVITATIONS}/{to_donor['id']}/resend").status_code == 200
    assert _accept(client, _token(donor.account.email), bearer=donor.access_token).status_code == 200
    revoked = _invited(admin, unique_email("audited"), npo)
    assert admin.request("DELETE", f"{INVITATIONS}/{revoked['id']}").status_code == 204

    assert _events(to_donor["id"]) == [
        "invitation.created",
        "invitation.resent",
        "invitation.accepted",
        "user.role_changed",
    ]
    assert _events(revoked["id"]) == ["invitation.created", "invitation.revoked"]
    with unit_of_work() as db:
        rows = db.scalars(
            select(AuditLog).where(AuditLog.details["invitation_id"].astext.in_([to_donor["id"], revoked["id"]]))
        ).all()
    by_event = {(row.event_type, row.details["invitation_id"]): row for row in rows}
    created = by_event[("invitation.created", to_donor["id"])]
    assert (str(created.actor_user_id), str(created.npo_id), created.details["role"]) == (admin.id, npo, "staff")
    changed = by_event[("user.role_changed", to_donor["id"])]
    assert str(changed.actor_user_id) == str(changed.target_user_id) == donor.id
    assert (changed.details["before"]["role"], changed.details["after"]["role"]) == ("donor", "staff")
    accepted = by_event[("invitation.accepted", to_donor["id"])]
    assert accepted.details["new_account"] is False and accepted.details["invited_by"] == admin.id
    assert all(donor.account.email not in str(row.details) for row in rows), "never the address"
    assert admin.request("GET", "/api/v1/audit-logs", params={"event_type": "invitation.revoked"}).json()["total"] >= 1


# -- limits ------------------------------------------------------------------------------------------------


def test_inspect_and_accept_count_bad_tokens_per_client_address(
    client: httpx.Client, signed_in: Callable[..., Actor], unique_email: Callable[[str], str]
) -> None:
    admin = signed_in("npo_admin", _npo())
    email = unique_email("limited")
    _invited(admin, email, admin_npo(admin))
    good = _token(email)
    with settings_changed(RATE_LIMIT_TOKEN_PER_IP="3"):
        for _ in range(5):
            assert _inspect(client, good).status_code == 200, "a good link costs no attempt"
        bad = [_inspect(client, "a-made-up-token-0123456789").status_code for _ in range(2)]
        bad.append(_accept(client, "another-made-up-token-0123").status_code)
        assert bad == [400, 400, 400]
        limited = _inspect(client, good)
        assert limited.status_code == 429 and "Retry-After" in limited.headers
        assert _accept(client, good, password=NEW_PASSWORD).status_code == 429


def test_creating_invitations_is_limited_per_inviter(
    signed_in: Callable[..., Actor], unique_email: Callable[[str], str]
) -> None:
    npo = _npo()
    admin, colleague = signed_in("npo_admin", npo), signed_in("npo_admin", npo)
    with settings_changed(RATE_LIMIT_INVITATIONS_PER_USER="2"):
        assert [_invite(admin, unique_email("n"), "staff", npo).status_code for _ in range(2)] == [201, 201]
        limited = _invite(admin, unique_email("n"), "staff", npo)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
        assert _invite(colleague, unique_email("n"), "staff", npo).status_code == 201, "per inviter"


def test_sending_again_is_limited_per_mailbox(
    signed_in: Callable[..., Actor], unique_email: Callable[[str], str]
) -> None:
    npo = _npo()
    admin = signed_in("npo_admin", npo)
    email = unique_email("mailbox")
    invitation = _invited(admin, email, npo)
    assert len(emails_to(email)) == 1
    with settings_changed(RATE_LIMIT_EMAIL_PER_ADDRESS="2"):
        assert admin.request("POST", f"{INVITATIONS}/{invitation['id']}/resend").status_code == 200
        assert len(emails_to(email)) == 2
        assert _invite(admin, email, "staff", npo).status_code == 200
        assert len(emails_to(email)) == 3
        repeat = _invite(admin, email, "staff", npo)
        assert repeat.status_code == 200 and repeat.json()["id"] == invitation["id"], "answered, not sent"
        assert len(emails_to(email)) == 3
        assert admin.request("POST", f"{INVITATIONS}/{invitation['id']}/resend").status_code == 429


# -- races --------------------------------------------------------------------------------------------------


def test_two_acceptances_of_one_link_at_once_make_one_account(
    base_url: str, signed_in: Callable[..., Actor], unique_email: Callable[[str], str]
) -> None:
    npo = _npo()
    admin = signed_in("npo_admin", npo)
    email = unique_email("race")
    invitation = _invited(admin, email, npo)
    token = _token(email)
    body = {"token": token, "password": NEW_PASSWORD, "first_name": "R", "last_name": "Ace"}
    held = "SELECT 1 FROM invitations WHERE id = :id FOR UPDATE"
    with (
        client_from(base_url, fresh_ip()) as http,
        ThreadPoolExecutor(max_workers=2) as pool,
        locks_held(held, id=invitation["id"]) as lock,
    ):
        racing = [pool.submit(http.post, f"{INVITATIONS}/accept", json=body) for _ in range(2)]
        lock.queued(2)
    answers = sorted(race.result().status_code for race in racing)
    assert answers == [201, 400]
    with unit_of_work() as db:
        assert len(db.scalars(select(User).where(User.email == email)).all()) == 1


def test_a_user_of_the_role_invited_needs_no_second_invitation(
    client: httpx.Client, signed_in: Callable[..., Actor]
) -> None:
    """Accepting what one already is spends the link and changes nothing (no role-change event)."""
    npo = _npo()
    admin = signed_in("npo_admin", npo)
    staff = make_user(client, "staff", npo)
    actor = Actor(staff)
    invitation = _invited(admin, staff.email, npo)
    accepted = _accept(client, _token(staff.email), bearer=actor.access_token)
    assert accepted.status_code == 200 and accepted.json()["role"] == "staff"
    assert _events(invitation["id"]) == ["invitation.created", "invitation.accepted"]


# -- personal data ------------------------------------------------------------------------------------------


def test_the_export_lists_the_invitations_sent_to_the_person_never_their_link(
    client: httpx.Client, signed_in: Callable[..., Actor]
) -> None:
    npo = _npo()
    admin, root = signed_in("npo_admin", npo), signed_in("super_admin")
    person = signed_in("donor")
    accepted = _invited(admin, person.account.email, npo, first_name="Typed")
    token = _token(person.account.email)
    assert _accept(client, token, bearer=person.access_token).status_code == 200
    pending = _invited(root, person.account.email, None, role="super_admin")
    link = _token(person.account.email)
    export = person.request("GET", "/api/v1/users/me/export")
    assert export.status_code == 200, export.text
    listed = {item["id"]: item for item in export.json()["invitations"]}
    assert set(listed) == {accepted["id"], pending["id"]}
    assert (listed[accepted["id"]]["status"], listed[accepted["id"]]["invited_by"]) == ("accepted", admin.id)
    assert listed[accepted["id"]]["first_name"] == "Typed" and listed[pending["id"]]["status"] == "pending"
    with unit_of_work() as db:
        stored = db.scalar(select(Invitation.token_hash).where(Invitation.id == uuid.UUID(pending["id"])))
    assert stored and stored not in export.text and link not in export.text and token not in export.text


def test_erasure_deletes_the_invitations_to_the_person_and_keeps_those_they_sent(
    client: httpx.Client, signed_in: Callable[..., Actor], unique_email: Callable[[str], str]
) -> None:
    npo = _npo()
    root = signed_in("super_admin")
    person = signed_in("npo_admin", npo)
    sent = _invited(person, unique_email("sent-by-them"), npo)
    to_them = [_invited(root, person.account.email, _npo()), _invited(root, person.account.email, None, "donor")]
    assert root.request("DELETE", f"{INVITATIONS}/{to_them[1]['id']}").status_code == 204
    erased = person.request("DELETE", "/api/v1/users/me", json={"password": PASSWORD})
    assert erased.status_code == 204, erased.text
    with unit_of_work() as db:
        left = {str(row.id): row for row in db.scalars(select(Invitation).where(Invitation.invited_by.is_not(None)))}
        holding_address = db.scalars(select(Invitation.id).where(Invitation.email == person.account.email)).all()
        details = db.scalars(
            select(AuditLog.details).where(
                AuditLog.event_type == "user.erased", AuditLog.target_user_id == uuid.UUID(person.id)
            )
        ).one()
    assert holding_address == [] and not {item["id"] for item in to_them} & set(left)
    assert str(left[sent["id"]].invited_by) == person.id, "what they sent names them by id, as the audit log does"
    assert details["invitations_deleted"] == 2
    assert _events(to_them[0]["id"]) == ["invitation.created"], "the audit trail keeps the invitation's id"
