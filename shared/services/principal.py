"""The authenticated caller, as resolved from a bearer token on each request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.services.policy import PendingStep

if TYPE_CHECKING:  # handlers name this class in their signatures: keep its import light
    from shared.models import User
    from shared.security.jwt_tokens import AccessClaims


@dataclass(frozen=True)
class Principal:
    """The caller: the user row as of this request (role and status fresh from the
    database, not from the token) and the claims of the token that was shown."""

    user: User
    claims: AccessClaims

    @property
    def user_id(self) -> uuid.UUID:
        return self.user.id

    @property
    def session_id(self) -> uuid.UUID:
        return uuid.UUID(self.claims.session_id)

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def pending_steps(self) -> frozenset[PendingStep]:
        """What the caller must do before the rest of the API is theirs."""
        if self.user.password_change_required:
            return frozenset({PendingStep.PASSWORD_CHANGE})
        return frozenset()
