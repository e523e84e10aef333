"""Outgoing email, written in the transaction that caused it and drained later.

A message that carries a link (verification, invitation, password reset)
never holds its token: the row keeps the body with placeholders plus what the
drain needs to mint the token when it sends (whose link: the user, or the
invitation; its purpose, target and expiry), so a reader of this table cannot
use what it finds. Bodies
are blanked once a message is sent or cancelled; the row stays until the retention
job deletes it (EMAIL_OUTBOX_RETENTION_DAYS).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, TimestampMixin, uuid_pk
from shared.models.invitation import Invitation
from shared.models.user_token import TokenPurpose


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting for next_attempt_at
    SENDING = "sending"  # claimed by a drain until next_attempt_at (its lease), then due again
    SENT = "sent"  # the provider accepted it; bodies blanked
    FAILED = "failed"  # a message without a link, given up after EMAIL_GIVE_UP_AFTER_HOURS
    EXPIRED = "expired"  # its link expired before it could be sent
    CANCELLED = "cancelled"  # no longer worth sending (a newer link, already verified, ...); bodies blanked


# The statuses the drain picks up once next_attempt_at has passed.
DUE_STATUSES = (OutboxStatus.PENDING, OutboxStatus.SENDING)

# The purpose of an invitation's link: its token lives on the invitation (``invitations.token_hash``),
# not in ``user_tokens``, since the person may have no account yet.
INVITATION_LINK = "invitation"

_STATUSES_SQL = ", ".join(f"'{status.value}'" for status in OutboxStatus)
_USER_PURPOSES_SQL = ", ".join(f"'{purpose.value}'" for purpose in TokenPurpose)
_DUE_SQL = " OR ".join(f"status = '{status.value}'" for status in DUE_STATUSES)
# A link names its target and expiry, and whose token it is: a user's, or an invitation's.
LINK_COMPLETE_SQL = (
    "token_purpose IS NULL OR (link_url IS NOT NULL AND expires_at IS NOT NULL AND ("
    f"(token_purpose IN ({_USER_PURPOSES_SQL}) AND user_id IS NOT NULL AND invitation_id IS NULL)"
    f" OR (token_purpose = '{INVITATION_LINK}' AND invitation_id IS NOT NULL)))"
)


class EmailOutbox(TimestampMixin, Base):
    __tablename__ = "email_outbox"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES_SQL})", name="status_known"),
        CheckConstraint(LINK_COMPLETE_SQL, name="link_complete"),
        Index("ix_email_outbox_due", "next_attempt_at", postgresql_where=text(_DUE_SQL)),
        # The drain asks "is there a newer link of this purpose for this user?".
        Index("ix_email_outbox_user_id_token_purpose_created_at", "user_id", "token_purpose", "created_at"),
        # ... and "is there a newer link for this invitation?".
        Index("ix_email_outbox_invitation_id_created_at", "invitation_id", "created_at"),
        # The retention job deletes rows by age.
        Index("ix_email_outbox_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(255))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    template: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(10), server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # When the message is due; while 'sending', when the drain's lease ends.
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The link, minted at send time: whose token (a user's or an invitation's), for what,
    # pointing where (without the token).
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    invitation_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey(Invitation.id, ondelete="CASCADE")
    )
    token_purpose: Mapped[str | None] = mapped_column(String(30))
    link_url: Mapped[str | None] = mapped_column(Text)
    # Worth sending until then: the link's expiry; for a message without a link,
    # NULL means created_at + EMAIL_GIVE_UP_AFTER_HOURS (a re-drive sets it).
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
