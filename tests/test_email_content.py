"""What a stranger can make Augeo say by email: nothing of their own.

Names and other one-line profile texts refuse control characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from shared.schemas.fields import Name, Text255
from tests.conftest import Account, Actor

_REFUSED_IN_NAMES = [
    "Ada\nClick https://evil.example to claim your prize",
    "Ada\r\nBcc: someone@example.org",
    "Ada\x1b[2J",
    "Ada\x85next line",
    "Ada\u2028next line",
    "Ada\u202eevil.exe",
    "Ada\tTab",
    "\ufeff",
    " ",
]
_ACCEPTED_NAMES = ["Ada", "Zoë", "José María", "O'Brien-Smith", "李", "Nguyễn Văn A", " Ada "]


def _register(client: httpx.Client, email: str, **fields: str) -> httpx.Response:
    return Account(client, email).register(**fields)


@pytest.mark.parametrize("name", _REFUSED_IN_NAMES)
def test_names_refuse_control_characters(client: httpx.Client, unique_email: Callable[[str], str], name: str) -> None:
    response = _register(client, unique_email("ctl"), first_name=name)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["fields"][0]["field"] == "first_name"


def test_names_accept_the_names_people_have(client: httpx.Client, unique_email: Callable[[str], str]) -> None:
    for name in _ACCEPTED_NAMES:
        response = _register(client, unique_email("name"), first_name=name, last_name=name)
        assert response.status_code == 201, (name, response.text)


@pytest.mark.parametrize("field", ["organization_name", "address_line1", "city", "postal_code", "country"])
def test_one_line_profile_texts_refuse_line_breaks(
    client: httpx.Client, unique_email: Callable[[str], str], field: str
) -> None:
    response = _register(client, unique_email("line"), **{field: "A1\nhttps://e.x"})
    assert response.status_code == 422, response.text


def test_profile_updates_refuse_control_characters(signed_in: Callable[..., Actor]) -> None:
    donor = signed_in("donor")
    response = donor.request("PATCH", "/api/v1/users/me", json={"first_name": "Ada\nPS: wire money"})
    assert response.status_code == 422, response.text


def _schema_property(document: dict[str, Any], model: str, field: str) -> dict[str, Any]:
    prop = document["components"]["schemas"][model]["properties"][field]
    if "anyOf" in prop:  # optional fields: string or null
        prop = next(option for option in prop["anyOf"] if option.get("type") == "string")
    assert isinstance(prop, dict)
    return prop


@pytest.mark.parametrize(
    ("field", "field_type"),
    [("first_name", Name), ("organization_name", Text255)],
)
def test_the_published_pattern_accepts_exactly_what_the_validator_accepts(
    client: httpx.Client, field: str, field_type: Any
) -> None:
    document = client.get("/openapi.json").json()
    pattern = _schema_property(document, "RegisterRequest", field)["pattern"]
    adapter: TypeAdapter[str] = TypeAdapter(field_type)
    for value in [*_REFUSED_IN_NAMES, *_ACCEPTED_NAMES, "a\x00b", "a\x7fb", "line\u2029break", "x" * 90]:
        try:
            adapter.validate_python(value)
            accepted = True
        except ValidationError:
            accepted = False
        published = re.fullmatch(pattern, value) is not None  # JSON Schema's $ is the end, as fullmatch's
        assert published == accepted, (field, value)
