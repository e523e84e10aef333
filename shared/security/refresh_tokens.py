"""Refresh tokens: random, and sealed to their parent for the reuse grace period.

A refresh token is 32 random bytes, base64url without padding; only its
SHA-256 is stored (``shared.security.tokens.hash_token``). When a token is
rotated, its child is stored *sealed*: XORed with a key only a holder of the
parent can derive (HMAC-SHA256 of a fixed context under the parent token, a
one-time pad as long as the child). A client that retries a refresh within
the grace period gets the same child back, while the database never holds a
usable token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

REFRESH_TOKEN_BYTES = 32
# What every token issued looks like: 32 bytes, base64url without padding (43 characters).
_WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{43}")
_SEAL_CONTEXT = b"augeo/refresh-child/v1"


@dataclass(frozen=True)
class NewRefreshToken:
    """A fresh token: what the client is given, and its raw bytes (to seal to a parent)."""

    text: str
    raw: bytes


def new_refresh_token() -> NewRefreshToken:
    raw = secrets.token_bytes(REFRESH_TOKEN_BYTES)
    return NewRefreshToken(_encode(raw), raw)


def well_formed(text: str) -> bool:
    """Whether ``text`` has the shape of a refresh token this service issues (not whether it issued it)."""
    return _WELL_FORMED.fullmatch(text) is not None


def seal(parent_token: str, child_raw: bytes) -> bytes:
    """The child, readable only with the parent token (see the module docstring)."""
    key = hmac.new(parent_token.encode("utf-8"), _SEAL_CONTEXT, hashlib.sha256).digest()
    return bytes(a ^ b for a, b in zip(child_raw, key, strict=True))


def unseal(parent_token: str, sealed: bytes) -> str:
    """The child token :func:`seal` sealed to ``parent_token``."""
    return _encode(seal(parent_token, sealed))


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
