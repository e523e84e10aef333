"""Self-service accounts: register (with the legal documents accepted), verify the email address, resend the link."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from shared.config import Settings, get_settings
from shared.context import ClientInfo
from shared.database import unit_of_work, without_transaction
from shared.errors import DuplicateEmailError, RateLimitedError, ValidationFailedError
from shared.failures import is_unique_violation
from shared.models import RoleName, TokenPurpose, User
from shared.redis_client import Keys, get_redis
from shared.security.passwords import hash_password
from shared.services import audit, consents, rate_limits, user_state, user_tokens
from shared.services.audit import AuditEvent
from shared.services.consents import DocumentRef
from shared.services.email import templates
from shared.services.email.outbox import enqueue_with_link
from shared.services.rate_limits import Limit, Rule

# The two limits of each request that sends an email: per client address, per mailbox.
RESET_LIMITS = (Rule.RESET_PER_ADDRESS, Rule.RESET_PER_MAILBOX)
RESEND_LIMITS = (Rule.RESEND_PER_ADDRESS, Rule.RESEND_PER_MAILBOX)


def reserve_email_limits(
    settings: Settings, rules: tuple[Rule, Rule], email: str, client: ClientInfo
) -> list[Limit] | None:
    """The slots this request took, or None when the mailbox is over its limit (send nothing).

    429 when this client address asked too often. Over the per-mailbox limit
    the caller gets the same 202 as always: a limit anyone could use up would
    otherwise let three requests by a stranger block the owner's own reset
    for an hour.
    """
    per_client, per_mailbox = rate_limits.limits(settings, rules, ip_address=client.ip_address, account=email)
    rate_limits.reserve(per_client)
    try:
        rate_limits.reserve(per_mailbox)
    except RateLimitedError:
        return None
    return [per_client, per_mailbox]


def token_attempts(settings: Settings, client: ClientInfo) -> Limit:
    """Attempts with an emailed token (verification, reset) per client address."""
    return rate_limits.limit(settings, Rule.EMAILED_TOKEN_PER_ADDRESS, ip_address=client.ip_address)


def queue_verification_email(db: DbSession, settings: Settings, user: User) -> None:
    """The link is minted when the drain sends the message; the row never holds a token."""
    enqueue_with_link(db, settings, user, templates.verify_email())


def register(profile: dict[str, Any], password: str, accepted: Sequence[DocumentRef], client: ClientInfo) -> User:
    """A donor account, unverified and inactive, with the legal documents it accepted
    (``consents.accept_at_sign_up``); the verification email is queued with it."""
    settings = get_settings()
    email = profile["email"]
    limits = rate_limits.limits(
        settings, (Rule.REGISTER_PER_ADDRESS, Rule.REGISTER_PER_MAILBOX), ip_address=client.ip_address, account=email
    )
    with rate_limits.reserved(limits) as reservation:
        try:
            return _create_donor(settings, profile, password, accepted, client)
        except ValidationFailedError:  # the documents named are not the current ones: a body to fix, not an attempt
            reservation.give_back()
            raise


def _create_donor(
    settings: Settings, profile: dict[str, Any], password: str, accepted: Sequence[DocumentRef], client: ClientInfo
) -> User:
    email = profile["email"]
    with without_transaction() as db:
        taken = db.scalar(select(exists().where(User.email == email)))
    if taken:
        raise DuplicateEmailError()
    password_hash = hash_password(password, settings.bcrypt_rounds)
    try:
        with unit_of_work() as db:
            user = User(
                **profile,
                password_hash=password_hash,
                role=RoleName.DONOR.value,
                email_verified=False,
                is_active=False,
                password_changed_at=datetime.now(UTC),
            )
            db.add(user)
            db.flush()
            consents.accept_at_sign_up(db, user, accepted, client)
            queue_verification_email(db, settings, user)
            audit.record_own(db, AuditEvent.USER_REGISTERED, client, user)
    except IntegrityError as error:
        if is_unique_violation(error):
            raise DuplicateEmailError() from None
        raise
    return user


def verify_email(token: str, client: ClientInfo) -> User:
    """Spend a verification token; the account becomes verified and, unless deactivated, active."""
    with rate_limits.reserved([token_attempts(get_settings(), client)]) as attempt, unit_of_work() as db:
        user_id = user_tokens.consume(db, token, TokenPurpose.EMAIL_VERIFICATION)
        user = db.get(User, user_id, with_for_update=True) if user_id else None
        if user is None:
            raise user_tokens.invalid_link()
        mark_verified(user)
        user_state.invalidate(db, [user.id])
        audit.record_own(db, AuditEvent.EMAIL_VERIFIED, client, user)
        attempt.give_back()
    return user


def mark_verified(user: User) -> None:
    """Verified now; active unless an admin deactivated the account (deactivation wins)."""
    if not user.email_verified:
        user.email_verified = True
        user.email_verified_at = datetime.now(UTC)
    if user.deactivated_at is None:
        user.is_active = True


def resend_verification(email: str, client: ClientInfo) -> None:
    """Queue a new link for an unverified account; silent for every other address.

    At most one message per address per RATE_LIMIT_RESEND_COOLDOWN_SECONDS:
    requests inside the cooldown are answered the same way but send nothing.
    """
    settings = get_settings()
    taken = reserve_email_limits(settings, RESEND_LIMITS, email, client)
    if taken is None:
        return
    cooldown_key = Keys.email_verify(rate_limits.subject_digest(email))
    with rate_limits.held(taken), unit_of_work() as db:
        user = db.scalars(select(User).where(User.email == email).with_for_update()).one_or_none()
        if user is None or user.email_verified or user.deactivated_at is not None:
            return
        if not get_redis().set(cooldown_key, "1", nx=True, ex=settings.rate_limit_resend_cooldown_seconds):
            return
        queue_verification_email(db, settings, user)
