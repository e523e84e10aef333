"""The token of an invitation's link: minted when the email is sent, spent once, stored as its hash.

Like ``user_tokens``, but the token belongs to the invitation (the person it
is for may have no account). The outbox drain mints it (:func:`issue`) in the
transaction that claims the message; acceptance spends it with one
conditional UPDATE (:func:`spend`), so of two racing acceptances one wins.
Expiry is by the app's clock (``shared.clock``), as for everything about
invitations.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session as DbSession

from shared.database import without_transaction
from shared.models import Invitation, InvitationState
from shared.models.invitation import app_now
from shared.security.tokens import hash_token, new_token


def reason_not_to_send(db: DbSession, invitation_id: uuid.UUID) -> str | None:
    """Why the invitation's link should not go out now, if it should not."""
    invitation = db.get(Invitation, invitation_id)
    if invitation is None:
        return "the invitation no longer exists"
    if invitation.state != InvitationState.PENDING.value:
        return f"the invitation was {invitation.state}"
    return None


def issue(db: DbSession, invitation_id: uuid.UUID, expires_at: datetime) -> str:
    """A new link for the (pending) invitation, valid until ``expires_at``; any older link dies with it.

    ``expires_at`` is the message's: the invitation's own expiry, unless an
    operator re-drove the message after an outage, which gives it a fresh one.
    """
    token = new_token()
    db.execute(
        update(Invitation)
        .where(Invitation.id == invitation_id, Invitation.state == InvitationState.PENDING.value)
        .values(token_hash=hash_token(token), expires_at=expires_at)
    )
    return token


def _live(token: str) -> ColumnElement[bool]:
    """The invitation whose link this is, still pending and not expired."""
    return and_(
        Invitation.token_hash == hash_token(token),
        Invitation.state == InvitationState.PENDING.value,
        Invitation.expires_at > app_now(),
    )


def find(token: str) -> Invitation | None:
    """The pending, unexpired invitation ``token`` opens, without spending it (a cheap first look)."""
    with without_transaction() as db:
        return db.scalars(select(Invitation).where(_live(token))).one_or_none()


def spend(db: DbSession, token: str) -> Invitation | None:
    """Mark the invitation accepted by one conditional UPDATE (the caller names who accepted it);
    None if the token is unknown, spent, revoked or expired. A racing acceptance waits on the row
    and then finds it accepted."""
    return db.scalars(
        update(Invitation)
        .where(_live(token))
        .values(state=InvitationState.ACCEPTED.value, accepted_at=app_now(), token_hash=None)
        .returning(Invitation)
    ).first()
