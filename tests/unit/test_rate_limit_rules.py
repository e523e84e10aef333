"""The abuse limits are one table (rate_limits.RULES): each rule sized by its two settings, counting whom it says."""

from __future__ import annotations

import uuid

import pytest

from shared.config import Settings, load_settings
from shared.services import rate_limits
from shared.services.rate_limits import RULES, Rule

# Settings named rate_limit_* that size no rule: the networks that count per account, and a cooldown.
NOT_A_RULE = {"rate_limit_trusted_networks", "rate_limit_resend_cooldown_seconds"}


def test_every_rule_has_one_row_of_two_real_settings() -> None:
    assert set(RULES) == set(Rule)
    for definition in RULES.values():
        assert definition.attempts in Settings.model_fields
        assert definition.window_seconds == f"{definition.attempts}_window_seconds"
        assert definition.window_seconds in Settings.model_fields


def test_every_limit_setting_sizes_a_rule() -> None:
    sizing = {name for definition in RULES.values() for name in (definition.attempts, definition.window_seconds)}
    assert {name for name in Settings.model_fields if name.startswith("rate_limit_")} - NOT_A_RULE == sizing


def test_a_limit_takes_its_size_from_the_settings_and_counts_whom_the_rule_says() -> None:
    settings = load_settings(
        rate_limit_login_per_ip=7, rate_limit_login_per_ip_window_seconds=70, rate_limit_trusted_networks="10.0.0.0/8"
    )
    account = rate_limits.subject_digest("ada@example.org")
    outside = rate_limits.limit(settings, Rule.LOGIN_PER_ADDRESS, ip_address="203.0.113.9", account="ada@example.org")
    assert (outside.rule, outside.subject) == ("login:ip", "203.0.113.9")
    assert (outside.attempts, outside.window_seconds) == (7, 70)
    venue = rate_limits.limit(settings, Rule.LOGIN_PER_ADDRESS, ip_address="10.1.2.3", account="ada@example.org")
    assert venue.subject == f"10.1.2.3:{account}"
    assert rate_limits.limit(settings, Rule.LOGIN_PER_ACCOUNT, account="ada@example.org").subject == account
    for ip in ("203.0.113.9", "10.1.2.3"):  # wrong codes: the pair, inside a trusted network or not
        codes = rate_limits.limit(
            settings, Rule.MFA_CODE_PER_ADDRESS_AND_ACCOUNT, ip_address=ip, account="ada@example.org"
        )
        assert (codes.subject, codes.attempts) == (f"{ip}:{account}", 7)
    ceiling = rate_limits.limit(settings, Rule.LOGIN_PER_TRUSTED_ADDRESS, ip_address="10.1.2.3")
    assert (ceiling.subject, ceiling.attempts) == ("10.1.2.3", 300), "one counter per address, across accounts"
    user = uuid.uuid4()
    # a hash tag: the user's counters share the cluster slot of their sessions
    assert rate_limits.limit(settings, Rule.SIGNED_IN_PROOF_PER_USER, user_id=user).subject == f"{{{user}}}"
    assert rate_limits.limit(settings, Rule.REFRESH_FAILURE_PER_ADDRESS, ip_address=None).subject == "unknown"


def test_a_rule_asked_for_without_whom_it_counts_is_a_programming_error() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="account"):
        rate_limits.limit(settings, Rule.LOGIN_PER_ACCOUNT, ip_address="203.0.113.9")
    with pytest.raises(ValueError, match="user"):
        rate_limits.limit(settings, Rule.SIGNED_IN_PROOF_PER_USER)
