"""The gates on a signed-in caller's state, checked on every request: steps still owed, a recent proof.

What the caller's role may do is the policy's (``policy``); whether this
sign-in is complete enough to use it is decided here, from the caller's state
and session, before any of that:

- a **pending step** is something the user must do before the rest of the
  API is theirs (replace a temporary password, enrol a second factor). Each
  step is one row of :data:`OWED`: the 403 a route answers while it is owed
  (unless the route is ``allowed_despite`` it), and the reason the permission
  check other services call gives. A new step is a :class:`PendingStep`, its
  row, and the condition in :func:`pending_steps`;
- a **recent proof**: sensitive routes want the session to have proved who
  it is (password, and a code where a second factor is on) within
  REAUTH_MAX_AGE_MINUTES (:func:`refuse_unless_recent`).

Handlers name ``PendingStep`` in their declarations, so this module stays light
(no ORM, no Redis at import).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

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


@dataclass(frozen=True)
class Owed:
    """What owing a step means to the caller: the 403 of a route, the reason of a permission check."""

    code: ErrorCode
    message: str
    check_reason: CheckReason


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
}


def pending_steps(state: UserState, mfa_required_roles: Collection[RoleName]) -> frozenset[PendingStep]:
    """What this user must do before the rest of the API is theirs (MFA_REQUIRED_ROLES: ``mfa_required_roles``)."""
    steps = set()
    if state.password_change_required:
        steps.add(PendingStep.PASSWORD_CHANGE)
    if state.role in mfa_required_roles and not state.mfa_enabled:
        steps.add(PendingStep.MFA_ENROLLMENT)
    return frozenset(steps)


def first_owed(pending: frozenset[PendingStep], allowed_despite: Collection[PendingStep] = ()) -> Owed | None:
    """The first step still owed that is not ``allowed_despite``, as what owing it means; None when none is."""
    for step, owed in OWED.items():
        if step in pending and step not in allowed_despite:
            return owed
    return None


def refuse_pending_steps(pending: frozenset[PendingStep], allowed_despite: Collection[PendingStep]) -> None:
    """403 naming the first step the caller still owes that this route is not allowed despite."""
    owed = first_owed(pending, allowed_despite)
    if owed is not None:
        raise AuthorizationError(owed.message, code=owed.code)


# Where a session renews its proof (declared by functions/auth.py): named in the 403's details.
REAUTHENTICATION_ROUTE = "api/v1/auth/reauthenticate"


def refuse_unless_recent(auth_time: int, now: float, max_age_seconds: int) -> None:
    """403 when the session proved who it is longer ago than ``max_age_seconds`` (sensitive actions).

    The message is for the person; the route that renews the proof is for the app, in ``details``.
    """
    if now - auth_time > max_age_seconds:
        raise AuthorizationError(
            "For your security, confirm it is you: enter your password again (and your code, if you use one).",
            code=ErrorCode.REAUTHENTICATION_REQUIRED,
            details={"max_age_seconds": max_age_seconds, "reauthenticate_with": f"POST /{REAUTHENTICATION_ROUTE}"},
        )
