"""Event assignments: who may assign whom, idempotency, cleanup, audit, claims.

Which NPO an event belongs to, and what that means for assignments: test_event_ownership.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import jwt
from sqlalchemy import func, insert, select

from shared.database import unit_of_work
from shared.models import AuditLog, EventAssignment
from tests.support.accounts import Actor
from tests.support.events import registered_event, registered_events

NPO = str(uuid.uuid4())


def _path(user: Actor, event_id: str) -> str:
    return f"/api/v1/users/{user.id}/events/{event_id}"


def _events(actor: Actor, user: Actor) -> list[str]:
    response = actor.request("GET", f"/api/v1/users/{user.id}/events")
    assert response.status_code == 200, response.text
    return [item["event_id"] for item in response.json()["items"]]


def test_assigning_is_idempotent_201_then_200_and_unassigning_is_204(signed_in: Callable[..., Actor]) -> None:
    admin, staff = signed_in("npo_admin", NPO), signed_in("staff", NPO)
    event_id = registered_event(NPO)
    first = admin.request("PUT", _path(staff, event_id))
    assert first.status_code == 201, first.text
    assert first.json()["event_id"] == event_id and first.json()["assigned_by"] == admin.id
    again = admin.request("PUT", _path(staff, event_id))
    assert again.status_code == 200 and again.json()["assigned_at"] == first.json()["assigned_at"]
    assert _events(staff, staff) == [event_id]
    assert admin.request("DELETE", _path(staff, event_id)).status_code == 204
    assert admin.request("DELETE", _path(staff, event_id)).status_code == 204
    assert _events(admin, staff) == []


def test_only_event_coordinators_and_staff_are_assigned(signed_in: Callable[..., Actor]) -> None:
    root = signed_in("super_admin")
    for person in (signed_in("donor"), signed_in("npo_admin", NPO), root):
        refused = root.request("PUT", _path(person, str(uuid.uuid4())))
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "ROLE_NOT_EVENT_SCOPED"


def test_a_coordinator_assigns_staff_of_their_npo_to_their_own_events_only(signed_in: Callable[..., Actor]) -> None:
    root = signed_in("super_admin")
    coordinator, staff = signed_in("event_coordinator", NPO), signed_in("staff", NPO)
    peer = signed_in("event_coordinator", NPO)
    outsider = signed_in("staff", str(uuid.uuid4()))
    theirs, not_theirs = registered_event(NPO), registered_event(NPO)
    assert root.request("PUT", _path(coordinator, theirs)).status_code == 201
    assert coordinator.request("PUT", _path(staff, theirs)).status_code == 201
    assert coordinator.request("PUT", _path(staff, not_theirs)).status_code == 403, "not their event"
    assert coordinator.request("PUT", _path(peer, theirs)).status_code == 403, "a coordinator, not staff"
    assert coordinator.request("PUT", _path(outsider, theirs)).status_code == 404, "another NPO: invisible"
    assert coordinator.request("DELETE", _path(staff, theirs)).status_code == 204
    assert staff.request("PUT", _path(staff, theirs)).status_code == 403, "staff assign nobody, not even themselves"


def test_an_npo_admin_assigns_only_their_npos_people(signed_in: Callable[..., Actor]) -> None:
    admin = signed_in("npo_admin", NPO)
    elsewhere = signed_in("staff", str(uuid.uuid4()))
    assert admin.request("PUT", _path(elsewhere, str(uuid.uuid4()))).status_code == 404
    assert admin.request("GET", f"/api/v1/users/{elsewhere.id}/events").status_code == 404


def test_who_may_read_a_users_events(signed_in: Callable[..., Actor]) -> None:
    staff = signed_in("staff", NPO)
    assert signed_in("npo_admin", NPO).request("GET", f"/api/v1/users/{staff.id}/events").status_code == 200
    assert signed_in("super_admin").request("GET", f"/api/v1/users/{staff.id}/events").status_code == 200
    assert signed_in("event_coordinator", NPO).request("GET", f"/api/v1/users/{staff.id}/events").status_code == 404
    assert signed_in("donor").request("GET", f"/api/v1/users/{staff.id}/events").status_code == 404


def test_event_members_are_paged_and_scoped(signed_in: Callable[..., Actor]) -> None:
    root, admin = signed_in("super_admin"), signed_in("npo_admin", NPO)
    coordinator = signed_in("event_coordinator", NPO)
    team = [signed_in("staff", NPO) for _ in range(3)]
    event_id = registered_event(NPO)
    for person in (coordinator, *team):
        assert root.request("PUT", _path(person, event_id)).status_code == 201
    page = admin.request("GET", f"/api/v1/events/{event_id}/members", params={"per_page": 2, "page": 2}).json()
    assert (page["total"], page["pages"], page["page"], len(page["items"])) == (4, 2, 2, 2)
    everyone = coordinator.request("GET", f"/api/v1/events/{event_id}/members").json()
    assert {item["id"] for item in everyone["items"]} == {coordinator.id, *(person.id for person in team)}
    assert all(item["assigned_by"] == root.id and item["email"] for item in everyone["items"])
    other_admin = signed_in("npo_admin", str(uuid.uuid4()))
    assert other_admin.request("GET", f"/api/v1/events/{event_id}/members").json()["total"] == 0
    assert team[0].request("GET", f"/api/v1/events/{event_id}/members").status_code == 403
    unassigned = signed_in("event_coordinator", NPO)
    assert unassigned.request("GET", f"/api/v1/events/{event_id}/members").status_code == 403


def test_role_changes_away_from_event_work_or_to_another_npo_end_assignments(signed_in: Callable[..., Actor]) -> None:
    root = signed_in("super_admin")
    moved, promoted, kept = signed_in("staff", NPO), signed_in("staff", NPO), signed_in("staff", NPO)
    event_id = registered_event(NPO)
    for person in (moved, promoted, kept):
        assert root.request("PUT", _path(person, event_id)).status_code == 201
    other = str(uuid.uuid4())
    assert (
        root.request("PATCH", f"/api/v1/users/{moved.id}/role", json={"role": "staff", "npo_id": other}).status_code
        == 200
    )
    body = {"role": "npo_admin", "npo_id": NPO}
    assert root.request("PATCH", f"/api/v1/users/{promoted.id}/role", json=body).status_code == 200
    body = {"role": "event_coordinator", "npo_id": NPO}
    assert root.request("PATCH", f"/api/v1/users/{kept.id}/role", json=body).status_code == 200
    assert _events(root, moved) == [] and _events(root, promoted) == []
    assert _events(root, kept) == [event_id], "still event work in the same NPO: kept"
    with unit_of_work() as db:
        removals = db.scalars(
            select(AuditLog).where(
                AuditLog.event_type == "event.unassigned", AuditLog.target_user_id == uuid.UUID(moved.id)
            )
        ).all()
    assert [(row.details["reason"], row.details["events"]) for row in removals] == [("role_changed", [event_id])]


def test_assignments_and_removals_are_audited(signed_in: Callable[..., Actor]) -> None:
    admin, staff = signed_in("npo_admin", NPO), signed_in("staff", NPO)
    event_id = registered_event(NPO)
    admin.request("PUT", _path(staff, event_id))
    admin.request("PUT", _path(staff, event_id))  # already: nothing new to audit
    admin.request("DELETE", _path(staff, event_id))
    with unit_of_work() as db:
        rows = db.execute(
            select(AuditLog.event_type, AuditLog.actor_user_id, AuditLog.npo_id, AuditLog.details)
            .where(AuditLog.target_user_id == uuid.UUID(staff.id), AuditLog.event_type.like("event.%"))
            .order_by(AuditLog.created_at)
        ).all()
    assert [(row[0], str(row[1]), str(row[2]), row[3]["event_id"]) for row in rows] == [
        ("event.assigned", admin.id, NPO, event_id),
        ("event.unassigned", admin.id, NPO, event_id),
    ]


def _claims(actor: Actor) -> dict[str, object]:
    return dict(jwt.decode(actor.account.tokens()["access_token"], options={"verify_signature": False}))


def test_access_tokens_carry_the_assigned_events_up_to_a_hundred(signed_in: Callable[..., Actor]) -> None:
    root, staff = signed_in("super_admin"), signed_in("staff", NPO)
    assert _claims(staff)["events"] == []
    first = registered_event(NPO)
    root.request("PUT", _path(staff, first))
    assert _claims(staff)["events"] == [first]
    with unit_of_work() as db:
        db.execute(
            insert(EventAssignment),
            [{"user_id": uuid.UUID(staff.id), "event_id": event_id} for event_id in registered_events(NPO, 99)],
        )
        assert db.scalar(select(func.count()).where(EventAssignment.user_id == uuid.UUID(staff.id))) == 100
    refreshed = staff.account.refresh(staff.refresh_token)
    claims = jwt.decode(refreshed.json()["access_token"], options={"verify_signature": False})
    assert len(claims["events"]) == 100
    root.request("PUT", _path(staff, registered_event(NPO)))
    assert "events" not in _claims(staff), "more than 100: no claim; services ask the check route"
