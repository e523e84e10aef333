"""bcrypt password hashing that no input can make raise.

bcrypt reads at most 72 bytes and the ``bcrypt`` 5.x package raises on longer
inputs (``checkpw`` too), so a long password must never reach it directly.
We pre-hash: bcrypt is given base64(SHA-256(password)), 44 ASCII bytes with
no NUL, for every password. Nothing is truncated, every byte of a 128-character
password counts, and NUL bytes or lone surrogates cannot break hashing.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

import bcrypt

_DUMMY_PASSWORD = "augeo-dummy-password-for-equal-timing"


def _prehash(password: str) -> bytes:
    digest = hashlib.sha256(password.encode("utf-8", "surrogatepass")).digest()
    return base64.b64encode(digest)


def hash_password(password: str, rounds: int) -> str:
    """A bcrypt hash (``$2b$``) of the pre-hashed password at ``rounds``."""
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds=rounds)).decode("ascii")


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when ``password`` matches; False for a mismatch or a malformed hash."""
    if not password_hash:
        return False
    try:
        return bcrypt.checkpw(_prehash(password), password_hash.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False


@lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> str:
    return hash_password(_DUMMY_PASSWORD, rounds)


def burn_equal_time(password: str, rounds: int) -> None:
    """Spend the time of one real check, for an account that does not exist."""
    verify_password(password, _dummy_hash(rounds))


def needs_rehash(password_hash: str, rounds: int) -> bool:
    """True when the stored hash used another cost than the configured one."""
    try:
        return int(password_hash.split("$")[2]) != rounds
    except (IndexError, ValueError):
        return True
