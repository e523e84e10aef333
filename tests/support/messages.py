"""The rule every error message keeps, checked on every error the test suite receives.

A web app shows ``error.message`` to the person in front of it, as it is. So a
message names no route (``/api/``), no method of a route (``POST ...``), no
setting and no code (an UPPER_SNAKE name, or a setting's name of one word), and
none of the internal words below. A pointer a developer needs belongs in
``details`` (``details.reauthenticate_with``).

:func:`check_error_message` is an httpx response hook: ``network.client_from``
puts it on every client the tests build to the local server, beside any other
hook (each is its own small function, so they compose).
"""

from __future__ import annotations

import re

import httpx

from shared.config import Settings
from tests.support.contract_observer import error_of

_ROUTE = "/api/"
_METHODS = ("GET ", "POST ", "PUT ", "PATCH ", "DELETE ")
# Two or more upper-case parts joined by "_": MFA_REQUIRED_ROLES, VALIDATION_ERROR.
_UPPER_SNAKE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
# Settings whose name is one word (ENVIRONMENT), which the pattern above cannot tell from a shout.
_ONE_WORD_SETTINGS = frozenset(name.upper() for name in Settings.model_fields if "_" not in name)
_INTERNAL_WORDS = ("pydantic", "value error", "bearer", "traceback", "exception", "json pointer")


def message_problems(message: str) -> list[str]:
    """What in ``message`` is for a developer rather than a person; empty when nothing is."""
    problems = []
    if _ROUTE in message:
        problems.append("names a route")
    problems += [f"names a method ({method.strip()})" for method in _METHODS if method in message]
    problems += [f"names a setting or code ({name})" for name in _UPPER_SNAKE.findall(message)]
    shouted = re.findall(r"\b[A-Z]+\b", message)
    problems += [f"names a setting ({word})" for word in shouted if word in _ONE_WORD_SETTINGS]
    lowered = message.lower()
    problems += [f"uses an internal word ({word})" for word in _INTERNAL_WORDS if word in lowered]
    return problems


def error_message_of(body: bytes) -> str | None:
    """The ``error.message`` of an error body, if it is one."""
    message = error_of(body).get("message")
    return message if isinstance(message, str) else None


def check_error_body(status: int, body: bytes, where: str) -> None:
    """Raise AssertionError when the error body of a response breaks the rule."""
    message = error_message_of(body) if status >= 400 else None
    problems = message_problems(message) if message is not None else []
    if problems:
        raise AssertionError(f"{where} -> {status}: the message {message!r} is not for people: {'; '.join(problems)}")


def check_error_message(response: httpx.Response) -> None:
    """The httpx response hook: fail the request (and so the test) on a message that breaks the rule."""
    if response.status_code >= 400:
        where = f"{response.request.method} {response.request.url.path}"
        check_error_body(response.status_code, response.read(), where)
