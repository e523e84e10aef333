"""Encryption at rest for the few secrets the service must read back (TOTP secrets).

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) under the keys
of DATA_ENCRYPTION_KEYS: the first encrypts, every key decrypts, so a key
is rotated by putting the new one first and re-encrypting at leisure.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.config import Settings


class DecryptionError(Exception):
    """The value was not encrypted under any configured key (or was altered)."""


@lru_cache(maxsize=4)
def _keyring(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode("ascii")) for key in keys])


def encrypt(settings: Settings, plaintext: str) -> bytes:
    return _keyring(tuple(settings.data_encryption_keys)).encrypt(plaintext.encode("utf-8"))


def decrypt(settings: Settings, ciphertext: bytes) -> str:
    try:
        return _keyring(tuple(settings.data_encryption_keys)).decrypt(ciphertext).decode("utf-8")
    except InvalidToken:
        raise DecryptionError("not encrypted under any configured key") from None


def new_key() -> str:
    """A fresh key for DATA_ENCRYPTION_KEYS."""
    return Fernet.generate_key().decode("ascii")
