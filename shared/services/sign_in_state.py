"""The gates on a signed-in caller's state, checked on every request: steps still owed, a recent proof.

What the caller's role may do is the policy's (``policy``); whether this
sign-in is complete enough to use it is decided here, from the caller's state
and session, before any of that:

- a **pending step** is something the user must do before the rest of the
  API is theirs (replace a temporary password, enrol a second factor, prove
  the second factor in a session that signed in without it, accept a legal
  document). Each step is one row of :data:`OWED`: the 403 a route answers
  while it is owed (unless the route is ``allowed_despite`` it), what its
  details name, and the reason the permission
  check other services call gives. A new step is a :class:`PendingStep`, its
  row, and the condition in :func:`pending_steps`;
- a **recent proof**: sensitive routes want the session to have proved who
  it is (password, and a code where a second factor is on) within
  REAUTH_MAX_AGE_MINUTES (:func:`refuse_unless_recent`).

Everything here is decided from what the bearer check already holds (the
user's state, and the session's ``amr``, which travels with the live
session): no round trip of its own. Handlers name ``PendingStep`` in their
declarations, so this module stays light (no ORM, no Redis at import).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared.errors import (
    AuthorizationError,
    ConsentDetails,
    ErrorCode,
    OwedDocument,
    ReauthenticationDetails,
    StepUpDetails,
)
from shared.roles_and_permissions import CheckReason, RoleName

if TYPE_CHECKING:
    from shared.services.user_state import UserState


class AuthenticationMethod(StrEnum):
    """How a session proved who it is (the ``amr`` claim, RFC 8176)."""

    PASSWORD = "pwd"
    ONE_TIME_PASSWORD = "otp"


# What a session that proved a code as well as the password has shown.
WITH_CODE = (AuthenticationMethod.PASSWORD, AuthenticationMethod.ONE_TIME_PASSWORD)


class PendingStep(StrEnum):
    """Something a signed-in user must do before the rest of the API is theirs."""

    # An administrator chose the password: only its holder should know the next one.
    PASSWORD_CHANGE = "password_change"
    # The role requires a second factor and none is on yet.
    MFA_ENROLLMENT = "mfa_enrollment"
    # A second factor is on, and this session's sign-in (or last re-authentication) did not prove it:
    # a session from before the factor, or one that only a password opened.
    MFA_STEP_UP = "mfa_step_up"
    # A legal document to accept: a version everyone must accept again, or one the user withdrew.
    CONSENT = "consent"


# Where a session renews its proof (declared by functions/auth.py) and where a consent is
# given (functions/consent.py): named in the 403s' details, for the app.
REAUTHENTICATION_ROUTE = "api/v1/auth/reauthenticate"
CONSENTS_ROUTE = "api/v1/users/me/consents"


def _no_details(state: UserState) -> Mapping[str, Any] | None:
    return None


def _step_up_details(state: UserState) -> StepUpDetails:
    """The call that proves the second factor in this session, with a code."""
    return StepUpDetails(reauthenticate_with=f"POST /{REAUTHENTICATION_ROUTE}", code_required=True)


def _documents_owed(state: UserState) -> ConsentDetails:
    """The kinds and versions to accept, one by one, with the call that accepts each."""
    owed = [OwedDocument(kind=owed.kind, version=owed.version) for owed in state.owed_consents]
    return ConsentDetails(owed=owed, accept_with=f"POST /{CONSENTS_ROUTE}")


@dataclass(frozen=True)
class Owed:
    """What owing a step means to the caller: the 403 of a route (and what its details name,
    from the caller's state), the reason of a permission check."""

    code: ErrorCode
    message: str
    check_reason: CheckReason
    details: Callable[[UserState], Mapping[str, Any] | None] = _no_details


# The one mapping from a step to what owing it means; the first owed is the one named to the caller.
OWED: dict[PendingStep, Owed] = {
    PendingStep.PASSWORD_CHANGE: Owed(
        ErrorCode.PASSWORD_CHANGE_REQUIRED,
        "Change the temporary password an administrator set before doing anything else.",
        CheckReason.PASSWORD_CHANGE_REQUIRED,
    ),
    PendingStep.MFA_ENROLLMENT: Owed(
        ErrorCode.MFA_ENROLLMENT_REQUIRED,
        "Your role requires a second factor: enrol an authenticator app first.",
        CheckReason.MFA_ENROLLMENT_REQUIRED,
    ),
    PendingStep.MFA_STEP_UP: Owed(
        ErrorCode.MFA_STEP_UP_REQUIRED,
        "Your account uses a second factor: enter your password and a code from your authenticator app.",
        CheckReason.MFA_STEP_UP_REQUIRED,
        _step_up_details,
    ),
    PendingStep.CONSENT: Owed(
        ErrorCode.CONSENT_REQUIRED,
        "Accept the current terms of service and privacy policy to continue.",
        CheckReason.CONSENT_REQUIRED,
        _documents_owed,
    ),
}


def pending_steps(
    state: UserState, mfa_required_roles: Collection[RoleName], amr: Collection[str]
) -> frozenset[PendingStep]:
    """What this user must do, in this session (proved with ``amr``), before the rest of the API
    is theirs (MFA_REQUIRED_ROLES: ``mfa_required_roles``)."""
    steps = set()
    if state.password_change_required:
        steps.add(PendingStep.PASSWORD_CHANGE)
    if owes_second_factor(state.role, state.mfa_enabled, mfa_required_roles):
        steps.add(PendingStep.MFA_ENROLLMENT)
    if state.mfa_enabled and AuthenticationMethod.ONE_TIME_PASSWORD not in amr:
        steps.add(PendingStep.MFA_STEP_UP)
    if state.owed_consents:
        steps.add(PendingStep.CONSENT)
    return frozenset(steps)


def owes_second_factor(role: str, mfa_enabled: bool, mfa_required_roles: Collection[RoleName]) -> bool:
    """The role requires a second factor (MFA_REQUIRED_ROLES: ``mfa_required_roles``) and none is on."""
    return RoleName(role) in mfa_required_roles and not mfa_enabled


def first_owed(pending: frozenset[PendingStep], allowed_despite: Collection[PendingStep] = ()) -> Owed | None:
    """The first step still owed that is not ``allowed_despite``, as what owing it means; None when none is."""
    for step, owed in OWED.items():
        if step in pending and step not in allowed_despite:
            return owed
    return None


def refuse_pending_steps(
    state: UserState, pending: frozenset[PendingStep], allowed_despite: Collection[PendingStep]
) -> None:
    """403 naming the first step the caller (``state``) still owes that this route is not allowed despite."""
    owed = first_owed(pending, allowed_despite)
    if owed is not None:
        raise AuthorizationError(owed.message, code=owed.code, details=owed.details(state))


def owed_codes(allowed_despite: Collection[PendingStep]) -> list[ErrorCode]:
    """The 403 codes a route answers for the steps it is not allowed despite."""
    return [owed.code for step, owed in OWED.items() if step not in allowed_despite]


# The 403 of a sensitive route whose session's last proof of identity is too old.
STALE_PROOF = ErrorCode.REAUTHENTICATION_REQUIRED


def refuse_unless_recent(
    auth_time: int, now: float, max_age_seconds: int, *, code_required: bool, amr: Collection[str] | None = None
) -> None:
    """403 when the session proved who it is longer ago than ``max_age_seconds`` (sensitive actions),
    or, given the session's ``amr``, without a second-factor code when ``code_required``.

    The message is for the person; for the app, the details say whether the
    renewed proof needs a code (``code_required``: the user has a second factor
    on, so re-authentication asks for one) and the route that renews it.
    """
    missing_code = amr is not None and code_required and AuthenticationMethod.ONE_TIME_PASSWORD not in amr
    if now - auth_time > max_age_seconds or missing_code:
        also = " and a current code from your authenticator app" if code_required else ""
        raise AuthorizationError(
            f"For your security, confirm it is you: enter your password again{also}.",
            code=STALE_PROOF,
            details=ReauthenticationDetails(
                max_age_seconds=max_age_seconds,
                code_required=code_required,
                reauthenticate_with=f"POST /{REAUTHENTICATION_ROUTE}",
            ),
        )
