"""Field types shared by request bodies: one definition of each rule.

Each type's JSON schema says what the validator accepts, so the OpenAPI
document is a true contract (schemathesis checks both directions): strings
never contain NUL (PostgreSQL cannot store it), passwords follow the policy,
and the one-line texts of a profile (names, organisation, address) hold no
control characters: they reach emails and logs, where a line break or an
escape character would let a user write lines of their own.

A rule of the service's own fails with a ``type`` of its own (``email_invalid``,
``phone_invalid``, ``password_too_short``, ...: :func:`refusal`), never
pydantic's generic ``value_error``, so a program can tell which rule failed.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

from shared.models.legal import MAX_URL_LENGTH, MAX_VERSION_LENGTH
from shared.security.password_policy import (
    MAX_LENGTH,
    MIN_LENGTH,
    PASSWORD_PATTERN,
    PasswordProblem,
    password_problems,
)

MAX_EMAIL_LENGTH = 320
MAX_TOKEN_LENGTH = 256
NO_NUL = r"^[^\x00]*$"
# Refused in one-line profile text: C0 and C1 controls (line breaks, ESC, NUL, ...),
# DEL, the Unicode line and paragraph separators, the bidirectional embedding,
# override and isolate controls (they reorder what a reader sees) and the BOM.
# Written so Python, Rust (pydantic) and ECMA (JSON Schema) regexes read it alike.
_NOT_ONE_LINE = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"
ONE_LINE = rf"^[^{_NOT_ONE_LINE}]*$"
# One line with at least one character that is not white space.
NAME_PATTERN = rf"^[^{_NOT_ONE_LINE}]*[^\s{_NOT_ONE_LINE}][^{_NOT_ONE_LINE}]*$"


# The context key that names the field a model-level rule is about (``shared.http.request`` reads it).
FIELD_CONTEXT_KEY = "refused_field"


def refusal(rule: str, message: str, *, field: str | None = None) -> PydanticCustomError:
    """A validation error whose ``type`` is ``rule``; ``field`` names the field when a rule over the
    whole model raises it (else the 422 would name the body)."""
    context: dict[str, str] = {"message": message}
    if field is not None:
        context[FIELD_CONTEXT_KEY] = field
    return PydanticCustomError(rule, "{message}", context)


def password_refusal(problems: list[PasswordProblem], *, field: str | None = None) -> PydanticCustomError:
    """The first rule broken is the ``type``; the message names every one."""
    return refusal(problems[0].rule, "password " + "; ".join(p.message for p in problems), field=field)


def _email_address(value: str) -> str:
    """Syntax only (no DNS): lower-cased. ``.test`` domains are accepted (RFC 6761)."""
    if not 3 <= len(value) <= MAX_EMAIL_LENGTH:
        raise refusal("email_invalid", f"must be an email address of 3 to {MAX_EMAIL_LENGTH} characters")
    try:
        address = validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as error:
        raise refusal("email_invalid", f"value is not a valid email address: {error}") from None
    return address.normalized.lower()


def _policy(value: str) -> str:
    problems = password_problems(value)
    if problems:
        raise password_refusal(problems)
    return value


def _iso_datetime(value: Any) -> Any:
    """Only ISO 8601 text: pydantic would also take a number as a Unix time."""
    if not isinstance(value, str) or len(value) < 10 or value[4] != "-":
        raise refusal(
            "datetime_not_iso8601", "must be an ISO 8601 date-time with a time zone, like 2026-01-31T12:00:00Z"
        )
    return value


_PHONE_MIN, _PHONE_MAX = 3, 32
_PHONE_PATTERN = rf"^[0-9+()\-. ]{{{_PHONE_MIN},{_PHONE_MAX}}}$"


def _phone(value: str) -> str:
    """One type (``phone_invalid``) whatever is wrong; the message says what, as a person reads it."""
    if len(value) < _PHONE_MIN:
        raise refusal("phone_invalid", f"must have at least {_PHONE_MIN} characters")
    if len(value) > _PHONE_MAX:
        raise refusal("phone_invalid", f"must have at most {_PHONE_MAX} characters")
    if not re.fullmatch(_PHONE_PATTERN, value):
        raise refusal("phone_invalid", "may hold only digits, spaces and + ( ) - .")
    return value


def _blank_is_none(value: Any) -> Any:
    """An HTML form sends a field left blank as ""; in an optional profile text it means none."""
    return None if value == "" else value


def _any_case(word: str) -> str:
    """``word`` as a pattern of either case (JSON Schema patterns have no flags)."""
    return "".join(f"[{char}{char.upper()}]" if char.isalpha() else char for char in word)


# The validator refuses addresses at special-use domains (RFC 6761) but .test:
# ``x@invalid``, ``x@host.localhost``, ... The schema says so too, with a
# lookahead that Python, ECMA and the fuzzer's generator all read. (An erased
# account keeps ``erased-<id>@erased.invalid``: an address nobody can register.)
_REFUSED_DOMAINS = "|".join(_any_case(name) for name in sorted(SPECIAL_USE_DOMAIN_NAMES) if name != "test")
NOT_AT_SPECIAL_USE_DOMAIN = rf"^(?!.*@(?:.*\.)?(?:{_REFUSED_DOMAINS})$)"

# An email address, checked for syntax and stored lower-case.
Email = Annotated[
    str,
    AfterValidator(_email_address),
    WithJsonSchema(
        {
            "type": "string",
            "format": "email",
            "maxLength": MAX_EMAIL_LENGTH,
            "pattern": NOT_AT_SPECIAL_USE_DOMAIN,
            "examples": ["ada@example.org"],
        }
    ),
]
# A password being set: every rule of the policy (422 names each broken rule).
# The common-password list cannot be written as a schema; it is described instead.
NewPassword = Annotated[
    str,
    AfterValidator(_policy),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": MIN_LENGTH,
            "maxLength": MAX_LENGTH,
            "pattern": PASSWORD_PATTERN,
            "description": "8 to 128 characters with a letter and a digit; not a common password.",
            "examples": ["Gala-night-2026"],
        }
    ),
]
# A password being checked: any string the policy could have accepted, plus slack.
GivenPassword = Annotated[str, StringConstraints(min_length=1, max_length=4 * MAX_LENGTH, pattern=NO_NUL)]
# An opaque token from an email or a previous response.
OpaqueToken = Annotated[str, StringConstraints(min_length=16, max_length=MAX_TOKEN_LENGTH, pattern=r"^[A-Za-z0-9_-]+$")]


# Where a sign-in's refresh token goes (the JSON, or a cookie no script can read); ``body`` when left out.
RefreshTokenTransport = Annotated[
    Literal["body", "cookie"],
    Field(
        description="Where the refresh token goes: `body` (in the JSON; the default) or `cookie` (an HttpOnly "
        "cookie no script can read, for a web app on the API's site; the JSON then carries no refresh_token).",
    ),
]

Name = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NAME_PATTERN)]
_PHONE_SCHEMA = {"type": "string", "minLength": _PHONE_MIN, "maxLength": _PHONE_MAX, "pattern": _PHONE_PATTERN}
Phone = Annotated[str, AfterValidator(_phone), WithJsonSchema({**_PHONE_SCHEMA, "examples": ["+1 555 0100"]})]
# What an event is called (shown to the NPO's people): one line, not blank.
EventName = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=NAME_PATTERN)]
Text255 = Annotated[str, StringConstraints(max_length=255, pattern=ONE_LINE)]
Text100 = Annotated[str, StringConstraints(max_length=100, pattern=ONE_LINE)]
PostalCode = Annotated[str, StringConstraints(max_length=20, pattern=ONE_LINE)]
IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_datetime)]
# A legal document's version label: letters, digits, dots, dashes and underscores ("2026-05", "v3.1").
DocumentVersion = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_VERSION_LENGTH, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"),
    Field(examples=["2026-05"]),
]
# Where a legal document is published: an https URL, no white space or control characters.
DocumentUrl = Annotated[
    str,
    StringConstraints(max_length=MAX_URL_LENGTH, pattern=r"^https://[^\s\x00-\x1f\x7f/?#][^\s\x00-\x1f\x7f]*$"),
    Field(examples=["https://augeo.example/legal/terms-2026-05"]),
]

# The optional texts of a profile (phone, organisation, address), as forms send them: absent,
# null or "" (a field left blank) all mean none, and "" is stored as null.
_BLANK = "An empty string means none (stored as null)."
BlankIsNone = BeforeValidator(_blank_is_none)
OptionalPhone = Annotated[
    Phone | None,
    BlankIsNone,
    WithJsonSchema(
        {
            "anyOf": [_PHONE_SCHEMA, {"type": "string", "maxLength": 0}, {"type": "null"}],
            "description": _BLANK,
            "examples": ["+1 555 0100"],
        },
        mode="validation",
    ),
]
OptionalText255 = Annotated[Text255 | None, BlankIsNone, Field(description=_BLANK)]
OptionalText100 = Annotated[Text100 | None, BlankIsNone, Field(description=_BLANK)]
OptionalPostalCode = Annotated[PostalCode | None, BlankIsNone, Field(description=_BLANK)]

__all__ = [
    "DocumentUrl",
    "DocumentVersion",
    "Email",
    "EventName",
    "Field",
    "GivenPassword",
    "IsoDateTime",
    "Name",
    "NewPassword",
    "OpaqueToken",
    "Phone",
    "RefreshTokenTransport",
]
