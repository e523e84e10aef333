"""Invitations: an administrator asks a person, by email address, to take a role (in an NPO).

The token of an invitation's link lives here, as its hash, from the moment
the outbox drain sends the email (``token_hash``; NULL before, and again once
the invitation is accepted, revoked or re-sent: the link dies with it). The
row keeps what was asked (address, role, NPO, the names and phone the inviter typed),
by whom, and how it ended. ``state`` is what happened to it; its
``status`` adds ``expired`` for a pending invitation past ``expires_at``, by
the app's clock (``shared.clock``), as every expiry check of invitations is.

At most one invitation per (address, NPO) is pending at a time: the partial
unique index below, where "no NPO" (a super admin or donor invitation) counts
as one NPO of its own.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared import clock
from shared.models.base import Base, TimestampMixin, uuid_pk
from shared.models.role import NPO_SCOPED_ROLES


class InvitationState(StrEnum):
    """What happened to an invitation (stored)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"


class InvitationStatus(StrEnum):
    """What callers see: the state, with ``expired`` for a pending one past its expiry."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"


# The key a pending invitation without an NPO is unique under.
NO_NPO = "00000000-0000-0000-0000-000000000000"

_STATES_SQL = ", ".join(f"'{state.value}'" for state in InvitationState)
_NPO_ROLES_SQL = ", ".join(f"'{role.value}'" for role in sorted(NPO_SCOPED_ROLES))
_PENDING_SQL = f"state = '{InvitationState.PENDING.value}'"


def app_now() -> datetime:
    """Now, by the app's clock: the one invitations expire by."""
    return datetime.fromtimestamp(clock.now(), UTC)


class Invitation(TimestampMixin, Base):
    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        CheckConstraint(f"state IN ({_STATES_SQL})", name="state_known"),
        CheckConstraint(f"(role IN ({_NPO_ROLES_SQL})) = (npo_id IS NOT NULL)", name="npo_id_matches_role"),
        Index(
            "uq_invitations_pending_email_npo",
            "email",
            func.coalesce(text("npo_id"), text(f"'{NO_NPO}'::uuid")),
            unique=True,
            postgresql_where=text(_PENDING_SQL),
        ),
        # The export and erasure look invitations up by address; the lists by NPO, newest first.
        Index("ix_invitations_email", "email"),
        Index("ix_invitations_npo_id_created_at", "npo_id", "created_at"),
        Index("ix_invitations_created_at", "created_at"),
        # The retention job asks for invitations that ended long ago (accepted, revoked or expired).
        Index("ix_invitations_ended_at", func.least(text("accepted_at"), text("revoked_at"), text("expires_at"))),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(50), ForeignKey("roles.name", onupdate="CASCADE"))
    npo_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # What the inviter typed about the person, if anything: a new account starts with it
    # (names the person gives when accepting win).
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    invited_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    state: Mapped[str] = mapped_column(String(10), server_default=text(f"'{InvitationState.PENDING.value}'"))
    # The hash of the live link's token: set when the email is sent, NULL once the link died.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )

    @property
    def status(self) -> InvitationStatus:
        """The state as of now (app clock): a pending invitation past its expiry is ``expired``."""
        if self.state == InvitationState.PENDING.value and self.expires_at <= app_now():
            return InvitationStatus.EXPIRED
        return InvitationStatus(self.state)
