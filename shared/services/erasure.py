"""Where a person's data lives, and how it goes: erasure of an account (right to erasure).

:func:`wipe` runs inside the caller's transaction, on a user row the caller
has locked, and leaves nothing that identifies the person:

- ``users``: the row keeps its id (the audit log names it), role, NPO and
  timestamps; the email becomes ``erased-<id>@erased.invalid`` (unique, lower
  case, undeliverable: the ``.invalid`` top-level domain never resolves, and
  the real address is free to register again), names become empty, phone,
  organisation and address NULL, the password hash NULL, the second factor
  off; it is inactive, deactivated and ``erased_at`` is set, so it never
  signs in again. The database holds it there: a row with ``erased_at`` must
  be in this state, and ``erased_at`` is written once (migration 0009);
- ``sessions``: every open one ends now, Redis first (an access token from
  before answers 401 on its next request); every session keeps its times but
  loses its IP address and user agent. Their refresh tokens hold only hashes
  of random values, die with the sessions and go with them when the
  retention job deletes them;
- ``consents``: rows stay (the proof of what the person accepted, and when:
  user id, kind, version, action, time), their IP address and user agent
  blanked, the one change the database lets through (migration 0011);
- ``mfa_totp``, ``mfa_recovery_codes``, ``user_tokens``, ``event_assignments``,
  the ``email_outbox`` rows addressed to the person (by user or address) and
  the ``invitations`` sent to them (by address, or accepted by the account;
  pending or ended: each holds the address and the names typed for them; the
  audit log keeps the invitation ids): deleted. A message a drain had already
  claimed may still go out. Invitations the person *sent* stay, naming them
  by id (``invited_by``), as the audit log does;
- ``audit_logs``: rows stay (ids, event types, times, details: which never
  hold personal data, only ids, roles, flags and field names); the IP address
  and user agent of the requests the person made (or nobody signed in made
  about their account) are blanked through ``scrub_erased_user_audit_logs``,
  the one way the runtime role may touch an audit row;
- Redis: the cached authorization state is dropped (the caller invalidates),
  the sessions are gone, and the "this address signed in here before"
  markers (a digest of the email) are forgotten. Rate-limit counters keyed by
  a digest of the address expire with their windows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.orm import Session as DbSession

from shared.models import Consent, EmailOutbox, Invitation, Session, User, UserToken
from shared.models.user import CONTACT_FIELDS, ERASED_DOMAIN
from shared.services import known_devices, mfa
from shared.services.email.outbox import addressed_to
from shared.services.event_assignments import end_assignments
from shared.services.sessions import SessionEndReason, revoke_user_sessions


def erased_email(user_id: uuid.UUID) -> str:
    """The address an erased account keeps: unique (its id), lower case, undeliverable."""
    return f"erased-{user_id}@{ERASED_DOMAIN}"


@dataclass(frozen=True)
class Wiped:
    """What an erasure removed, for the audit row (counts only: nothing about the person)."""

    sessions_ended: int
    events_left: int
    emails_deleted: int
    invitations_deleted: int


def invitations_to(user: User) -> ColumnElement[bool]:
    """The invitations that are this person's: sent to their address, or accepted by their account.
    One condition, so what an export lists is what an erasure deletes."""
    return or_(Invitation.email == user.email, Invitation.accepted_by == user.id)


def wipe(db: DbSession, user: User, erased_by_role: str) -> Wiped:
    """Erase ``user``'s personal data in the caller's transaction (the row locked by the caller).

    The caller drops the cached state (``user_state.invalidate``) and records
    the audit event before committing; Redis is told about the sessions here,
    before the commit, as everywhere.
    """
    addresses = list(db.scalars(select(Session.ip_address).where(Session.user_id == user.id).distinct()))
    ended = revoke_user_sessions(db, user.id, SessionEndReason.ERASED)
    known_devices.forget_addresses(user.email, addresses)
    db.execute(update(Session).where(Session.user_id == user.id).values(ip_address=None, user_agent=None))
    left = end_assignments(db, user)
    mfa.delete_factors(db, user.id)
    db.execute(delete(UserToken).where(UserToken.user_id == user.id))
    emails = db.scalars(delete(EmailOutbox).where(addressed_to(user)).returning(EmailOutbox.id)).all()
    invitations = db.scalars(delete(Invitation).where(invitations_to(user)).returning(Invitation.id)).all()
    _clear_profile(user, erased_by_role)
    db.flush()  # the scrub function and the consents' trigger check erased_at, in this transaction
    db.execute(update(Consent).where(Consent.user_id == user.id).values(ip_address=None, user_agent=None))
    return Wiped(len(ended), len(left), len(emails), len(invitations))


def scrub_audit_trail(db: DbSession, user_id: uuid.UUID) -> int:
    """Blank the IP address and user agent of the audit rows the erased user caused; how many.

    Run after the erasure's own audit row is written, so that row (the
    person's last request) is scrubbed too when they erased themselves.
    """
    return int(db.scalar(select(func.scrub_erased_user_audit_logs(user_id))) or 0)


def _clear_profile(user: User, erased_by_role: str) -> None:
    now = datetime.now(UTC)
    user.email = erased_email(user.id)
    user.first_name = ""
    user.last_name = ""
    for field in CONTACT_FIELDS:
        setattr(user, field, None)
    user.password_hash = None
    user.password_changed_at = now  # a sign-in whose password check came before this one fails
    user.password_change_required = False
    user.mfa_enabled = False
    user.is_active = False
    if user.deactivated_at is None:
        user.deactivated_at = now
    user.deactivated_by_role = erased_by_role
    user.erased_at = now
