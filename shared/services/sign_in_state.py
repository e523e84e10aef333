"""The gates on a signed-in caller's state, checked on every request: steps still owed, a recent proof.

What the caller's role may do is the policy's (``policy``); whether this
sign-in is complete enough to use it is decided here, from the caller's state
and session, before any of that:

- a **pending step** is something the user must do before the rest of the
  API is theirs (replace a temporary password, enrol a second factor, accept
  a legal document). Each step is one row of :data:`OWED`: the 403 a route
  answers while it is owed (unless the route is ``allowed_despite`` it), what
  its details name, and the reason the permission check other services call
  gives. A new step is a :class:`PendingStep`, its row, and the condition in
  :func:`pending_steps`;
- a **recent proof**: sensitive routes want the session to have proved who
  it is (password, and a code where a second factor is on) within
  REAUTH_MAX_AGE_MINUTES (:func:`refuse_unless_recent`).

Handlers name ``PendingStep`` in their declarations, so this module stays light
(no ORM, no Redis at import).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared.errors import AuthorizationError, ErrorCode
from shared.roles_and_permissions import CheckReason, RoleName

if TYPE_CHECKING:
    from shared.services.user_state import UserState


class PendingStep(StrEnum):
    """Something a signed-in user must do before the rest of the API is theirs."""

    # An administrator chose the password: only its holder should know the next one.
    PASSWORD_CHANGE = "password_change"
    # The role requires a second factor and none is on yet.
    MFA_ENROLLMENT = "mfa_enrollment"
    # A legal document to accept: a version everyone must accept again, or one the user withdrew.
    CONSENT = "consent"


def _no_details(state: UserState) -> dict[str, Any] | None:
    return None


def _documents_owed(state: UserState) -> dict[str, Any]:
    """The kinds and versions to accept (POST /api/v1/users/me/consents, one by one)."""
    return {"owed": [{"kind": owed.kind, "version": owed.version} for owed in state.owed_consents]}


@dataclass(frozen=True)
class Owed:
    """What owing a step means to the caller: the 403 of a route (and what its details name,
    from the caller's state), the reason of a permission check."""

    code: ErrorCode
    message: str
    check_reason: CheckReason
    details: Callable[[UserState], dict[str, Any] | None] = _no_details


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
    PendingStep.CONSENT: Owed(
        ErrorCode.CONSENT_REQUIRED,
        "Accept the current terms of service and privacy policy first: POST /api/v1/users/me/consents.",
        CheckReason.CONSENT_REQUIRED,
        _documents_owed,
    ),
}


def pending_steps(state: UserState, mfa_required_roles: Collection[RoleName]) -> frozenset[PendingStep]:
    """What this user must do before the rest of the API is theirs (MFA_REQUIRED_ROLES: ``mfa_required_roles``)."""
    steps = set()
    if state.password_change_required:
        steps.add(PendingStep.PASSWORD_CHANGE)
    if state.role in mfa_required_roles and not state.mfa_enabled:
        steps.add(PendingStep.MFA_ENROLLMENT)
    if state.owed_consents:
        steps.add(PendingStep.CONSENT)
    return frozenset(steps)


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


def refuse_unless_recent(auth_time: int, now: float, max_age_seconds: int) -> None:
    """403 when the session proved who it is longer ago than ``max_age_seconds`` (sensitive actions)."""
    if now - auth_time > max_age_seconds:
        raise AuthorizationError(
            "Confirm your password (and code) again: POST /api/v1/auth/reauthenticate.",
            code=ErrorCode.REAUTHENTICATION_REQUIRED,
            details={"max_age_seconds": max_age_seconds},
        )
