"""Opaque random tokens (verification, reset, refresh) and their stored hashes.

Only the SHA-256 of a token is stored; the token itself leaves the service
once, in an email or a response. 32 random bytes make a brute-force search of
the hash space pointless, so an unsalted fast hash is the right tool here.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def new_token() -> str:
    """A URL-safe token carrying ``TOKEN_BYTES`` bytes of randomness."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The hex SHA-256 under which ``token`` is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
