"""Single-use email tokens: issued (killing older ones), consumed atomically."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session as DbSession

from shared.database import read_only
from shared.models import TokenPurpose, UserToken
from shared.security.tokens import hash_token, new_token


def issue(db: DbSession, user_id: uuid.UUID, purpose: TokenPurpose, lifetime: timedelta) -> str:
    """A new token for ``purpose``; every older unused one of the user dies with it."""
    db.execute(
        update(UserToken)
        .where(UserToken.user_id == user_id, UserToken.purpose == purpose.value, UserToken.used_at.is_(None))
        .values(used_at=func.now())
    )
    token = new_token()
    db.add(
        UserToken(
            user_id=user_id,
            purpose=purpose.value,
            token_hash=hash_token(token),
            expires_at=datetime.now(UTC) + lifetime,
        )
    )
    return token


def holder(token: str, purpose: TokenPurpose) -> uuid.UUID | None:
    """Whose unused, unexpired token this is, without spending it (a cheap first look)."""
    with read_only() as db:
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
