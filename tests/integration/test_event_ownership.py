"""Events have an owner: an event's NPO is registered once, by someone allowed to say so, and
every decision about the event (assignments, the permission check) uses that NPO.

The expectations are written out here, independently of ``shared.services.policy``:

- ``PUT /api/v1/events/{id}`` registers: a super admin for any NPO, an NPO admin for their own
  NPO only and only while the event is unregistered; 201 when new, 200 (the same body) when it
  already was with that NPO; moving it to another NPO is a super admin's, 409
  ``EVENT_IN_OTHER_NPO`` for anyone else;
- ``GET /api/v1/events/{id}``: super admins and the users of the event's NPO; 404
  ``EVENT_NOT_FOUND`` for anyone else and for an unregistered event;
- an assignment needs a registered event of the assignee's NPO;
- the check decides with the registered NPO; a caller's ``npo_id`` that disagrees is ignored;
  an unregistered event reaches only super admins.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shared.database import unit_of_work
from shared.models import AuditLog
from tests.support.accounts import Actor


def _register(actor: Actor, event_id: str, npo_id: str, **extra: Any) -> httpx.Response:
    return actor.request("PUT", f"/api/v1/events/{event_id}", json={"npo_id": npo_id, **extra})


def _assign(actor: Actor, user: Actor, event_id: str) -> httpx.Response:
    return actor.request("PUT", f"/api/v1/users/{user.id}/events/{event_id}")


def _check(actor: Actor, permission: str, **where: str) -> dict[str, Any]:
    response = actor.request("POST", "/api/v1/authz/check", json={"permission": permission, **where})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _code(response: httpx.Response) -> tuple[int, str | None]:
    """The status and the error code (None: no error)."""
    error: dict[str, str] = response.json().get("error", {}) if response.content else {}
    return response.status_code, error.get("code")


def _audited(event_type: str, event_id: str) -> list[AuditLog]:
    with unit_of_work() as db:
        rows = db.scalars(
            select(AuditLog)
            .where(AuditLog.event_type == event_type, AuditLog.details["event_id"].astext == event_id)
            .order_by(AuditLog.created_at)
        ).all()
        db.expunge_all()
    return list(rows)


# -- the vulnerability: claiming an event, and a caller's npo_id believed -------------------------


def test_an_npo_admin_cannot_claim_another_npos_event_by_assigning_to_it_first(
    signed_in: Callable[..., Actor],
) -> None:
    """The first assignment used to decide an event's NPO: NPO B's admin could take NPO A's gala."""
    npo_a, npo_b = str(uuid.uuid4()), str(uuid.uuid4())
    root, admin_b = signed_in("super_admin"), signed_in("npo_admin", npo_b)
    staff_b = signed_in("staff", npo_b)
    gala = str(uuid.uuid4())
    assert _code(_assign(admin_b, staff_b, gala)) == (404, "EVENT_NOT_FOUND"), "unregistered: nobody's to claim"
    assert _register(root, gala, npo_a).status_code == 201
    assert _code(_assign(admin_b, staff_b, gala)) == (409, "EVENT_IN_OTHER_NPO")
    assert _code(_register(admin_b, gala, npo_b)) == (409, "EVENT_IN_OTHER_NPO"), "nor by registering it"
    assert _check(admin_b, "events:manage", npo_id=npo_b, event_id=gala) == {
        "allowed": False,
        "reason": "event_of_other_npo",
    }


def test_the_check_decides_with_the_registered_npo_and_ignores_a_disagreeing_npo_id(
    signed_in: Callable[..., Actor],
) -> None:
    npo_a, npo_b = str(uuid.uuid4()), str(uuid.uuid4())
    root, admin_a, admin_b = signed_in("super_admin"), signed_in("npo_admin", npo_a), signed_in("npo_admin", npo_b)
    staff_a = signed_in("staff", npo_a)
    gala = str(uuid.uuid4())
    assert _register(root, gala, npo_a).status_code == 201
    assert _assign(admin_a, staff_a, gala).status_code == 201
    answers = {
        "B's admin, naming B": _check(admin_b, "events:manage", npo_id=npo_b, event_id=gala),
        "B's admin, naming the event only": _check(admin_b, "events:manage", event_id=gala),
        "A's admin, naming B": _check(admin_a, "events:manage", npo_id=npo_b, event_id=gala),
        "A's admin, naming the event only": _check(admin_a, "events:manage", event_id=gala),
        "A's staff, naming B": _check(staff_a, "checkin:perform", npo_id=npo_b, event_id=gala),
        "B's admin, no event": _check(admin_b, "events:manage", npo_id=npo_b),
        "A's admin, naming B, no event": _check(admin_a, "events:manage", npo_id=npo_b),
    }
    assert answers == {
        "B's admin, naming B": {"allowed": False, "reason": "event_of_other_npo"},
        "B's admin, naming the event only": {"allowed": False, "reason": "event_of_other_npo"},
        "A's admin, naming B": {"allowed": True, "reason": "event_of_own_npo"},
        "A's admin, naming the event only": {"allowed": True, "reason": "event_of_own_npo"},
        "A's staff, naming B": {"allowed": True, "reason": "assigned_event"},
        "B's admin, no event": {"allowed": True, "reason": "own_npo"},
        "A's admin, naming B, no event": {"allowed": False, "reason": "other_npo"},
    }


def test_an_unregistered_event_reaches_only_super_admins(signed_in: Callable[..., Actor]) -> None:
    npo = str(uuid.uuid4())
    nowhere = str(uuid.uuid4())
    answers = {
        role: _check(signed_in(role, npo if role not in ("super_admin", "donor") else None), permission, **where)
        for role, permission, where in (
            ("super_admin", "events:manage", {"npo_id": npo, "event_id": nowhere}),
            ("npo_admin", "events:manage", {"npo_id": npo, "event_id": nowhere}),
            ("event_coordinator", "events:manage", {"npo_id": npo, "event_id": nowhere}),
            ("staff", "checkin:perform", {"npo_id": npo, "event_id": nowhere}),
        )
    }
    assert answers == {
        "super_admin": {"allowed": True, "reason": "super_admin"},
        "npo_admin": {"allowed": False, "reason": "event_not_registered"},
        "event_coordinator": {"allowed": False, "reason": "event_not_assigned"},
        "staff": {"allowed": False, "reason": "event_not_assigned"},
    }


# -- registering --------------------------------------------------------------------------------


def test_registering_is_201_then_200_with_the_same_body(signed_in: Callable[..., Actor]) -> None:
    npo = str(uuid.uuid4())
    admin, root = signed_in("npo_admin", npo), signed_in("super_admin")
    gala = str(uuid.uuid4())
    first = _register(admin, gala, npo, name="Spring Gala")
    assert first.status_code == 201, first.text
    body = first.json()
    assert {key: body[key] for key in ("id", "npo_id", "name", "registered_by")} == {
        "id": gala,
        "npo_id": npo,
        "name": "Spring Gala",
        "registered_by": admin.id,
    }
    assert set(body) == {"id", "npo_id", "name", "registered_by", "registered_at"}
    for again in (_register(admin, gala, npo), _register(root, gala, npo, name="Another name")):
        assert (again.status_code, again.json()) == (200, body), "already registered with that NPO: unchanged"
    shown = admin.request("GET", f"/api/v1/events/{gala}")
    assert (shown.status_code, shown.json()) == (200, body)
    registered = _audited("event.registered", gala)
    assert [(str(row.actor_user_id), str(row.npo_id)) for row in registered] == [(admin.id, npo)]


def test_who_may_register_an_event_for_which_npo(signed_in: Callable[..., Actor]) -> None:
    npo, elsewhere = str(uuid.uuid4()), str(uuid.uuid4())
    admin = signed_in("npo_admin", npo)
    assert _code(_register(admin, str(uuid.uuid4()), elsewhere)) == (403, "FORBIDDEN"), "only their own NPO"
    for role in ("event_coordinator", "staff", "donor"):
        person = signed_in(role, npo if role != "donor" else None)
        assert _code(_register(person, str(uuid.uuid4()), npo)) == (403, "FORBIDDEN"), role
    assert _register(signed_in("super_admin"), str(uuid.uuid4()), elsewhere).status_code == 201
    with unit_of_work() as db:
        refused = db.scalars(
            select(AuditLog).where(
                AuditLog.event_type == "authz.refused", AuditLog.actor_user_id == uuid.UUID(admin.id)
            )
        ).all()
    assert [row.details["action"] for row in refused] == ["event_register"]


def test_only_a_super_admin_moves_an_event_and_the_old_npos_team_leaves_it(signed_in: Callable[..., Actor]) -> None:
    npo_a, npo_b = str(uuid.uuid4()), str(uuid.uuid4())
    root, admin_a, admin_b = signed_in("super_admin"), signed_in("npo_admin", npo_a), signed_in("npo_admin", npo_b)
    staff_a = signed_in("staff", npo_a)
    gala = str(uuid.uuid4())
    assert _register(admin_a, gala, npo_a).status_code == 201
    assert _assign(admin_a, staff_a, gala).status_code == 201
    assert _check(staff_a, "checkin:perform", event_id=gala)["allowed"] is True
    moved = _register(root, gala, npo_b, name="Now B's")
    assert moved.status_code == 200, moved.text
    assert (moved.json()["npo_id"], moved.json()["name"]) == (npo_b, "Now B's")
    assert staff_a.request("GET", f"/api/v1/users/{staff_a.id}/events").json()["items"] == []
    assert _check(staff_a, "checkin:perform", event_id=gala) == {"allowed": False, "reason": "event_not_assigned"}
    assert _check(admin_b, "events:manage", event_id=gala) == {"allowed": True, "reason": "event_of_own_npo"}
    assert _code(_register(admin_a, gala, npo_a)) == (409, "EVENT_IN_OTHER_NPO"), "only a super admin moves it back"
    [move] = _audited("event.moved", gala)
    assert (str(move.actor_user_id), str(move.npo_id)) == (root.id, npo_b)
    assert (move.details["from_npo_id"], move.details["to_npo_id"]) == (npo_a, npo_b)
    [left] = _audited("event.unassigned", gala)
    assert (str(left.target_user_id), left.details["reason"]) == (staff_a.id, "event_moved")


def test_an_event_is_seen_by_super_admins_and_its_npos_users_only(signed_in: Callable[..., Actor]) -> None:
    npo = str(uuid.uuid4())
    root = signed_in("super_admin")
    gala = str(uuid.uuid4())
    assert _register(root, gala, npo).status_code == 201
    seen = {
        "super_admin": root,
        "npo_admin": signed_in("npo_admin", npo),
        "event_coordinator": signed_in("event_coordinator", npo),
        "staff": signed_in("staff", npo),
    }
    for role, actor in seen.items():
        assert actor.request("GET", f"/api/v1/events/{gala}").status_code == 200, role
    for outsider in (
        signed_in("npo_admin", str(uuid.uuid4())),
        signed_in("staff", str(uuid.uuid4())),
        signed_in("donor"),
    ):
        assert _code(outsider.request("GET", f"/api/v1/events/{gala}")) == (404, "EVENT_NOT_FOUND")
    assert _code(root.request("GET", f"/api/v1/events/{uuid.uuid4()}")) == (404, "EVENT_NOT_FOUND")


def test_registering_needs_a_recent_sign_in(signed_in: Callable[..., Actor], monkeypatch: pytest.MonkeyPatch) -> None:
    """An admin write, like the assignments it makes possible."""
    npo = str(uuid.uuid4())
    admin = signed_in("npo_admin", npo)
    gala = str(uuid.uuid4())
    monkeypatch.setattr("shared.clock.now", lambda: time.time() + 11 * 60)  # 11 minutes after the sign-in
    assert _code(_register(admin, gala, npo)) == (403, "REAUTHENTICATION_REQUIRED")
    assert admin.request("GET", f"/api/v1/events/{gala}").status_code == 404, "nothing was registered"


def test_a_registration_names_an_npo_and_a_one_line_name(signed_in: Callable[..., Actor]) -> None:
    root = signed_in("super_admin")
    gala, npo = str(uuid.uuid4()), str(uuid.uuid4())
    for body in ({}, {"npo_id": "not-a-uuid"}, {"npo_id": npo, "name": "Gala\nnight"}, {"npo_id": npo, "extra": 1}):
        response = root.request("PUT", f"/api/v1/events/{gala}", json=body)
        assert _code(response) == (422, "VALIDATION_ERROR"), body
    assert root.request("GET", f"/api/v1/events/{gala}").status_code == 404, "nothing was registered"


def test_an_assignment_needs_a_registered_event_of_the_assignees_npo(signed_in: Callable[..., Actor]) -> None:
    npo_a, npo_b = str(uuid.uuid4()), str(uuid.uuid4())
    root = signed_in("super_admin")
    ours, theirs = signed_in("staff", npo_a), signed_in("staff", npo_b)
    gala = str(uuid.uuid4())
    assert _code(_assign(root, ours, gala)) == (404, "EVENT_NOT_FOUND")
    assert _register(root, gala, npo_a).status_code == 201
    assert _assign(root, ours, gala).status_code == 201
    assert _code(_assign(root, theirs, gala)) == (409, "EVENT_IN_OTHER_NPO"), "even a super admin"
