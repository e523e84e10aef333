"""Profiles as forms send them: a PATCH changes what it names and nothing else, and a field left
blank ("") means none, wherever a profile is written (registration, PATCH /users/me, an
administrator's PATCH and creation)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from shared.database import unit_of_work
from shared.models import Invitation, User
from tests.support.accounts import PASSWORD, Account, Actor

OPTIONAL = ("phone", "organization_name", "address_line1", "address_line2", "city", "state", "postal_code", "country")
FULL_PROFILE = {
    "phone": "+1 555 0100",
    "organization_name": "Analytical Engines Ltd",
    "address_line1": "12 St James's Square",
    "address_line2": "Floor 2",
    "city": "London",
    "state": "Greater London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}
NPO = str(uuid.uuid4())


def _stored(user_id: str) -> dict[str, Any]:
    with unit_of_work() as db:
        user = db.get(User, uuid.UUID(user_id))
        assert user is not None
        return {name: getattr(user, name) for name in (*OPTIONAL, "first_name", "last_name")}


@pytest.fixture
def donor(client: httpx.Client, unique_email: Callable[[str], str]) -> Actor:
    """A donor who registered with every profile field filled in."""
    account = Account(client, unique_email("profile"))
    assert account.register(**FULL_PROFILE).status_code == 201
    assert account.verify().status_code == 200
    return Actor(account)


@pytest.mark.parametrize("change", [{"city": "Paris"}, {"phone": "+33 1 23 45 67 89"}, {"last_name": "King"}])
def test_a_patch_of_one_field_changes_that_field_only(donor: Actor, change: dict[str, str]) -> None:
    before = _stored(donor.id)
    response = donor.request("PATCH", "/api/v1/users/me", json=change)
    assert response.status_code == 200, response.text
    assert _stored(donor.id) == {**before, **change}
    assert {name: response.json()[name] for name in before} == {**before, **change}


def test_an_administrators_patch_of_one_field_changes_that_field_only(
    donor: Actor, signed_in: Callable[..., Actor]
) -> None:
    before = _stored(donor.id)
    root = signed_in("super_admin")
    response = root.request("PATCH", f"/api/v1/users/{donor.id}", json={"organization_name": "Difference Engines"})
    assert response.status_code == 200, response.text
    assert _stored(donor.id) == {**before, "organization_name": "Difference Engines"}


def test_null_clears_an_optional_field_and_only_it(donor: Actor) -> None:
    before = _stored(donor.id)
    assert donor.request("PATCH", "/api/v1/users/me", json={"address_line2": None}).status_code == 200
    assert _stored(donor.id) == {**before, "address_line2": None}


def test_a_blank_optional_field_is_stored_as_null_at_registration(
    client: httpx.Client, unique_email: Callable[[str], str]
) -> None:
    """A sign-up form with the phone (and every other optional field) left blank registers."""
    account = Account(client, unique_email("blank"))
    response = account.register(**dict.fromkeys(OPTIONAL, ""))
    assert response.status_code == 201, response.text
    user = response.json()["user"]
    assert all(user[name] is None for name in OPTIONAL)
    assert all(value is None for name, value in _stored(user["id"]).items() if name in OPTIONAL)


@pytest.mark.parametrize("name", OPTIONAL)
def test_a_blank_optional_field_clears_it_in_a_patch(donor: Actor, name: str) -> None:
    before = _stored(donor.id)
    response = donor.request("PATCH", "/api/v1/users/me", json={name: ""})
    assert response.status_code == 200, response.text
    assert response.json()[name] is None
    assert _stored(donor.id) == {**before, name: None}


def test_a_blank_optional_field_is_null_in_an_administrators_writes(
    donor: Actor, signed_in: Callable[..., Actor]
) -> None:
    root = signed_in("super_admin")
    patched = root.request("PATCH", f"/api/v1/users/{donor.id}", json={"phone": "", "city": ""})
    assert patched.status_code == 200, patched.text
    assert _stored(donor.id)["phone"] is None and _stored(donor.id)["city"] is None
    body = {"email": f"blank-{uuid.uuid4().hex[:8]}@example.org", "first_name": "B", "last_name": "L"}
    created = root.request(
        "POST", "/api/v1/users", json={**body, "role": "staff", "npo_id": NPO, "phone": "", "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    assert created.json()["phone"] is None and _stored(created.json()["id"])["phone"] is None
    invited = root.request("POST", "/api/v1/users", json={**body, "email": f"i-{body['email']}", "role": "donor"})
    assert invited.status_code == 202, invited.text
    with unit_of_work() as db:
        assert db.get(Invitation, uuid.UUID(invited.json()["id"])).phone is None  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["first_name", "last_name"])
def test_a_blank_required_field_is_a_422_naming_it(
    client: httpx.Client, unique_email: Callable[[str], str], donor: Actor, signed_in: Callable[..., Actor], name: str
) -> None:
    registration = Account(client, unique_email("required")).register(**{name: ""})
    patch = donor.request("PATCH", "/api/v1/users/me", json={name: ""})
    body = {"email": unique_email("created"), "first_name": "C", "last_name": "R", "role": "donor", name: ""}
    creation = signed_in("super_admin").request("POST", "/api/v1/users", json=body)
    for response in (registration, patch, creation):
        assert response.status_code == 422, response.text
        fields = response.json()["error"]["details"]["fields"]
        assert [field["field"] for field in fields] == [name]
    assert _stored(donor.id)[name] != ""
