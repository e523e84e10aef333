"""Send what the outbox holds, with retries and backoff, until each message's deadline.

Each message goes through three steps, and no transaction is open and no
pooled connection held while the provider is called (up to 30 s):

1. **claim** (one short transaction): take one due row with ``FOR UPDATE SKIP
   LOCKED``, mark it ``sending`` with a lease (``next_attempt_at`` = now +
   ``LEASE``), and for a message with a link mint the token (its hash goes to
   ``user_tokens``, killing the user's older unused ones of that purpose, or
   to the invitation, replacing its link) and fill the link into the bodies in
   memory. Commit.
2. **send**, outside any transaction.
3. **record** (one short transaction): ``sent`` with the bodies blanked, or
   back to ``pending`` with a backoff, or given up once the next try would
   fall after the message's deadline. The update applies only while the row is
   still ``sending`` under the same attempt number, i.e. still this drain's claim.

A drain that dies between claim and record leaves a ``sending`` row, due again
when its lease ends. Delivery is therefore at-least-once: a crash after the
provider accepted a message sends it again, with a fresh link that kills the
first one.

Deadlines: a message with a link is retried until its link expires (then
``expired``); one without is retried for EMAIL_GIVE_UP_AFTER_HOURS (then
``failed``). ``python -m shared.cli redrive-email`` queues both again.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import aliased

from shared.config import Settings, get_settings
from shared.database import unit_of_work
from shared.log import scrub
from shared.models import DUE_STATUSES, EmailOutbox, OutboxStatus, TokenPurpose, User
from shared.services import invitation_tokens, user_tokens
from shared.services.email import templates
from shared.services.email.backends import EmailBackend, get_backend

logger = logging.getLogger(__name__)

BASE_BACKOFF_SECONDS = 30
MAX_BACKOFF_SECONDS = 3600
# How long a claim lasts: far longer than one provider call (ACS is given 30 s).
LEASE = timedelta(minutes=5)


class Outcome(StrEnum):
    SENT = "sent"
    RETRIED = "retried"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class DrainReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0
    cancelled: int = 0

    @property
    def handled(self) -> int:
        """Messages this run did something with; 0 when nothing was due."""
        return self.sent + self.retried + self.failed + self.expired + self.cancelled


@dataclass(frozen=True)
class OutgoingMessage:
    """What a backend is given: the bodies with the link filled in, never stored."""

    to_address: str
    subject: str
    text_body: str
    html_body: str


@dataclass(frozen=True)
class Claim:
    """A message this drain holds the lease on, ready to send."""

    message_id: uuid.UUID
    attempt: int
    deadline: datetime
    has_link: bool
    email: OutgoingMessage


def backoff(attempts: int) -> timedelta:
    """30 s, 60 s, 120 s, ... capped at an hour, with ±20 % jitter."""
    seconds = min(BASE_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))  # noqa: S311 (jitter, not security)


def drain_outbox(batch_size: int = 20, backend: EmailBackend | None = None) -> DrainReport:
    """Handle up to ``batch_size`` due messages, one claim at a time; returns what happened."""
    settings = get_settings()
    sender = backend or get_backend()
    outcomes: Counter[Outcome] = Counter()
    for _ in range(batch_size):
        claimed = _claim_next(settings)
        if claimed is None:
            break
        outcome = claimed if isinstance(claimed, Outcome) else _send(sender, claimed)
        outcomes[outcome] += 1
    return DrainReport(**{outcome.value: count for outcome, count in outcomes.items()})


# -- 1. claim ------------------------------------------------------------------------


def _claim_next(settings: Settings) -> Claim | Outcome | None:
    """Claim the next due message: a Claim to send, the Outcome of one settled here, or None."""
    with unit_of_work() as db:
        found = db.execute(
            select(EmailOutbox, func.now())
            .where(EmailOutbox.status.in_([s.value for s in DUE_STATUSES]), EmailOutbox.next_attempt_at <= func.now())
            .order_by(EmailOutbox.next_attempt_at)
            .limit(1)
            .with_for_update(skip_locked=True, of=EmailOutbox)
        ).first()
        if found is None:
            return None
        message, now = found
        if message.status == OutboxStatus.SENDING.value:
            logger.warning("email %s: the drain that claimed it never recorded an outcome; trying again", message.id)
        deadline = _deadline(settings, message)
        if now >= deadline:
            return _give_up(message)
        if message.token_purpose is None:
            email = OutgoingMessage(message.to_address, message.subject, message.text_body, message.html_body)
        else:
            reason = _reason_to_cancel(db, message)
            if reason:
                return _cancel(message, reason)
            try:
                email = _with_minted_link(db, message, now)
            except templates.TemplateError as error:
                message.status, message.last_error = OutboxStatus.FAILED.value, str(error)
                logger.error("email %s not sent: %s", message.id, error)
                return Outcome.FAILED
        message.status = OutboxStatus.SENDING.value
        message.attempts += 1
        message.next_attempt_at = now + LEASE
        return Claim(message.id, message.attempts, deadline, message.token_purpose is not None, email)


def _deadline(settings: Settings, message: EmailOutbox) -> datetime:
    """Until when the message is worth sending: its link's expiry, else the give-up age."""
    if message.expires_at is not None:
        return message.expires_at
    return message.created_at + timedelta(hours=settings.email_give_up_after_hours)


def _give_up_status(has_link: bool) -> OutboxStatus:
    return OutboxStatus.EXPIRED if has_link else OutboxStatus.FAILED


def _give_up(message: EmailOutbox) -> Outcome:
    """Past its deadline: kept with its bodies (they hold no token) so it can be re-driven."""
    status = _give_up_status(message.token_purpose is not None)
    message.status = status.value
    message.last_error = message.last_error or "not sent before its deadline"
    logger.error("email %s %s unsent after %d attempts", message.id, status.value, message.attempts)
    return Outcome(status.value)


def _cancel(message: EmailOutbox, reason: str) -> Outcome:
    """Never to be sent: the bodies go, the row stays."""
    message.status, message.last_error = OutboxStatus.CANCELLED.value, reason
    message.text_body = message.html_body = ""
    logger.info("email %s cancelled: %s", message.id, reason)
    return Outcome.CANCELLED


def _reason_to_cancel(db: DbSession, message: EmailOutbox) -> str | None:
    """Why a link should not go out now, if it should not.

    Takes a lock per link owner (the user, or the invitation) first, so two
    drains minting links for the same owner run one after the other: the
    newest message's token is always the one left alive. Requests never take
    this lock (no deadlock with them).
    """
    newer = aliased(EmailOutbox)
    if message.invitation_id is not None:
        owner, same_owner = f"invitation:{message.invitation_id}", newer.invitation_id == message.invitation_id
    else:
        owner = str(message.user_id)
        same_owner = and_(newer.user_id == message.user_id, newer.token_purpose == message.token_purpose)
    db.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"augeo.email-link:{owner}", 0))))
    if db.scalar(
        select(
            exists().where(
                same_owner,
                or_(
                    newer.created_at > message.created_at,
                    and_(newer.created_at == message.created_at, newer.id > message.id),
                ),
            )
        )
    ):
        return "a newer link of the same kind was queued"
    if message.invitation_id is not None:
        return invitation_tokens.reason_not_to_send(db, message.invitation_id)
    return _reason_not_to_send_to_user(db, message)


def _reason_not_to_send_to_user(db: DbSession, message: EmailOutbox) -> str | None:
    user = db.get(User, message.user_id)
    if user is None:
        return "the account no longer exists"
    if user.deactivated_at is not None:
        return "the account is deactivated"
    if message.token_purpose == TokenPurpose.EMAIL_VERIFICATION.value and user.email_verified:
        return "the address is already verified"
    return None


def _with_minted_link(db: DbSession, message: EmailOutbox, now: datetime) -> OutgoingMessage:
    """Mint the token (valid until the stored expiry) and fill the link into copies of the bodies."""
    assert message.token_purpose and message.link_url and message.expires_at  # link_complete
    templates.check_placeholders(message.text_body)
    templates.check_placeholders(message.html_body)
    if message.invitation_id is not None:
        token = invitation_tokens.issue(db, message.invitation_id, message.expires_at)
    else:
        assert message.user_id  # link_complete: a user's link names the user
        token = user_tokens.issue(db, message.user_id, TokenPurpose(message.token_purpose), message.expires_at)
    url = templates.with_token(message.link_url, token)
    expires_in = templates.describe_remaining(message.expires_at - now)
    return OutgoingMessage(
        message.to_address,
        message.subject,
        templates.fill(message.text_body, url, expires_in, as_html=False),
        templates.fill(message.html_body, url, expires_in, as_html=True),
    )


# -- 2. send and 3. record -------------------------------------------------------------


def _send(sender: EmailBackend, claim: Claim) -> Outcome:
    """Call the provider with nothing open, then record what happened."""
    try:
        sender.send(claim.email)
    except Exception as error:
        return _record_failure(claim, scrub(f"{type(error).__name__}: {error}")[:500])
    return _record_sent(claim)


def _still_ours(claim: Claim) -> list[ColumnElement[bool]]:
    """The row is still this drain's claim: nobody re-claimed it after the lease ran out."""
    return [
        EmailOutbox.id == claim.message_id,
        EmailOutbox.status == OutboxStatus.SENDING.value,
        EmailOutbox.attempts == claim.attempt,
    ]


def _record_sent(claim: Claim) -> Outcome:
    with unit_of_work() as db:
        recorded = db.execute(
            update(EmailOutbox)
            .where(*_still_ours(claim))
            .values(status=OutboxStatus.SENT.value, sent_at=func.now(), last_error=None, text_body="", html_body="")
            .returning(EmailOutbox.id)
        ).first()
    if recorded is None:
        logger.warning("email %s was sent after its claim lapsed; it may be sent twice", claim.message_id)
    return Outcome.SENT


def _record_failure(claim: Claim, error: str) -> Outcome:
    """Back to pending after a backoff, or given up when the next try would be past the deadline."""
    retry_at = datetime.now(UTC) + backoff(claim.attempt)
    if retry_at >= claim.deadline:
        status, outcome = _give_up_status(claim.has_link), Outcome(_give_up_status(claim.has_link).value)
    else:
        status, outcome = OutboxStatus.PENDING, Outcome.RETRIED
    with unit_of_work() as db:
        db.execute(
            update(EmailOutbox)
            .where(*_still_ours(claim))
            .values(status=status.value, next_attempt_at=retry_at, last_error=error)
        )
    if outcome is Outcome.RETRIED:
        logger.warning("email %s attempt %d failed; will retry", claim.message_id, claim.attempt)
    else:
        logger.error("email %s %s unsent after %d attempts", claim.message_id, status.value, claim.attempt)
    return outcome
