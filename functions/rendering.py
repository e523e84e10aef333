"""How the trigger modules render a user: the one place the body's derived fields are filled in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.config import get_settings
from shared.schemas.users import UserOut
from shared.services.sign_in_state import owes_second_factor

if TYPE_CHECKING:
    from shared.models import User


def user_out(user: User) -> UserOut:
    """The user body; ``mfa_enrollment_required`` follows MFA_REQUIRED_ROLES as of this request."""
    rendered = UserOut.model_validate(user)
    rendered.mfa_enrollment_required = owes_second_factor(
        user.role, user.mfa_enabled, get_settings().mfa_required_roles
    )
    return rendered
