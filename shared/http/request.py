"""Reading what a caller sent: request id, client IP, JSON body, query string."""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.errors import (
    BadRequestError,
    BodyLimitDetails,
    ErrorCode,
    FieldProblem,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    ValidationDetails,
    ValidationFailedError,
)
from shared.field_messages import plain_rule
from shared.schemas.fields import FIELD_CONTEXT_KEY

ModelT = TypeVar("ModelT", bound=BaseModel)

# What reading a JSON body can refuse (parse_json, validate_model), and a query string (validate_model).
BODY_REFUSALS = (
    ErrorCode.INVALID_JSON,
    ErrorCode.PAYLOAD_TOO_LARGE,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    ErrorCode.VALIDATION_ERROR,
)
QUERY_REFUSALS = (ErrorCode.VALIDATION_ERROR,)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_MAX_USER_AGENT = 512


def request_id_from(headers: Mapping[str, str]) -> str:
    """The caller's X-Request-ID when it is safe to echo and log, else a new one."""
    given = headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def client_ip_from(headers: Mapping[str, str]) -> str | None:
    """The right-most X-Forwarded-For entry, port stripped.

    Azure's front end appends the address it saw to X-Forwarded-For, so the
    right-most entry is the only one a caller cannot forge. Without the
    header there is no trustworthy peer address in an HttpRequest.
    """
    forwarded = headers.get("x-forwarded-for", "")
    entry = forwarded.split(",")[-1].strip() if forwarded else ""
    if not entry:
        return None
    if entry.startswith("["):  # [IPv6]:port
        entry = entry[1:].split("]", 1)[0]
    elif entry.count(":") == 1:  # IPv4:port
        entry = entry.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(entry))
    except ValueError:
        return None


def user_agent_from(headers: Mapping[str, str]) -> str | None:
    """The User-Agent, cut to a length a database column and a log line can hold."""
    agent = headers.get("user-agent")
    if not agent:
        return None
    return "".join(ch for ch in agent[:_MAX_USER_AGENT] if ch.isprintable())


def bearer_token_from(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if any."""
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@dataclass(frozen=True)
class PresentedBearer:
    """The bearer token as sent, not verified: for a route that decides itself what it accepts of it."""

    token: str | None


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# No request body of this API nests deeper than a few levels. Deeper JSON is refused
# before it is parsed, so nothing that walks a body (the parser, the scan below,
# validation) ever goes deep enough to exhaust the stack.
MAX_JSON_DEPTH = 32
# A JSON string, escapes included; one left open runs to the end of the text, so
# every quote starts a match and the scan stays linear.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def nested_deeper_than(text: str, limit: int) -> bool:
    """Whether arrays and objects in ``text`` nest (or open) more than ``limit`` levels deep.

    No recursion, and linear: the strings go (brackets inside them are text),
    then everything but brackets, then the running depth is a sum over what
    is left, all in C. Malformed input is left to the parser.
    """
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    if len(brackets) <= limit:
        return False
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets))) > limit


def parse_json(body: bytes, content_type: str | None, limit: int) -> Any:
    """Decode a JSON request body, refusing what the service will not accept."""
    if len(body) > limit:
        raise PayloadTooLargeError(details=BodyLimitDetails(max_bytes=limit))
    if content_type and "json" not in content_type.split(";", 1)[0].lower():
        raise UnsupportedMediaTypeError()
    if not body.strip():
        raise BadRequestError("The request body must be a JSON object.", code=ErrorCode.INVALID_JSON)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _not_json() from None
    if nested_deeper_than(text, MAX_JSON_DEPTH):
        raise BadRequestError(
            f"The request body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep.",
            code=ErrorCode.INVALID_JSON,
        )
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant)
    except ValueError:
        raise _not_json() from None


# What a client sends to an operation that takes no body: nothing, white space, or
# an empty JSON object (axios sends ``{}`` for ``post(url, {})``). Only JSON's own
# white space, so nothing else can hide in it.
_NO_BODY = re.compile(rb"[ \t\r\n]*(?:\{[ \t\r\n]*\}[ \t\r\n]*)?")


def refuse_body(body: bytes) -> None:
    """422 naming ``body`` when an operation that takes no body was sent one.

    Ignoring it would be a silent no-op: ``POST /users/{id}/activate``
    with ``{"is_active": false}`` answered 200 and left the user active.
    Nothing in a body is ever ignored, so an empty object is the only body
    such an operation accepts.
    """
    if not _NO_BODY.fullmatch(body):
        raise ValidationFailedError.of_field("body", "must be empty", "body_not_allowed")


def _not_json() -> BadRequestError:
    return BadRequestError("The request body is not valid JSON.", code=ErrorCode.INVALID_JSON)


def _unstorable(text: str) -> bool:
    """Whether ``text`` holds NUL or a lone surrogate, which PostgreSQL cannot store."""
    return "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text)


def _unstorable_strings(value: Any) -> list[tuple[str | int, ...]]:
    """Paths of the strings PostgreSQL cannot store, in document order.

    A loop over a stack, not a recursion: however deep the value, it cannot
    exhaust Python's stack.
    """
    found: list[tuple[str | int, ...]] = []
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            if _unstorable(item):
                found.append(path)
        elif isinstance(item, dict):
            pending.extend((child, (*path, key)) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            pending.extend((item[index], (*path, index)) for index in reversed(range(len(item))))
    return found


def _field_name(location: tuple[str | int, ...], source: str) -> str:
    return ".".join(str(part) for part in location) or source


# A body of 60,000 unknown keys must not answer a 5 MB list: name the first
# few failures and say how many there were.
MAX_FIELD_ERRORS = 20


def _failed(fields: list[FieldProblem], total: int) -> ValidationFailedError:
    details = ValidationDetails(fields=fields[:MAX_FIELD_ERRORS])
    if total > MAX_FIELD_ERRORS:
        details["fields_total"] = total
    return ValidationFailedError(details=details)


def _problem(item: Any, source: str) -> FieldProblem:
    """One pydantic error as the 422 names it, in plain words: a rule over the whole model names its field itself."""
    context = item.get("ctx") or {}
    location = item["loc"] or ((context[FIELD_CONTEXT_KEY],) if FIELD_CONTEXT_KEY in context else ())
    field = _field_name(location, source)
    return FieldProblem(field=field, message=plain_rule(item["type"], context, item["msg"], field), type=item["type"])


def validate_model(model: type[ModelT], data: Any, *, source: str = "body") -> ModelT:
    """Validate ``data`` into ``model``; a 422 names the failing fields (at most 20, and how many)."""
    bad = _unstorable_strings(data)
    if bad:
        fields = [
            FieldProblem(
                field=_field_name(p, source), message="contains a forbidden character", type="string_characters"
            )
            for p in bad[:MAX_FIELD_ERRORS]
        ]
        raise _failed(fields, len(bad))
    try:
        return model.model_validate(data)
    except ValidationError as error:
        items = error.errors(include_url=False, include_input=False)
        raise _failed([_problem(item, source) for item in items[:MAX_FIELD_ERRORS]], error.error_count()) from None
