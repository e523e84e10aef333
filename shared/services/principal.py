"""The authenticated caller, as resolved from a bearer token on each request.

Handlers name these classes in their signatures, so this module stays light
(no ORM, no Redis, no JWT library at import).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.roles_and_permissions import RoleName
from shared.services.policy import Party
from shared.services.sign_in_state import PendingStep

if TYPE_CHECKING:
    from shared.security.jwt_tokens import AccessClaims
    from shared.services.user_state import UserState


@dataclass(frozen=True, slots=True)
class LiveSession:
    """A session the session script found alive, and its user's cached state if current.

    ``version`` is the user's state version the script read: a state read
    from the database may be cached under it (see ``shared.services.user_state``).
    """

    user_id: uuid.UUID
    session_id: uuid.UUID
    version: str
    state: UserState | None
    # When this session last proved who it is (password, and a code where on), and how:
    # recorded server-side, so every access token of the session sees a renewal at once.
    auth_time: int = 0
    amr: tuple[str, ...] = ()


@dataclass(frozen=True)
class Principal:
    """The caller: their authorization state as of this request (from the cache the
    session script reads, or the database; never from the token) and the token's claims."""

    state: UserState
    claims: AccessClaims
    # When the session last proved who it is, and how (server-side: see LiveSession).
    auth_time: int = 0
    amr: tuple[str, ...] = ()
    # What the caller must do before the rest of the API is theirs.
    pending_steps: frozenset[PendingStep] = frozenset()

    @property
    def user_id(self) -> uuid.UUID:
        return self.state.user_id

    @property
    def session_id(self) -> uuid.UUID:
        return uuid.UUID(self.claims.session_id)

    @property
    def role(self) -> RoleName:
        return self.state.role

    @property
    def npo_id(self) -> uuid.UUID | None:
        return self.state.npo_id

    @property
    def party(self) -> Party:
        """The caller as the policy sees them."""
        return Party(id=self.state.user_id, role=self.state.role, npo_id=self.state.npo_id)
