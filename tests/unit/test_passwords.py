"""Password hashing never raises, never truncates; the policy names each rule."""

from __future__ import annotations

import pytest

from shared.security.password_policy import common_passwords, password_problems
from shared.security.passwords import burn_equal_time, hash_password, needs_rehash, verify_password

ROUNDS = 4


def test_round_trip() -> None:
    hashed = hash_password("correct horse 1", ROUNDS)
    assert hashed.startswith("$2b$04$")
    assert verify_password("correct horse 1", hashed)
    assert not verify_password("correct horse 2", hashed)


def test_bytes_beyond_72_still_count() -> None:
    prefix = "a1" * 40  # 80 bytes: bcrypt alone would ignore what follows byte 72
    hashed = hash_password(prefix + "X", ROUNDS)
    assert verify_password(prefix + "X", hashed)
    assert not verify_password(prefix + "Y", hashed)


@pytest.mark.parametrize(
    "password",
    ["x" * 73, "é" * 200, "😀" * 128, "a" * 100_000, "nul\x00inside1", "\x00" * 80, "lone\ud800surrogate1", ""],
)
def test_no_input_makes_hashing_or_checking_raise(password: str) -> None:
    hashed = hash_password(password, ROUNDS)
    assert verify_password(password, hashed)
    assert not verify_password(password + "!", hashed)


@pytest.mark.parametrize("stored", [None, "", "not-a-hash", "$2b$04$short", "\u00e9\u00e9"])
def test_malformed_stored_hash_is_a_mismatch(stored: str | None) -> None:
    assert verify_password("anything1", stored) is False


def test_dummy_check_runs_without_error() -> None:
    burn_equal_time("whatever-1", ROUNDS)


def test_needs_rehash_when_cost_changes() -> None:
    hashed = hash_password("pw-123456", ROUNDS)
    assert not needs_rehash(hashed, ROUNDS)
    assert needs_rehash(hashed, 5)


def test_common_password_list_is_large_enough() -> None:
    assert len(common_passwords()) >= 10_000


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("a1b2c3", "at least 8"),
        ("abcdefghij", "number"),
        ("1234567890", "letter"),
        ("a1" * 65, "at most 128"),
        ("password1", "too common"),
        ("Password1", "too common"),
        ("a1bcdefg\x00", "NUL"),
    ],
)
def test_policy_names_the_rule(password: str, rule: str) -> None:
    assert any(rule in problem for problem in password_problems(password))


def test_policy_accepts_a_good_password() -> None:
    assert password_problems("Gala-night-2026!") == []
