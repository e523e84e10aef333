"""Password hashing never raises, never truncates; the policy names each rule."""

from __future__ import annotations

import pytest

from shared.security.password_policy import PasswordRule, common_passwords, is_personal, password_problems
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
    ("password", "rule", "words"),
    [
        ("Qz7-kp", PasswordRule.TOO_SHORT, "at least 8"),
        ("qzvbnwxktr", PasswordRule.NEEDS_LETTER_AND_DIGIT, "number"),
        ("8172635490", PasswordRule.NEEDS_LETTER_AND_DIGIT, "letter"),
        ("q7" * 65, PasswordRule.TOO_LONG, "at most 128"),
        ("password1", PasswordRule.TOO_COMMON, "too common"),
        ("Password1", PasswordRule.TOO_COMMON, "too common"),
        ("a1bcdefg\x00", PasswordRule.FORBIDDEN_CHARACTERS, "NUL"),
        ("My-Augeo-2026", PasswordRule.CONTAINS_PERSONAL_INFO, "service's name"),
    ],
)
def test_policy_names_the_rule(password: str, rule: PasswordRule, words: str) -> None:
    (problem,) = password_problems(password)
    assert problem.rule is rule and words in problem.message


def test_the_rules_have_stable_codes() -> None:
    assert {rule.value for rule in PasswordRule} == {
        "password_too_short",
        "password_too_long",
        "password_needs_letter_and_digit",
        "password_forbidden_characters",
        "password_too_common",
        "password_contains_personal_info",
    }


def test_policy_accepts_a_good_password() -> None:
    assert password_problems("Gala-night-2026!") == []
    assert password_problems("Gala-night-2026!", "ada.lovelace@example.org", "Ada", "Lovelace") == []


@pytest.mark.parametrize(
    "password",
    [
        "Lovelace-1815",  # the last name
        "ada.lovelace99",  # the email's local part
        "Example-org-77",  # the email's domain
        "ADA-1815!",  # a short name, as every letter of the password
        "1815_Ada_1815",
        "Byron-Ada-King-1815",  # a part of a hyphenated name
    ],
)
def test_a_password_built_on_the_person_is_refused(password: str) -> None:
    person = ("ada.lovelace@example.org", "Ada", "Byron-King")
    assert is_personal(password, *person)
    assert password_problems(password, *person)[-1].rule is PasswordRule.CONTAINS_PERSONAL_INFO


@pytest.mark.parametrize("password", ["Adamant-night-7", "Planning-2026", "Gala-night-2026"])
def test_a_short_name_inside_another_word_is_no_reason_to_refuse(password: str) -> None:
    """Ann in Planning, Ada in Adamant: a name of under four letters counts only as the password's every letter."""
    assert not is_personal(password, "ann.wu@example.org", "Ann", "Ada")
