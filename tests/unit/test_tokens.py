"""Opaque tokens: enough randomness, stored only as a hash."""

from __future__ import annotations

import base64

from shared.security.tokens import TOKEN_BYTES, hash_token, new_token


def test_tokens_carry_at_least_32_random_bytes_and_are_url_safe() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) >= TOKEN_BYTES >= 32
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_hash_is_stable_hex_and_not_the_token() -> None:
    token = new_token()
    assert hash_token(token) == hash_token(token)
    assert len(hash_token(token)) == 64 and token not in hash_token(token)
    assert hash_token(token) != hash_token(new_token())
