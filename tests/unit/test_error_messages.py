"""Error messages are for the person in front of the app: the 422's names its first field and
rule in plain words, and none names a route, a setting or an internal term (pointers for
developers are in ``details``). Over HTTP every error the suite receives is checked
(tests/support/messages.py); here, the wording and the check itself."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import BaseModel, Field
from pydantic_core import PydanticCustomError

from shared.errors import AppError, ValidationFailedError
from shared.field_messages import field_label, field_sentence, plain_rule
from shared.http.request import validate_model
from shared.schemas.auth import RegisterRequest
from shared.schemas.common import RequestModel
from shared.schemas.users import RoleChangeRequest
from shared.services.sign_in_state import OWED, refuse_unless_recent
from tests.support.messages import check_error_message, message_problems

REGISTRATION = {"email": "ada@example.org", "password": "Gala-night-2026", "first_name": "Ada", "last_name": "L"}


def _refusal(model: type[BaseModel], data: Any) -> ValidationFailedError:
    with pytest.raises(ValidationFailedError) as raised:
        validate_model(model, data)
    return raised.value


@pytest.mark.parametrize(
    ("changes", "message", "field_message"),
    [
        ({"phone": "12"}, "Phone must have at least 3 characters.", "must have at least 3 characters"),
        ({"first_name": ""}, "First name must not be empty.", "must not be empty"),
        ({"last_name": "x" * 101}, "Last name must have at most 100 characters.", "must have at most 100 characters"),
        ({"first_name": "Ada\nLovelace"}, "First name is not in a valid format.", "is not in a valid format"),
        ({"first_name": 7}, "First name must be text.", "must be text"),
        ({"email": None}, "Email must be text.", "must be text"),
        ({"password": "Xq7-zz"}, "Password must be at least 8 characters long.", "must be at least 8 characters long"),
        ({"nickname": "Ada"}, "Nickname is not accepted here.", "is not accepted here"),
    ],
)
def test_a_422_names_the_first_failing_field_and_its_rule_in_plain_words(
    changes: dict[str, Any], message: str, field_message: str
) -> None:
    refusal = _refusal(RegisterRequest, {**REGISTRATION, **changes})
    assert refusal.message == message
    assert refusal.details is not None
    assert refusal.details["fields"][0]["message"] == field_message
    assert not message_problems(refusal.message)


def test_every_failing_field_is_still_listed_with_its_type() -> None:
    refusal = _refusal(RegisterRequest, {"phone": "1"})
    assert refusal.details is not None
    fields = {item["field"]: item for item in refusal.details["fields"]}
    assert set(fields) == {"email", "password", "first_name", "last_name", "phone"}
    assert fields["email"] == {"field": "email", "message": "is required", "type": "missing"}
    assert fields["phone"]["type"] == "phone_invalid"
    first = refusal.details["fields"][0]
    assert refusal.message == field_sentence(first["field"], first["message"]), "the first listed is the one named"


def test_a_rule_of_the_whole_body_is_said_of_the_field_it_names() -> None:
    assert _refusal(RoleChangeRequest, {"role": "staff"}).message == "NPO ID is required for role staff."
    role = _refusal(RoleChangeRequest, {"role": "king"}).message
    assert role.startswith("Role must be one of 'super_admin', ")
    assert _refusal(RegisterRequest, [1]).message == "The request body must be an object."


class Listing(RequestModel):
    page: int = Field(ge=1)
    members: list[RoleChangeRequest] = Field(max_length=2)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"page": 0, "members": []}, "Page must be at least 1."),
        ({"page": "two", "members": []}, "Page must be a whole number."),
        (
            {"page": 1, "members": [{"role": "donor"}, {"role": "staff"}]},
            "Members #2 NPO ID is required for role staff.",
        ),
        ({"page": 1, "members": [{}] * 3}, "Members must have at most 2 items."),
        ({"page": 1, "members": [{"role": "donor", "npo_id": "x"}]}, "Members #1 NPO ID must be a valid ID."),
    ],
)
def test_nested_and_list_locations_read_as_words(data: dict[str, Any], message: str) -> None:
    assert _refusal(Listing, data).message == message


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("first_name", "First name"),
        ("npo_id", "NPO ID"),
        ("mfa_token", "MFA token"),
        ("address_line1", "Address line1"),
        ("members.0.role", "Members #1 role"),
        ("body", "The request body"),
        ("query", "The query string"),
    ],
)
def test_field_labels(field: str, label: str) -> None:
    assert field_label(field) == label


def test_a_rule_the_service_words_itself_keeps_its_words_whatever_its_type() -> None:
    """Own rules may carry stable types of their own: the wording follows the message, not the type."""
    assert plain_rule("password_too_short", {"min_length": 8}, "must be at least 8 characters", "password") == (
        "must be at least 8 characters"
    )
    assert plain_rule("value_error", {}, "Value error, password is too common", "password") == "is too common"
    assert plain_rule("email_invalid", None, "value is not a valid email address", "email") == (
        "is not a valid email address"
    )
    assert field_sentence("new_password", "must differ from the current password") == (
        "New password must differ from the current password."
    )
    assert field_sentence("email", "is not valid. Check it.") == "Email is not valid. Check it."
    assert field_sentence("members.0.npo_id", "npo_id must not be set") == "Members #1 NPO ID must not be set."

    class Custom(RequestModel):
        code: str

        def model_post_init(self, _context: Any) -> None:
            raise PydanticCustomError("code_unknown", "is not a code we sent")

    assert _refusal(Custom, {"code": "1"}).message == "The request body is not a code we sent."


def test_every_default_and_pending_step_message_is_for_people() -> None:
    def subclasses(cls: type[AppError]) -> list[type[AppError]]:
        return [cls, *(each for sub in cls.__subclasses__() for each in subclasses(sub))]

    messages = [cls.default_message for cls in subclasses(AppError)] + [owed.message for owed in OWED.values()]
    assert len(messages) > 15
    assert [(message, message_problems(message)) for message in messages if message_problems(message)] == []


def test_reauthentication_is_asked_in_words_and_the_route_is_in_details() -> None:
    with pytest.raises(AppError) as raised:
        refuse_unless_recent(auth_time=0, now=601.0, max_age_seconds=600, code_required=True)
    assert not message_problems(raised.value.message)
    assert "password" in raised.value.message and "code" in raised.value.message
    assert raised.value.details == {
        "max_age_seconds": 600,
        "code_required": True,
        "reauthenticate_with": "POST /api/v1/auth/reauthenticate",
    }


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ("Confirm your password again: POST /api/v1/auth/reauthenticate.", "names a route"),
        ("Send it with POST to the reset route.", "names a method (POST)"),
        ("GET it again.", "names a method (GET)"),
        ("Your role is in MFA_REQUIRED_ROLES.", "names a setting or code (MFA_REQUIRED_ROLES)"),
        ("The request failed: VALIDATION_ERROR.", "names a setting or code (VALIDATION_ERROR)"),
        ("Not allowed in this ENVIRONMENT.", "names a setting (ENVIRONMENT)"),
        ("A bearer token is required.", "uses an internal word (bearer)"),
        ("Value error, must be text", "uses an internal word (value error)"),
    ],
)
def test_the_rule_names_what_is_not_for_people(message: str, problem: str) -> None:
    assert problem in message_problems(message)


@pytest.mark.parametrize(
    "message",
    ["Phone must have at least 3 characters.", "NPO ID is required for role staff.", "Sign in to continue.", "OK."],
)
def test_the_rule_lets_plain_words_through(message: str) -> None:
    assert message_problems(message) == []


def _answering(status: int, body: dict[str, Any]) -> httpx.Client:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    hooks = {"response": [check_error_message]}
    return httpx.Client(base_url="http://api.test", transport=transport, event_hooks=hooks)


def test_the_response_hook_fails_a_request_answered_with_a_message_for_developers() -> None:
    bad = {"error": {"code": "REAUTHENTICATION_REQUIRED", "message": "Call POST /api/v1/auth/reauthenticate."}}
    with _answering(403, bad) as client, pytest.raises(AssertionError, match="names a route"):
        client.post("/api/v1/users/x/activate")
    good = {"error": {"code": "REAUTHENTICATION_REQUIRED", "message": "Confirm it is you.", "details": bad["error"]}}
    with _answering(403, good) as client:
        assert client.post("/api/v1/users/x/activate").status_code == 403, "details may name routes"
    with _answering(200, {"message": "Sent with POST /api/v1/x."}) as client:
        assert client.get("/").status_code == 200, "only errors are checked"
