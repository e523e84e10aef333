"""The password rules (8-128 characters, a letter and a digit, not a common password),
each failure naming the rule it broke."""

from __future__ import annotations

import gzip
import re
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


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, loaded on first use."""
    with gzip.open(_COMMON_PASSWORDS, "rt", encoding="utf-8") as handle:
        return frozenset(line.strip().lower() for line in handle if line.strip())


def password_problems(password: str) -> list[str]:
    """Every rule ``password`` breaks, as messages for a 422; empty when acceptable."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters long")
    if not _LETTER.search(password):
        problems.append("must contain at least one letter")
    if not _DIGIT.search(password):
        problems.append("must contain at least one number")
    if any("\ud800" <= ch <= "\udfff" or ch == "\x00" for ch in password):
        problems.append("must not contain NUL or unpaired surrogate characters")
    if password.lower() in common_passwords():
        problems.append("is too common: it appears on a list of leaked passwords")
    return problems
