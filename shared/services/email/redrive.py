"""Queue failed and expired messages again (``python -m shared.cli redrive-email``).

For after a provider outage longer than a message's deadline. A message with
a link gets a fresh lifetime from now (its link is minted when it is sent, so
there is no old token to revive; the email says how long the new one lasts);
one without a link gets a fresh EMAIL_GIVE_UP_AFTER_HOURS. The drain still
cancels a link for which a newer one of the same kind was queued, or that is
no longer needed (address verified, account deactivated), so re-driving
everything sends each user at most their newest link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from shared.config import get_settings
from shared.database import unit_of_work
from shared.models import EmailOutbox, OutboxStatus
from shared.services.email.outbox import LINK_KINDS
from shared.services.email.templates import Template

REDRIVEN_STATUSES = (OutboxStatus.FAILED, OutboxStatus.EXPIRED)


@dataclass(frozen=True)
class RedriveReport:
    queued: int
    with_fresh_link: int


def redrive(created_within: timedelta) -> RedriveReport:
    """Failed and expired messages queued within ``created_within`` become pending, due now.

    Older ones stay as they are: a weeks-old reset request is better not
    answered out of the blue. Rows without a body (blanked by revision 0003)
    are left alone: there is nothing to send.
    """
    settings = get_settings()
    now = datetime.now(UTC)
    with unit_of_work() as db:
        messages = db.scalars(
            select(EmailOutbox)
            .where(
                EmailOutbox.status.in_([status.value for status in REDRIVEN_STATUSES]),
                EmailOutbox.created_at >= func.now() - created_within,
                EmailOutbox.text_body != "",
            )
            .with_for_update(skip_locked=True)
        ).all()
        for message in messages:
            if message.token_purpose is not None:
                lifetime = LINK_KINDS[Template(message.template)].lifetime(settings)
            else:
                lifetime = timedelta(hours=settings.email_give_up_after_hours)
            message.status = OutboxStatus.PENDING.value
            message.next_attempt_at = now
            message.expires_at = now + lifetime
    with_link = sum(message.token_purpose is not None for message in messages)
    return RedriveReport(queued=len(messages), with_fresh_link=with_link)
