"""Send what the outbox holds, with retries and backoff; never lose a message.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so any number of drains
(timer instances, local threads) can run at once without sending a message
twice in parallel. Delivery is at-least-once: a crash after the provider
accepted a message but before the commit sends it again on the next run.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from shared.config import get_settings
from shared.database import unit_of_work
from shared.log import scrub
from shared.models import EmailOutbox, OutboxStatus
from shared.services.email.backends import EmailBackend, get_backend

logger = logging.getLogger(__name__)

BASE_BACKOFF_SECONDS = 30
MAX_BACKOFF_SECONDS = 3600


@dataclass(frozen=True)
class DrainReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def backoff(attempts: int) -> timedelta:
    """30 s, 60 s, 120 s, ... capped at an hour, with ±20 % jitter."""
    seconds = min(BASE_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))  # noqa: S311 (jitter, not security)


def drain_outbox(batch_size: int = 20, backend: EmailBackend | None = None) -> DrainReport:
    """Send up to ``batch_size`` due messages; returns what happened to them."""
    sender = backend or get_backend()
    max_attempts = get_settings().email_max_attempts
    sent = retried = failed = 0
    with unit_of_work() as db:
        due = db.scalars(
            select(EmailOutbox)
            .where(EmailOutbox.status == OutboxStatus.PENDING.value, EmailOutbox.next_attempt_at <= func.now())
            .order_by(EmailOutbox.next_attempt_at)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        ).all()
        for message in due:
            message.attempts += 1
            try:
                sender.send(message)
            except Exception as error:
                message.last_error = scrub(f"{type(error).__name__}: {error}")[:500]
                if message.attempts >= max_attempts:
                    message.status = OutboxStatus.FAILED.value
                    failed += 1
                    logger.error("email %s failed for good after %d attempts", message.id, message.attempts)
                else:
                    message.next_attempt_at = datetime.now(UTC) + backoff(message.attempts)
                    retried += 1
                    logger.warning("email %s attempt %d failed; will retry", message.id, message.attempts)
                continue
            message.status = OutboxStatus.SENT.value
            message.sent_at = datetime.now(UTC)
            message.last_error = None
            sent += 1
    return DrainReport(sent=sent, retried=retried, failed=failed)
