"""What a stranger can make Augeo say by email: nothing of their own.

Names and other one-line profile texts refuse control characters; messages to
an address nobody has verified carry no text the registrant chose; the
new-device email names the browser from a fixed vocabulary.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from shared.schemas.fields import Name, Text255
from shared.services.email.user_agents import describe_user_agent
from tests.support.accounts import Account, Actor
from tests.support.emails import emails_to

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


# -- no registrant text to unverified addresses --------------------------------------------------

_LURE = "Claim your prize at prize.example"


def test_verification_email_does_not_carry_the_chosen_name(
    client: httpx.Client, unique_email: Callable[[str], str]
) -> None:
    person = Account(client, unique_email("lure"))
    assert person.register(first_name=_LURE).status_code == 201
    [message] = emails_to(person.email)
    assert "prize" not in message["text"] and "prize" not in message["html"]
    assert message["text"].startswith("Hello,")


def test_invitation_does_not_carry_the_chosen_name(signed_in: Callable[..., Actor]) -> None:
    admin = signed_in("super_admin")
    email = f"lure-invite-{secrets.token_hex(4)}@example.org"
    body = {"email": email, "first_name": _LURE, "last_name": "Prize", "role": "donor"}
    assert admin.request("POST", "/api/v1/users", json=body).status_code == 202
    [message] = emails_to(email)
    assert "rize" not in message["text"] and "rize" not in message["html"]


def test_reset_email_greets_by_name_only_a_verified_address(
    client: httpx.Client, account: Account, unique_email: Callable[[str], str]
) -> None:
    unverified = Account(client, unique_email("lure-reset"))
    assert unverified.register(first_name=_LURE).status_code == 201
    for person in (unverified, account):
        assert person.http.post("/api/v1/auth/password/reset/request", json={"email": person.email}).status_code == 202
    [unverified_reset] = [m for m in emails_to(unverified.email) if "reset" in m["subject"].lower()]
    assert "prize" not in unverified_reset["text"] and unverified_reset["text"].startswith("Hello,")
    [verified_reset] = [m for m in emails_to(account.email) if "reset" in m["subject"].lower()]
    assert verified_reset["text"].startswith("Hi Ada,")


# -- the new-device email -------------------------------------------------------------------------

_FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def test_new_device_email_names_the_browser_but_never_quotes_the_user_agent(account: Account) -> None:
    account.tokens()
    lure = f"{_FIREFOX_LINUX} -- Your account is locked: visit https://evil.example/unlock <a href=x>now</a>"
    account.tokens(**{"User-Agent": lure})
    [message] = [m for m in emails_to(account.email) if "new sign-in" in m["subject"].lower()]
    assert "Browser: Firefox on Linux." in message["text"]
    for body in (message["text"], message["html"]):
        assert "evil" not in body and "http" not in body and "locked" not in body
    assert "<a" not in message["html"]


@pytest.mark.parametrize(
    ("user_agent", "described"),
    [
        (_FIREFOX_LINUX, "Firefox on Linux"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36",
            "Chrome on Windows",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
            "Samsung Internet on Android",
        ),
        ("curl/8.5.0", "an unrecognised browser"),
        ("pytest-browser/1.0", "an unrecognised browser"),
        ("Click https://evil.example (Windows)", "an unrecognised browser on Windows"),
        (None, "an unrecognised browser"),
        ("", "an unrecognised browser"),
    ],
)
def test_user_agents_are_described_in_a_few_fixed_words(user_agent: str | None, described: str) -> None:
    assert describe_user_agent(user_agent) == described
