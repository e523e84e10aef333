"""How the trigger modules render a user: the one place the body's derived fields are filled in."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from shared.config import get_settings
from shared.schemas.users import CurrentUserOut, UserOut
from shared.services.sign_in_state import PendingStep, owes_second_factor

if TYPE_CHECKING:
    from shared.models import User

RenderedUser = TypeVar("RenderedUser", bound=UserOut)


def user_out(user: User) -> UserOut:
    """The user body; ``mfa_enrollment_required`` follows MFA_REQUIRED_ROLES as of this request."""
    return _derived(UserOut.model_validate(user), user)


def current_user_out(user: User, pending: frozenset[PendingStep]) -> CurrentUserOut:
    """The signed-in user's body: the user body, and whether a legal document is owed (``pending``)."""
    rendered = _derived(CurrentUserOut.model_validate(user), user)
    rendered.consent_required = PendingStep.CONSENT in pending
    return rendered


def _derived(rendered: RenderedUser, user: User) -> RenderedUser:
    rendered.mfa_enrollment_required = owes_second_factor(
        user.role, user.mfa_enabled, get_settings().mfa_required_roles
    )
    return rendered
