"""POST /api/v1/authz/check: every cell of the permission table, over HTTP, decided live.

The expectations are written out here, independently of ``shared.services.policy``:

| role | reaches | may |
| super_admin | everything | every permission |
| npo_admin | own NPO and all its events | npo, users, events, auctions, registrations manage; checkin; audit |
| event_coordinator | assigned events, in own NPO | events, auctions, registrations manage; checkin; staff:assign |
| staff | assigned events, in own NPO | registrations:manage, checkin:perform |
| donor | themselves | bids:place, profile:manage |
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import azure.functions as func
import httpx
import pytest
from sqlalchemy import select

from shared.database import unit_of_work
from shared.models import AuditLog
from shared.redis_client import Keys, get_redis
from tests.support.accounts import Actor, created_with_temporary_password
from tests.support.events import registered_event
from tests.support.round_trips import counting_round_trips
from tests.support.settings import settings_changed

PERMISSIONS = [
    "npo:manage",
    "users:manage",
    "events:manage",
    "auctions:manage",
    "registrations:manage",
    "checkin:perform",
    "audit:view",
    "staff:assign",
    "bids:place",
    "profile:manage",
]
GRANTED = {
    "super_admin": set(PERMISSIONS),
    "npo_admin": {
        "npo:manage",
        "users:manage",
        "events:manage",
        "auctions:manage",
        "registrations:manage",
        "checkin:perform",
        "audit:view",
    },
    "event_coordinator": {
        "events:manage",
        "auctions:manage",
        "registrations:manage",
        "checkin:perform",
        "staff:assign",
    },
    "staff": {"registrations:manage", "checkin:perform"},
    "donor": {"bids:place", "profile:manage"},
}
PLACES = ("own_event", "other_event", "own_npo", "other_npo")


def expected(role: str, permission: str, place: str) -> bool:
    if role == "super_admin":
        return True
    if permission not in GRANTED[role]:
        return False
    if role == "donor":
        return True  # donors act as themselves, at any NPO's event
    if role == "npo_admin":
        return place != "other_npo"
    return place == "own_event"  # coordinators and staff: only the events they are assigned to


class Gala:
    """NPO A with an event E1 whose coordinator and staff are assigned, a second event E2 of
    NPO A nobody of ours works (both registered to NPO A), and NPO B; one signed-in user of each role."""

    def __init__(self, signed_in: Callable[..., Actor]) -> None:
        self.npo_a, self.npo_b = str(uuid.uuid4()), str(uuid.uuid4())
        self.own_event, self.other_event = registered_event(self.npo_a), registered_event(self.npo_a)
        root = signed_in("super_admin")
        self.actors = {
            "super_admin": root,
            "npo_admin": signed_in("npo_admin", self.npo_a),
            "event_coordinator": signed_in("event_coordinator", self.npo_a),
            "staff": signed_in("staff", self.npo_a),
            "donor": signed_in("donor"),
        }
        for role in ("event_coordinator", "staff"):
            path = f"/api/v1/users/{self.actors[role].id}/events/{self.own_event}"
            assert root.request("PUT", path).status_code == 201

    def place(self, name: str) -> dict[str, str]:
        return {
            "own_event": {"npo_id": self.npo_a, "event_id": self.own_event},
            "other_event": {"npo_id": self.npo_a, "event_id": self.other_event},
            "own_npo": {"npo_id": self.npo_a},
            "other_npo": {"npo_id": self.npo_b},
        }[name]


def check(actor: Actor, permission: str, **where: str) -> httpx.Response:
    return actor.request("POST", "/api/v1/authz/check", json={"permission": permission, **where})


def test_every_cell_of_the_permission_table(signed_in: Callable[..., Actor]) -> None:
    gala = Gala(signed_in)
    wrong = []
    for role, actor in gala.actors.items():
        for permission in PERMISSIONS:
            for place in PLACES:
                response = check(actor, permission, **gala.place(place))
                assert response.status_code == 200, response.text
                if response.json()["allowed"] is not expected(role, permission, place):
                    wrong.append((role, permission, place, response.json()))
    assert not wrong
    assert len(gala.actors) * len(PERMISSIONS) * len(PLACES) == 200


@pytest.mark.parametrize(
    ("role", "where", "allowed", "reason"),
    [
        ("event_coordinator", {"npo_id": "A"}, False, "event_id_required"),
        ("staff", {"event_id": "E1"}, True, "assigned_event"),
        ("staff", {"event_id": "E2"}, False, "event_not_assigned"),
        ("npo_admin", {"event_id": "E1"}, True, "event_of_own_npo"),  # registered to NPO A
        ("npo_admin", {"npo_id": "B", "event_id": "E2"}, True, "event_of_own_npo"),  # the event's NPO decides
        ("staff", {"npo_id": "B", "event_id": "E1"}, True, "assigned_event"),
        ("npo_admin", {}, True, "own_npo"),
        ("donor", {"npo_id": "B", "event_id": "E2"}, True, "themselves"),
        ("super_admin", {"npo_id": "B"}, True, "super_admin"),
    ],
)
def test_reasons_say_why(
    signed_in: Callable[..., Actor], role: str, where: dict[str, str], allowed: bool, reason: str
) -> None:
    gala = Gala(signed_in)
    ids = {"A": gala.npo_a, "B": gala.npo_b, "E1": gala.own_event, "E2": gala.other_event}
    permission = "checkin:perform" if role != "donor" else "bids:place"
    body = check(gala.actors[role], permission, **{key: ids[value] for key, value in where.items()}).json()
    assert body == {"allowed": allowed, "reason": reason}


def test_an_npo_admin_naming_only_another_npos_event_is_refused(signed_in: Callable[..., Actor]) -> None:
    gala = Gala(signed_in)
    elsewhere = signed_in("npo_admin", gala.npo_b)
    body = check(elsewhere, "events:manage", event_id=gala.own_event).json()
    assert body == {"allowed": False, "reason": "event_of_other_npo"}


@pytest.mark.parametrize("permission", ["bids:delete", "", "NPO:MANAGE", "users:list"])
def test_an_unknown_permission_is_a_422(signed_in: Callable[..., Actor], permission: str) -> None:
    response = check(signed_in("staff", str(uuid.uuid4())), permission)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_the_check_sees_changes_on_the_very_next_request(signed_in: Callable[..., Actor]) -> None:
    """The token's claims may be 15 minutes old; the check is not."""
    gala = Gala(signed_in)
    staff, root = gala.actors["staff"], gala.actors["super_admin"]
    where = gala.place("own_event")
    assert check(staff, "checkin:perform", **where).json()["allowed"] is True
    assert root.request("DELETE", f"/api/v1/users/{staff.id}/events/{gala.own_event}").status_code == 204
    assert check(staff, "checkin:perform", **where).json() == {"allowed": False, "reason": "event_not_assigned"}
    assert root.request("PUT", f"/api/v1/users/{staff.id}/events/{gala.own_event}").status_code == 201
    assert check(staff, "checkin:perform", **where).json()["allowed"] is True
    role = {"role": "event_coordinator", "npo_id": gala.npo_b}
    assert root.request("PATCH", f"/api/v1/users/{staff.id}/role", json=role).status_code == 200
    assert check(staff, "checkin:perform", **where).json()["allowed"] is False
    assert root.request("DELETE", f"/api/v1/users/{staff.id}").status_code == 204
    assert check(staff, "checkin:perform", **where).status_code == 401


def test_a_signed_out_session_gets_401_not_an_answer(signed_in: Callable[..., Actor]) -> None:
    staff = signed_in("staff", str(uuid.uuid4()))
    assert staff.request("POST", "/api/v1/auth/logout").status_code == 204
    assert check(staff, "checkin:perform").status_code == 401


def test_a_temporary_password_answers_no_with_its_reason(client: httpx.Client, signed_in: Callable[..., Actor]) -> None:
    npo = str(uuid.uuid4())
    person = created_with_temporary_password(signed_in("npo_admin", npo), client, signed_in("super_admin"), npo)
    token = person.tokens()["access_token"]
    response = person.http.post(
        "/api/v1/authz/check",
        json={"permission": "checkin:perform", "npo_id": npo},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.json() == {"allowed": False, "reason": "password_change_required"}


def test_refused_checks_are_audited_once_per_question_and_window(signed_in: Callable[..., Actor]) -> None:
    gala = Gala(signed_in)
    staff = gala.actors["staff"]
    for _ in range(3):
        assert check(staff, "npo:manage", npo_id=gala.npo_a).json()["allowed"] is False
        assert check(staff, "checkin:perform", **gala.place("other_event")).json()["allowed"] is False
    check(staff, "checkin:perform", **gala.place("own_event"))  # allowed: not audited
    with unit_of_work() as db:
        rows = db.scalars(
            select(AuditLog).where(
                AuditLog.event_type == "authz.check_refused", AuditLog.actor_user_id == uuid.UUID(staff.id)
            )
        ).all()
    assert sorted((row.details["permission"], row.details["reason"]) for row in rows) == [
        ("checkin:perform", "event_not_assigned"),
        ("npo:manage", "permission_not_in_role"),
    ]
    assert all(str(row.npo_id) == gala.npo_a for row in rows)


# -- what one check costs ------------------------------------------------------------------------


def _costs(
    functions: dict[str, Any], actor: Actor, body: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, int, dict[str, Any]]:
    """Redis round trips and SQL statements of one in-process check."""
    request = func.HttpRequest(
        "POST",
        "/api/v1/authz/check",
        headers={"Authorization": f"Bearer {actor.access_token}", "Content-Type": "application/json"},
        body=json.dumps(body).encode(),
    )
    with counting_round_trips(monkeypatch) as seen:
        response = functions["authz_check"](request)
    assert response.status_code == 200, response.get_body()
    return len(seen.redis), len(seen.sql), json.loads(response.get_body())


def test_a_check_costs_one_redis_round_trip_and_at_most_one_sql_statement(
    functions: dict[str, Any], signed_in: Callable[..., Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    gala = Gala(signed_in)
    staff, admin = gala.actors["staff"], gala.actors["npo_admin"]
    staff.request("GET", "/api/v1/users/me")  # warm: the state is cached, the scripts loaded
    admin.request("GET", "/api/v1/users/me")
    own = gala.place("own_event")
    assert _costs(functions, staff, {"permission": "checkin:perform", **own}, monkeypatch)[:2] == (1, 0)
    # an NPO admin naming an event: its registered NPO, one statement (an NPO named with it is not believed)
    by_event = {"permission": "events:manage", "event_id": gala.own_event}
    expected = {"allowed": True, "reason": "event_of_own_npo"}
    assert _costs(functions, admin, by_event, monkeypatch) == (1, 1, expected)
    assert _costs(functions, admin, {**by_event, "npo_id": gala.npo_b}, monkeypatch) == (1, 1, expected)
    # an NPO admin whose state is not cached: the state and the event's NPO in that one statement
    get_redis().delete(Keys.user_state(admin.id))
    assert _costs(functions, admin, by_event, monkeypatch) == (1, 1, expected)
    # a state that is not cached (a change just dropped it): read in the one statement, not cached here
    get_redis().delete(Keys.user_state(staff.id))
    assert _costs(functions, staff, {"permission": "checkin:perform", **own}, monkeypatch)[:2] == (1, 1)
    assert _costs(functions, staff, {"permission": "checkin:perform", **own}, monkeypatch)[:2] == (1, 1)
    # a refusal with a cached state: the decision is free, its audit row one statement
    staff.request("GET", "/api/v1/users/me")
    refused = {"permission": "npo:manage", "npo_id": gala.npo_a}
    assert _costs(functions, staff, refused, monkeypatch)[:2] == (1, 1)


# -- refusals and the per-user limit -------------------------------------------------------------


def _refusal_rows(user: Actor) -> list[AuditLog]:
    with unit_of_work() as db:
        return list(
            db.scalars(
                select(AuditLog).where(
                    AuditLog.event_type == "authz.check_refused", AuditLog.actor_user_id == uuid.UUID(user.id)
                )
            ).all()
        )


def test_refusals_naming_a_new_event_each_time_write_one_row_per_user_and_permission(
    signed_in: Callable[..., Actor],
) -> None:
    """A new event id per refused check used to write a row each (100 rows in 0.4 s)."""
    staff = signed_in("staff", str(uuid.uuid4()))
    for _ in range(10):
        assert check(staff, "checkin:perform", event_id=str(uuid.uuid4())).json()["allowed"] is False
        assert check(staff, "npo:manage", npo_id=str(uuid.uuid4())).json()["allowed"] is False
    rows = _refusal_rows(staff)
    assert sorted(row.details["permission"] for row in rows) == ["checkin:perform", "npo:manage"]


def test_the_check_route_has_a_per_user_limit(signed_in: Callable[..., Actor]) -> None:
    npo = str(uuid.uuid4())
    staff, other = signed_in("staff", npo), signed_in("staff", npo)
    with settings_changed(RATE_LIMIT_AUTHZ_CHECK_PER_USER="3", RATE_LIMIT_AUTHZ_CHECK_PER_USER_WINDOW_SECONDS="60"):
        assert [check(staff, "checkin:perform", npo_id=npo).status_code for _ in range(3)] == [200, 200, 200]
        limited = check(staff, "checkin:perform", npo_id=npo)
        assert limited.status_code == 429, limited.text
        assert limited.json()["error"]["code"] == "RATE_LIMITED"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert check(other, "checkin:perform", npo_id=npo).status_code == 200, "per user: another is not held back"
        assert staff.request("GET", "/api/v1/users/me").status_code == 200, "only the check route counts"
    with unit_of_work() as db:
        limited_rows = db.scalars(
            select(AuditLog).where(
                AuditLog.event_type == "auth.rate_limited", AuditLog.actor_user_id == uuid.UUID(staff.id)
            )
        ).all()
    assert [row.details for row in limited_rows] == [{"action": "authz_check"}]
