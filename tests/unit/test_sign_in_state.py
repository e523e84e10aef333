"""The pending steps of a sign-in, from the caller's state: what each refuses, and in which order."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from shared.errors import AuthorizationError, ErrorCode
from shared.roles_and_permissions import CheckReason, RoleName
from shared.services.owed_consents import OwedConsent, decoded
from shared.services.sign_in_state import OWED, PendingStep, first_owed, pending_steps, refuse_pending_steps
from shared.services.user_state import UserState

DONOR = UserState(
    user_id=uuid.uuid4(),
    role=RoleName.DONOR,
    npo_id=None,
    is_active=True,
    email_verified=True,
    password_change_required=False,
    mfa_enabled=False,
    events=frozenset(),
)
PASSWORD_ONLY = ("pwd",)  # the session's amr: no second factor on, so none owed
OWING = replace(DONOR, owed_consents=(OwedConsent("privacy_policy", "2026-05"), OwedConsent("terms_of_service", "v3")))


def test_a_consent_owed_is_a_pending_step_refused_with_the_documents_named() -> None:
    assert pending_steps(DONOR, (), PASSWORD_ONLY) == frozenset()
    pending = pending_steps(OWING, (), PASSWORD_ONLY)
    assert pending == {PendingStep.CONSENT}
    with pytest.raises(AuthorizationError) as refused:
        refuse_pending_steps(OWING, pending, ())
    assert refused.value.code is ErrorCode.CONSENT_REQUIRED
    assert refused.value.details == {
        "owed": [{"kind": "privacy_policy", "version": "2026-05"}, {"kind": "terms_of_service", "version": "v3"}],
        "accept_with": "POST /api/v1/users/me/consents",
    }
    refuse_pending_steps(OWING, pending, (PendingStep.CONSENT,))  # a route allowed despite it answers
    assert OWED[PendingStep.CONSENT].check_reason is CheckReason.CONSENT_REQUIRED


def test_a_temporary_password_comes_before_a_consent() -> None:
    both = replace(OWING, password_change_required=True)
    pending = pending_steps(both, (), PASSWORD_ONLY)
    owed = first_owed(pending)
    assert owed is not None and owed.code is ErrorCode.PASSWORD_CHANGE_REQUIRED
    with pytest.raises(AuthorizationError) as refused:
        refuse_pending_steps(both, pending, (PendingStep.PASSWORD_CHANGE,))
    assert refused.value.code is ErrorCode.CONSENT_REQUIRED, "the password change route must be allowed despite it too"


def test_the_cached_state_keeps_what_is_owed() -> None:
    assert UserState.from_redis(OWING.user_id, OWING.to_redis()) == OWING
    assert UserState.from_redis(DONOR.user_id, DONOR.to_redis()) == DONOR
    assert decoded(["terms_of_service=v3", "privacy_policy=2026-05"]) == OWING.owed_consents
    assert decoded(None) == ()
