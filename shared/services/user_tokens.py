"""Single-use email tokens: issued (killing older ones), consumed atomically.

Tokens are issued by the outbox drain when it sends the email that carries
them (``shared.services.email.drain``), never at request time: the token then
exists only as its hash here and in the message handed to the provider.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session as DbSession

from shared.database import without_transaction
from shared.errors import BadRequestError, ErrorCode
from shared.models import TokenPurpose, UserToken
from shared.security.tokens import hash_token, new_token


def invalid_link() -> BadRequestError:
    """400 INVALID_TOKEN, said to the person who opened the emailed link."""
    return BadRequestError(
        "This link is not valid, was already used or has expired. Ask for a new one.", code=ErrorCode.INVALID_TOKEN
    )


def revoke_unused(db: DbSession, user_id: uuid.UUID, purpose: TokenPurpose) -> None:
    """Every unused token of the user for ``purpose`` dies (a new link was asked for or minted)."""
    db.execute(
        update(UserToken)
        .where(UserToken.user_id == user_id, UserToken.purpose == purpose.value, UserToken.used_at.is_(None))
        .values(used_at=func.now())
    )


def issue(db: DbSession, user_id: uuid.UUID, purpose: TokenPurpose, expires_at: datetime) -> str:
    """A new token for ``purpose`` valid until ``expires_at``; every older unused one of the user dies with it."""
    revoke_unused(db, user_id, purpose)
    token = new_token()
    db.add(
        UserToken(
            user_id=user_id,
            purpose=purpose.value,
            token_hash=hash_token(token),
            expires_at=expires_at,
        )
    )
    return token


def holder(token: str, purpose: TokenPurpose) -> uuid.UUID | None:
    """Whose unused, unexpired token this is, without spending it (a cheap first look)."""
    with without_transaction() as db:
        return db.scalar(
            select(UserToken.user_id).where(
                UserToken.token_hash == hash_token(token),
                UserToken.purpose == purpose.value,
                UserToken.used_at.is_(None),
                UserToken.expires_at > func.now(),
            )
        )


def consume(db: DbSession, token: str, purpose: TokenPurpose) -> uuid.UUID | None:
    """Spend ``token`` by one conditional UPDATE; the user id, or None if unknown, used or expired."""
    spent = db.execute(
        update(UserToken)
        .where(
            UserToken.token_hash == hash_token(token),
            UserToken.purpose == purpose.value,
            UserToken.used_at.is_(None),
            UserToken.expires_at > func.now(),
        )
        .values(used_at=func.now())
        .returning(UserToken.user_id)
    ).first()
    return spent.user_id if spent else None
