"""A user's own sessions: list them, end one device, end every other device."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, cast

from tests.support.accounts import Account, Actor


def _sessions(actor: Actor) -> list[dict[str, Any]]:
    response = actor.request("GET", "/api/v1/users/me/sessions")
    assert response.status_code == 200, response.text
    return cast(list[dict[str, Any]], response.json()["items"])


def test_list_marks_the_current_session(account: Account) -> None:
    laptop = Actor(account)
    phone = Actor(account)
    items = _sessions(laptop)
    assert len(items) == 2
    current = [s for s in items if s["current"]]
    assert len(current) == 1
    assert set(items[0]) == {"id", "created_at", "last_seen_at", "ip_address", "user_agent", "current"}
    assert all(s["ip_address"] == account.ip and s["user_agent"] == "pytest-browser/1.0" for s in items)
    assert [s["current"] for s in _sessions(phone)].count(True) == 1


def test_end_one_device(account: Account) -> None:
    laptop, phone = Actor(account), Actor(account)
    phone_session = next(s["id"] for s in _sessions(phone) if s["current"])
    assert laptop.request("DELETE", f"/api/v1/users/me/sessions/{phone_session}").status_code == 204
    assert phone.request("GET", "/api/v1/users/me").status_code == 401
    assert laptop.request("GET", "/api/v1/users/me").status_code == 200
    assert [s["id"] for s in _sessions(laptop)] != [phone_session]
    again = laptop.request("DELETE", f"/api/v1/users/me/sessions/{phone_session}")
    assert again.status_code == 404


def test_cannot_end_someone_elses_session(account: Account, new_account: Callable[[], Account]) -> None:
    mine = Actor(account)
    theirs = Actor(new_account())
    their_session = next(s["id"] for s in _sessions(theirs) if s["current"])
    assert mine.request("DELETE", f"/api/v1/users/me/sessions/{their_session}").status_code == 404
    assert mine.request("DELETE", f"/api/v1/users/me/sessions/{uuid.uuid4()}").status_code == 404
    assert mine.request("DELETE", "/api/v1/users/me/sessions/not-a-uuid").status_code == 404
    assert theirs.request("GET", "/api/v1/users/me").status_code == 200


def test_end_every_other_device(account: Account) -> None:
    this, *others = [Actor(account) for _ in range(3)]
    assert this.request("DELETE", "/api/v1/users/me/sessions").status_code == 204
    assert this.request("GET", "/api/v1/users/me").status_code == 200
    assert all(other.request("GET", "/api/v1/users/me").status_code == 401 for other in others)
    assert len(_sessions(this)) == 1
