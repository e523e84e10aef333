"""The password rules (8-128 characters, a letter and a digit, not a common password, nothing
personal), each failure naming the rule it broke with a stable code (the 422's ``type``)."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

MIN_LENGTH = 8
MAX_LENGTH = 128
# A letter and a digit in either order, no NUL (Python ``re`` semantics:
# ``[^\W\d_]`` is any Unicode letter, ``\d`` any Unicode decimal digit).
# The OpenAPI document publishes this same pattern.
PASSWORD_PATTERN = r"^[^\x00]*(?:[^\W\d_][^\x00]*\d|\d[^\x00]*[^\W\d_])[^\x00]*$"
_LETTER = re.compile(r"[^\W\d_]")
_DIGIT = re.compile(r"\d")
_COMMON_PASSWORDS = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt.gz"

# Words that say which service this is: a password built on them is the first a guesser tries here.
SERVICE_WORDS = ("augeo",)
# A personal word this long or longer is refused anywhere in a password; a shorter one (a name
# like Ada or Wu) only as the password's every letter, where it would refuse few good passwords.
PERSONAL_WORD_ANYWHERE = 4
_WORD_SEPARATORS = re.compile(r"[\W_]+")


class PasswordRule(StrEnum):
    """The rule a refused password broke: the ``type`` of its 422, stable for programs."""

    TOO_SHORT = "password_too_short"
    TOO_LONG = "password_too_long"
    NEEDS_LETTER_AND_DIGIT = "password_needs_letter_and_digit"
    FORBIDDEN_CHARACTERS = "password_forbidden_characters"
    TOO_COMMON = "password_too_common"
    CONTAINS_PERSONAL_INFO = "password_contains_personal_info"


@dataclass(frozen=True)
class PasswordProblem:
    rule: PasswordRule
    message: str


PERSONAL_INFO = PasswordProblem(
    PasswordRule.CONTAINS_PERSONAL_INFO,
    "must not contain the service's name, your name or a part of your email address",
)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, loaded on first use."""
    with gzip.open(_COMMON_PASSWORDS, "rt", encoding="utf-8") as handle:
        return frozenset(line.strip().lower() for line in handle if line.strip())


def _personal_words(*texts: str | None) -> frozenset[str]:
    """The words of a person a password must not be built on: each part of ``texts`` (an email
    address, first and last names), split at anything but letters and digits, lower-cased."""
    words: set[str] = set()
    for text in texts:
        words.update(word for word in _WORD_SEPARATORS.split((text or "").lower()) if word)
    return frozenset(words)


def _built_on(password: str, words: Iterable[str]) -> bool:
    lowered = password.lower()
    letters = "".join(_LETTER.findall(lowered))
    return any((len(word) >= PERSONAL_WORD_ANYWHERE and word in lowered) or word == letters for word in words)


def is_personal(password: str, *person: str | None) -> bool:
    """Whether ``password`` is built on the service's name or on ``person`` (their email address
    and names): the rule a request alone may not be able to check (a reset knows the person
    only once its token is looked up)."""
    return _built_on(password, (*SERVICE_WORDS, *_personal_words(*person)))


def password_problems(password: str, *person: str | None) -> list[PasswordProblem]:
    """Every rule ``password`` breaks, in this order, as problems for a 422; empty when acceptable.

    ``person``: their email address and names, where known (:func:`is_personal`);
    the service's name is refused always.
    """
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(PasswordProblem(PasswordRule.TOO_SHORT, f"must be at least {MIN_LENGTH} characters long"))
    if len(password) > MAX_LENGTH:
        problems.append(PasswordProblem(PasswordRule.TOO_LONG, f"must be at most {MAX_LENGTH} characters long"))
    if not (_LETTER.search(password) and _DIGIT.search(password)):
        problems.append(
            PasswordProblem(PasswordRule.NEEDS_LETTER_AND_DIGIT, "must contain at least one letter and one number")
        )
    if any("\ud800" <= ch <= "\udfff" or ch == "\x00" for ch in password):
        problems.append(
            PasswordProblem(PasswordRule.FORBIDDEN_CHARACTERS, "must not contain NUL or unpaired surrogate characters")
        )
    if password.lower() in common_passwords():
        problems.append(
            PasswordProblem(PasswordRule.TOO_COMMON, "is too common: it appears on a list of leaked passwords")
        )
    if is_personal(password, *person):
        problems.append(PERSONAL_INFO)
    return problems
