"""A user's own sessions: see them, end one, end every other."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from shared.context import ClientInfo
from shared.database import unit_of_work, without_transaction
from shared.errors import NotFoundError
from shared.models import Session
from shared.services import audit
from shared.services.audit import AuditEvent
from shared.services.principal import Principal
from shared.services.sessions import SessionEndReason, last_seen, revoke_session, revoke_user_sessions


@dataclass(frozen=True, slots=True)
class OwnSession:
    """One of the caller's live sessions, as they see it (``current``: the one asking)."""

    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    ip_address: str | None
    user_agent: str | None
    current: bool


def list_sessions(principal: Principal) -> list[OwnSession]:
    """Open sessions that are still alive in Redis, newest first; last use from Redis."""
    with without_transaction() as db:
        rows = list(
            db.scalars(
                select(Session)
                .where(
                    Session.user_id == principal.user_id, Session.revoked_at.is_(None), Session.expires_at > func.now()
                )
                .order_by(Session.created_at.desc())
                .limit(100)
            )
        )
    seen = last_seen(principal.user_id, [row.id for row in rows])
    return [
        OwnSession(
            id=row.id,
            created_at=row.created_at,
            last_seen_at=seen[row.id] or row.last_seen_at,
            ip_address=row.ip_address,
            user_agent=row.user_agent,
            current=row.id == principal.session_id,
        )
        for row in rows
        if seen.get(row.id) is not None
    ]


def end_session(principal: Principal, session_id: uuid.UUID, client: ClientInfo) -> None:
    """Sign one of the caller's devices out now; 404 for anyone else's session."""
    with unit_of_work() as db:
        session = db.get(Session, session_id)
        if session is None or session.user_id != principal.user_id or session.revoked_at is not None:
            raise NotFoundError("Session not found.")
        revoke_session(db, principal.user_id, session_id, SessionEndReason.SIGNED_OUT_BY_USER)
        audit.record_by_caller(db, AuditEvent.SESSION_REVOKED, client, principal, session_id=str(session_id))


def end_other_sessions(principal: Principal, client: ClientInfo) -> int:
    """Sign every other device out; this one stays. Returns how many ended."""
    with unit_of_work() as db:
        ended = revoke_user_sessions(
            db, principal.user_id, SessionEndReason.SIGNED_OUT_BY_USER, keep=principal.session_id
        )
        audit.record_by_caller(
            db, AuditEvent.SESSION_REVOKED, client, principal, sessions_ended=len(ended), all_others=True
        )
    return len(ended)
