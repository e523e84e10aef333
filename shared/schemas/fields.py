"""Field types shared by request bodies: one definition of each rule."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, EmailStr, Field, StringConstraints

from shared.security.password_policy import MAX_LENGTH, password_problems

MAX_EMAIL_LENGTH = 320
MAX_TOKEN_LENGTH = 256


def _lower(value: str) -> str:
    return value.lower()


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _policy(value: str) -> str:
    problems = password_problems(value)
    if problems:
        raise ValueError("password " + "; ".join(problems))
    return value


# An email address, checked for syntax and stored lower-case.
Email = Annotated[
    EmailStr,
    BeforeValidator(_strip),
    Field(max_length=MAX_EMAIL_LENGTH, examples=["ada@example.org"]),
    AfterValidator(_lower),
]
# A password being set: every rule of the policy (422 names each broken rule).
NewPassword = Annotated[str, Field(examples=["Gala-night-2026"]), AfterValidator(_policy)]
# A password being checked: any string the policy could have accepted, plus slack.
GivenPassword = Annotated[str, Field(min_length=1, max_length=4 * MAX_LENGTH)]
# An opaque token from an email or a previous response.
OpaqueToken = Annotated[str, StringConstraints(min_length=16, max_length=MAX_TOKEN_LENGTH, pattern=r"^[A-Za-z0-9_-]+$")]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=32, pattern=r"^[0-9+()\-. ]+$")
]
Text255 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]
Text100 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
PostalCode = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)]
